package halopsa

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// TestDestinationsRefused: with the strict policy (the default HTTP
// client), the client reaches no loopback, private or link-local address
// and no plain http, whatever the endpoints say; the answer is Invalid
// (retrying cannot help) and the secret is never sent.
func TestDestinationsRefused(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer srv.Close()
	tls := httptest.NewTLSServer(srv.Config.Handler)
	defer tls.Close()
	for _, tc := range []struct {
		name, auth string
	}{
		{"LoopbackHTTP", srv.URL + "/auth/"},
		{"LoopbackHTTPS", tls.URL + "/auth/"},
		{"CloudMetadata", "https://169.254.169.254/auth/"},
		{"Private", "https://10.1.2.3/auth/"},
		{"IPv6Loopback", "https://[::1]:9/auth/"},
		{"IPv4MappedMetadata", "https://[::ffff:169.254.169.254]/auth/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{
				Credentials: psa.Credentials{Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: "id", ClientSecret: "secret"},
				Endpoints:   psa.Endpoints{HaloPSAAuthURL: tc.auth, HaloPSAAPIURL: strings.Replace(tc.auth, "/auth/", "/api/", 1)},
				Options:     psahttp.Options{HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{}, 2*time.Second), Retry: psahttp.Retrier{MaxAttempts: 1}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Verify(ctx); !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err), "not allowed") {
				t.Fatalf("got %v, want invalid: destination refused", err)
			}
		})
	}
	if hits != 0 {
		t.Errorf("%d requests reached the loopback servers", hits)
	}
}

// TestTokenStaysOnHost: an API answer that redirects elsewhere does not
// take the Bearer token along (net/http drops it across hosts), and the
// client never sends the client secret to the API host.
func TestTokenStaysOnHost(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"id": 41, "name": "Not Halo"})
	}))
	defer other.Close()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "client_secret") || strings.Contains(r.Header.Get("Authorization"), "secret") {
			t.Errorf("the secret reached the API: %s", r.URL)
		}
		// Another host name for the same loopback server: a cross-host redirect.
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/api/Agent/me", http.StatusFound)
	})
	_ = f.client(t).Verify(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 1 {
		t.Fatalf("the redirect target was reached %d times, want 1", len(leaked))
	}
	for _, a := range leaked {
		if a != "" {
			t.Errorf("the redirect target got Authorization %q", a)
		}
	}
}
