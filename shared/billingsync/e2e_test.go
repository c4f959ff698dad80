package billingsync_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// MustTenantsOnEveryPSA seeds 2 Autotask tenants, 1 ConnectWise tenant and
// 1 HaloPSA tenant with 100 mapped orgs each.
func MustTenantsOnEveryPSA(e *env) {
	e.tb.Helper()
	e.MustTenant("at-one", psa.Autotask, 100, 0, nil)
	e.MustTenant("at-two", psa.Autotask, 100, 0, nil)
	e.MustTenant("cw-one", psa.ConnectWise, 100, 0, nil)
	e.MustTenant("halo-one", psa.HaloPSA, 100, 0, nil)
}

// changeTenPercent raises the HWM of every tenth org of every tenant.
// changedDaily says whether changeTenPercent raises the HWM of a tenant's
// i-th org (every day the same tenth).
func changedDaily(i int) bool { return i%10 == 3 }

func changeTenPercent(e *env) int {
	n := 0
	for _, t := range e.tenants {
		var changed []*orgFixture
		for i, o := range t.orgs {
			if changedDaily(i) {
				o.hwm += 5
				changed = append(changed, o)
			}
		}
		e.MustObserve(t, changed)
		n += len(changed)
	}
	return n
}

// TestDailySync is the end-to-end run: 400 orgs over four tenants on the
// three PSAs, a first run that brings every line to its target, 10%
// changed HWMs the next day, then a day with nothing to write.
func TestDailySync(t *testing.T) {
	e := MustEnv(t)
	MustTenantsOnEveryPSA(e)

	runs := e.MustScheduledRun(2, nil)
	if len(runs) != len(e.tenants) {
		t.Fatalf("runs: got %d, want %d", len(runs), len(e.tenants))
	}
	for _, r := range runs {
		MustCountsAddUp(t, r)
		if r.Counts.Total != 100 || r.Counts.Updated != 100 || r.Status != billing.Succeeded || r.Kind != billing.Scheduled {
			t.Errorf("first run of %s: got %s %+v, want succeeded with 100 updated", r.Tenant, r.Status, r.Counts)
		}
	}
	e.MustAllAtTarget(t)

	t.Run("ScheduleRedeliveredSameDay", func(t *testing.T) {
		again, err := e.fanout.Scheduled(context.Background(), e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again {
			if r.ID != runs[r.Tenant].ID {
				t.Errorf("%s: a second scheduled run %s on the same day, want %s", r.Tenant, r.ID, runs[r.Tenant].ID)
			}
		}
		list, err := e.store.Runs(context.Background(), "at-one", 10)
		if err != nil || len(list) != 1 {
			t.Errorf("runs of at-one: got %d (%v), want 1", len(list), err)
		}
	})

	e.clock.Add(24 * time.Hour)
	changed := changeTenPercent(e)
	before := map[string]int{}
	for _, tf := range e.tenants {
		before[tf.name] = len(e.Writes(tf))
	}
	runs = e.MustScheduledRun(2, nil)
	e.MustAllAtTarget(t)
	total := 0
	for _, tf := range e.tenants {
		r := runs[tf.name]
		MustCountsAddUp(t, r)
		total += int(r.Counts.Updated)
		if got := len(e.Writes(tf)) - before[tf.name]; got != 10 {
			t.Errorf("%s: %d writes on day two, want 10", tf.name, got)
		}
		if r.Counts.Updated != 10 || r.Counts.Unchanged != 90 {
			t.Errorf("%s day two: got %+v, want 10 updated, 90 unchanged", tf.name, r.Counts)
		}
	}
	if total != changed {
		t.Errorf("updated orgs: got %d, want %d", total, changed)
	}
	entries, err := e.store.Entries(context.Background(), "at-one", runs["at-one"].ID, billing.EntryFilter{Code: billing.CodeUpdated})
	if err != nil || len(entries) != 10 || entries[0].Before == nil || entries[0].After == nil {
		t.Fatalf("updated entries: got %d (%v), want 10 with before and after", len(entries), err)
	}
	if e0 := entries[0]; e0.After.Quantity != e0.Before.Quantity+5 {
		t.Errorf("entry %s: before %d, after %d, want +5", e0.Org, e0.Before.Quantity, e0.After.Quantity)
	}

	e.clock.Add(24 * time.Hour)
	for _, tf := range e.tenants {
		before[tf.name] = len(e.Writes(tf))
	}
	runs = e.MustScheduledRun(2, nil)
	for _, tf := range e.tenants {
		MustCountsAddUp(t, runs[tf.name])
		if got := len(e.Writes(tf)) - before[tf.name]; got != 0 {
			t.Errorf("%s: %d writes on a day without changes, want 0", tf.name, got)
		}
		if r := runs[tf.name]; r.Counts.Unchanged != 100 {
			t.Errorf("%s day three: got %+v, want 100 unchanged", tf.name, r.Counts)
		}
	}
}

// TestDailySyncUnderFaults runs the same days with 20% of PSA requests
// failing transiently before the PSA acts and 20% of PSA writes acted on
// with the answer lost: every line ends at its target or with a recorded
// code, no adjustment is applied twice, and whatever reaches the DLQ has
// entries that say why.
func TestDailySyncUnderFaults(t *testing.T) {
	e := MustEnv(t)
	MustTenantsOnEveryPSA(e)
	e.sb.SetFaults(sandbox.Faults{Seed: 7, Rate500: 0.17, Rate429: 0.03, RetryAfter: time.Millisecond, RateLost: 0.2})
	runs := e.MustScheduledRun(3, nil)
	e.clock.Add(24 * time.Hour)
	changeTenPercent(e)
	runs2 := e.MustScheduledRun(3, nil)
	e.sb.SetFaults(sandbox.Faults{})
	if e.sb.LostAnswers() == 0 {
		t.Fatal("no write lost its answer: the fault model was not exercised")
	}

	ctx := context.Background()
	for _, tf := range e.tenants {
		for _, r := range []billing.Run{runs[tf.name], runs2[tf.name]} {
			MustCountsAddUp(t, r)
		}
		entries, err := e.store.Entries(ctx, tf.name, runs2[tf.name].ID, billing.EntryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byOrg := map[string]billing.Entry{}
		for _, en := range entries {
			byOrg[en.Org] = en
		}
		for _, o := range tf.orgs {
			q, _ := e.Quantity(tf, o)
			en, ok := byOrg[o.id]
			switch {
			case !ok:
				t.Errorf("%s/%s: no entry", tf.name, o.id)
			case q != o.target() && billing.InfoOf(en.Code).Level == billing.Info:
				t.Errorf("%s/%s: PSA holds %d, want %d, but the entry says %s", tf.name, o.id, q, o.target(), en.Code)
			}
		}
		if tf.provider == psa.Autotask {
			// Units equal the sum of adjustments: one adjustment too many
			// would leave a line above its target.
			for _, o := range tf.orgs {
				var sum int64
				for _, a := range e.sb.Autotask.Adjustments(tf.login) {
					if a.ContractServiceID == o.lineID {
						sum += a.UnitChange
					}
				}
				if q, _ := e.Quantity(tf, o); sum != q {
					t.Errorf("%s/%s: adjustments sum to %d, units %d", tf.name, o.id, sum, q)
				}
				if sum > o.target() {
					t.Errorf("%s/%s: adjusted to %d, above the target %d (an adjustment applied twice)", tf.name, o.id, sum, o.target())
				}
			}
		}
	}
	for _, m := range sqstest.MustReceiveAll(t, e.sqs, e.queue.DLQURL) {
		var msg billingsync.Message
		mustJSON(t, aws.ToString(m.Body), &msg)
		entries, _ := e.store.Entries(ctx, msg.Tenant, msg.Run, billing.EntryFilter{Query: msg.Org})
		if len(entries) == 0 || billing.InfoOf(entries[0].Code).Level == billing.Info {
			t.Errorf("DLQ message for %s/%s has no entry saying why", msg.Tenant, msg.Org)
		}
	}
}

// TestRedelivery delivers every batch twice: the PSA write log must be the
// same as with single delivery, and the counts still add up.
func TestRedelivery(t *testing.T) {
	logs := map[bool]map[string][]string{}
	for _, twice := range []bool{false, true} {
		e := MustEnv(t)
		e.MustTenant("at-one", psa.Autotask, 40, 0, nil)
		e.MustTenant("cw-one", psa.ConnectWise, 40, 0, nil)
		e.MustTenant("halo-one", psa.HaloPSA, 40, 0, nil)
		var wrap func(handler) handler
		if twice {
			wrap = func(h handler) handler {
				return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					if _, err := h(ctx, ev); err != nil {
						return events.SQSEventResponse{}, err
					}
					return h(ctx, ev)
				}
			}
		}
		for day := 0; day < 2; day++ {
			if day > 0 {
				e.clock.Add(24 * time.Hour)
				changeTenPercent(e)
			}
			for _, r := range e.MustScheduledRun(1, wrap) {
				MustCountsAddUp(t, r)
			}
		}
		e.MustAllAtTarget(t)
		logs[twice] = map[string][]string{}
		for _, tf := range e.tenants {
			logs[twice][tf.name] = e.Writes(tf)
		}
	}
	for tenant, once := range logs[false] {
		if twice := logs[true][tenant]; !slices.Equal(once, twice) {
			t.Errorf("%s: write log with redelivery differs: got %d writes, want %d", tenant, len(twice), len(once))
		}
	}
}

// TestBudget runs three workers at once on one tenant with a budget of 50
// requests an hour: together they never send more than 50, the orgs they
// could not reach are deferred, and the next hour finishes the run.
func TestBudget(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("at-one", psa.Autotask, 90, 0, func(s *billing.Settings) { s.BudgetPerHour = 50 })
	ctx := context.Background()
	runID, err := e.StartRun(ctx, tf.name, false)
	if err != nil {
		t.Fatal(err)
	}
	// Take the messages off the FIFO queue and hand them to three workers
	// at once (a FIFO group would serialise them; separate tenants'
	// workers share nothing but DynamoDB, which is what is tested).
	msgs := sqstest.MustReceiveAll(t, e.sqs, e.queue.URL)
	if len(msgs) != 90 {
		t.Fatalf("queued: got %d, want 90", len(msgs))
	}
	var batches [][]billingsync.Delivery
	for i := 0; i < len(msgs); i += 10 {
		var b []billingsync.Delivery
		for j, m := range msgs[i:min(i+10, len(msgs))] {
			b = append(b, billingsync.Delivery{ID: fmt.Sprint(i + j), Body: aws.ToString(m.Body), ReceiveCount: 1})
		}
		batches = append(batches, b)
	}
	e.sb.ResetCounts()
	var mu sync.Mutex
	var retry []billingsync.Delivery
	var wg sync.WaitGroup
	next := make(chan []billingsync.Delivery, len(batches))
	for _, b := range batches {
		next <- b
	}
	close(next)
	for w := 0; w < 3; w++ {
		wk := e.NewWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				failed := wk.Handle(ctx, b)
				mu.Lock()
				for _, d := range b {
					if slices.Contains(failed, d.ID) {
						retry = append(retry, d)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got := e.sb.Total(""); got > 50 {
		t.Errorf("PSA requests in the hour: got %d, want at most 50", got)
	}
	if used, _ := e.store.BudgetUsed(ctx, tf.name, e.clock.Now()); used > 50 {
		t.Errorf("budget used: got %d, want at most 50", used)
	}
	r, err := e.store.Run(ctx, tf.name, runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(retry) == 0 || r.Counts.Deferred != int64(len(retry)) || r.Status != billing.Running {
		t.Fatalf("after the first hour: %d to retry, run %s %+v; want deferred orgs counted and the run still running", len(retry), r.Status, r.Counts)
	}
	deferred, _ := e.store.Entries(ctx, tf.name, runID, billing.EntryFilter{Code: billing.CodeDeferred})
	if len(deferred) == 0 {
		t.Errorf("no %s entries", billing.CodeDeferred)
	}

	// Next hour: the deferred orgs come back and finish the run.
	for len(retry) > 0 {
		e.clock.Add(time.Hour)
		e.sb.ResetCounts()
		pending := retry
		retry = nil
		wk := e.NewWorker()
		for i := 0; i < len(pending); i += 10 {
			b := pending[i:min(i+10, len(pending))]
			for k := range b {
				b[k].ReceiveCount++
			}
			failed := wk.Handle(ctx, b)
			for _, d := range b {
				if slices.Contains(failed, d.ID) {
					retry = append(retry, d)
				}
			}
		}
		if got := e.sb.Total(""); got > 50 {
			t.Errorf("PSA requests in a later hour: got %d, want at most 50", got)
		}
	}
	r, _ = e.store.Run(ctx, tf.name, runID)
	MustCountsAddUp(t, r)
	if r.Counts.Deferred != 0 || r.Counts.Updated != 90 || r.Status != billing.Succeeded {
		t.Errorf("finished run: got %s %+v, want succeeded with 90 updated", r.Status, r.Counts)
	}
	e.MustAllAtTarget(t)
}

// TestDryRun writes nothing to the PSA and records what it would change.
func TestDryRun(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("cw-one", psa.ConnectWise, 20, 0, nil)
	ctx := context.Background()
	id, err := e.StartRun(ctx, tf.name, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.StartRun(ctx, tf.name, true); err == nil {
		t.Errorf("a second run while one is running: got no error, want conflict")
	}
	e.MustDrain(1, nil, nil)
	if w := e.Writes(tf); len(w) != 0 {
		t.Errorf("dry run wrote %d times, want 0", len(w))
	}
	r, _ := e.store.Run(ctx, tf.name, id)
	MustCountsAddUp(t, r)
	if r.Kind != billing.DryRun || !r.DryRun {
		t.Errorf("kind: got %s (dryRun %v), want dry_run", r.Kind, r.DryRun)
	}
	entries, _ := e.store.Entries(ctx, tf.name, id, billing.EntryFilter{Code: billing.CodeWouldUpdate})
	if len(entries) != 20 || !strings.Contains(entries[0].Message, "would change") {
		t.Errorf("would_update entries: got %d, want 20 saying what would change", len(entries))
	}
}
