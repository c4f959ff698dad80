package psatest

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// SandboxOptions are a client's Options for tests against a sandbox on
// loopback: hc (nil: a client that may reach loopback over plain http, with
// a 5 s timeout), a clock fixed at now, and a retry loop of up to 4
// attempts that does not sleep but appends each wait to *slept. Retries may
// run concurrently (ReadLines fans out): the appends are serialised, and
// *slept is read once the client's calls have returned.
func SandboxOptions(hc *http.Client, now time.Time, slept *[]time.Duration) psahttp.Options {
	if hc == nil {
		hc = psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 5*time.Second)
	}
	var mu sync.Mutex // guards *slept
	return psahttp.Options{
		HTTPClient: hc,
		Now:        func() time.Time { return now },
		Retry: psahttp.Retrier{MaxAttempts: 4, Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			*slept = append(*slept, d)
			return nil
		}},
	}
}
