package billingsync_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// runWatch records, after every batch, the first state of a run in which
// some orgs were deferred, the clock then, and the most orgs deferred at
// once.
type runWatch struct {
	mu          sync.Mutex
	deferred    *billing.Run
	at          time.Time
	maxDeferred int64
}

func (e *env) watch(tenant string, runID *string, rw *runWatch) func(handler) handler {
	return func(h handler) handler {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			resp, err := h(ctx, ev)
			rw.mu.Lock()
			defer rw.mu.Unlock()
			if rw.deferred == nil && *runID != "" {
				if r, rerr := e.store.Run(ctx, tenant, *runID); rerr == nil && r.Counts.Deferred > 0 {
					rw.deferred, rw.at = &r, e.clock.Now()
				}
			}
			if *runID != "" {
				if r, rerr := e.store.Run(ctx, tenant, *runID); rerr == nil {
					rw.maxDeferred = max(rw.maxDeferred, r.Counts.Deferred)
				}
			}
			return resp, err
		}
	}
}

// mustRunNow starts a manual run of the tenant and drains the queue with
// one worker (the FIFO group serialises a tenant anyway), watching it.
func (e *env) mustRunNow(tenant string, rw *runWatch) billing.Run {
	e.tb.Helper()
	var id string
	e.MustDrain(1, e.watch(tenant, &id, rw), func() {
		var err error
		if id, err = e.StartRun(context.Background(), tenant, false); err != nil {
			e.tb.Error(err)
		}
	})
	r, err := e.store.Run(context.Background(), tenant, id)
	if err != nil {
		e.tb.Fatal(err)
	}
	return r
}

// mustFinishedAfterDeferral checks a run that was deferred on the way: it
// showed deferred orgs and their resume time while running, then finished
// by itself, succeeded, the same day, with every line at its target and
// written exactly once.
func mustFinishedAfterDeferral(t *testing.T, e *env, tf *tenantFixture, r billing.Run, rw *runWatch, wantResume func(at time.Time) time.Time) {
	t.Helper()
	switch d := rw.deferred; {
	case d == nil:
		t.Fatalf("the run never showed deferred orgs")
	case d.Status != billing.Running || d.ResumeAt == nil:
		t.Errorf("deferred run: got status %s, resumeAt %v; want running with a resume time", d.Status, d.ResumeAt)
	case !d.ResumeAt.Equal(wantResume(rw.at)):
		t.Errorf("deferred run at %s: resumeAt %s, want %s", rw.at, d.ResumeAt, wantResume(rw.at))
	}
	MustCountsAddUp(t, r)
	if r.Status != billing.Succeeded || r.Counts.Updated != int64(len(tf.orgs)) || r.Counts.Deferred != 0 || r.ResumeAt != nil {
		t.Errorf("finished run: got %s %+v (resumeAt %v), want succeeded with %d updated", r.Status, r.Counts, r.ResumeAt, len(tf.orgs))
	}
	if end := e.clock.Now(); end.YearDay() != start.YearDay() {
		t.Errorf("run finished at %s, want the same day as %s", end, start)
	}
	e.MustAllAtTarget(t)
	if w := e.Writes(tf); len(w) != len(tf.orgs) {
		t.Errorf("PSA writes: got %d, want %d (one per line): %v", len(w), len(tf.orgs), w)
	}
}

// TestDeferralBudget runs a tenant of 30 orgs with a budget of 15 PSA
// requests an hour on each PSA: the run shows deferred orgs and the next
// budget window as their resume time, picks them up by itself in the
// following hours (no admin), never spends more than the budget in an hour,
// and ends succeeded the same day with every line at its target.
func TestDeferralBudget(t *testing.T) {
	const budget = 15
	for _, p := range psa.Providers {
		t.Run(string(p), func(t *testing.T) {
			e := MustEnv(t)
			tf := e.MustTenant("budget-"+string(p), p, 30, 0, func(s *billing.Settings) { s.BudgetPerHour = budget })
			var rw runWatch
			r := e.mustRunNow(tf.name, &rw)
			mustFinishedAfterDeferral(t, e, tf, r, &rw, func(at time.Time) time.Time { return at.UTC().Truncate(time.Hour).Add(time.Hour) })
			hours := 0
			for h := start.Truncate(time.Hour); !h.After(e.clock.Now()); h = h.Add(time.Hour) {
				used, err := e.store.BudgetUsed(context.Background(), tf.name, h)
				if err != nil {
					t.Fatal(err)
				}
				if used > budget {
					t.Errorf("hour %s: %d requests, want at most %d", h.Format(time.RFC3339), used, budget)
				}
				hours++
			}
			if hours < 2 {
				t.Errorf("the run took %d budget window(s), want it to need more than one", hours)
			}
		})
	}
}

