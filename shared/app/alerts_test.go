package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/queue"
)

// fakeAlerts is an AlertRecorder holding at most one stored occurrence.
type fakeAlerts struct {
	stored  *alerting.Record
	putErr  error
	markErr error
	marks   int
}

func (f *fakeAlerts) PutAlert(_ context.Context, _ string, r alerting.Record) (alerting.Record, bool, error) {
	if f.putErr != nil {
		return alerting.Record{}, false, f.putErr
	}
	if f.stored != nil {
		return *f.stored, false, nil
	}
	f.stored = &r
	return r, true, nil
}

func (f *fakeAlerts) MarkAlertEnqueued(context.Context, string, alerting.Alert) error {
	f.marks++
	if f.markErr == nil && f.stored != nil {
		f.stored.Enqueued = true
	}
	return f.markErr
}

// fakeQueue is a TicketQueue remembering what it was sent.
type fakeQueue struct {
	err  error
	sent []queue.Message
}

func (q *fakeQueue) Send(_ context.Context, msgs []queue.Message) (int, error) {
	if q.err != nil {
		return 1, q.err
	}
	q.sent = append(q.sent, msgs...)
	return 1, nil
}

func lockout() alerting.Alert {
	return alerting.Alert{ID: "al-1", Type: alerting.UserLockout, Severity: alerting.Warning, Org: "org-1",
		Status: alerting.Open, OccurredAt: time.Date(2027, 3, 7, 15, 0, 0, 0, time.UTC), Title: "User jdoe locked out"}
}

// TestAlertIntake: the intake's protocol (store, send, mark) for new,
// replayed, unknown and bad alerts and for each step failing.
func TestAlertIntake(t *testing.T) {
	down := apperr.New(apperr.Internal, "connection reset")
	for _, tc := range []struct {
		name      string
		alert     func(a *alerting.Alert)
		stored    func(r *alerting.Record) // an earlier delivery's record
		alerts    fakeAlerts
		queueErr  error
		want      apperr.Code // "" for nil
		wantSent  int
		wantMarks int
	}{
		{name: "New", wantSent: 1, wantMarks: 1},
		{name: "ReplayQueued", stored: func(r *alerting.Record) { r.Enqueued = true }},
		{name: "ReplayNeverQueued", stored: func(*alerting.Record) {}, wantSent: 1, wantMarks: 1},
		{name: "ReplayHandled", stored: func(r *alerting.Record) { r.State = alerting.Done }},
		{name: "UnknownTypeNotQueued", alert: func(a *alerting.Alert) { a.Type = "printer_on_fire" }},
		{name: "ErrInvalid", alert: func(a *alerting.Alert) { a.Severity = "fatal" }, want: apperr.Invalid},
		{name: "ErrStoreDown", alerts: fakeAlerts{putErr: apperr.New(apperr.Transient, "throttled")}, want: apperr.Transient},
		{name: "ErrQueueDown", queueErr: down, want: apperr.Transient},
		{name: "ErrQueueRefuses", queueErr: apperr.New(apperr.Invalid, "body too large"), want: apperr.Invalid},
		{name: "MarkFailsStillAccepted", alerts: fakeAlerts{markErr: down}, wantSent: 1, wantMarks: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := lockout()
			if tc.alert != nil {
				tc.alert(&a)
			}
			alerts := tc.alerts
			if tc.stored != nil {
				r := alerting.NewRecord(a, a.OccurredAt)
				tc.stored(&r)
				alerts.stored = &r
			}
			q := &fakeQueue{err: tc.queueErr}
			in := &app.AlertIntake{Alerts: &alerts, Queue: q, Now: func() time.Time { return a.OccurredAt }, Log: slog.New(slog.DiscardHandler)}
			err := in.Take(context.Background(), "acme", a)
			if got := apperr.CodeOf(err); (err == nil) != (tc.want == "") || (err != nil && got != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if len(q.sent) != tc.wantSent || alerts.marks != tc.wantMarks {
				t.Fatalf("got %d sent and %d marks, want %d and %d", len(q.sent), alerts.marks, tc.wantSent, tc.wantMarks)
			}
			if tc.wantSent == 1 && (q.sent[0].GroupID != a.QueueGroup("acme") || q.sent[0].DedupID != a.QueueDedup("acme")) {
				t.Fatalf("got message %+v, want the alert's group and dedup id", q.sent[0])
			}
		})
	}
	t.Run("ErrNotConfigured", func(t *testing.T) {
		if err := (&app.AlertIntake{Queue: &fakeQueue{}}).Take(context.Background(), "acme", lockout()); !apperr.Is(err, apperr.Internal) {
			t.Fatalf("got %v, want internal", err)
		}
	})
}
