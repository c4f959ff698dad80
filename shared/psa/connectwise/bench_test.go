package connectwise

import (
	"testing"

	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// BenchmarkReadLines reads the state of 1,000 lines spread over 100
// agreements. ConnectWise has no cross-agreement additions list, so the
// floor is one request per agreement: 100 requests, 0.1 per line.
func BenchmarkReadLines(b *testing.B) {
	seed := baseSeed()
	refs := linesSeed(&seed, 100, 10)
	e := MustEnv(b, seed, nil)
	psatest.BenchReadLines(b, e.client, e.sb, refs, testNow)
}
