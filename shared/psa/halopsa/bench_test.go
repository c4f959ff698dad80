package halopsa

import (
	"testing"

	"github.com/psabridge/psabridge/shared/psa/psatest"
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
	psatest.BenchReadLines(b, e.client, e.sb, refs, testNow)
}
