// Package clock is psabridge's one source of the current time.
//
// In a deployed function Now is time.Now. A test binary — or a binary built
// with the build tag testclock, as the Lambda Runtime API smoke test builds
// the functions — may move the clock with the environment variable
// PSABRIDGE_TEST_NOW set to an RFC 3339 instant: the clock then reads that
// instant when the process starts and runs on from there at the normal rate.
// That lets the date-sensitive suites run at a month's last evening, on
// Feb 29 or across a DST change on any calendar day (make test does).
package clock

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// EnvTestNow names the variable that sets a test process's clock.
const EnvTestNow = "PSABRIDGE_TEST_NOW"

// offset is how far the process's clock is moved from the system clock:
// zero unless a test asked for another instant.
var offset = mustOffset(os.Getenv(EnvTestNow), testing.Testing() || builtForTests)

// Now returns the current time: the system clock, moved by PSABRIDGE_TEST_NOW
// in tests. Code that needs "now" uses Now (or a clock injected from it),
// never time.Now, so that a pinned test clock reaches every layer.
func Now() time.Time { return time.Now().Add(offset) }

// Pinned reports whether the clock was moved by PSABRIDGE_TEST_NOW, and to
// which instant (the process's start).
func Pinned() (time.Time, bool) {
	if offset == 0 {
		return time.Time{}, false
	}
	return start.Add(offset), true
}

var start = time.Now()

// mustOffset parses the test instant; a malformed value stops a test
// process at once rather than letting it run on the real date unnoticed.
// Outside tests the variable is ignored.
func mustOffset(v string, allowed bool) time.Duration {
	if v == "" || !allowed {
		return 0
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(fmt.Sprintf("clock: %s=%q is not an RFC 3339 instant: %v", EnvTestNow, v, err))
	}
	return time.Until(t)
}
