package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/queue"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// AlertStore stores alert occurrences for the webhook and lists them for
// GET /v1/alerts (implemented by *dynamo.Store).
type AlertStore interface {
	// PutAlert stores a new occurrence and returns it with created true;
	// for one already stored it returns the stored record, created false.
	PutAlert(ctx context.Context, tenant string, r alerting.Record) (stored alerting.Record, created bool, err error)
	// MarkAlertEnqueued records that an occurrence was handed to the
	// ticket queue (alerting.Record.Enqueued).
	MarkAlertEnqueued(ctx context.Context, tenant string, a alerting.Alert) error
	// Alerts lists occurrences newest first, one page at a time.
	Alerts(ctx context.Context, tenant string, f alerting.Filter, cursor string, limit int) ([]alerting.Record, string, error)
}

// TicketQueue sends messages to the FIFO ticket queue (implemented by
// *sqsqueue.Sender): one SendMessageBatch per call of up to ten.
type TicketQueue interface {
	Send(ctx context.Context, msgs []queue.Message) (int, error)
}

// acceptedBody is the webhook's answer to every accepted delivery, new or
// replayed, so the platform cannot tell (and need not care) which it was.
type acceptedBody struct {
	Accepted bool `json:"accepted"`
}

// postAlert records a platform alert and queues it for the ticket worker.
//
// The protocol loses no accepted alert, whichever step fails or times out:
//  1. a conditional put stores the occurrence (Queued, not Enqueued), or
//     finds it stored by an earlier delivery;
//  2. unless the stored occurrence is skipped, already handled by the
//     worker, or marked Enqueued, it is sent to the FIFO ticket queue;
//  3. it is marked Enqueued, and the delivery is answered 202.
//
// A failure in 1 or 2 answers 503 (transient) and leaves at most a stored,
// not-Enqueued occurrence, which the platform's next delivery queues again
// (step 2). Sending twice is safe: the queue drops a duplicate within its
// deduplication window (the id is tenant + alert + status + time) and the
// worker acknowledges an occurrence it already handled. A failure in 3
// only costs a redundant send on a later replay, so it is logged, not
// answered 503. A new alert costs one put, one send and one update; a
// replay of a queued alert the failed put only.
//
// Alerts of unknown types are stored as skipped and never queued. Unknown
// fields are ignored, so that a platform that adds a field does not lose
// alerts; everything else is strict (strictjson: one JSON value, no
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
	stored, created, err := h.cfg.Alerts.PutAlert(ctx, tenant, alerting.NewRecord(a, h.now()))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	log := h.log.With("tenant", tenant, "org", a.Org, "alert", a.ID, "status", a.Status)
	switch {
	case stored.State == alerting.Skipped && created:
		log.InfoContext(ctx, "alert stored, not ticketed", "reason", stored.Reason, "type", a.Type)
	case stored.State != alerting.Queued || stored.Enqueued:
		log.InfoContext(ctx, "alert replay acknowledged", "state", stored.State)
	default:
		if !created {
			log.WarnContext(ctx, "alert replay of an occurrence never queued: queueing it now")
		}
		if err := h.enqueue(ctx, tenant, a); err != nil {
			log.WarnContext(ctx, "alert stored, not queued yet; the next delivery queues it", "err", err)
			if !apperr.Is(err, apperr.Invalid) {
				err = apperr.Wrap(err, apperr.Transient, "the alert could not be queued; send it again")
			}
			h.fail(w, r, err)
			return
		}
		if err := h.cfg.Alerts.MarkAlertEnqueued(ctx, tenant, a); err != nil {
			log.WarnContext(ctx, "alert queued, not marked; a replay will queue it again", "err", err)
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
	_, err = h.cfg.TicketQueue.Send(ctx, []queue.Message{{Body: string(body), GroupID: a.QueueGroup(tenant), DedupID: a.QueueDedup(tenant)}})
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
	SigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error)
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
