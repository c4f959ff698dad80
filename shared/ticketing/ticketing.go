// Package ticketing is the ticket worker: it takes alert occurrences from
// the FIFO ticket queue and opens, notes or closes PSA tickets under the
// tenant's rules (the policy itself is alerting.Decide), recording every
// outcome on the alert.
//
// Never a duplicate ticket or note: before creating, the worker looks the
// alert stream's external key up among the company's open tickets, and
// before adding a note it looks for the occurrence's marker
// (alerting.NoteMarker) among the ticket's notes, so a write whose answer
// was lost, a crash between the PSA write and the record, or an SQS
// redelivery finds what it already did. Closing is idempotent. An
// occurrence already recorded is acknowledged without touching the PSA.
package ticketing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// Store is what the worker reads and records (implemented by *dynamo.Store).
type Store interface {
	Integration(ctx context.Context, tenant string) (integration.Integration, error)
	AlertRule(ctx context.Context, tenant string, t alerting.Type) (alerting.Rule, error)
	Org(ctx context.Context, tenant, org string) (billing.Org, error)
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
	Alert(ctx context.Context, tenant string, a alerting.Alert) (alerting.Record, error)
	AlertStream(ctx context.Context, tenant, alertID string) (alerting.Stream, error)
	RecordAlertOutcome(ctx context.Context, tenant string, r alerting.Record, st alerting.Stream) error
}

// PSA hands out a tenant's PSA client (implemented by *integration.Connector).
type PSA interface {
	Client(ctx context.Context, tenant string) (psa.Client, integration.Integration, error)
}

// Worker processes ticket queue messages. Safe for concurrent use.
type Worker struct {
	Store Store
	PSA   PSA
	// LinkBase is the platform's alert page; tickets link back to it.
	LinkBase string
	// Retry repeats a ticket action after a transient failure within one
	// invocation (psahttp's retry loop and defaults; MaxAttempts bounds the
	// tries before the message goes back to the queue). Every action looks
	// before it writes, so it is retried even after an ambiguous failure.
	Retry  psahttp.Retrier
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics receives the Tickets metric and the Degraded count of errors
	// the worker carries on after (metrics.Degrade); nil emits none.
	Metrics *metrics.Emitter
	// Visibility, when set, makes a malformed message visible again at
	// once (sqsqueue.Visibility on the ticket queue), so it reaches the
	// dead-letter queue without holding its group for visibility timeouts.
	Visibility Visibility
}

// Visibility changes when a received ticket queue message comes back
// (sqsqueue.Visibility: ChangeMessageVisibility).
type Visibility interface {
	Hide(ctx context.Context, receiptHandle string, d time.Duration) error
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return clock.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// Handle is the Lambda handler for an SQS batch (ReportBatchItemFailures).
// FIFO groups are processed in parallel, the messages of one group in
// order; a message that fails transiently is reported as a batch item
// failure and so is every later message of its group in the batch, so a
// group's order holds. Permanent failures (the PSA refused) are recorded on
// the alert and acknowledged. A body that is not a message is logged and
// acknowledged: retrying cannot fix it. The batch's work ends
// deadline.Margin before the function's timeout, so what ran out of time is
// reported as failed instead of being killed.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx, cancel := deadline.Reserve(ctx, deadline.Margin, 0)
	defer cancel()
	var order []string
	groups := map[string][]events.SQSMessage{}
	for _, r := range ev.Records {
		g := r.Attributes["MessageGroupId"]
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], r)
	}
	failed := make([][]string, len(order))
	var wg sync.WaitGroup
	for i, g := range order {
		wg.Go(func() { failed[i] = w.handleGroup(ctx, groups[g]) })
	}
	wg.Wait()
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, ids := range failed {
		for _, id := range ids {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
	}
	return resp, nil
}

