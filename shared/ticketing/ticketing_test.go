package ticketing_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/ticketing"
)

// TestLifecycle: open → same alert again → resolved gives one ticket with
// one note, closed with the rule's complete status (a closed status of the
// ConnectWise board); redelivering any of them changes nothing.
func TestLifecycle(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		f := mustFixture(t, p, 1)
		t0 := f.now.Add(-time.Hour)
		open := alert("a1", 1, alerting.BackupFailed, alerting.Error, alerting.Open, t0)
		repeat := alert("a1", 1, alerting.BackupFailed, alerting.Error, alerting.Open, t0.Add(10*time.Minute))
		resolved := alert("a1", 1, alerting.BackupFailed, alerting.Info, alerting.Resolved, t0.Add(30*time.Minute))
		f.mustHandle(t, open)
		rec := f.mustRecord(t, open)
		if rec.State != alerting.Done || rec.Decision != alerting.OpenTicket || rec.TicketID == 0 {
			t.Fatalf("got %+v, want open done with a ticket", rec)
		}
		f.checkOpened(t, f.mustTicket(t, rec.TicketID), open, 1)
		f.mustHandle(t, repeat, resolved)
		// Redelivery of all three: already handled, nothing happens.
		resp, err := f.worker.Handle(context.Background(), mustEvent(t, alerting.Message{Tenant: tenant, Alert: open},
			alerting.Message{Tenant: tenant, Alert: repeat}, alerting.Message{Tenant: tenant, Alert: resolved}))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: got %v %+v", err, resp.BatchItemFailures)
		}
		if n := f.ticketsMade(); n != 1 {
			t.Fatalf("got %d tickets, want 1", n)
		}
		notes := f.psa.notes(f.sb)
		if len(notes) != 1 || notes[0].TicketID != rec.TicketID || !strings.Contains(notes[0].Text, "Alert repeated") {
			t.Fatalf("got notes %+v, want one repeat note on ticket %d", notes, rec.TicketID)
		}
		if tk := f.mustTicket(t, rec.TicketID); tk.StatusID != p.rule.CompleteStatusID || !tk.Closed {
			t.Fatalf("got status %d (closed %t), want the complete status %d, closed", tk.StatusID, tk.Closed, p.rule.CompleteStatusID)
		}
		for _, c := range []struct {
			a    alerting.Alert
			want alerting.Decision
		}{{repeat, alerting.NoteTicket}, {resolved, alerting.CloseTicket}} {
			if r := f.mustRecord(t, c.a); r.State != alerting.Done || r.Decision != c.want || r.TicketID != rec.TicketID {
				t.Fatalf("got %+v, want %s done on ticket %d", r, c.want, rec.TicketID)
			}
		}
	})
}

// TestTicketFields: an opened ticket carries the rule's company, status,
// priority, source, queue or board and the due date (2 days after a
// Saturday 09:00 in Chicago, across the spring-forward night: Monday 17:00
// CDT), and a title within the PSA's limit (Autotask 255, ConnectWise 100
// characters, counted in runes) that keeps the rule's prefix.
func TestTicketFields(t *testing.T) {
	wantDue := time.Date(2026, 3, 9, 22, 0, 0, 0, time.UTC)
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		for _, tc := range []struct {
			name, title string
		}{
			{"ShortTitle", "Backup job failed on srv-1"},
			{"LongTitle", strings.Repeat("Sauvegarde échouée sur srv-1, ", 12)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := mustFixture(t, p, 3)
				a := alert("f1", 3, alerting.UserLockout, alerting.Critical, alerting.Open, f.now.Add(-time.Minute))
				a.Title = tc.title
				f.mustHandle(t, a)
				tk := f.mustTicket(t, f.mustRecord(t, a).TicketID)
				f.checkOpened(t, tk, a, 3)
				if !tk.Due.Equal(wantDue) {
					t.Errorf("got due %s, want %s", tk.Due.UTC(), wantDue)
				}
				full := p.rule.TitlePrefix + tc.title
				wantLen := min(utf8.RuneCountInString(full), p.provider.TitleLimit())
				head := string([]rune(full)[:30])
				if n := utf8.RuneCountInString(tk.Title); n != wantLen || !strings.HasPrefix(tk.Title, head) {
					t.Errorf("got title %q (%d characters), want %d characters starting %q", tk.Title, n, wantLen, head)
				}
				if wantLen < utf8.RuneCountInString(full) && !strings.HasSuffix(tk.Title, "…") {
					t.Errorf("got title %q, want the cut marked with …", tk.Title)
				}
			})
		}
	})
}

