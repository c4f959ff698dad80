package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/signature"
)

func TestPostUsage(t *testing.T) {
	a := newAPI(t)
	secret := a.mustProvision("acme-msp")
	body := []byte(`{"observations":[
		{"org":"o1","product":"users","value":10,"observedAt":"2026-11-20T10:00:00Z"},
		{"org":"o1","value":14,"observedAt":"2026-11-21T10:00:00Z"},
		{"org":"bad/org","value":3,"observedAt":"2026-11-21T10:00:00Z"},
		{"org":"o2","value":-1,"observedAt":"2026-11-21T10:00:00Z"},
		{"org":"o2","value":5,"observedAt":"2026-11-21T10:00:00Z"}]}`)
	rec := a.signed("POST", "/v1/usage", "acme-msp", body, secret)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	var resp struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index int    `json:"index"`
			Code  string `json:"code"`
		} `json:"rejected"`
	}
	mustDecode(t, rec.Body, &resp)
	if resp.Accepted != 3 || len(resp.Rejected) != 2 || resp.Rejected[0].Index != 2 || resp.Rejected[1].Index != 3 || resp.Rejected[0].Code != "invalid" {
		t.Fatalf("got %+v, want 3 accepted and indexes 2,3 rejected as invalid", resp)
	}
	hwm, err := a.Store.HighWaterMarks(context.Background(), "acme-msp", []dynamo.UsageKey{{Org: "o1", Product: billing.Users, Month: "2026-11"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := hwm[dynamo.UsageKey{Org: "o1", Product: billing.Users, Month: "2026-11"}].Value; got != 14 {
		t.Fatalf("got hwm %d, want 14", got)
	}
}

func TestPostUsageErrors(t *testing.T) {
	a := newAPI(t)
	secret := a.mustProvision("acme-msp")
	other := a.mustProvision("other-msp")
	many := make([]string, 1001)
	for i := range many {
		many[i] = `{"org":"o","value":1,"observedAt":"2026-11-21T10:00:00Z"}`
	}
	for _, tc := range []struct {
		name   string
		tenant string
		body   string
		secret string
		want   int
		code   string
	}{
		{"ErrUnknownField", "acme-msp", `{"observations":[],"x":1}`, secret, 400, "invalid"},
		{"ErrEmpty", "acme-msp", `{"observations":[]}`, secret, 400, "invalid"},
		{"ErrMalformed", "acme-msp", `{"observations":`, secret, 400, "invalid"},
		{"ErrTooMany", "acme-msp", `{"observations":[` + strings.Join(many, ",") + `]}`, secret, 400, "invalid"},
		{"ErrOtherTenantsSecret", "acme-msp", `{"observations":[]}`, other, 401, "unauthorized"},
		{"ErrUnknownTenant", "nobody", `{"observations":[]}`, secret, 401, "unauthorized"},
		{"ErrTooLarge", "acme-msp", `{"observations":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`, secret, 413, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.signed("POST", "/v1/usage", tc.tenant, []byte(tc.body), tc.secret)
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), `"code":"`+tc.code+`"`) {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body, tc.want, tc.code)
			}
		})
	}
}

// TestPlatformSignature runs the signature table through the handler: only
// the valid cases are accepted.
func TestPlatformSignature(t *testing.T) {
	a := newAPI(t)
	secret := a.mustProvision("acme-msp")
	body := []byte(`{"name":"Acme Dental"}`)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"Valid", signature.Sign(body, a.Now, secret), body, true},
		{"Expired", signature.Sign(body, a.Now.Add(-301*time.Second), secret), body, false},
		{"Future", signature.Sign(body, a.Now.Add(301*time.Second), secret), body, false},
		{"WrongSecret", signature.Sign(body, a.Now, "nope"), body, false},
		{"TamperedBody", signature.Sign(body, a.Now, secret), []byte(`{"name":"Acme Dentak"}`), false},
		{"Missing", "", body, false},
		{"Malformed", "t=abc,v1=xyz", body, false},
		{"TwoV1OneValid", signature.Sign(body, a.Now, "nope", secret), body, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(signature.TenantHeader, "acme-msp")
			if tc.header != "" {
				h.Set(signature.Header, tc.header)
			}
			rec := a.do("PUT", "/v1/orgs/org-1", "", tc.body, h)
			if ok := rec.Code == http.StatusOK; ok != tc.ok {
				t.Fatalf("got %d %s, want ok=%v", rec.Code, rec.Body, tc.ok)
			}
		})
	}
}

