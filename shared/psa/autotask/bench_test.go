package autotask

import (
	"context"
	"testing"
	"time"
)

// BenchmarkReadLines reads the state of 1,000 lines spread over 100
// contracts and reports the PSA requests it costs per line. Every line has
// a unit row in the period, so the read is ⌈1000/500⌉ = 2
// ContractServiceUnits queries = 0.002 per line (ContractServices is asked
// only for lines without a unit row).
func BenchmarkReadLines(b *testing.B) {
	seed, refs := lineSeed(baseSeed(), 100, 1000)
	f := MustFixture(b, seed, 10*time.Second)
	ctx := context.Background()
	// The zone lookup happens once per client, not per read.
	if _, err := f.client.ReadLines(ctx, refs, testNow); err != nil {
		b.Fatal(err)
	}
	f.sb.ResetCounts()
	b.ResetTimer()
	for range b.N {
		states, err := f.client.ReadLines(ctx, refs, testNow)
		if err != nil {
			b.Fatal(err)
		}
		if len(states) != len(refs) {
			b.Fatalf("got %d states, want %d", len(states), len(refs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(f.sb.Total("autotask"))/float64(b.N)/float64(len(refs)), "psa-req/line")
}
