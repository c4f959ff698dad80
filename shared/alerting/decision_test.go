package alerting_test

import (
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	rule := &alerting.Rule{Type: alerting.UserLockout, Enabled: true, MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: 5}
	noClose := &alerting.Rule{Type: alerting.UserLockout, Enabled: true, MinSeverity: alerting.Info}
	off := &alerting.Rule{Type: alerting.UserLockout, Enabled: false}
	facts := func(mut func(*alerting.Facts)) alerting.Facts {
		f := alerting.Facts{Integrated: true, TicketingEnabled: true, Rule: rule, CompanyID: 42}
		if mut != nil {
			mut(&f)
		}
		return f
	}
	alert := func(st alerting.Status, sev alerting.Severity, at time.Time) alerting.Alert {
		return alerting.Alert{ID: "a1", Type: alerting.UserLockout, Severity: sev, Org: "o1", Status: st, OccurredAt: at}
	}
	openStream := alerting.Stream{AlertID: "a1", TicketID: 9, TicketOpen: true}
	closedStream := alerting.Stream{AlertID: "a1", TicketID: 9, ResolvedAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		name  string
		alert alerting.Alert
		facts alerting.Facts
		want  alerting.Plan
	}{
		{"Open", alert(alerting.Open, alerting.Error, t0), facts(nil), alerting.Plan{Decision: alerting.OpenTicket}},
		{"OpenAtMinSeverity", alert(alerting.Open, alerting.Warning, t0), facts(nil), alerting.Plan{Decision: alerting.OpenTicket}},
		{"SkipBelowMinSeverity", alert(alerting.Open, alerting.Info, t0), facts(nil), alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonBelowMinSeverity}},
		{"SkipUnknownType", alerting.Alert{ID: "a1", Type: "x", Severity: alerting.Critical, Status: alerting.Open}, facts(nil),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonUnknownType}},
		{"SkipNoIntegration", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.Integrated = false }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonNoIntegration}},
		{"SkipTicketingOff", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.TicketingEnabled = false }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonTicketingOff}},
		{"SkipNoRule", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.Rule = nil }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonRuleOff}},
		{"SkipRuleOff", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.Rule = off }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonRuleOff}},
		{"SkipOrgUnmapped", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.CompanyID = 0 }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonOrgUnmapped}},
		{"NoteOnRepeat", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.Stream = openStream }),
			alerting.Plan{Decision: alerting.NoteTicket, TicketID: 9}},
		{"NoteOnRepeatEvenBelowMinSeverity", alert(alerting.Open, alerting.Info, t0), facts(func(f *alerting.Facts) { f.Stream = openStream }),
			alerting.Plan{Decision: alerting.NoteTicket, TicketID: 9}},
		{"CloseOnResolve", alert(alerting.Resolved, alerting.Info, t0), facts(func(f *alerting.Facts) { f.Stream = openStream }),
			alerting.Plan{Decision: alerting.CloseTicket, TicketID: 9, StatusID: 5}},
		{"CloseUnknownTicketLooksUp", alert(alerting.Resolved, alerting.Info, t0), facts(nil),
			alerting.Plan{Decision: alerting.CloseTicket, StatusID: 5}},
		{"NoteResolveWithoutCloseOnResolve", alert(alerting.Resolved, alerting.Info, t0),
			facts(func(f *alerting.Facts) { f.Rule, f.Stream = noClose, openStream }), alerting.Plan{Decision: alerting.NoteTicket, TicketID: 9}},
		{"SkipResolveWithoutTicket", alert(alerting.Resolved, alerting.Info, t0), facts(func(f *alerting.Facts) { f.Rule = noClose }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonNoOpenTicket}},
		{"SkipResolveOfClosedTicket", alert(alerting.Resolved, alerting.Info, t0.Add(2*time.Hour)), facts(func(f *alerting.Facts) { f.Stream = closedStream }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonNoOpenTicket}},
		{"SkipLateOpenAfterResolve", alert(alerting.Open, alerting.Error, t0), facts(func(f *alerting.Facts) { f.Stream = closedStream }),
			alerting.Plan{Decision: alerting.Skip, Reason: alerting.ReasonAlreadyResolved}},
		{"ReopenAfterResolve", alert(alerting.Open, alerting.Error, t0.Add(2*time.Hour)), facts(func(f *alerting.Facts) { f.Stream = closedStream }),
			alerting.Plan{Decision: alerting.OpenTicket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := alerting.Decide(tc.alert, tc.facts); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestStreamLifecycle: open → repeat → resolve → late open → reopen.
func TestStreamLifecycle(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	rule := &alerting.Rule{Type: alerting.BackupFailed, Enabled: true, MinSeverity: alerting.Info, CloseOnResolve: true, CompleteStatusID: 5}
	var s alerting.Stream
	step := func(st alerting.Status, at time.Time, ticket int64, want alerting.Decision) {
		t.Helper()
		a := alerting.Alert{ID: "b1", Type: alerting.BackupFailed, Severity: alerting.Error, Org: "o", Status: st, OccurredAt: at}
		p := alerting.Decide(a, alerting.Facts{Integrated: true, TicketingEnabled: true, Rule: rule, CompanyID: 1, Stream: s})
		if p.Decision != want {
			t.Fatalf("%s at %s: got %s, want %s", st, at, p.Decision, want)
		}
		if ticket == 0 {
			ticket = p.TicketID
		}
		s = s.Apply(a, p, ticket)
	}
	step(alerting.Open, t0, 100, alerting.OpenTicket)
	step(alerting.Open, t0.Add(time.Minute), 0, alerting.NoteTicket)
	step(alerting.Resolved, t0.Add(time.Hour), 0, alerting.CloseTicket)
	if s.TicketOpen || s.TicketID != 100 || !s.ResolvedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("got %+v, want ticket 100 closed at the resolution", s)
	}
	step(alerting.Open, t0.Add(30*time.Minute), 0, alerting.Skip)
	step(alerting.Open, t0.Add(2*time.Hour), 200, alerting.OpenTicket)
	if !s.TicketOpen || s.TicketID != 200 || !s.ResolvedAt.IsZero() {
		t.Fatalf("got %+v, want a reopened stream on ticket 200", s)
	}
}
