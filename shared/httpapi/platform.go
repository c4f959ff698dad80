package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// MaxObservations bounds one usage request (app.MaxObservations).
const MaxObservations = app.MaxObservations

var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

func validTenantID(t string) bool { return tenantPattern.MatchString(t) }

// platformHandler handles a verified platform request: the tenant the
// signing secret belongs to and the raw body the signature covered.
type platformHandler func(w http.ResponseWriter, r *http.Request, tenant string, body []byte)

// platform verifies X-Psabridge-Signature over the raw body before anything
// parses it. Every failure is 401 with the same message, so a caller cannot
// tell an unknown tenant from a bad signature.
func (h *Handler) platform(next platformHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		tenant := r.Header.Get(signature.TenantHeader)
		// API Gateway's Lambda adapter splits header values at commas, so
		// "t=…,v1=…" arrives as several values: join them back.
		header := strings.Join(r.Header.Values(signature.Header), ",")
		if err := h.verifyPlatform(r.Context(), tenant, header, body); err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r, tenant, body)
	}
}

// verifyPlatform checks a platform signature with the tenant's signing
// secrets through h.signing, which reads them only for a well-formed,
// timely header and at most once per tenant a minute (signature.Verifier).
// Every refusal is the same Unauthorized; Transient when Secrets Manager
// fails.
func (h *Handler) verifyPlatform(ctx context.Context, tenant, header string, body []byte) error {
	denied := apperr.New(apperr.Unauthorized, "the request signature is not valid")
	if !validTenantID(tenant) || header == "" {
		return denied
	}
	err := h.signing.Verify(ctx, tenant, header, body)
	if apperr.Is(err, apperr.Unauthorized) {
		return denied
	}
	return err
}

// readSigningSecrets reads a tenant's signing secret values, uncached, for
// the Verifier (which decides when to read).
func (h *Handler) readSigningSecrets(ctx context.Context, tenant string) ([]string, error) {
	list, err := h.cfg.Secrets.FreshSigningSecrets(ctx, tenant)
	if err != nil {
		return nil, err
	}
	values := make([]string, len(list))
	for i, s := range list {
		values[i] = s.Value
	}
	return values, nil
}

type usageRequest struct {
	Observations []observationRequest `json:"observations"`
}

// observationRequest is one observation of POST /v1/usage on the wire.
type observationRequest struct {
	Org        string    `json:"org"`
	Product    string    `json:"product"`
	Value      int64     `json:"value"`
	ObservedAt time.Time `json:"observedAt"`
}

// observations maps the request's observations to the domain's, in order.
func (req usageRequest) observations() []billing.Observation {
	if req.Observations == nil {
		return nil
	}
	obs := make([]billing.Observation, len(req.Observations))
	for i, o := range req.Observations {
		obs[i] = billing.Observation{Org: o.Org, Product: billing.Product(o.Product), Value: o.Value, ObservedAt: o.ObservedAt}
	}
	return obs
}

type rejection struct {
	Index   int         `json:"index"`
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
}

type usageResponse struct {
	Accepted int         `json:"accepted"`
	Rejected []rejection `json:"rejected"`
}

// postUsage records a batch of observations (app.Usage.Record): each
// costs exactly one DynamoDB request; a bad one is rejected by index and
// never drops the good. An observation storage could not take now is
// rejected with code transient (send it again); when none was recorded
// and some failed so, the whole request is 503 with Retry-After, so the
// platform retries it.
func (h *Handler) postUsage(w http.ResponseWriter, r *http.Request, tenant string, body []byte) {
	var req usageRequest
	if err := strictjson.Decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	accepted, rejected, err := h.usage.Record(r.Context(), tenant, req.observations())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := usageResponse{Accepted: accepted, Rejected: make([]rejection, len(rejected))}
	for i, x := range rejected {
		resp.Rejected[i] = rejection{Index: x.Index, Code: apperr.CodeOf(x.Err), Message: apperr.MessageOf(x.Err)}
	}
	writeJSON(w, http.StatusOK, resp)
}

type orgRequest struct {
	Name string `json:"name"`
}

// putOrg registers an org (or renames it) with its display name
// (app.Usage.RegisterOrg).
func (h *Handler) putOrg(w http.ResponseWriter, r *http.Request, tenant string, body []byte) {
	org := r.PathValue("org")
	if !billing.ValidOrgID(org) {
		h.fail(w, r, apperr.New(apperr.Invalid, "org must be 1-128 letters, digits, '.', '_', ':' or '-'"))
		return
	}
	var req orgRequest
	if err := strictjson.Decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.usage.RegisterOrg(r.Context(), tenant, org, req.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": org, "name": req.Name})
}

type tenantRequest struct {
	ID string `json:"id"`
}

type tenantResponse struct {
	ID string `json:"id"`
	// SigningSecret is shown once, here and nowhere else.
	SigningSecret signingSecretView `json:"signingSecret"`
}

// signingSecretView is a platform signing secret, shown once.
type signingSecretView struct {
	ID        string    `json:"id"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"createdAt"`
}

func signingSecretViewOf(s signature.Secret) signingSecretView {
	return signingSecretView{ID: s.ID, Value: s.Value, CreatedAt: s.CreatedAt}
}

// postTenant provisions a tenant and returns its first signing secret once
// (app.Tenants.Provision).
func (h *Handler) postTenant(w http.ResponseWriter, r *http.Request) {
	var req tenantRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if !validTenantID(req.ID) {
		h.fail(w, r, apperr.New(apperr.Invalid, "id must be 2-63 lower-case letters, digits or '-'"))
		return
	}
	sec, err := h.tenants.Provision(r.Context(), req.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tenantResponse{ID: req.ID, SigningSecret: signingSecretViewOf(sec)})
}

// getTenant returns the caller's tenant as provisioned (id, createdAt).
// A valid token whose tenant was never provisioned gets 404 not_found, so
// a script (or `go run ./functions/local -admin-token`) can tell a typo
// from a tenant of its own.
func (h *Handler) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := h.cfg.Store.Tenant(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tenantView{ID: t.ID, CreatedAt: t.CreatedAt})
}

// rotateSecret adds a new signing secret (app.Tenants.RotateSecret); the
// previous newest stays valid, so the platform can switch without
// downtime.
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !validTenantID(tenant) {
		h.fail(w, r, apperr.New(apperr.NotFound, "tenant not found"))
		return
	}
	sec, err := h.tenants.RotateSecret(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tenantResponse{ID: tenant, SigningSecret: signingSecretViewOf(sec)})
}
