package connectwise

import (
	"testing"
)

// BenchmarkReadLines reads the state of 1,000 lines spread over 100
// agreements. ConnectWise has no cross-agreement additions list, so the
// floor is one request per agreement: 100 requests, 0.1 per line.
func BenchmarkReadLines(b *testing.B) {
	seed := baseSeed()
	refs := linesSeed(&seed, 100, 10)
	e := MustEnv(b, seed, nil)
	if err := e.client.Verify(ctx); err != nil { // discovery is not part of a read
		b.Fatal(err)
	}
	e.sb.ResetCounts()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := e.client.ReadLines(ctx, refs, testNow)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(refs) {
			b.Fatalf("got %d lines, want %d", len(got), len(refs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(e.sb.Total("connectwise"))/float64(b.N)/float64(len(refs)), "psa-req/line")
}
