package billingsync

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
)

// One read of the tenant's lines per run (docs/SYNC.md, "Request economy").
// On a PSA whose line read batches across contracts (Autotask: one
// ContractServiceUnits query per 500 lines, whatever their contracts), the
// first batch of a run that needs a line read reads every mapped line of
// the tenant at the run's effective date and records the result with the
// run (billing.LineSnapshot); the run's other batches take their lines'
// states from it instead of sending a query each. A state is taken from
// the snapshot only when it is known to be psabridge's latest view of the
// line (see use); otherwise the line is read from the PSA as before.
// Where the PSA's contract read carries the lines (HaloPSA: the recurring
// invoice pages the mapping health check lists, with includelines=true),
// the health check records the snapshot from its own pages (linesSeen), so
// the run's line read costs no request of its own.

// LineSnapshotStore is the storage of a run's line snapshot (part of
// WorkerStore).
type LineSnapshotStore interface {
	LineSnapshot(ctx context.Context, tenant, runID string) (billing.LineSnapshot, bool, error)
	PutLineSnapshot(ctx context.Context, tenant, runID string, snap billing.LineSnapshot) error
}

// sharesLineReads reports whether one read of all a tenant's lines costs
// about what one batch's read does, so a run reads them once: true where
// ReadLines batches across contracts (Autotask: one ContractServiceUnits
// query per 500 lines; HaloPSA: one page of 100 recurring invoices with
// their lines, ⌈invoices/100⌉ for the tenant against about ten single
// invoice reads for a batch of ten orgs), false where it reads per
// contract (ConnectWise: one additions list per agreement).
func sharesLineReads(p psa.Provider) bool { return p == psa.Autotask || p == psa.HaloPSA }

// sharedLines is a run's line snapshot, indexed.
type sharedLines struct {
	snap    billing.LineSnapshot
	states  map[psa.LineRef]psa.LineState
	missing map[psa.LineRef]bool
}

func newSharedLines(snap billing.LineSnapshot) *sharedLines {
	s := &sharedLines{snap: snap, states: make(map[psa.LineRef]psa.LineState, len(snap.States)), missing: map[psa.LineRef]bool{}}
	for _, st := range snap.States {
		s.states[st.Ref] = st
	}
	for _, r := range snap.Missing {
		s.missing[r] = true
	}
	return s
}

// fresh reports whether the snapshot may stand in for a read at now of
// lines from effective.
func (s *sharedLines) fresh(effective, now time.Time) bool {
	return s != nil && s.snap.Effective.Equal(effective) && now.Sub(s.snap.ReadAt) <= billing.MaxSnapshotAge
}

// sharedRead is a line's state taken from the run's snapshot.
type sharedRead struct {
	state  psa.LineState
	exists bool
	readAt time.Time
}

// use returns the snapshot's state of lw's line when it is psabridge's
// latest view of it, so deciding from it is deciding from a read:
//   - the snapshot is fresh (the run's effective date, MaxSnapshotAge);
//   - this is the org's first attempt in the run: the fan-out's message on
//     its first receive (no re-queued copy, no redelivery), so no earlier
//     attempt of this run can have written the line without the memory
//     showing it (a crash between a write and saving the memory brings the
//     message back as a later receive);
//   - the line memory shows no read or write at or after the snapshot's
//     read (a write of psabridge's own after it would make it stale);
//   - the snapshot covers the line (it was mapped when the snapshot was
//     read).
//
// Edits in the PSA by others after the snapshot's read (minutes, within the
// run) are not seen, as they would not be by a read a moment before them:
// the weekly drift check reads the line again and corrects what differs.
func (s *sharedLines) use(lw *lineWork, d Delivery, effective, now time.Time) (sharedRead, bool) {
	if !s.fresh(effective, now) || !firstAttempt(d) {
		return sharedRead{}, false
	}
	if m := lw.mem; m != nil && (!m.VerifiedAt.Before(s.snap.ReadAt) || !m.WrittenAt.Before(s.snap.ReadAt)) {
		return sharedRead{}, false
	}
	if st, ok := s.states[lw.ref]; ok {
		return sharedRead{state: st, exists: true, readAt: s.snap.ReadAt}, true
	}
	if s.missing[lw.ref] {
		return sharedRead{readAt: s.snap.ReadAt}, true
	}
	return sharedRead{}, false
}

// firstAttempt reports whether d is the org's first attempt in its run:
// the fan-out's message (no re-queued copy) on its first receive (an
// unknown receive count, 0, is not taken for a first).
func firstAttempt(d Delivery) bool {
	return d.ReceiveCount == 1 && d.msg.Try == 0 && d.msg.NotBefore == nil
}