// handleGroup processes one FIFO group's messages in order and returns the
// ids to retry: the first transient failure and everything after it, and
// every malformed message. A malformed message (not exactly one alert
// message object) is never acknowledged: it is logged, made visible again
// at once (Visibility) and reported failed, so the queue's redrive moves it
// to the dead-letter queue after maxReceiveCount quick receives.
func (w *Worker) handleGroup(ctx context.Context, recs []events.SQSMessage) []string {
	var malformed []string
	for i, r := range recs {
		var m alerting.Message
		if err := strictjson.Decode([]byte(r.Body), &m); err != nil || m.Tenant == "" || m.Alert.Validate() != nil {
			w.log().ErrorContext(ctx, "malformed ticket message: reported failed, for the dead-letter queue", "messageId", r.MessageId, "err", err)
			if w.Visibility != nil {
				if herr := w.Visibility.Hide(ctx, r.ReceiptHandle, 0); herr != nil {
					metrics.Degrade(ctx, w.log(), w.Metrics, "ticketworker.hide", "making a malformed ticket message visible failed; it waits out the visibility timeout on its way to the dead-letter queue", herr, "messageId", r.MessageId)
				}
			}
			malformed = append(malformed, r.MessageId)
			continue
		}
		if err := w.Process(ctx, m); err != nil {
			w.log().WarnContext(ctx, "ticket message will be retried", "tenant", m.Tenant, "org", m.Alert.Org,
				"alert", m.Alert.ID, "err", err)
			ids := malformed
			for _, rest := range recs[i:] {
				ids = append(ids, rest.MessageId)
			}
			return ids
		}
	}
	return malformed
}

// Process handles one alert occurrence. It returns an error only when the
// message should be delivered again (a transient PSA or storage failure);
// every other outcome is recorded on the alert.
func (w *Worker) Process(ctx context.Context, m alerting.Message) error {
	tenant, a := m.Tenant, m.Alert
	log := w.log().With("tenant", tenant, "org", a.Org, "alert", a.ID, "status", a.Status)
	rec, err := w.Store.Alert(ctx, tenant, a)
	switch {
	case apperr.Is(err, apperr.NotFound):
		rec = alerting.NewRecord(a, w.now())
	case err != nil:
		return err
	case rec.State != alerting.Queued:
		log.InfoContext(ctx, "alert already handled", "state", rec.State)
		return nil
	}
	rec.Alert = a
	f, err := w.facts(ctx, tenant, a)
	if err != nil {
		return err
	}
	plan := alerting.Decide(a, f)
	ticketID, err := w.carryOut(ctx, tenant, a, f, &plan)
	switch {
	case err != nil && apperr.IsTransient(err):
		return err
	case err != nil:
		rec.State, rec.Decision, rec.Error = alerting.Failed, plan.Decision, errorText(err)
		log.WarnContext(ctx, "ticket action refused", "decision", plan.Decision, "err", err)
	case plan.Decision == alerting.Skip:
		rec.State, rec.Decision, rec.Reason = alerting.Skipped, alerting.Skip, plan.Reason
	default:
		rec.State, rec.Decision, rec.TicketID = alerting.Done, plan.Decision, ticketID
	}
	rec.UpdatedAt = w.now().UTC()
	stream := f.Stream
	if rec.State != alerting.Failed {
		stream = stream.Apply(a, plan, ticketID)
	}
	if err := w.Store.RecordAlertOutcome(ctx, tenant, rec, stream); err != nil {
		return err
	}
	log.InfoContext(ctx, "alert handled", "state", rec.State, "decision", rec.Decision, "reason", rec.Reason, "ticket", rec.TicketID)
	w.count(rec)
	return nil
}

// facts gathers what the decision needs, stopping at the first fact that
// already decides a skip (Decide checks them in this order).
func (w *Worker) facts(ctx context.Context, tenant string, a alerting.Alert) (alerting.Facts, error) {
	var f alerting.Facts
	if !a.Type.Known() {
		return f, nil
	}
	in, err := w.Store.Integration(ctx, tenant)
	if apperr.Is(err, apperr.NotFound) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	f.Integrated, f.TicketingEnabled = true, in.TicketingEnabled
	if !f.TicketingEnabled {
		return f, nil
	}
	rule, err := w.Store.AlertRule(ctx, tenant, a.Type)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return f, nil
	case err != nil:
		return f, err
	}
	f.Rule = &rule
	if !rule.Enabled {
		return f, nil
	}
	org, err := w.Store.Org(ctx, tenant, a.Org)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return f, nil
	case err != nil:
		return f, err
	}
	if org.Mapping != nil && org.Mapping.State == billing.Mapped {
		f.CompanyID = org.Mapping.CompanyID
	}
	if f.CompanyID <= 0 {
		return f, nil
	}
	f.Stream, err = w.Store.AlertStream(ctx, tenant, a.ID)
	return f, err
}

