package billing

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// RunKind says what started a run.
type RunKind string

// The run kinds.
const (
	Scheduled RunKind = "scheduled"
	Manual    RunKind = "manual"
	DryRun    RunKind = "dry_run"
)

// RunStatus is where a run stands.
type RunStatus string

// The run statuses. A run is Running until every org has a final outcome,
// then Succeeded (every org updated, unchanged or skipped), Failed (no org
// got there) or Partial (some did).
const (
	Running   RunStatus = "running"
	Succeeded RunStatus = "succeeded"
	Partial   RunStatus = "partial"
	Failed    RunStatus = "failed"
)

// Counts are a run's per-org tallies. Every org is counted once, on its
// final outcome (Done counts those), except Deferred, which also holds orgs
// that are waiting for budget and may still move to another count.
type Counts struct {
	Total     int64 `json:"total"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Skipped   int64 `json:"skipped"`
	Failed    int64 `json:"failed"`
	Deferred  int64 `json:"deferred"`
	// Done is the number of orgs with a final outcome (not in the API).
	Done int64 `json:"-"`
}

// Run is one billing sync of one tenant.
type Run struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"-"`
	Kind       RunKind    `json:"kind"`
	DryRun     bool       `json:"dryRun"`
	Status     RunStatus  `json:"status"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Month      Month      `json:"month"`
	Counts     Counts     `json:"counts"`
	// ResumeAt, while orgs of a running run are deferred, is when the
	// latest deferral resumes (the budget window or the PSA's Retry-After).
	ResumeAt *time.Time `json:"resumeAt,omitempty"`
}

// NewRunID returns a run id that sorts by start time ("20261115T170000Z-3fa2c1"),
// so listing a tenant's runs newest first is a reverse key order.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Progress is how many of the run's orgs have a final outcome, of how many.
func (r Run) Progress() (done, total int64) {
	k := r.Counts
	return k.Updated + k.Unchanged + k.Skipped + k.Failed + k.Deferred, k.Total
}

// EstimatedFinish is when the run should be done if the orgs left go at
// the pace of those done so far: startedAt + elapsed × total ÷ done. ok is
// false before the first org is done, and for a run no longer running.
func (r Run) EstimatedFinish(now time.Time) (at time.Time, ok bool) {
	done, total := r.Progress()
	if r.Status != Running || done <= 0 || total <= 0 {
		return time.Time{}, false
	}
	if done >= total {
		return now, true
	}
	elapsed := now.Sub(r.StartedAt)
	return r.StartedAt.Add(time.Duration(float64(elapsed) * float64(total) / float64(done))), true
}

// FinalStatus is the status of a run whose orgs all have a final outcome.
func (c Counts) FinalStatus() RunStatus {
	ok := c.Updated + c.Unchanged + c.Skipped
	switch {
	case c.Failed == 0 && c.Deferred == 0:
		return Succeeded
	case ok == 0:
		return Failed
	default:
		return Partial
	}
}

// Outcome is an org's result in a run.
type Outcome string

// The org outcomes. OutcomeDeferred is final only when the worker gave up
// waiting (last delivery); until then the org can still move.
const (
	OutcomeUpdated   Outcome = "updated"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeSkipped   Outcome = "skipped"
	OutcomeFailed    Outcome = "failed"
	OutcomeDeferred  Outcome = "deferred"
)

// OrgOutcome folds the outcomes of an org's lines into the org's: any failed
// line fails the org, else any deferred line defers it, else any update
// makes it updated, else any unchanged line makes it unchanged, else skipped.
func OrgOutcome(lines []Outcome) Outcome {
	rank := map[Outcome]int{OutcomeSkipped: 0, OutcomeUnchanged: 1, OutcomeUpdated: 2, OutcomeDeferred: 3, OutcomeFailed: 4}
	out := OutcomeSkipped
	for _, l := range lines {
		if rank[l] > rank[out] {
			out = l
		}
	}
	return out
}

// Add adds one org's outcome to the counts (as its final one when final).
func (c *Counts) Add(o Outcome, final bool) {
	switch o {
	case OutcomeUpdated:
		c.Updated++
	case OutcomeUnchanged:
		c.Unchanged++
	case OutcomeSkipped:
		c.Skipped++
	case OutcomeFailed:
		c.Failed++
	case OutcomeDeferred:
		c.Deferred++
	}
	if final {
		c.Done++
	}
}

// OutcomeState is what a run recorded for an org so far.
type OutcomeState struct {
	Outcome Outcome
	Final   bool
	// ResumeAt is when a deferred org is tried again (UTC; zero otherwise).
	ResumeAt time.Time
}

// OutcomeChange moves an org from Prev (as read; zero when none) to Next in
// a run.
type OutcomeChange struct {
	Org  string
	Prev OutcomeState
	Next OutcomeState
}

// Tenant is a provisioned tenant: one MSP account on the vendor's platform.
type Tenant struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
}