// TestSkips: each skip creates nothing and records why.
func TestSkips(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		alert alerting.Alert
		want  alerting.Reason
	}{
		{"UnmappedOrg", nil, alert("s1", 7, alerting.BackupFailed, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonOrgUnmapped},
		{"MappingDisabled", func(t *testing.T, f *fixture) {
			m := billing.Mapping{CompanyID: companyOf(1), ContractID: 1, Lines: []billing.LineMapping{{Product: billing.Users, LineID: 1}}, State: billing.Disabled}
			if _, err := f.store.PutMapping(ctx, tenant, "org-1", m, 1); err != nil {
				t.Fatal(err)
			}
		}, alert("s2", 1, alerting.BackupFailed, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonOrgUnmapped},
		{"TicketingOff", func(t *testing.T, f *fixture) {
			in, err := f.store.Integration(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			in.TicketingEnabled = false
			if _, err := f.store.PutIntegration(ctx, tenant, in, in.Version); err != nil {
				t.Fatal(err)
			}
		}, alert("s3", 1, alerting.BackupFailed, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonTicketingOff},
		{"RuleOff", func(t *testing.T, f *fixture) {
			r := f.psa.rule
			r.Type, r.Enabled = alerting.BackupFailed, false
			if _, err := f.store.PutAlertRule(ctx, tenant, r, 1); err != nil {
				t.Fatal(err)
			}
		}, alert("s4", 1, alerting.BackupFailed, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonRuleOff},
		{"NoRule", nil, alert("s5", 1, alerting.UserPasswordExpired, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonRuleOff},
		{"BelowMinSeverity", nil, alert("s6", 1, alerting.BackupFailed, alerting.Info, alerting.Open, time.Time{}), alerting.ReasonBelowMinSeverity},
		{"UnknownType", nil, alert("s7", 1, "printer_on_fire", alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonUnknownType},
		{"ResolveWithoutTicket", nil, alert("s8", 1, alerting.BackupFailed, alerting.Critical, alerting.Resolved, time.Time{}), alerting.ReasonNoOpenTicket},
		{"NoIntegration", func(t *testing.T, f *fixture) {
			if _, err := f.store.DeleteIntegrationData(ctx, tenant); err != nil {
				t.Fatal(err)
			}
		}, alert("s9", 1, alerting.BackupFailed, alerting.Critical, alerting.Open, time.Time{}), alerting.ReasonNoIntegration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachPSA(t, func(t *testing.T, p sandboxPSA) {
				f := mustFixture(t, p, 1)
				if tc.setup != nil {
					tc.setup(t, f)
				}
				a := tc.alert
				a.OccurredAt = f.now.Add(-time.Minute)
				msg := alerting.Message{Tenant: tenant, Alert: a}
				if tc.name != "NoIntegration" {
					msg = f.mustStore(t, a)
				}
				resp, err := f.worker.Handle(ctx, mustEvent(t, msg))
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("got %v %+v, want the message acknowledged", err, resp.BatchItemFailures)
				}
				if n := f.ticketsMade(); n != 0 {
					t.Fatalf("got %d tickets, want none", n)
				}
				r := f.mustRecord(t, a)
				if r.State != alerting.Skipped || r.Decision != alerting.Skip || r.Reason != tc.want {
					t.Fatalf("got %s/%s/%s, want skipped/skip/%s", r.State, r.Decision, r.Reason, tc.want)
				}
			})
		})
	}
}

// TestPSARefusal: a rule the PSA refuses is recorded with the vendor's
// words and acknowledged, not retried.
func TestPSARefusal(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		f := mustFixture(t, p, 1)
		r := p.rule
		r.Type, r.PriorityID = alerting.BackupFailed, 99
		if _, err := f.store.PutAlertRule(context.Background(), tenant, r, 1); err != nil {
			t.Fatal(err)
		}
		a := alert("r1", 1, alerting.BackupFailed, alerting.Error, alerting.Open, f.now)
		f.mustHandle(t, a)
		rec := f.mustRecord(t, a)
		if rec.State != alerting.Failed || rec.Decision != alerting.OpenTicket || !strings.HasPrefix(rec.Error, "rejected: ") || !strings.Contains(rec.Error, "99") {
			t.Fatalf("got %+v, want failed with the PSA's rejection", rec)
		}
		if n := f.ticketsMade(); n != 0 {
			t.Fatalf("got %d tickets, want none", n)
		}
	})
}

// crashingStore fails the first outcome record of chosen alerts, as if the
// worker died between the PSA write and the record.
// Safe for concurrent use: the worker records the groups of a batch in
// parallel.
type crashingStore struct {
	ticketing.Store
	crash func(alerting.Record) bool

	mu      sync.Mutex
	crashed map[string]bool
}

func (c *crashingStore) RecordAlertOutcome(ctx context.Context, tenant string, r alerting.Record, st alerting.Stream) error {
	k := r.OccurrenceKey()
	c.mu.Lock()
	crash := c.crash(r) && !c.crashed[k]
	if crash {
		c.crashed[k] = true
	}
	c.mu.Unlock()
	if crash {
		return apperr.New(apperr.Transient, "simulated crash before the record")
	}
	return c.Store.RecordAlertOutcome(ctx, tenant, r, st)
}

// TestCrashBetweenCreateAndRecord: the redelivery finds the ticket by its
// external key and records it; no second ticket.
func TestCrashBetweenCreateAndRecord(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		f := mustFixture(t, p, 1)
		f.worker.Store = &crashingStore{Store: dynamotest.As(f.store, "ticketworker"), crash: func(alerting.Record) bool { return true }, crashed: map[string]bool{}}
		a := alert("c1", 1, alerting.UserLockout, alerting.Critical, alerting.Open, f.now)
		ev := mustEvent(t, f.mustStore(t, a))
		resp, err := f.worker.Handle(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Fatalf("got %v %+v, want the message back on the queue", err, resp.BatchItemFailures)
		}
		if n := f.ticketsMade(); n != 1 {
			t.Fatalf("got %d tickets after the crash, want 1", n)
		}
		if resp, err = f.worker.Handle(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: got %v %+v", err, resp.BatchItemFailures)
		}
		if n := f.ticketsMade(); n != 1 {
			t.Fatalf("got %d tickets after the redelivery, want 1", n)
		}
		if rec := f.mustRecord(t, a); rec.State != alerting.Done || rec.TicketID == 0 {
			t.Fatalf("got %+v, want done with the ticket found", rec)
		}
	})
}

