package billingsync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/queue"
)

// deniedStore is the fan-out's store with the batch reads refused, as IAM
// refuses a call the role does not allow.
type deniedStore struct {
	billingsync.FanoutStore
	hwms, mems bool
}

var errDenied = errors.New("AccessDeniedException: not authorized to perform dynamodb:BatchGetItem")

func (s deniedStore) HighWaterMarks(ctx context.Context, tenant string, month billing.Month, keys []billing.LineKey) (map[billing.LineKey]int64, error) {
	if s.hwms {
		return nil, errDenied
	}
	return s.FanoutStore.HighWaterMarks(ctx, tenant, month, keys)
}

func (s deniedStore) LineMemories(ctx context.Context, tenant string, keys []billing.LineKey) (map[billing.LineKey]billing.LineMemory, error) {
	if s.mems {
		return nil, errDenied
	}
	return s.FanoutStore.LineMemories(ctx, tenant, keys)
}

// TestOrderFailureIsLoggedAndCounted: when the reads that order a large
// tenant's orgs fail, the run still queues every org, and the error is
// logged with its text and counted as Degraded (never swallowed).
func TestOrderFailureIsLoggedAndCounted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hwms, mems bool
	}{{"HWMsDenied", true, false}, {"MemoriesDenied", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t)
			tn := e.MustTenant("deg-"+strings.ToLower(tc.name[:4]), psa.Autotask, 12, 0, nil)
			var logs, emf bytes.Buffer
			q := &memQueue{}
			f := *e.fanout
			f.Store, f.Queue = deniedStore{FanoutStore: e.fanout.Store, hwms: tc.hwms, mems: tc.mems}, q
			f.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			f.Metrics = &metrics.Emitter{W: &emf}
			if _, err := f.Manual(context.Background(), tn.name, f.NewManualRun(true)); err != nil {
				t.Fatal(err)
			}
			if len(q.msgs) != 12 {
				t.Errorf("queued %d messages, want all 12 orgs", len(q.msgs))
			}
			if !strings.Contains(logs.String(), errDenied.Error()) || !strings.Contains(logs.String(), `"operation":"fanout.order"`) {
				t.Errorf("log: got %s, want a fanout.order line with the error %q", logs.String(), errDenied)
			}
			if n := strings.Count(emf.String(), `"Degraded":1`); n != 1 {
				t.Errorf("metrics: got %s, want Degraded=1 once", emf.String())
			}
		})
	}
}

// deadlineStore records the deadline of the context each MappedOrgs call
// gets, as a DynamoDB request would carry it. The shards are read in
// parallel: mu guards seen.
type deadlineStore struct {
	billingsync.FanoutStore
	mu   sync.Mutex
	seen *[]time.Time
}

func (s *deadlineStore) MappedOrgs(ctx context.Context, shard int, tenant string, each func(billingsync.MappedOrg) error) error {
	if d, ok := ctx.Deadline(); ok {
		s.mu.Lock()
		*s.seen = append(*s.seen, d)
		s.mu.Unlock()
	}
	return s.FanoutStore.MappedOrgs(ctx, shard, tenant, each)
}

// TestFanoutKeepsItsMargin: the fan-out's store calls carry the Lambda
// deadline less deadline.Margin, so Lambda never kills it mid-call.
func TestFanoutKeepsItsMargin(t *testing.T) {
	e := MustEnv(t)
	tn := e.MustTenant("margin", psa.Autotask, 2, 0, nil)
	var seen []time.Time
	f := *e.fanout
	f.Store, f.Queue = &deadlineStore{FanoutStore: e.fanout.Store, seen: &seen}, &memQueue{}
	end := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	if _, err := f.HandleEvent(ctx, []byte(`{"tenant":"`+tn.name+`","dryRun":true,"runId":"margin-1"}`)); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no store call carried a deadline")
	}
	for _, d := range seen {
		if !d.Equal(end.Add(-deadline.Margin)) {
			t.Fatalf("store call deadline %v, want the Lambda deadline less the margin (%v)", d, end.Add(-deadline.Margin))
		}
	}
}

var errInjected = errors.New("InternalFailure: injected")

// failingQueue refuses every re-queue, as SQS does when it is down.
type failingQueue struct{}

func (failingQueue) Send(context.Context, []queue.Message) error { return errInjected }

// failingVisibility refuses every ChangeMessageVisibility.
type failingVisibility struct{}

