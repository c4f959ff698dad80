package dynamo_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestLineSnapshotParts: a snapshot larger than one DynamoDB item (400 KB)
// is stored in parts and read back whole; a run without one has none; a
// second snapshot replaces the first.
func TestLineSnapshotParts(t *testing.T) {
	ctx := context.Background()
	s := dynamotest.NewStore(t, nil)
	now := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	if _, found, err := s.LineSnapshot(ctx, "t1", "run-1"); err != nil || found {
		t.Fatalf("before any: found=%v err=%v, want none", found, err)
	}
	for _, n := range []int{8000, 3} {
		snap := billing.LineSnapshot{ReadAt: now, Effective: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			Missing: []psa.LineRef{{ContractID: 1, LineID: 2}}}
		for i := 0; i < n; i++ {
			snap.States = append(snap.States, psa.LineState{Ref: psa.LineRef{ContractID: int64(50000 + i), LineID: int64(70000 + i)},
				ServiceID: 900, Quantity: int64(i % 97), UnitCost: 4.25, UnitPrice: 12,
				Later: []psa.LineRow{{Start: now.Add(72 * time.Hour), Quantity: int64(i % 89), UnitCost: 4.25, UnitPrice: 12}}})
		}
		if b, _ := json.Marshal(snap.States); n == 8000 && len(b) < 800_000 {
			t.Fatalf("the large snapshot is %d bytes, want more than two items' worth", len(b))
		}
		if err := s.PutLineSnapshot(ctx, "t1", "run-1", snap); err != nil {
			t.Fatalf("%d lines: %v", n, err)
		}
		got, found, err := s.LineSnapshot(ctx, "t1", "run-1")
		if err != nil || !found {
			t.Fatalf("%d lines: found=%v err=%v", n, found, err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(snap)
		if string(g) != string(w) {
			t.Fatalf("%d lines: read back %d states, %.200s…; want %d, %.200s…", n, len(got.States), g, len(snap.States), w)
		}
	}
}
