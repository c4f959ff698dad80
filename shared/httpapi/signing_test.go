package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
	"github.com/psabridge/psabridge/shared/signature"
)

// TestSigningSecretReads is issue 13's re-read count test: Secrets Manager
// (moto) calls are counted while 100 bad platform requests of each kind
// arrive. A bad signature for a known tenant and any request for an unknown
// tenant cost at most one read; a malformed header or a timestamp outside
// the window costs none. A secret rotated by another process is picked up
// once the last read is a minute old, with one read.
func TestSigningSecretReads(t *testing.T) {
	var calls awsconfig.RequestCounter
	store := secretstest.NewCountingStore(t, &calls)
	a := newAPI(t, func(c *httpapi.Config) { c.Secrets = store })
	a.Secrets = store
	secret := a.mustProvision(tenantA)
	body := []byte(`{"name":"Acme Org"}`)
	send := func(tenant, header string) int {
		h := http.Header{}
		h.Set(signature.TenantHeader, tenant)
		h.Set(signature.Header, header)
		return a.do("PUT", "/v1/orgs/org-1", "", body, h).Code
	}
	if code := send(tenantA, signature.Sign(body, a.Now, secret)); code != http.StatusOK {
		t.Fatalf("valid request: got %d, want 200", code)
	}
	for _, tc := range []struct {
		name     string
		tenant   string
		header   func() string
		maxReads int
	}{
		{"GoodSignature", tenantA, func() string { return signature.Sign(body, a.Now, secret) }, 0},
		{"ErrBadSignature", tenantA, func() string { return signature.Sign(body, a.Now, "whsec_guess") }, 1},
		{"ErrUnknownTenant", "nobody-msp", func() string { return signature.Sign(body, a.Now, "whsec_guess") }, 1},
		{"ErrMalformedHeader", tenantA, func() string { return "t=" + "1,v1=abc" }, 0},
		{"ErrMalformedHeaderUnknownTenant", "other-msp", func() string { return "garbage" }, 0},
		{"ErrOutsideWindow", tenantA, func() string { return signature.Sign(body, a.Now.Add(-10*time.Minute), "whsec_guess") }, 0},
		{"ErrOutsideWindowUnknownTenant", "third-msp", func() string { return signature.Sign(body, a.Now.Add(time.Hour), "whsec_guess") }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Reset()
			want := http.StatusUnauthorized
			if tc.maxReads == 0 && tc.name == "GoodSignature" {
				want = http.StatusOK
			}
			for i := range 100 {
				if code := send(tc.tenant, tc.header()); code != want {
					t.Fatalf("request %d: got %d, want %d", i, code, want)
				}
			}
			if got := calls.Total(); got > tc.maxReads {
				t.Fatalf("got %d Secrets Manager calls (%v) for 100 requests, want at most %d", got, calls.ByOperation(), tc.maxReads)
			}
		})
	}
	t.Run("RotatedElsewhere", func(t *testing.T) {
		// Another process (the other Lambda) rotates the secret.
		rotated := secrets.SigningSecret{ID: "sk_rotated", Value: "whsec_rotated_elsewhere", CreatedAt: a.Now}
		if err := store.PutSigningSecrets(context.Background(), tenantA, []secrets.SigningSecret{{ID: "sk_old", Value: secret}, rotated}); err != nil {
			t.Fatal(err)
		}
		a.Now = a.Now.Add(2 * time.Minute) // the last read is older than a minute
		calls.Reset()
		if code := send(tenantA, signature.Sign(body, a.Now, rotated.Value)); code != http.StatusOK {
			t.Fatalf("rotated secret: got %d, want 200", code)
		}
		if got := calls.ByOperation()["GetSecretValue"]; got != 1 {
			t.Fatalf("got %d GetSecretValue calls, want 1 re-read", got)
		}
	})
}