func (failingVisibility) Hide(context.Context, string, time.Duration) error { return errInjected }

// failingFlush is a budget whose release of unspent requests fails.
type failingFlush struct{ billingsync.Budget }

func (failingFlush) Flush(context.Context, string) error { return errInjected }

// failingStart is the worker's store with the batch's first read failing.
type failingStart struct{ billingsync.WorkerStore }

func (failingStart) BatchStart(context.Context, string, string, []string) (billingsync.BatchStart, error) {
	return billingsync.BatchStart{}, errInjected
}

// failingFinish is the worker's store with FinishRunIfDone failing.
type failingFinish struct{ billingsync.WorkerStore }

func (failingFinish) FinishRunIfDone(context.Context, string, string) (billing.Run, error) {
	return billing.Run{}, errInjected
}

// TestWorkerDegradationsAreLoggedAndCounted fails, one at a time, each call
// whose error the sync worker carries on after, on one batch of three
// orgs: the batch still ends as the fallback says, and each failure is
// logged with its operation and error and counted as Degraded, once per
// failed call. A store read the batch cannot go on without is no
// degradation: the batch is reported failed and tried again, and the
// error is logged.
func TestWorkerDegradationsAreLoggedAndCounted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		psaDown   bool // every PSA request fails transiently: the orgs wait
		wire      func(w *billingsync.Worker, q *memQueue)
		operation string // the log lines' operation, or msg when the line has none
		count     int    // log lines
		degraded  int
		failed    int // deliveries reported failed
	}{
		// The waiting orgs cannot be re-queued: they are hidden instead.
		{"Requeue", true, func(w *billingsync.Worker, q *memQueue) { w.Requeue, w.Visibility = failingQueue{}, q }, "syncworker.requeue", 1, 1, 3},
		// Nor hidden: they wait out the visibility timeout.
		{"Hide", true, func(w *billingsync.Worker, q *memQueue) { w.Requeue, w.Visibility = nil, failingVisibility{} }, "syncworker.hide", 3, 3, 3},
		{"BudgetFlush", false, func(w *billingsync.Worker, q *memQueue) { w.Budget = failingFlush{w.Budget} }, "syncworker.budget_flush", 1, 1, 0},
		{"FinishRun", false, func(w *billingsync.Worker, q *memQueue) { w.Store = failingFinish{w.Store} }, "syncworker.finish_run", 1, 1, 0},
		{"BatchStartRetried", false, func(w *billingsync.Worker, q *memQueue) { w.Store = failingStart{w.Store} }, "reading the batch's outcomes, orgs and settings failed; the batch is tried again", 1, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t)
			tn := e.MustTenant("wdeg-"+strings.ToLower(tc.name), psa.ConnectWise, 3, 0, nil)
			q := &memQueue{clock: e.clock}
			f := *e.fanout
			f.Queue = q
			if _, err := f.Manual(context.Background(), tn.name, f.NewManualRun(false)); err != nil {
				t.Fatal(err)
			}
			var logs, emf bytes.Buffer
			w := e.NewWorker()
			w.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			w.Metrics = &metrics.Emitter{W: &emf}
			tc.wire(w, q)
			if tc.psaDown {
				e.sb.SetFaults(sandbox.Faults{Seed: 1, Rate500: 1})
			}
			ds := q.receive()
			if len(ds) != 3 {
				t.Fatalf("received %d deliveries, want the 3 orgs", len(ds))
			}
			if failed := w.Handle(context.Background(), ds); len(failed) != tc.failed {
				t.Errorf("reported failed: %v, want %d", failed, tc.failed)
			}
			lines := 0
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if strings.Contains(l, `"operation":"`+tc.operation+`"`) || strings.Contains(l, `"msg":"`+tc.operation+`"`) {
					lines++
					if !strings.Contains(l, errInjected.Error()) || !strings.Contains(l, `"level":"WARN"`) {
						t.Errorf("log line %s: want a warning with the error %q", l, errInjected)
					}
				}
			}
			if lines != tc.count {
				t.Errorf("log: %d %s lines, want %d:\n%s", lines, tc.operation, tc.count, logs.String())
			}
			if n := strings.Count(emf.String(), `"Degraded":1`); n != tc.degraded {
				t.Errorf("metrics: Degraded counted %d times, want %d:\n%s", n, tc.degraded, emf.String())
			}
		})
	}
}
