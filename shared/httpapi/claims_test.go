package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/httpapi"
)

func TestClaimsAuthenticator(t *testing.T) {
	jwt := func(claims map[string]string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	}
	iam := &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
		UserARN: "arn:aws:iam::123456789012:role/ops", AccountID: "123456789012"}}
	auth := httpapi.ClaimsAuthenticator{Claims: httpapi.ClaimNames{Tenant: "custom:tenant", Roles: "cognito:groups"}}
	for _, tc := range []struct {
		name       string
		authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		noContext  bool
		want       httpapi.Principal
		wantErr    bool
	}{
		{"JWT", jwt(map[string]string{"sub": "u1", "custom:tenant": "acme-msp", "cognito:groups": "[billing-admin viewer]"}), false,
			httpapi.Principal{Subject: "u1", Tenant: "acme-msp", Roles: []string{"billing-admin", "viewer"}}, false},
		{"JWTOneRole", jwt(map[string]string{"custom:tenant": "acme-msp", "cognito:groups": "billing-admin"}), false,
			httpapi.Principal{Tenant: "acme-msp", Roles: []string{"billing-admin"}}, false},
		{"ErrIAMIsNoAdmin", iam, false, httpapi.Principal{}, true},
		{"ErrOperatorRoleClaimIsNoOperator", jwt(map[string]string{"sub": "u1", "cognito:groups": "[psabridge-operator]"}), false, httpapi.Principal{}, true},
		{"OperatorRoleClaimIsJustARole", jwt(map[string]string{"custom:tenant": "acme-msp", "cognito:groups": "psabridge-operator"}), false,
			httpapi.Principal{Tenant: "acme-msp", Roles: []string{"psabridge-operator"}}, false},
		{"ErrNoTenantClaim", jwt(map[string]string{"sub": "u1", "tenant": "acme-msp"}), false, httpapi.Principal{}, true},
		{"ErrMalformedTenant", jwt(map[string]string{"custom:tenant": "ACME MSP"}), false, httpapi.Principal{}, true},
		{"ErrNoAuthorizer", nil, false, httpapi.Principal{}, true},
		{"ErrEmptyAuthorizer", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}, false, httpapi.Principal{}, true},
		{"ErrNotThroughAPIGateway", nil, true, httpapi.Principal{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got httpapi.Principal
			var err error
			capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err = auth.Authenticate(r)
				w.WriteHeader(http.StatusNoContent)
			})
			if tc.noContext {
				capture(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/integration", nil))
			} else {
				// Through the same adapter as in Lambda, so the context is the real one.
				ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/integration",
					RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: tc.authorizer,
						HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/integration"}}}
				if _, perr := httpadapter.NewV2(capture).ProxyWithContext(context.Background(), ev); perr != nil {
					t.Fatal(perr)
				}
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error=%v", err, tc.wantErr)
			}
			if !tc.wantErr && (got.Subject != tc.want.Subject || got.Tenant != tc.want.Tenant || got.Operator != tc.want.Operator || len(got.Roles) != len(tc.want.Roles)) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