// TestGroupOrderOnFailure: after a transient failure, later messages of the
// same FIFO group in the batch are returned too (their order holds); other
// groups proceed.
func TestGroupOrderOnFailure(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		f := mustFixture(t, p, 2)
		f.sb.SetFaults(sandbox.Faults{Seed: 1, Rate500: 1})
		f.worker.Retry.MaxAttempts = 1
		open := alert("g1", 1, alerting.BackupFailed, alerting.Error, alerting.Open, f.now.Add(-time.Hour))
		resolved := alert("g1", 1, alerting.BackupFailed, alerting.Error, alerting.Resolved, f.now)
		other := alert("g2", 2, alerting.BackupFailed, alerting.Info, alerting.Open, f.now) // below minSeverity: no PSA call
		ev := mustEvent(t, f.mustStore(t, open), f.mustStore(t, resolved), f.mustStore(t, other))
		resp, err := f.worker.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var failed []string
		for _, x := range resp.BatchItemFailures {
			failed = append(failed, x.ItemIdentifier)
		}
		if strings.Join(failed, ",") != "m-0,m-1" {
			t.Fatalf("got failures %v, want m-0,m-1 (the resolve waits for its open)", failed)
		}
		if r := f.mustRecord(t, other); r.State != alerting.Skipped {
			t.Fatalf("got %+v, want the other group's alert handled", r)
		}
		if r := f.mustRecord(t, resolved); r.State != alerting.Queued {
			t.Fatalf("got %+v, want the resolve still queued", r)
		}
	})
}

// mustSampleEvent reads an SQS event from the repository's events/ticketworker,
// re-dated to now (the fixture's clock).
func mustSampleEvent(tb testing.TB, name string, now time.Time) events.SQSEvent {
	tb.Helper()
	s, err := samples.LoadFile(filepath.Join(mustEventsDir(tb), "ticketworker", name), now)
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(s.JSON, &ev); err != nil {
		tb.Fatal(err)
	}
	return ev
}

func mustEventsDir(tb testing.TB) string {
	tb.Helper()
	dir, err := samples.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestSampleEvents runs the sample events of events/ticketworker through the
// handler: backup_failed opens, repeats and resolves (one ticket, one note,
// closed); user_lockout opens; types without a rule are skipped.
func TestSampleEvents(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		f := mustFixture(t, p, 1)
		for _, name := range []string{"open.json", "repeat-then-resolve.json"} {
			resp, err := f.worker.Handle(context.Background(), mustSampleEvent(t, name, f.now))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("%s: got %v %+v, want no failures", name, err, resp.BatchItemFailures)
			}
		}
		if n := f.ticketsMade(); n != 2 {
			t.Fatalf("got %d tickets, want 2 (backup_failed and user_lockout)", n)
		}
		if n := len(f.psa.notes(f.sb)); n != 1 {
			t.Fatalf("got %d notes, want 1", n)
		}
		skipped, _, err := f.store.Alerts(context.Background(), tenant, dynamo.AlertFilter{State: alerting.Skipped}, "", 100)
		if err != nil || len(skipped) != 3 {
			t.Fatalf("got %d skipped %v, want 3 (types without a rule)", len(skipped), err)
		}
		for _, r := range skipped {
			if r.Reason != alerting.ReasonRuleOff {
				t.Fatalf("got %+v, want rule_off", r)
			}
		}
	})
}
