package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
)

// TestOperatorRightsOnlyFromIAM is issue 13's operator-claim test, wired as
// the api Lambda is (ClaimsAuthenticator for admins, IAMAuthenticator for
// operators) and driven through the same API Gateway adapter: JWT claims
// with the role "psabridge-operator", with or without a tenant, can neither
// create a tenant nor rotate another tenant's signing secret; only the IAM
// authorizer's context can.
func TestOperatorRightsOnlyFromIAM(t *testing.T) {
	a := newAPI(t, func(c *httpapi.Config) {
		c.Auth = httpapi.ClaimsAuthenticator{}
		c.Operators = httpapi.IAMAuthenticator{}
	})
	adapter := httpadapter.NewV2(iamcalls.HTTP(a.Handler))
	iam := &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
		UserARN: "arn:aws:iam::123456789012:role/psabridge-operators", AccountID: "123456789012"}}
	jwt := func(claims map[string]string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	}
	send := func(t *testing.T, authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription, path, body string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Body: body,
			Headers: map[string]string{"content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: authz,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path}}}
		resp, err := adapter.ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	signingSecrets := func(t *testing.T, tenant string) []string {
		t.Helper()
		list, err := a.Secrets.FreshSigningSecrets(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		return ids
	}

	for _, tenant := range []string{"acme-msp", "evil-msp"} {
		if resp := send(t, iam, "/v1/platform/tenants", `{"id":"`+tenant+`"}`); resp.StatusCode != http.StatusCreated {
			t.Fatalf("IAM provision %s: got %d %s, want 201", tenant, resp.StatusCode, resp.Body)
		}
	}
	before := signingSecrets(t, "acme-msp")

	claimsCases := []struct {
		name   string
		claims map[string]string
	}{
		{"OperatorRoleNoTenant", map[string]string{"sub": "mallory", "roles": "[psabridge-operator]"}},
		{"OperatorRoleString", map[string]string{"sub": "mallory", "roles": "psabridge-operator"}},
		{"OperatorRoleOwnTenant", map[string]string{"sub": "mallory", "tenant": "evil-msp", "roles": "[psabridge-operator billing-admin]"}},
	}
	for _, tc := range claimsCases {
		t.Run("ErrCreateTenant/"+tc.name, func(t *testing.T) {
			resp := send(t, jwt(tc.claims), "/v1/platform/tenants", `{"id":"stolen-msp"}`)
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d %s, want 401 or 403", resp.StatusCode, resp.Body)
			}
			if _, err := a.Store.Tenant(context.Background(), "stolen-msp"); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("tenant stolen-msp: got %v, want not found", err)
			}
		})
		t.Run("ErrRotateOtherTenant/"+tc.name, func(t *testing.T) {
			resp := send(t, jwt(tc.claims), "/v1/platform/tenants/acme-msp/rotate-secret", "")
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d %s, want 401 or 403", resp.StatusCode, resp.Body)
			}
			if got := signingSecrets(t, "acme-msp"); !slices.Equal(got, before) {
				t.Fatalf("acme-msp's signing secrets changed: got %v, want %v", got, before)
			}
		})
	}
	t.Run("ErrAdminOfTenantIsForbidden", func(t *testing.T) {
		resp := send(t, jwt(map[string]string{"tenant": "evil-msp", "roles": "billing-admin"}), "/v1/platform/tenants/acme-msp/rotate-secret", "")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d %s, want 403", resp.StatusCode, resp.Body)
		}
	})
	t.Run("ErrNoAuthorizer", func(t *testing.T) {
		if resp := send(t, nil, "/v1/platform/tenants", `{"id":"stolen-msp"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d %s, want 401", resp.StatusCode, resp.Body)
		}
	})
	t.Run("IAMRotates", func(t *testing.T) {
		if resp := send(t, iam, "/v1/platform/tenants/acme-msp/rotate-secret", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d %s, want 200", resp.StatusCode, resp.Body)
		}
		if got := signingSecrets(t, "acme-msp"); slices.Equal(got, before) {
			t.Fatalf("signing secrets unchanged after an IAM rotation: %v", got)
		}
	})
	t.Run("ErrIAMIsNoAdmin", func(t *testing.T) {
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/integration",
			RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: iam,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/integration"}}}
		resp, err := adapter.ProxyWithContext(context.Background(), ev)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d %s %v, want 403", resp.StatusCode, resp.Body, err)
		}
	})
}

// TestOperatorToken: the local operator credential is a separate secret;
// an admin JWT never passes for it, and a short token admits no one.
func TestOperatorToken(t *testing.T) {
	a := newAPI(t)
	for _, tc := range []struct {
		name  string
		auth  httpapi.OperatorTokenAuthenticator
		token string
		ok    bool
	}{
		{"OK", httpapi.OperatorTokenAuthenticator{Token: a.Operator}, a.Operator, true},
		{"ErrOtherToken", httpapi.OperatorTokenAuthenticator{Token: a.Operator}, a.Operator + "x", false},
		{"ErrAdminJWT", httpapi.OperatorTokenAuthenticator{Token: a.Operator}, a.token(tenantA, billingRole), false},
		{"ErrEmptyConfigured", httpapi.OperatorTokenAuthenticator{}, "", false},
		{"ErrShortConfigured", httpapi.OperatorTokenAuthenticator{Token: "short"}, "short", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "/v1/platform/tenants", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			p, err := tc.auth.Authenticate(r)
			if (err == nil) != tc.ok || p.Operator != tc.ok {
				t.Fatalf("got %+v, %v; want ok=%v", p, err, tc.ok)
			}
		})
	}
}
