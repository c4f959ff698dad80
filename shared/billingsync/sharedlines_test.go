package billingsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/psa"
)

// unitsQueries is the sandbox route of Autotask's batched line read.
const unitsQueries = "autotask POST ContractServiceUnits/query"

// TestOneLineReadPerRun: an Autotask or HaloPSA run reads its tenant's
// lines once, however many batches it has (45 orgs: five batches, on two
// workers that share the snapshot only through the store), on the first
// day when every line needs a read and on a day with 10% changed; every
// line ends at its target with one write per change. Autotask's line read
// is one ContractServiceUnits query. HaloPSA's is no request of its own:
// the mapping health check's one page of recurring invoices carries their
// lines (includelines=true) and fills the snapshot, so the run lists the
// recurring invoices once (a second list would be a line read of its own;
// without the snapshot: one per batch, six in all).
func TestOneLineReadPerRun(t *testing.T) {
	for _, tc := range []struct {
		provider psa.Provider
		route    string
		want     int
	}{
		{psa.Autotask, unitsQueries, 1},
		{psa.HaloPSA, "halopsa GET /RecurringInvoice", 1},
	} {
		t.Run(string(tc.provider), func(t *testing.T) {
			e := MustEnv(t)
			tf := e.MustTenant("shared-"+string(tc.provider), tc.provider, 45, 0, nil)
			for day, changed := range []int{45, 5} {
				if day > 0 {
					e.clock.Add(24 * time.Hour)
					if n := changeTenPercent(e); n != changed {
						t.Fatalf("changed %d orgs, want %d", n, changed)
					}
				}
				e.sb.ResetCounts()
				before := len(e.Writes(tf))
				r := e.MustScheduledRun(2, nil)[tf.name]
				MustCountsAddUp(t, r)
				if got := e.sb.Counts()[tc.route]; got != tc.want {
					t.Errorf("day %d: %d of %s, want %d for the run's five batches", day, got, tc.route, tc.want)
				}
				if got := len(e.Writes(tf)) - before; got != changed {
					t.Errorf("day %d: %d writes, want %d", day, got, changed)
				}
				e.MustAllAtTarget(t)
			}
		})
	}
}

// hookStore is a worker's store with hooks: after the run's line snapshot
// is recorded, and a number of PutLineMemories calls that fail (as a crash
// between the PSA write and the memory would leave it).
type hookStore struct {
	billingsync.WorkerStore
	afterSnapshot func()
	failMemories  *int
}

func (s hookStore) PutLineSnapshot(ctx context.Context, tenant, runID string, snap billing.LineSnapshot) error {
	err := s.WorkerStore.PutLineSnapshot(ctx, tenant, runID, snap)
	if s.afterSnapshot != nil {
		s.afterSnapshot()
	}
	return err
}

func (s hookStore) PutLineMemories(ctx context.Context, tenant string, mems map[billing.LineKey]billing.LineMemory) error {
	if s.failMemories != nil && *s.failMemories > 0 {
		*s.failMemories--
		return errors.New("ProvisionedThroughputExceededException: simulated")
	}
	return s.WorkerStore.PutLineMemories(ctx, tenant, mems)
}

// mustDay runs the scheduled fan-out at the clock's time and delivers the
// queue to w under the sync queue's semantics (memQueue).
func (e *env) mustDay(tb testing.TB, w *billingsync.Worker) {
	tb.Helper()
	q := &memQueue{}
	f := *e.fanout
	f.Queue = q
	if _, err := f.Scheduled(context.Background(), e.clock.Now()); err != nil {
		tb.Fatal(err)
	}
	q.mustDeliver(tb, e, w)
}

// TestSnapshotNotReusedAfterOwnWrite: a batch writes its lines from the
// run's snapshot, then fails before its line memories are stored, so its
// messages come back after the visibility timeout. The second receive
// reads the lines again instead of trusting the snapshot, which no longer
// shows psabridge's own adjustments: each line gets exactly one adjustment
// and ends at its target.
func TestSnapshotNotReusedAfterOwnWrite(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("at-own", psa.Autotask, 20, 0, nil)
	e.mustDay(t, e.NewWorker())
	e.MustAllAtTarget(t)

	e.clock.Add(24 * time.Hour)
	for _, o := range tf.orgs {
		o.hwm += 5
	}
	e.MustObserve(tf, tf.orgs)
	before := len(e.Writes(tf))
	fail := 1
	w := e.NewWorker()
	w.Store = hookStore{WorkerStore: w.Store, failMemories: &fail}
	e.sb.ResetCounts()
	e.mustDay(t, w)
	if fail != 0 {
		t.Fatal("no batch failed to store its line memories")
	}
	if got := len(e.Writes(tf)) - before; got != len(tf.orgs) {
		t.Errorf("adjustments: got %d, want %d (one a line)", got, len(tf.orgs))
	}
	if got := e.sb.Counts()[unitsQueries]; got != 2 {
		t.Errorf("ContractServiceUnits queries: got %d, want 2 (the run's snapshot, and the redelivered batch's own read)", got)
	}
	e.MustAllAtTarget(t)
}

// TestEditDuringRunFoundByDriftCheck: a technician's edit that lands after
// the run read its snapshot is not seen by the run (as it would not be by a
// read a moment before the edit); the line's weekly drift check reads it
// and corrects it (drift_corrected) within eight days.
func TestEditDuringRunFoundByDriftCheck(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("at-edit", psa.Autotask, 10, 0, nil)
	e.mustDay(t, e.NewWorker())

	e.clock.Add(24 * time.Hour)
	o := tf.orgs[0]
	o.hwm += 5
	e.MustObserve(tf, []*orgFixture{o})
	w := e.NewWorker()
	eff := e.effectiveDay(t, tf)
	w.Store = hookStore{WorkerStore: w.Store, afterSnapshot: func() { e.MustTechnicianEdit(t, tf, o, eff, 3) }}
	e.mustDay(t, w)
	if q, _ := e.Quantity(tf, o); q != o.target()+3 {
		t.Fatalf("after the run: %s holds %d, want %d (the edit made after the snapshot's read, on top of the target)", o.id, q, o.target()+3)
	}
	for day := 1; day <= 8; day++ {
		e.clock.Add(24 * time.Hour)
		e.mustDay(t, e.NewWorker())
		if q, _ := e.Quantity(tf, o); q == o.target() {
			runs, err := e.store.Runs(context.Background(), tf.name, 1)
			if err != nil {
				t.Fatal(err)
			}
			drift, err := e.store.Entries(context.Background(), tf.name, runs[0].ID, billing.EntryFilter{Code: billing.CodeDriftCorrected})
			if err != nil {
				t.Fatal(err)
			}
			if len(drift) != 1 || drift[0].Org != o.id {
				t.Errorf("day %d: drift entries %+v, want one for %s", day, drift, o.id)
			}
			e.MustAllAtTarget(t)
			return
		}
	}
	t.Fatalf("%s still not at its target eight days after the edit", o.id)
}
