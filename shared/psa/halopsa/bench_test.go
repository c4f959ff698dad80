package halopsa

import (
	"testing"
)

// BenchmarkReadLines reads the state of the lines of 1,000 clients, one
// recurring invoice with one line each, as a daily sync of 1,000 orgs
// reads them (1,004 invoices in the instance). Halo's recurring invoice
// list carries every header's lines (includelines=true) but takes no list
// of header ids, so the floor is one page of 100 invoices per 100:
// ⌈1,000/100⌉ = 10 requests, 0.01 per line (the token, once per client, is
// taken before the timed reads). The client stops paging once every
// invoice is found, so the base seed's 4 invoices on an 11th page cost
// nothing.
func BenchmarkReadLines(b *testing.B) {
	seed := baseSeed()
	refs := linesSeed(&seed, 1000, 1)
	e := MustEnv(b, seed, nil)
	if err := e.client.Verify(ctx); err != nil {
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
