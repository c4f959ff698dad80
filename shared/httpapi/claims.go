package httpapi

import (
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/psabridge/psabridge/shared/apperr"
)

// ClaimsAuthenticator reads the caller from the API Gateway v2 request
// context in Lambda, where the HTTP API's authorizers have already verified
// it: the JWT authorizer's claims for tenant admins, the IAM authorizer
// (SigV4) for the vendor's operators. The handler never sees an unverified
// token there, so it does not verify again.
//
// It must only serve requests that came through API Gateway (the httpadapter
// puts the context there); a request without that context is Unauthorized.
type ClaimsAuthenticator struct {
	// Claims names the tenant and roles claims (defaults "tenant", "roles").
	Claims ClaimNames
}

// Authenticate implements Authenticator. Unauthorized when no authorizer
// vouched for the caller or the claims name no tenant.
func (a ClaimsAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil {
		return Principal{}, apperr.New(apperr.Unauthorized, "a bearer token is required")
	}
	if jwt := rc.Authorizer.JWT; jwt != nil && len(jwt.Claims) > 0 {
		claims := make(map[string]any, len(jwt.Claims))
		for k, v := range jwt.Claims {
			claims[k] = v
		}
		return PrincipalFromClaims(claims, a.Claims)
	}
	if iam := rc.Authorizer.IAM; iam != nil && (iam.UserARN != "" || iam.AccountID != "") {
		// Only the operator routes sit behind the IAM authorizer.
		return Principal{Subject: iam.UserARN, Roles: []string{OperatorRole}, Operator: true}, nil
	}
	return Principal{}, apperr.New(apperr.Unauthorized, "a bearer token is required")
}
