package connect

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// One sandbox serving both dialects; each provider's client verifies
// against it only when loopback is allowed.
func TestNew(t *testing.T) {
	sb := sandbox.New()
	sb.Autotask.AddInstance(sandbox.AutotaskSeed{Username: "api@acme.example", Secret: "s3cret", IntegrationCode: "TRACK1"})
	sb.ConnectWise.AddInstance(sandbox.ConnectWiseSeed{CompanyID: "acme", PublicKey: "pub", PrivateKey: "priv"})
	sb.HaloPSA.AddInstance(sandbox.HaloPSASeed{ClientID: "halo-app", ClientSecret: "halo-secret"})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	ep := psa.Endpoints{
		AutotaskZoneURL:     srv.URL + "/autotask/atservicesrest/",
		ConnectWiseLoginURL: srv.URL + "/connectwise/",
		HaloPSAAuthURL:      srv.URL + "/halopsa/auth/",
		HaloPSAAPIURL:       srv.URL + "/halopsa/api/",
	}
	creds := map[psa.Provider]psa.Credentials{
		psa.Autotask:    {Provider: psa.Autotask, Username: "api@acme.example", Secret: "s3cret", IntegrationCode: "TRACK1"},
		psa.ConnectWise: {Provider: psa.ConnectWise, Site: "na.myconnectwise.net", CompanyID: "acme", PublicKey: "pub", PrivateKey: "priv", ClientID: "guid"},
		psa.HaloPSA:     {Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: "halo-app", ClientSecret: "halo-secret"},
	}
	for p, cr := range creds {
		t.Run(string(p)+"/AllowPrivate", func(t *testing.T) {
			c, err := New(cr, ep, Options{AllowPrivate: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.Provider() != p {
				t.Errorf("got provider %s, want %s", c.Provider(), p)
			}
			if err := c.Verify(context.Background()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
		t.Run(string(p)+"/DefaultRefusesLoopback", func(t *testing.T) {
			c, err := New(cr, ep, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Verify(context.Background()); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("got %v, want invalid (destination refused)", err)
			}
		})
	}
	t.Run("UnknownProvider", func(t *testing.T) {
		c, err := New(psa.Credentials{Provider: "halo"}, ep, Options{})
		if !apperr.Is(err, apperr.Invalid) || c != nil {
			t.Errorf("got %v, %v; want nil, invalid", c, err)
		}
	})
	t.Run("HaloPSAWithoutSecretIsNilClient", func(t *testing.T) {
		c, err := New(psa.Credentials{Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: "app"}, ep, Options{})
		if !apperr.Is(err, apperr.Invalid) || c != nil {
			t.Errorf("got %v, %v; want a nil interface and invalid", c, err)
		}
	})
	t.Run("MissingCredentialIsNilClient", func(t *testing.T) {
		c, err := New(psa.Credentials{Provider: psa.ConnectWise}, ep, Options{})
		if !apperr.Is(err, apperr.Invalid) || c != nil {
			t.Errorf("got %v, %v; want a nil interface and invalid", c, err)
		}
	})
}
