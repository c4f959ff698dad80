package halopsa

import (
	"testing"
)

// BenchmarkReadLines reads the state of 1,000 lines spread over 100
// recurring invoices (104 in the instance). Halo lists recurring invoices
// with their lines, 100 a page, and the client stops paging once every
// invoice is found: here the 100 fill page 1, one request, 0.001 per line
// (the floor; at most ⌈104/100⌉ = 2 were they spread over both pages),
// whatever the lines per invoice.
func BenchmarkReadLines(b *testing.B) {
	seed := baseSeed()
	refs := linesSeed(&seed, 100, 10)
	e := MustEnv(b, seed, nil)
	if err := e.client.Verify(ctx); err != nil { // the token is not part of a read
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
	b.ReportMetric(float64(e.sb.Total("halopsa"))/float64(b.N)/float64(len(refs)), "psa-req/line")
}