// TestDeferralHourlyCap runs an Autotask tenant whose database is at its
// hourly request cap: every request is answered 429 with Retry-After 3600
// until the cap lifts an hour later (simulated clock). The orgs are
// deferred until then (the clients do not sit out an hour), come back by
// themselves and the run ends succeeded.
func TestDeferralHourlyCap(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("capped", psa.Autotask, 20, 0, nil)
	capEnd := e.clock.Now().Add(time.Hour)
	e.sb.SetFaults(sandbox.Faults{CapUntil: capEnd})
	defer e.sb.SetFaults(sandbox.Faults{})
	var rw runWatch
	r := e.mustRunNow(tf.name, &rw)
	mustFinishedAfterDeferral(t, e, tf, r, &rw, func(time.Time) time.Time { return capEnd })
	if rw.maxDeferred != int64(len(tf.orgs)) {
		t.Errorf("deferred orgs under the cap: got at most %d at once, want all %d", rw.maxDeferred, len(tf.orgs))
	}
	// One entry per line, its last attempt's: no stale deferral beside it.
	entries, err := e.store.Entries(context.Background(), tf.name, r.ID, billing.EntryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Code != billing.CodeUpdated || en.Product == "" {
			t.Errorf("entry of %s/%q: %s %q, want only the lines' updated entries", en.Org, en.Product, en.Code, en.Message)
		}
	}
	if len(entries) != len(tf.orgs) {
		t.Errorf("entries: got %d, want %d (one per line)", len(entries), len(tf.orgs))
	}
}

// TestMalformedSyncMessagesGoToDLQ queues bodies no worker can use among
// good ones: each malformed message ends in the dead-letter queue (reported
// failed on every receive, never acknowledged) without holding its group
// for a visibility timeout, and the good orgs are synced.
func TestMalformedSyncMessagesGoToDLQ(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("cw-mixed", psa.ConnectWise, 5, 0, nil)
	bad := []string{
		`not json`,
		`{"tenant":"cw-mixed","run":"r1","org":"org-1","month":"2026-11"}}`,
		`{"tenant":"cw-mixed","run":"r1","org":"org-1","month":"2026-11","extra":true}`,
		`{"tenant":"cw-mixed","run":"r1","month":"2026-11"}`,
		`{"tenant":"cw-mixed","run":"r1","org":"org-1","month":"November"}`,
		`{"tenant":"cw-mixed","run":"r1","org":"org-1","month":"2026-11","try":-1}`,
	}
	began := e.clock.Now()
	e.MustDrain(1, nil, func() {
		var msgs []sqsqueue.Message
		for i, b := range bad {
			msgs = append(msgs, sqsqueue.Message{Body: b, GroupID: tf.name, DedupID: fmt.Sprint("bad-", i)})
		}
		if _, err := (&sqsqueue.Sender{Client: e.sqs, QueueURL: e.queue.URL}).Send(context.Background(), msgs); err != nil {
			t.Error(err)
		}
		if _, err := e.StartRun(context.Background(), tf.name, false); err != nil {
			t.Error(err)
		}
	})
	var got []string
	for _, m := range sqstest.MustReceiveAll(t, e.sqs, e.queue.DLQURL) {
		got = append(got, aws.ToString(m.Body))
	}
	slices.Sort(got)
	want := slices.Clone(bad)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DLQ: got %q, want the malformed messages %q", got, want)
	}
	if d := e.clock.Now().Sub(began); d >= syncVisibility {
		t.Errorf("malformed messages held the queue for %s, want less than one visibility timeout (%s)", d, syncVisibility)
	}
	e.MustAllAtTarget(t)
}

// TestWaitingOrgsDoNotHoldTheirTenant fails every PSA request of the first
// batch of a tenant's run (ten orgs, transiently): those orgs wait for
// their retry (30 s), while the tenant's other orgs, behind them in the
// same FIFO group, are synced at once instead of waiting behind them; then
// the ten come back and every line ends at its target, written once.
func TestWaitingOrgsDoNotHoldTheirTenant(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("cw-wait", psa.ConnectWise, 30, 0, nil)
	began := e.clock.Now()
	var mu sync.Mutex
	first, failedN := true, 0
	failFirst := func(h handler) handler {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			if first {
				first, failedN = false, len(ev.Records)
				e.sb.SetFaults(sandbox.Faults{Seed: 1, Rate500: 1})
				defer e.sb.SetFaults(sandbox.Faults{})
			}
			return h(ctx, ev)
		}
	}
	var id string
	e.MustDrain(1, failFirst, func() {
		var err error
		if id, err = e.StartRun(context.Background(), tf.name, false); err != nil {
			t.Error(err)
		}
	})
	r, err := e.store.Run(context.Background(), tf.name, id)
	if err != nil {
		t.Fatal(err)
	}
	MustCountsAddUp(t, r)
	if r.Status != billing.Succeeded || r.Counts.Updated != 30 {
		t.Errorf("run: got %s %+v, want succeeded with 30 updated", r.Status, r.Counts)
	}
	e.MustAllAtTarget(t)
	if w := e.Writes(tf); len(w) != 30 {
		t.Errorf("PSA writes: got %d, want 30", len(w))
	}
	entries, err := e.store.Entries(context.Background(), tf.name, id, billing.EntryFilter{Code: billing.CodeUpdated})
	if err != nil {
		t.Fatal(err)
	}
	atOnce, later := 0, 0
	for _, en := range entries {
		switch d := en.At.Sub(began); {
		case d == 0:
			atOnce++
		case d >= billingsync.RetryBackoff:
			later++
		default:
			t.Errorf("%s updated after %s: neither at once nor after the retry backoff", en.Org, d)
		}
	}
	if atOnce != 30-failedN || later != failedN {
		t.Errorf("updated at once: %d, after waiting: %d; want %d and the failed batch's %d", atOnce, later, 30-failedN, failedN)
	}
}