// runLines returns the run's line snapshot for effective: the worker's
// memo (which holds the health check's, linesSeen), the store's, or, when
// neither is fresh, every mapped line of the tenant read now from the PSA
// (one batched read) and recorded with the run. maps are the tenant's
// mappings when the caller has them (nil: read them). A failure to record is logged and counted (metrics.Degraded):
// this batch still uses the snapshot and the next reads its own.
func (w *Worker) runLines(ctx context.Context, tenant, runID string, c psa.LineSyncer, maps map[string]billing.Mapping,
	effective, now time.Time) (*sharedLines, error) {
	key := tenant + "\x00" + runID
	if s := w.health.lines(key); s.fresh(effective, now) {
		return s, nil
	}
	stored, found, err := w.Store.LineSnapshot(ctx, tenant, runID)
	if err != nil {
		return nil, err
	}
	if s := newSharedLines(stored); found && s.fresh(effective, now) {
		w.health.putLines(key, s)
		return s, nil
	}
	if maps == nil {
		if maps, err = w.Store.TenantMappings(ctx, tenant); err != nil {
			return nil, err
		}
	}
	refs := mappedRefs(maps)
	readAt := w.now()
	states, err := c.ReadLines(ctx, refs, effective)
	if err != nil {
		return nil, err
	}
	return w.putRunLines(ctx, tenant, runID, snapshotOf(refs, states, readAt, effective)), nil
}

// putRunLines records snap as the run's line snapshot and keeps it in the
// worker. A failure to record is logged and counted (metrics.Degraded):
// this worker still uses the snapshot and other batches read their own.
func (w *Worker) putRunLines(ctx context.Context, tenant, runID string, snap billing.LineSnapshot) *sharedLines {
	if err := w.Store.PutLineSnapshot(ctx, tenant, runID, snap); err != nil {
		metrics.Degrade(ctx, w.log(), w.Metrics, "syncworker.line_snapshot", "recording the run's line snapshot failed; the next batch reads its own", err,
			"tenant", tenant, "run", runID)
	}
	s := newSharedLines(snap)
	w.health.putLines(tenant+"\x00"+runID, s)
	return s
}

// snapshotOf is the snapshot of refs read at readAt for effective: the
// states of those in states, the others missing.
func snapshotOf(refs []psa.LineRef, states map[psa.LineRef]psa.LineState, readAt, effective time.Time) billing.LineSnapshot {
	snap := billing.LineSnapshot{ReadAt: readAt.UTC(), Effective: effective, States: make([]psa.LineState, 0, len(refs))}
	for _, r := range refs {
		if st, ok := states[r]; ok {
			snap.States = append(snap.States, st)
		} else {
			snap.Missing = append(snap.Missing, r)
		}
	}
	return snap
}

// linesSeen is the LineSyncer the run's mapping health check reads
// through on a PSA whose contract read carries the lines: its
// ContractsByID reads them too and keeps the snapshot of refs (the
// tenant's mapped lines) on the contracts read, so the run's line read
// costs no request of its own.
type linesSeen struct {
	psa.LineSyncer
	cl        psa.ContractLineReader
	refs      []psa.LineRef
	effective time.Time
	now       func() time.Time
	// snap is the lines read; nil until ContractsByID succeeds.
	snap *billing.LineSnapshot
}

func (s *linesSeen) ContractsByID(ctx context.Context, ids []int64) (map[int64]psa.Contract, error) {
	readAt := s.now()
	contracts, states, err := s.cl.ContractsWithLines(ctx, ids, s.effective)
	if err != nil {
		return nil, err
	}
	read := make(map[int64]bool, len(ids))
	for _, id := range ids {
		read[id] = true
	}
	var refs []psa.LineRef
	for _, r := range s.refs {
		if read[r.ContractID] {
			refs = append(refs, r)
		}
	}
	snap := snapshotOf(refs, states, readAt, s.effective)
	s.snap = &snap
	return contracts, nil
}

// mappedRefs returns the distinct lines of mappings, in order.
func mappedRefs(maps map[string]billing.Mapping) []psa.LineRef {
	seen := map[psa.LineRef]bool{}
	var refs []psa.LineRef
	for _, m := range maps {
		for _, l := range m.Lines {
			r := psa.LineRef{ContractID: m.ContractID, LineID: l.LineID}
			if r.ContractID > 0 && r.LineID > 0 && !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
	}
	slices.SortFunc(refs, func(a, b psa.LineRef) int {
		if c := cmp.Compare(a.ContractID, b.ContractID); c != 0 {
			return c
		}
		return cmp.Compare(a.LineID, b.LineID)
	})
	return refs
}
