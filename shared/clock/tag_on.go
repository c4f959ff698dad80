//go:build testclock

package clock

// builtForTests is true in binaries built with -tags testclock (the Lambda
// Runtime API smoke test's builds), so PSABRIDGE_TEST_NOW reaches them.
const builtForTests = true
