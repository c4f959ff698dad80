package psatest

import (
	"context"
	"net/http"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// SandboxOptions are a client's Options for tests against a sandbox on
// loopback: hc (nil: a client that may reach loopback over plain http, with
// a 5 s timeout), a clock fixed at now, and a retry loop of up to 4
// attempts that does not sleep but appends each wait to *slept (not safe
// for concurrent retries).
func SandboxOptions(hc *http.Client, now time.Time, slept *[]time.Duration) psahttp.Options {
	if hc == nil {
		hc = psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 5*time.Second)
	}
	return psahttp.Options{
		HTTPClient: hc,
		Now:        func() time.Time { return now },
		Retry: psahttp.Retrier{MaxAttempts: 4, Sleep: func(_ context.Context, d time.Duration) error {
			*slept = append(*slept, d)
			return nil
		}},
	}
}
