package httpapi

import (
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/psabridge/psabridge/shared/apperr"
)

// ClaimsAuthenticator reads a tenant admin from the API Gateway v2 request
// context in Lambda, where the HTTP API's JWT authorizer has already
// verified the token: the handler reads its claims and does not verify
// again. It never yields an operator (see IAMAuthenticator).
//
// It must only serve requests that came through API Gateway (the httpadapter
// puts the context there); a request without that context is Unauthorized.
type ClaimsAuthenticator struct {
	// Claims names the tenant and roles claims (defaults "tenant", "roles").
	Claims ClaimNames
}

// Authenticate implements Authenticator. Unauthorized when no JWT
// authorizer vouched for the caller or the claims name no tenant.
func (a ClaimsAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil || len(rc.Authorizer.JWT.Claims) == 0 {
		return Principal{}, apperr.New(apperr.Unauthorized, "a bearer token is required")
	}
	claims := make(map[string]any, len(rc.Authorizer.JWT.Claims))
	for k, v := range rc.Authorizer.JWT.Claims {
		claims[k] = v
	}
	return PrincipalFromClaims(claims, a.Claims)
}

// IAMAuthenticator reads the vendor's operators from the API Gateway v2
// request context in Lambda: the IAM authorizer (SigV4) of the operator
// routes has verified the caller's AWS identity. This context, and nothing
// a token says, is where operator rights come from.
type IAMAuthenticator struct{}

// Authenticate implements Authenticator: an operator Principal named by its
// IAM ARN. Unauthorized when the request did not pass the IAM authorizer
// (no context, a JWT authorizer's context, or an empty IAM identity).
func (IAMAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil || (rc.Authorizer.IAM.UserARN == "" && rc.Authorizer.IAM.AccountID == "") {
		return Principal{}, apperr.New(apperr.Unauthorized, "an IAM-signed request is required")
	}
	return Principal{Subject: rc.Authorizer.IAM.UserARN, Operator: true}, nil
}
