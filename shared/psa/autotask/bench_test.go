package autotask

import (
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// BenchmarkReadLines reads the state of 1,000 lines spread over 100
// contracts and reports the PSA requests it costs per line. Every line has
// a unit row in the period, so the read is ⌈1000/500⌉ = 2
// ContractServiceUnits queries = 0.002 per line (ContractServices is asked
// only for lines without a unit row).
func BenchmarkReadLines(b *testing.B) {
	seed, refs := lineSeed(baseSeed(), 100, 1000)
	f := MustFixture(b, seed, 10*time.Second)
	psatest.BenchReadLines(b, f.client, f.sb, refs, testNow)
}
