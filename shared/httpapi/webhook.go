package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// AlertStore stores alert occurrences for the webhook (app.AlertRecorder)
// and lists them for GET /v1/alerts (implemented by *dynamo.Store).
type AlertStore interface {
	app.AlertRecorder
	// Alerts lists occurrences newest first, one page at a time.
	Alerts(ctx context.Context, tenant string, f alerting.Filter, cursor string, limit int) ([]alerting.Record, string, error)
}

// TicketQueue is the FIFO ticket queue the webhook sends alerts to
// (app.TicketQueue).
type TicketQueue = app.TicketQueue

// acceptedBody is the webhook's answer to every accepted delivery, new or
// replayed, so the platform cannot tell (and need not care) which it was.
type acceptedBody struct {
	Accepted bool `json:"accepted"`
}

// postAlert decodes a platform alert and hands it to the intake
// (app.AlertIntake.Take: recorded, then queued for the ticket worker); 202
// once it is safe, whether new or replayed.
//
// Unknown fields are ignored, so that a platform that adds a field does not
// lose alerts; everything else is strict (strictjson: one JSON value, no
// duplicate keys, valid UTF-8 everywhere, details included, since SQS
// refuses invalid UTF-8), and the fields psabridge uses are validated.
func (h *Handler) postAlert(w http.ResponseWriter, r *http.Request, tenant string, body []byte) {
	var a alertRequest
	if err := strictjson.DecodeAllowingUnknownFields(body, &a); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.intake.Take(r.Context(), tenant, a.alert()); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, acceptedBody{Accepted: true})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// countRejects emits the WebhookRejects metric (dimension Reason: the HTTP
// status) for every delivery the webhook does not accept; the infra alarm
// watches it (a burst of 401s means a misconfigured secret).
func (h *Handler) countRejects(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next(rec, r)
		if rec.status >= 400 && h.cfg.Metrics != nil {
			h.cfg.Metrics.Count(metrics.WebhookRejects, 1, map[string]string{"Reason": strconv.Itoa(rec.status)})
		}
	}
}

// SigningSecrets reads the platform signing secrets (implemented by
// *secrets.Store).
type SigningSecrets interface {
	// SigningSecrets are the tenant's secrets, oldest first (cached);
	// NotFound when it has none.
	SigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error)
	// FreshSigningSecrets is SigningSecrets read past the cache.
	FreshSigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error)
}

// SigningOnly narrows a secret store to reading signing secrets: every
// other method is Forbidden. The webhook is built with it, so no code path
// of its process can read PSA credentials or change a secret (its IAM role
// cannot either).
func SigningOnly(s SigningSecrets) Secrets { return signingOnly{s} }

type signingOnly struct{ s SigningSecrets }

func (o signingOnly) SigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error) {
	return o.s.SigningSecrets(ctx, tenant)
}

func (o signingOnly) FreshSigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error) {
	return o.s.FreshSigningSecrets(ctx, tenant)
}

func (signingOnly) refused() error {
	return apperr.New(apperr.Forbidden, "this process reads signing secrets only")
}

func (s signingOnly) PutSigningSecrets(context.Context, string, []signature.Secret) error {
	return s.refused()
}

func (s signingOnly) PSACredentials(context.Context, string) (psa.Credentials, error) {
	return psa.Credentials{}, s.refused()
}

func (s signingOnly) FreshPSACredentials(context.Context, string) (psa.Credentials, error) {
	return psa.Credentials{}, s.refused()
}

func (s signingOnly) PutPSACredentials(context.Context, string, psa.Credentials) error {
	return s.refused()
}

func (s signingOnly) DeletePSACredentials(context.Context, string) error { return s.refused() }

// alertRequest is an alert as the platform posts it to the webhook.
type alertRequest struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Severity   string          `json:"severity"`
	Org        string          `json:"org"`
	Status     string          `json:"status"`
	OccurredAt time.Time       `json:"occurredAt"`
	Title      string          `json:"title"`
	Details    json.RawMessage `json:"details,omitempty"`
}

// alert maps the request to the domain's alert.
func (a alertRequest) alert() alerting.Alert {
	return alerting.Alert{ID: a.ID, Type: alerting.Type(a.Type), Severity: alerting.Severity(a.Severity), Org: a.Org,
		Status: alerting.Status(a.Status), OccurredAt: a.OccurredAt, Title: a.Title, Details: a.Details}
}
