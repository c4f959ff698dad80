package psahttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// The default client refuses loopback, private, link-local (the cloud
// metadata address) and unspecified destinations at dial time, and plain
// http before dialing; AllowPrivate opens loopback and http only. Refused
// destinations are never contacted: the check runs before connect.
func TestPolicy(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer tlsSrv.Close()
	tlsLocalhost := strings.Replace(tlsSrv.URL, "127.0.0.1", "localhost", 1)

	for _, tc := range []struct {
		name  string
		p     Policy
		url   string
		allow bool
	}{
		{"DefaultRefusesLoopback", Policy{}, tlsSrv.URL, false},
		{"DefaultRefusesLoopbackByName", Policy{}, tlsLocalhost, false},
		{"DefaultRefusesPrivate", Policy{}, "https://10.1.2.3/", false},
		{"DefaultRefusesPrivate192", Policy{}, "https://192.168.0.10/", false},
		{"DefaultRefusesMetadata", Policy{}, "https://169.254.169.254/latest/meta-data/", false},
		{"DefaultRefusesUnspecified", Policy{}, "https://0.0.0.0:9/", false},
		{"DefaultRefusesUnspecifiedV6", Policy{}, "https://[::]:9/", false},
		{"DefaultRefusesPlainHTTP", Policy{}, "http://93.184.216.34/", false},
		{"DefaultRefusesPlainHTTPLoopback", Policy{}, plain.URL, false},
		{"AllowPrivateAllowsLoopbackHTTP", Policy{AllowPrivate: true}, plain.URL, true},
		{"AllowPrivateRefusesMetadata", Policy{AllowPrivate: true}, "http://169.254.169.254/latest/meta-data/", false},
		{"AllowPrivateRefusesPrivate", Policy{AllowPrivate: true}, "http://10.1.2.3/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewHTTPClient(tc.p, 2*time.Second)
			resp, err := c.Get(tc.url)
			if tc.allow {
				if err != nil {
					t.Fatalf("got %v, want the request allowed", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got status %d, want 200", resp.StatusCode)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want the destination refused", resp.StatusCode)
			}
			if !errors.Is(err, ErrDestinationRefused) {
				t.Fatalf("got %v, want ErrDestinationRefused", err)
			}
			if a := TransportError(err); !apperr.Is(a.Err, apperr.Invalid) {
				t.Errorf("got %v, want invalid (retrying will not help)", a.Err)
			}
		})
	}
}
