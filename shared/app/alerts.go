package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/queue"
)

// AlertRecorder stores the alert occurrences the webhook takes in
// (*dynamo.Store).
type AlertRecorder interface {
	// PutAlert stores a new occurrence and returns it with created true;
	// for one already stored it returns the stored record, created false.
	PutAlert(ctx context.Context, tenant string, r alerting.Record) (stored alerting.Record, created bool, err error)
	// MarkAlertEnqueued records that an occurrence was handed to the
	// ticket queue (alerting.Record.Enqueued).
	MarkAlertEnqueued(ctx context.Context, tenant string, a alerting.Alert) error
}

// TicketQueue sends messages to the FIFO ticket queue (*sqsqueue.Sender):
// one SendMessageBatch per call of up to ten; the number of calls made and
// an error when any message was not sent.
type TicketQueue interface {
	Send(ctx context.Context, msgs []queue.Message) (int, error)
}

// AlertIntake takes the platform's alerts in for the ticket worker.
type AlertIntake struct {
	Alerts AlertRecorder
	Queue  TicketQueue
	Now    func() time.Time
	Log    *slog.Logger
	// Metrics receives the Degraded count of errors the intake carries on
	// after (metrics.Degrade); nil emits none.
	Metrics *metrics.Emitter
}

// Take validates an alert of tenant, records it and queues it for the
// ticket worker.
//
// The protocol loses no accepted alert, whichever step fails or times out:
//  1. a conditional put stores the occurrence (Queued, not Enqueued), or
//     finds it stored by an earlier delivery;
//  2. unless the stored occurrence is skipped, already handled by the
//     worker, or marked Enqueued, it is sent to the FIFO ticket queue;
//  3. it is marked Enqueued.
//
// A failure in 1 or 2 is an error (Transient when the queue refused) and
// leaves at most a stored, not-Enqueued occurrence, which the platform's
// next delivery queues again (step 2). Sending twice is safe: the queue
// drops a duplicate within its deduplication window (the id is tenant +
// alert + status + time) and the worker acknowledges an occurrence it
// already handled. A failure in 3 only costs a redundant send on a later
// replay, so it is logged, not returned. A new alert costs one put, one
// send and one update; a replay of a queued alert the failed put only.
// Alerts of unknown types are stored as skipped and never queued.
//
// Errors: Invalid for an alert that fails alerting.Alert.Validate (nothing
// stored) or that the queue would refuse; Internal when the intake has no
// store or queue; the store's errors as they are; Transient when queueing
// failed otherwise.
func (s *AlertIntake) Take(ctx context.Context, tenant string, a alerting.Alert) error {
	if s.Alerts == nil || s.Queue == nil {
		return apperr.New(apperr.Internal, "alert storage is not configured")
	}
	if err := a.Validate(); err != nil {
		return err
	}
	now := clock.Now
	if s.Now != nil {
		now = s.Now
	}
	stored, created, err := s.Alerts.PutAlert(ctx, tenant, alerting.NewRecord(a, now()))
	if err != nil {
		return err
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("tenant", tenant, "org", a.Org, "alert", a.ID, "status", a.Status)
	switch {
	case stored.State == alerting.Skipped && created:
		log.InfoContext(ctx, "alert stored, not ticketed", "reason", stored.Reason, "type", a.Type)
	case stored.State != alerting.Queued || stored.Enqueued:
		log.InfoContext(ctx, "alert replay acknowledged", "state", stored.State)
	default:
		if !created {
			log.WarnContext(ctx, "alert replay of an occurrence never queued: queueing it now")
		}
		if err := s.enqueue(ctx, tenant, a); err != nil {
			log.WarnContext(ctx, "alert stored, not queued yet; the next delivery queues it", "err", err)
			if !apperr.Is(err, apperr.Invalid) {
				err = apperr.Wrap(err, apperr.Transient, "the alert could not be queued; send it again")
			}
			return err
		}
		if err := s.Alerts.MarkAlertEnqueued(ctx, tenant, a); err != nil {
			metrics.Degrade(ctx, log, s.Metrics, "webhook.mark_enqueued", "alert queued, not marked; a replay will queue it again", err)
		}
		log.InfoContext(ctx, "alert queued")
	}
	return nil
}

// enqueue sends one alert occurrence to the FIFO ticket queue: group =
// tenant + org + type (open, repeats and resolution stay in order), dedup =
// tenant + id + status + occurrence time.
func (s *AlertIntake) enqueue(ctx context.Context, tenant string, a alerting.Alert) error {
	body, err := json.Marshal(alerting.Message{Tenant: tenant, Alert: a})
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "encode queue message")
	}
	_, err = s.Queue.Send(ctx, []queue.Message{{Body: string(body), GroupID: a.QueueGroup(tenant), DedupID: a.QueueDedup(tenant)}})
	return err
}
