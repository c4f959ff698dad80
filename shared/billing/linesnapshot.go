package billing

import (
	"time"

	"github.com/psabridge/psabridge/shared/psa"
)

// LineSnapshot is the PSA state of a tenant's mapped lines, read once for a
// run and shared by the run's batches through the store (a PSA whose line
// reads batch across contracts: Autotask's ContractServiceUnits query takes
// 500 lines whatever their contracts, so one read of the tenant replaces
// one read per batch of ten orgs).
type LineSnapshot struct {
	// ReadAt is when the PSA was read.
	ReadAt time.Time `json:"readAt"`
	// Effective is the day the lines were read from (psa.LineSyncer
	// ReadLines' at): a batch whose effective date differs reads its own.
	Effective time.Time `json:"effective"`
	// States are the lines that exist, Missing the lines read and found
	// absent. A line in neither was not read (mapped since).
	States  []psa.LineState `json:"states"`
	Missing []psa.LineRef   `json:"missing,omitempty"`
}

// MaxSnapshotAge is how long after its read a LineSnapshot may stand in for
// a read of the PSA. A run reads its lines within minutes; a batch later
// than this (a deferred org resuming in the next budget window) reads its
// own.
const MaxSnapshotAge = 20 * time.Minute
