package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// MaxObservations bounds one usage request.
const MaxObservations = 1000

// ingestParallelism bounds concurrent DynamoDB writes of one usage request.
const ingestParallelism = 16

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
	Observations []billing.Observation `json:"observations"`
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

// postUsage records a batch of observations: each costs exactly one
// DynamoDB request; a bad one is rejected by index and never drops the good.
// An observation storage could not take now is rejected with code
// transient (send it again); when none was recorded and some failed so,
// the whole request is 503 with Retry-After, so the platform retries it.
func (h *Handler) postUsage(w http.ResponseWriter, r *http.Request, tenant string, body []byte) {
	var req usageRequest
	if err := strictjson.Decode(body, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(req.Observations) == 0 {
		h.fail(w, r, apperr.New(apperr.Invalid, "observations must not be empty"))
		return
	}
	if len(req.Observations) > MaxObservations {
		h.fail(w, r, apperr.New(apperr.Invalid, "at most %d observations per request", MaxObservations))
		return
	}
	settings, err := h.cfg.Store.BillingSettings(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	loc, err := billing.LoadLocation(settings.TimeZone)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := usageResponse{Rejected: []rejection{}}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, ingestParallelism)
	)
	reject := func(i int, err error) {
		mu.Lock()
		resp.Rejected = append(resp.Rejected, rejection{Index: i, Code: apperr.CodeOf(err), Message: apperr.MessageOf(err)})
		mu.Unlock()
	}
	now := h.now()
	for i := range req.Observations {
		o := req.Observations[i]
		if err := o.Validate(now); err != nil {
			reject(i, err)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := h.cfg.Store.RecordObservation(r.Context(), tenant, loc, o); err != nil {
				h.log.WarnContext(r.Context(), "observation not recorded", "tenant", tenant, "org", o.Org, "err", err)
				reject(i, err)
				return
			}
			mu.Lock()
			resp.Accepted++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if resp.Accepted == 0 && slices.ContainsFunc(resp.Rejected, func(x rejection) bool { return x.Code == apperr.Transient }) {
		h.fail(w, r, apperr.New(apperr.Transient, "usage storage is unavailable; send the observations again"))
		return
	}
	slices.SortFunc(resp.Rejected, func(a, b rejection) int { return a.Index - b.Index })
	writeJSON(w, http.StatusOK, resp)
}

type orgRequest struct {
	Name string `json:"name"`
}

// putOrg registers an org (or renames it) with its display name.
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
	if req.Name == "" || len(req.Name) > 200 {
		h.fail(w, r, apperr.New(apperr.Invalid, "name must be 1-200 characters"))
		return
	}
	if err := h.cfg.Store.RegisterOrg(r.Context(), tenant, org, req.Name); err != nil {
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
	SigningSecret signature.Secret `json:"signingSecret"`
}

// postTenant provisions a tenant and returns its first signing secret once.
// It stores the tenant, then its secret; when the second write fails (503)
// the operator's retry finishes the creation instead of getting 409, so a
// failure never leaves a tenant that can neither be used nor created.
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
	if _, err := h.cfg.Store.CreateTenant(r.Context(), req.ID); err != nil {
		if !apperr.Is(err, apperr.Conflict) {
			h.fail(w, r, err)
			return
		}
		// The tenant exists. If it has no signing secret, an earlier
		// request created it and then failed, or was cut off, before
		// storing one: this request finishes it. Otherwise it is taken.
		list, serr := h.cfg.Secrets.FreshSigningSecrets(r.Context(), req.ID)
		switch {
		case serr == nil && len(list) > 0:
			h.fail(w, r, err)
			return
		case serr != nil && !apperr.Is(serr, apperr.NotFound):
			h.fail(w, r, serr)
			return
		}
		h.log.WarnContext(r.Context(), "tenant had no signing secret: finishing its creation", "tenant", req.ID)
	}
	sec := h.newSigningSecret()
	if err := h.cfg.Secrets.PutSigningSecrets(r.Context(), req.ID, []signature.Secret{sec}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.signing.Forget(req.ID)
	writeJSON(w, http.StatusCreated, tenantResponse{ID: req.ID, SigningSecret: sec})
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

// rotateSecret adds a new signing secret; the previous newest stays valid
// (older ones are retired), so the platform can switch without downtime.
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !validTenantID(tenant) {
		h.fail(w, r, apperr.New(apperr.NotFound, "tenant not found"))
		return
	}
	if _, err := h.cfg.Store.Tenant(r.Context(), tenant); err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.cfg.Secrets.SigningSecrets(r.Context(), tenant)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		h.fail(w, r, err)
		return
	}
	sec := h.newSigningSecret()
	keep := []signature.Secret{sec}
	if len(list) > 0 {
		keep = append(keep, list[len(list)-1])
		keep[0], keep[1] = keep[1], keep[0]
	}
	if err := h.cfg.Secrets.PutSigningSecrets(r.Context(), tenant, keep); err != nil {
		h.fail(w, r, err)
		return
	}
	h.signing.Forget(tenant)
	writeJSON(w, http.StatusOK, tenantResponse{ID: tenant, SigningSecret: sec})
}

func (h *Handler) newSigningSecret() signature.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	return signature.Secret{ID: "sk_" + hex.EncodeToString(id), Value: "whsec_" + hex.EncodeToString(b), CreatedAt: h.now().UTC()}
}
