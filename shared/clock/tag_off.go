//go:build !testclock

package clock

// builtForTests is false in the binaries that are deployed: they ignore
// PSABRIDGE_TEST_NOW.
const builtForTests = false
