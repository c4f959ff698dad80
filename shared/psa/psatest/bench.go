package psatest

import (
	"context"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
)

// Counter counts the requests a PSA served, by route prefix (the sandbox's
// *sandbox.Server).
type Counter interface {
	ResetCounts()
	Total(prefix string) int
}

// BenchReadLines times c.ReadLines(refs, at) against a sandbox and reports
// the requests served per line as "psa-req/line". One untimed read comes
// first, so what a client does once (base or zone discovery, a token) is
// not counted; every read must answer a state for each ref.
func BenchReadLines(b *testing.B, c psa.Client, served Counter, refs []psa.LineRef, at time.Time) {
	b.Helper()
	ctx := context.Background()
	if _, err := c.ReadLines(ctx, refs, at); err != nil {
		b.Fatal(err)
	}
	served.ResetCounts()
	b.ResetTimer()
	for range b.N {
		got, err := c.ReadLines(ctx, refs, at)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(refs) {
			b.Fatalf("got %d line states, want %d", len(got), len(refs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(served.Total(string(c.Provider())))/float64(b.N)/float64(len(refs)), "psa-req/line")
}
