package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// AlertStore stores alert occurrences for the webhook and lists them for
// GET /v1/alerts (implemented by *dynamo.Store).
type AlertStore interface {
	// PutAlert stores a new occurrence; false when it is already stored.
	PutAlert(ctx context.Context, tenant string, r alerting.Record) (bool, error)
	// DeleteAlert removes an occurrence that could not be queued.
	DeleteAlert(ctx context.Context, tenant string, a alerting.Alert) error
	// Alerts lists occurrences newest first, one page at a time.
	Alerts(ctx context.Context, tenant string, f dynamo.AlertFilter, cursor string, limit int) ([]alerting.Record, string, error)
}

// TicketQueue sends messages to the FIFO ticket queue (implemented by
// *sqsqueue.Sender): one SendMessageBatch per call of up to ten.
type TicketQueue interface {
	Send(ctx context.Context, msgs []sqsqueue.Message) (int, error)
}

func init() { routeSets = append(routeSets, (*Handler).routesWebhook) }

func (h *Handler) routesWebhook() {
	if h.cfg.Alerts == nil {
		// The API's own store holds the alerts unless told otherwise.
		h.cfg.Alerts, _ = h.cfg.Store.(AlertStore)
	}
	h.handle("POST /v1/webhooks/alerts", h.countRejects(h.platform(h.postAlert)))
	h.handle("GET /v1/alerts", h.admin(h.cfg.BillingRole, h.getAlerts))
}

// acceptedBody is the webhook's answer to every accepted delivery, new or
// replayed, so the platform cannot tell (and need not care) which it was.
type acceptedBody struct {
	Accepted bool `json:"accepted"`
}

// postAlert records a platform alert and queues it for the ticket worker.
// A new alert costs one DynamoDB write (a conditional put that also detects
// replays) and one SQS send; a replay costs the failed put only. Alerts of
// unknown types are stored as skipped and never queued.
//
// Unknown fields are ignored, so that a platform that adds a field does not
// lose alerts; everything else is strict (strictjson: one JSON value, no
// duplicate keys, valid UTF-8 everywhere, details included, since SQS
// refuses invalid UTF-8), and the fields psabridge uses are validated.
func (h *Handler) postAlert(w http.ResponseWriter, r *http.Request, tenant string, body []byte) {
	if h.cfg.Alerts == nil || h.cfg.TicketQueue == nil {
		h.fail(w, r, apperr.New(apperr.Internal, "alert storage is not configured"))
		return
	}
	var a alerting.Alert
	if err := strictjson.DecodeAllowingUnknownFields(body, &a); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := a.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	rec := alerting.NewRecord(a, h.now())
	created, err := h.cfg.Alerts.PutAlert(ctx, tenant, rec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	log := h.log.With("tenant", tenant, "org", a.Org, "alert", a.ID, "status", a.Status)
	switch {
	case !created:
		log.InfoContext(ctx, "alert replay acknowledged")
	case rec.State == alerting.Skipped:
		log.InfoContext(ctx, "alert stored, not ticketed", "reason", rec.Reason, "type", a.Type)
	default:
		if err := h.enqueue(ctx, tenant, a); err != nil {
			// Forget the occurrence, so the platform's retry is new again
			// instead of a replay that would never be queued.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if derr := h.cfg.Alerts.DeleteAlert(dctx, tenant, a); derr != nil {
				log.ErrorContext(ctx, "alert stored but neither queued nor removed", "err", derr)
			}
			cancel()
			log.WarnContext(ctx, "alert not queued", "err", err)
			h.fail(w, r, apperr.Wrap(err, apperr.Transient, "the alert could not be queued; send it again"))
			return
		}
		log.InfoContext(ctx, "alert queued")
	}
	writeJSON(w, http.StatusAccepted, acceptedBody{Accepted: true})
}

// enqueue sends one alert occurrence to the FIFO ticket queue: group =
// tenant + org + type (open, repeats and resolution stay in order), dedup =
// tenant + id + status + occurrence time.
func (h *Handler) enqueue(ctx context.Context, tenant string, a alerting.Alert) error {
	body, err := json.Marshal(alerting.Message{Tenant: tenant, Alert: a})
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "encode queue message")
	}
	_, err = h.cfg.TicketQueue.Send(ctx, []sqsqueue.Message{{Body: string(body), GroupID: a.QueueGroup(tenant), DedupID: a.QueueDedup(tenant)}})
	return err
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
	SigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error)
	FreshSigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error)
}

// SigningOnly narrows a secret store to reading signing secrets: every
// other method is Forbidden. The webhook is built with it, so no code path
// of its process can read PSA credentials or change a secret (its IAM role
// cannot either).
func SigningOnly(s SigningSecrets) Secrets { return signingOnly{s} }

type signingOnly struct{ s SigningSecrets }

func (o signingOnly) SigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error) {
	return o.s.SigningSecrets(ctx, tenant)
}

func (o signingOnly) FreshSigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error) {
	return o.s.FreshSigningSecrets(ctx, tenant)
}

func (signingOnly) refused() error {
	return apperr.New(apperr.Forbidden, "this process reads signing secrets only")
}

func (s signingOnly) PutSigningSecrets(context.Context, string, []secrets.SigningSecret) error {
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
