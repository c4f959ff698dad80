package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/clock"
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	// Tenant is the tenant the caller acts for; empty for operators.
	Tenant string
	Roles  []string
	// Operator is true for the vendor's operators. Only an operator
	// authenticator (Config.Operators: IAMAuthenticator in AWS,
	// OperatorTokenAuthenticator locally) sets it; no token claim can.
	Operator bool
}

// HasRole reports whether p has role.
func (p Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// Authenticator turns a request into a Principal. It returns
// apperr.Unauthorized when there is no valid identity.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// ClaimNames says where a token carries the tenant and the roles.
type ClaimNames struct {
	Tenant string // default "tenant"
	Roles  string // default "roles"; an array or a space-separated string
}

func (c ClaimNames) withDefaults() ClaimNames {
	if c.Tenant == "" {
		c.Tenant = "tenant"
	}
	if c.Roles == "" {
		c.Roles = "roles"
	}
	return c
}

// PrincipalFromClaims builds a tenant admin's Principal from verified
// claims. It never grants operator rights, whatever the claims say (issue
// 13: a "psabridge-operator" role claim once did). Unauthorized when the
// tenant claim is missing or malformed.
func PrincipalFromClaims(claims map[string]any, names ClaimNames) (Principal, error) {
	names = names.withDefaults()
	p := Principal{}
	p.Subject, _ = claims["sub"].(string)
	p.Tenant, _ = claims[names.Tenant].(string)
	switch roles := claims[names.Roles].(type) {
	case []any:
		for _, r := range roles {
			if s, ok := r.(string); ok {
				p.Roles = append(p.Roles, s)
			}
		}
	case []string:
		p.Roles = roles
	case string:
		// API Gateway flattens array claims to "[a b]"; accept that too.
		p.Roles = strings.Fields(strings.Trim(roles, "[]"))
	}
	if p.Tenant == "" {
		return Principal{}, apperr.New(apperr.Unauthorized, "the token names no tenant")
	}
	if !validTenantID(p.Tenant) {
		return Principal{}, apperr.New(apperr.Unauthorized, "the token's tenant is malformed")
	}
	return p, nil
}

// JWTAuthenticator verifies bearer tokens signed with an Ed25519 key. It is
// what `make run` and the tests use; in AWS the HTTP API's JWT authorizer
// verifies tokens and ClaimsAuthenticator reads them.
type JWTAuthenticator struct {
	Key      ed25519.PublicKey
	Issuer   string
	Audience string
	Claims   ClaimNames
	// Now is the clock tokens are checked against (default clock.Now).
	Now func() time.Time
}

// Authenticate implements Authenticator.
func (a JWTAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return Principal{}, apperr.New(apperr.Unauthorized, "a bearer token is required")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithExpirationRequired()}
	if a.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.Issuer))
	}
	if a.Audience != "" {
		opts = append(opts, jwt.WithAudience(a.Audience))
	}
	now := a.Now
	if now == nil {
		now = clock.Now
	}
	opts = append(opts, jwt.WithTimeFunc(now))
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return a.Key, nil }, opts...); err != nil {
		return Principal{}, apperr.Wrap(err, apperr.Unauthorized, "the token is not valid")
	}
	return PrincipalFromClaims(claims, a.Claims)
}

// DevToken signs a token for `make run` and tests.
func DevToken(key ed25519.PrivateKey, issuer, audience, tenant string, roles []string, ttl time.Duration, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"sub":   "dev-" + tenant,
		"iss":   issuer,
		"aud":   audience,
		"iat":   now.Unix(),
		"exp":   now.Add(ttl).Unix(),
		"roles": roles,
	}
	if tenant != "" {
		claims["tenant"] = tenant
	}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(key)
}

type principalKey struct{}

// withPrincipal stores the caller in the request context.
func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalOf returns the caller stored by the admin middleware.
func PrincipalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// OperatorTokenAuthenticator authenticates the vendor's operators by a
// shared bearer token, for `make run` and tests, where there is no IAM
// authorizer. It is a separate secret, never a JWT, so no admin token can be
// turned into operator rights. A Token shorter than 32 bytes authenticates
// no one.
type OperatorTokenAuthenticator struct {
	Token string
}

// Authenticate implements Authenticator: an operator Principal for
// "Authorization: Bearer <Token>", Unauthorized otherwise.
func (a OperatorTokenAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(a.Token) < 32 || subtle.ConstantTimeCompare([]byte(raw), []byte(a.Token)) != 1 {
		return Principal{}, apperr.New(apperr.Unauthorized, "an operator credential is required")
	}
	return Principal{Subject: "operator", Operator: true}, nil
}

// admin wraps an admin route: the caller must be a tenant admin (Config.Auth)
// with role. 401 without a valid admin identity (403 when the caller is an
// operator instead), 403 without the role.
func (h *Handler) admin(role string, next http.HandlerFunc) http.HandlerFunc {
	return h.authenticated(h.cfg.Auth, h.cfg.Operators, "this route is for tenant admins", next, func(p Principal) error {
		if p.Tenant == "" || p.Operator {
			return apperr.New(apperr.Forbidden, "this route is for tenant admins")
		}
		if role != "" && !p.HasRole(role) {
			return apperr.New(apperr.Forbidden, "the %s role is required", role)
		}
		return nil
	})
}

// operator wraps an operator route: only Config.Operators can admit the
// caller, never the admin authenticator. 401 without an operator identity
// (403 when the caller is a valid tenant admin instead).
func (h *Handler) operator(next http.HandlerFunc) http.HandlerFunc {
	return h.authenticated(h.cfg.Operators, h.cfg.Auth, "this route is for the vendor's operators", next, func(p Principal) error {
		if !p.Operator {
			return apperr.New(apperr.Forbidden, "this route is for the vendor's operators")
		}
		return nil
	})
}

// authenticated runs next with the caller in the context if auth
// authenticates it and allow accepts it. When auth does not, but other
// (the authenticator of the other kind of caller) does, the answer is 403
// with forbidden rather than 401: the caller is known, just not allowed.
func (h *Handler) authenticated(auth, other Authenticator, forbidden string, next http.HandlerFunc, allow func(Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if auth == nil {
			h.fail(w, r, apperr.New(apperr.Unauthorized, "authentication is not configured"))
			return
		}
		p, err := auth.Authenticate(r)
		if err != nil && other != nil {
			if _, oerr := other.Authenticate(r); oerr == nil {
				err = apperr.New(apperr.Forbidden, "%s", forbidden)
			}
		}
		if err == nil {
			err = allow(p)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r.WithContext(withPrincipal(r.Context(), p)))
	}
}
