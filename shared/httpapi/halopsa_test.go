package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestPutIntegrationHaloPSAInvalid: a HaloPSA integration's shape is
// checked field by field before any request, on a deployment that takes no
// custom endpoints (production's): the host must be a Halo cloud instance
// named without scheme, port or path, and the other PSAs' fields are
// refused.
func TestPutIntegrationHaloPSAInvalid(t *testing.T) {
	e := newPSAEnv(t, func(c *httpapi.Config) { c.AllowCustomEndpoints, c.Endpoints = false, psa.Endpoints{} })
	halo := `"provider":"halopsa","clientId":"app-1","clientSecret":"HALO-SECRET-x"`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ErrMissingHost", `{` + halo + `}`, "host is required for halopsa"},
		{"ErrMissingClientSecret", `{"provider":"halopsa","host":"contoso.halopsa.com","clientId":"app-1"}`, "clientSecret is required"},
		{"ErrMissingClientID", `{"provider":"halopsa","host":"contoso.halopsa.com","clientSecret":"s"}`, "clientId is required"},
		{"ErrHostWithScheme", `{` + halo + `,"host":"https://contoso.halopsa.com"}`, "without https://"},
		{"ErrHostWithPort", `{` + halo + `,"host":"127.0.0.1:8443"}`, "endpoints.halopsaAuthUrl"},
		{"ErrHostWithPath", `{` + halo + `,"host":"contoso.halopsa.com/api"}`, "host name like contoso.halopsa.com"},
		{"ErrHostNotHalo", `{` + halo + `,"host":"metadata.internal.example"}`, "not a Halo cloud instance"},
		{"ErrHostIsTheDomain", `{` + halo + `,"host":"halopsa.com"}`, "not a Halo cloud instance"},
		{"ErrHostLookalike", `{` + halo + `,"host":"contoso.halopsa.com.evil.example"}`, "not a Halo cloud instance"},
		{"ErrBadTenant", `{` + halo + `,"host":"contoso.halopsa.com","tenant":"a b/c"}`, "tenant must be"},
		{"ErrOtherProvidersField", `{` + halo + `,"host":"contoso.halopsa.com","site":"na.myconnectwise.net"}`, "site is not used by halopsa"},
		{"ErrHaloFieldForAutotask", `{"provider":"autotask","username":"u","secret":"s","integrationCode":"c","clientSecret":"x"}`, "clientSecret is not used by autotask"},
		{"ErrHaloTenantForConnectWise", `{"provider":"connectwise","site":"na.myconnectwise.net","companyId":"c","publicKey":"p","privateKey":"k","clientId":"i","tenant":"t"}`, "tenant is not used by connectwise"},
		{"ErrMaskedWithoutStoredSecret", `{` + strings.Replace(halo, "HALO-SECRET-x", "********", 1) + `,"host":"contoso.halopsa.com"}`, "no stored halopsa secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantA, "PUT", "/v1/integration", []byte(tc.body), nil)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %s, want 400 naming %q", rec.Code, rec.Body, tc.want)
			}
			if strings.Contains(rec.Body.String(), "HALO-SECRET-x") {
				t.Fatalf("the answer echoes the client secret: %s", rec.Body)
			}
			if n := e.Sandbox.Total("autotask") + e.Sandbox.Total("connectwise"); n != 0 {
				t.Fatalf("%d PSA requests, want none before the shape is valid", n)
			}
		})
	}
	t.Run("ErrBadHaloEndpoint", func(t *testing.T) {
		custom := newPSAEnv(t)
		body := `{` + halo + `,"host":"contoso.halopsa.com","endpoints":{"halopsaAuthUrl":"ftp://x/","halopsaApiUrl":"` + custom.URL + `/"}}`
		rec := custom.admin(tenantA, "PUT", "/v1/integration", []byte(body), nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "endpoints.halopsaAuthUrl must be an http(s) URL") {
			t.Fatalf("got %d %s, want 400 naming endpoints.halopsaAuthUrl", rec.Code, rec.Body)
		}
	})
	t.Run("ErrOneEndpointKeepsHostGuard", func(t *testing.T) {
		// With only the API endpoint set, the token would still be fetched
		// from https://{host}/auth/: the host is held to Halo's domains.
		custom := newPSAEnv(t)
		body := `{` + halo + `,"host":"intranet.example","endpoints":{"halopsaApiUrl":"` + custom.URL + `/halopsa/api/"}}`
		rec := custom.admin(tenantA, "PUT", "/v1/integration", []byte(body), nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "not a Halo cloud instance") {
			t.Fatalf("got %d %s, want 400 naming the host", rec.Code, rec.Body)
		}
	})
}
