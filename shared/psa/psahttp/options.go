package psahttp

import (
	"net/http"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

// Options are the HTTP settings every PSA client takes: each vendor's
// Config embeds them.
type Options struct {
	// HTTPClient sends the requests; default NewHTTPClient with the strict
	// Policy (no loopback, private addresses or plain http) and a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock, default clock.Now.
	Now func() time.Time
	// Retry is the retry loop for transient failures; its zero value uses
	// the defaults (see Retrier). Tests replace Sleep.
	Retry Retrier
}

// WithDefaults returns o with a nil HTTPClient or Now replaced by its
// default; what is set is kept as it is.
func (o Options) WithDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient(Policy{}, 0)
	}
	if o.Now == nil {
		o.Now = clock.Now
	}
	return o
}
