package billingsync

import (
	"context"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// Mapping health in the sync: before a run writes anything, every mapping
// of the tenant is held against the PSA (company gone, inactive or
// renamed; contract gone, of another company, cancelled, ended or not
// recurring), and no line of a broken mapping is written: its entry names
// the problem and the fix. The check is tenant-wide and done once per run:
// the first batch reads the companies and contracts of all mapped orgs
// with the batched id reads (Autotask: ⌈n/500⌉ queries each; ConnectWise:
// ⌈n/200⌉ lists each; HaloPSA: ⌈n/100⌉ pages each, the recurring invoices
// with their lines, which make the run's line snapshot too) and records
// the result with the run, where the other batches (and GET /v1/orgs) find
// it. Lines are checked as the worker reads them (missing, moved, billing
// another product than the catalog's).

// HealthStore is the storage of the run's health (part of WorkerStore).
type HealthStore interface {
	RunHealth(ctx context.Context, tenant, runID string) (billing.RunHealth, bool, error)
	PutRunHealth(ctx context.Context, tenant, runID string, h billing.RunHealth) (billing.RunHealth, error)
	TenantMappings(ctx context.Context, tenant string) (map[string]billing.Mapping, error)
	Catalog(ctx context.Context, tenant string) (billing.Catalog, error)
}

// runHealth is what a worker keeps of a run's health check.
type runHealth struct {
	health  billing.RunHealth
	catalog map[billing.Product]int64
	// products is the tenant's catalog (unit costs of created lines).
	products billing.Catalog
}

// healthMemo keeps the runs' health in the worker between batches, so a
// warm worker reads it from the store once per run.
type healthMemo struct {
	mu   sync.Mutex
	runs map[string]*runHealth
	// snaps are the runs' line snapshots (sharedlines.go).
	snaps map[string]*sharedLines
}

func (m *healthMemo) lines(key string) *sharedLines {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snaps[key]
}

func (m *healthMemo) putLines(key string, s *sharedLines) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snaps == nil || len(m.snaps) > 64 {
		m.snaps = map[string]*sharedLines{}
	}
	m.snaps[key] = s
}

func (m *healthMemo) get(key string) *runHealth {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs[key]
}

func (m *healthMemo) put(key string, h *runHealth) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil || len(m.runs) > 256 {
		m.runs = map[string]*runHealth{}
	}
	m.runs[key] = h
}

// checkMappings returns the health of the given mappings from the PSA's
// companies and contracts (app.CheckMappings: two batched reads), lines
// not checked.
func checkMappings(ctx context.Context, c psa.LineSyncer, maps map[string]billing.Mapping, now time.Time) (map[string]billing.Health, error) {
	checked, err := app.CheckMappings(ctx, c, maps, app.LineCheck{}, now)
	if err != nil {
		return nil, err
	}
	out := make(map[string]billing.Health, len(checked))
	for org, c := range checked {
		out[org] = c.Health
	}
	return out, nil
}

// runHealth returns the run's recorded health, checking the tenant's
// mappings and recording the result when no batch did yet; then it also
// returns the mappings it read (nil otherwise). Where the PSA's contract
// read carries the lines (psa.ContractLineReader), the check's read also
// records the run's line snapshot at effective (sharedlines.go), before
// the health, so a batch that finds the health finds the lines too.
func (w *Worker) runHealth(ctx context.Context, tenant, runID string, c psa.LineSyncer, effective, now time.Time) (*runHealth, map[string]billing.Mapping, error) {
	key := tenant + "\x00" + runID
	if h := w.health.get(key); h != nil {
		return h, nil, nil
	}
	cat, err := w.Store.Catalog(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	rh := &runHealth{catalog: cat.ServiceIDs(), products: cat}
	stored, found, err := w.Store.RunHealth(ctx, tenant, runID)
	if err != nil {
		return nil, nil, err
	}
	if found {
		rh.health = stored
		w.health.put(key, rh)
		return rh, nil, nil
	}
	maps, err := w.Store.TenantMappings(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	reader := c
	var seen *linesSeen
	if cl, ok := c.(psa.ContractLineReader); ok {
		seen = &linesSeen{LineSyncer: c, cl: cl, refs: mappedRefs(maps), effective: effective, now: w.now}
		reader = seen
	}
	checked, err := checkMappings(ctx, reader, maps, now)
	if err != nil {
		return nil, nil, err
	}
	if seen != nil && seen.snap != nil {
		w.putRunLines(ctx, tenant, runID, *seen.snap)
	}
	snap := billing.RunHealth{CheckedAt: now.UTC(), Orgs: map[string]billing.Health{}}
	for org, h := range checked {
		if h.Status != billing.HealthOK {
			snap.Orgs[org] = h
		}
	}
	if rh.health, err = w.Store.PutRunHealth(ctx, tenant, runID, snap); err != nil {
		return nil, nil, err
	}
	w.health.put(key, rh)
	return rh, maps, nil
}

// orgHealth returns the health of the batch's orgs: from the run's record,
// and for orgs it does not cover (mapped or changed since) from a check of
// their own.
func (w *Worker) orgHealth(ctx context.Context, rh *runHealth, c psa.LineSyncer, orgs map[string]billing.Mapping, now time.Time) (map[string]billing.Health, error) {
	out := make(map[string]billing.Health, len(orgs))
	rest := map[string]billing.Mapping{}
	for org, m := range orgs {
		if h, ok := rh.health.Covers(org, m.UpdatedAt); ok {
			out[org] = h
		} else {
			rest[org] = m
		}
	}
	more, err := checkMappings(ctx, c, rest, now)
	if err != nil {
		return nil, err
	}
	for org, h := range more {
		out[org] = h
	}
	return out, nil
}

// healthEntry fills a line's entry with the first problem that blocks it:
// the problem's code, what is wrong and the fix.
func healthEntry(lw *lineWork, p billing.Problem) {
	lw.outcome = billing.OutcomeFailed
	lw.entry.Code, lw.entry.Level = billing.Code(p.Code), billing.Error
	lw.entry.Message = p.Message + " Fix: " + p.Fix + " Nothing was written."
}

// blocking returns the first problem of h that stops product's line.
func blocking(h billing.Health, product billing.Product) (billing.Problem, bool) {
	for _, p := range h.Problems {
		if p.Severity == billing.SeverityError && (p.Product == "" || p.Product == product) {
			return p, true
		}
	}
	return billing.Problem{}, false
}

// warnings renders the warnings of h (a renamed company) for an entry.
func warnings(h billing.Health) string {
	s := ""
	for _, p := range h.Problems {
		if p.Severity == billing.SeverityWarning {
			s += " Note: " + p.Message
		}
	}
	return s
}