func TestRotateSecret(t *testing.T) {
	a := newAPI(t)
	old := a.mustProvision("acme-msp")
	rotated, err := a.client(a.operatorToken()).RotateSigningSecretWithResponse(context.Background(), "acme-msp")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.JSON200 == nil {
		t.Fatalf("rotate: got %s %s, want 200", rotated.Status(), rotated.Body)
	}
	body := []byte(`{"name":"Acme"}`)
	for name, sec := range map[string]string{"Old": old, "New": rotated.JSON200.SigningSecret.Value} {
		if rec := a.signed("PUT", "/v1/orgs/o1", "acme-msp", body, sec); rec.Code != http.StatusOK {
			t.Fatalf("%s secret: got %d %s, want 200", name, rec.Code, rec.Body)
		}
	}
	t.Run("ErrNotOperator", func(t *testing.T) {
		rec := a.do("POST", "/v1/platform/tenants/acme-msp/rotate-secret", a.token("acme-msp", "billing-admin"), nil, nil)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("got %d, want 403", rec.Code)
		}
	})
	t.Run("ErrNoToken", func(t *testing.T) {
		rec := a.do("POST", "/v1/platform/tenants", "", []byte(`{"id":"x1"}`), nil)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", rec.Code)
		}
	})
	t.Run("ErrDuplicateTenant", func(t *testing.T) {
		rec := a.do("POST", "/v1/platform/tenants", a.operatorToken(), []byte(`{"id":"acme-msp"}`), nil)
		if rec.Code != http.StatusConflict {
			t.Fatalf("got %d, want 409", rec.Code)
		}
	})
}

// FuzzUsageRequest: never a panic, never a 5xx, for any body. Seeded with
// trailing-data, duplicate-key and invalid UTF-8 bodies (issue 13).
func FuzzUsageRequest(f *testing.F) {
	a := newAPI(f)
	secret := a.mustProvision("fuzz-msp")
	for _, seed := range []string{
		`{"observations":[{"org":"o1","value":1,"observedAt":"2026-11-21T10:00:00Z"}]}`,
		`{"observations":[{"org":"","value":-5,"observedAt":"x"}]}`,
		`{"observations":null}`, `[]`, `{`, ``, `{"observations":[{"org":"o","product":"p","value":1e99}]}`,
	} {
		f.Add([]byte(seed), true)
	}
	for _, bad := range strictBodies(`{"observations":[{"org":"o1","value":1,"observedAt":"2026-11-21T10:00:00Z"}]}`, "observations") {
		f.Add([]byte(bad.body), true)
	}
	f.Add([]byte("{\"observations\":[{\"org\":\"o\xff\",\"value\":1,\"observedAt\":\"2026-11-21T10:00:00Z\"}]}"), true)
	f.Add([]byte(`{"observations":[{"org":"o1","org":"o2","value":1,"observedAt":"2026-11-21T10:00:00Z"}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		a := a.with(t)
		var rec interface{ Result() *http.Response }
		if sign {
			rec = a.signed("POST", "/v1/usage", "fuzz-msp", body, secret)
		} else {
			rec = a.do("POST", "/v1/usage", "", body, http.Header{signature.TenantHeader: {"fuzz-msp"}, signature.Header: {string(body)}})
		}
		if code := rec.Result().StatusCode; code >= 500 {
			t.Fatalf("got %d for body %q", code, fmt.Sprint(string(body)))
		}
	})
}

// TestGetTenant: a token's tenant is read back once provisioned; a valid
// token of a tenant never provisioned gets 404. Through the generated
// client.
func TestGetTenant(t *testing.T) {
	a := newAPI(t)
	a.mustProvision(tenantA)
	t.Run("OK", func(t *testing.T) {
		got, err := a.client(a.token(tenantA, billingRole)).GetTenantWithResponse(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.JSON200 == nil || got.JSON200.Id != tenantA || got.JSON200.CreatedAt.IsZero() {
			t.Fatalf("got %s %s, want 200 with id %s and its creation time", got.Status(), got.Body, tenantA)
		}
	})
	t.Run("ErrNeverProvisioned", func(t *testing.T) {
		got, err := a.client(a.token("no-such-msp", billingRole)).GetTenantWithResponse(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.JSON404 == nil || got.JSON404.Code != "not_found" {
			t.Fatalf("got %s %s, want 404 not_found", got.Status(), got.Body)
		}
	})
}