// carryOut performs the plan in the PSA and returns the ticket acted on.
// A close of an unknown ticket that finds none turns the plan into a skip.
func (w *Worker) carryOut(ctx context.Context, tenant string, a alerting.Alert, f alerting.Facts, plan *alerting.Plan) (int64, error) {
	if plan.Decision == alerting.Skip {
		return 0, nil
	}
	client, in, err := w.PSA.Client(ctx, tenant)
	if apperr.Is(err, apperr.NotFound) {
		*plan = alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonNoIntegration}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var ticketID int64
	err = w.Retry.Do(ctx, true, func(ctx context.Context) psahttp.Attempt {
		var err error
		switch plan.Decision {
		case alerting.OpenTicket:
			ticketID, err = w.open(ctx, tenant, client, in, a, f)
		case alerting.NoteTicket:
			ticketID, err = plan.TicketID, note(ctx, client, plan.TicketID, a)
		case alerting.CloseTicket:
			ticketID = plan.TicketID
			if ticketID == 0 {
				// The stream never recorded a ticket: a crash may have
				// lost the record of the one opened.
				var t psa.Ticket
				t, err = client.FindOpenTicket(ctx, f.CompanyID, a.ExternalKey())
				if apperr.Is(err, apperr.NotFound) {
					*plan = alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonNoOpenTicket}
					return psahttp.Attempt{}
				}
				if err != nil {
					return psahttp.Attempt{Err: err}
				}
				ticketID = t.ID
			}
			err = client.CloseTicket(ctx, ticketID, plan.StatusID)
		}
		return psahttp.Attempt{Err: err}
	})
	return ticketID, err
}

// note adds occurrence a's note to a ticket unless the ticket has it
// already: AddNote is not resent blindly after an ambiguous failure (the
// PSA may have added the note and lost the answer), it is looked for first.
func note(ctx context.Context, client psa.Ticketer, ticketID int64, a alerting.Alert) error {
	has, err := client.HasNote(ctx, ticketID, alerting.NoteMarker(a))
	if err != nil || has {
		return err
	}
	return client.AddNote(ctx, ticketID, alerting.NoteText(a))
}

// open returns the stream's open ticket found by external key, or creates
// it. Looking first is what makes a retry or a redelivery safe.
func (w *Worker) open(ctx context.Context, tenant string, client psa.Ticketer, in integration.Integration, a alerting.Alert, f alerting.Facts) (int64, error) {
	t, err := client.FindOpenTicket(ctx, f.CompanyID, a.ExternalKey())
	if err == nil {
		return t.ID, nil
	}
	if !apperr.Is(err, apperr.NotFound) {
		return 0, err
	}
	set, err := w.Store.BillingSettings(ctx, tenant)
	if err != nil {
		return 0, err
	}
	loc, err := billing.LoadLocation(set.TimeZone)
	if err != nil {
		return 0, err
	}
	t, err = client.CreateTicket(ctx, alerting.Spec(a, *f.Rule, f.CompanyID, in.Provider, w.now(), loc, w.LinkBase))
	return t.ID, err
}

// errorText is what the admin sees of a refused PSA action: its code, our
// message and the vendor's own words.
func errorText(err error) string {
	s := string(apperr.CodeOf(err)) + ": " + apperr.MessageOf(err)
	if d := apperr.DetailsOf(err); len(d) > 0 {
		s += " (" + strings.Join(d, "; ") + ")"
	}
	return s
}

// actions names the Tickets metric's Action dimension per decision.
var actions = map[alerting.Decision]string{
	alerting.OpenTicket: "opened", alerting.NoteTicket: "noted", alerting.CloseTicket: "closed", alerting.Skip: "skipped",
}

func (w *Worker) count(rec alerting.Record) {
	if w.Metrics == nil {
		return
	}
	action := actions[rec.Decision]
	if rec.State == alerting.Failed {
		action = "failed"
	}
	w.Metrics.Count(metrics.Tickets, 1, map[string]string{"Action": action})
}
