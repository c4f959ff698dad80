// Package connect builds the psa.Client for a tenant's credentials: it is
// the one place that knows which vendor package serves which provider, so
// everything above it stays PSA-agnostic.
package connect

import (
	"net/http"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/autotask"
	"github.com/psabridge/psabridge/shared/psa/connectwise"
	"github.com/psabridge/psabridge/shared/psa/halopsa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// Options are deployment settings shared by every PSA client.
type Options struct {
	// HTTPClient, when set, sends the requests as is (tests, custom
	// transports); AllowPrivate and Timeout are then ignored.
	HTTPClient *http.Client
	// AllowPrivate lets the client reach loopback addresses over plain
	// http, for local runs and tests against the sandboxes. Private and
	// link-local addresses (the cloud metadata address) stay refused.
	AllowPrivate bool
	// Timeout bounds one HTTP request (default 30 s).
	Timeout time.Duration
	// Now is the clock, default clock.Now.
	Now func() time.Time
}

// New returns the client for creds.Provider, pointed at ep (zero values:
// the vendors' real hosts). Invalid when the provider is unknown or a
// required credential is missing; it makes no request.
func New(creds psa.Credentials, ep psa.Endpoints, opts Options) (psa.Client, error) {
	ho := psahttp.Options{HTTPClient: opts.HTTPClient, Now: opts.Now}
	if ho.HTTPClient == nil {
		ho.HTTPClient = psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: opts.AllowPrivate}, opts.Timeout)
	}
	// Each branch returns a nil interface on error, never a typed nil.
	switch creds.Provider {
	case psa.Autotask:
		c, err := autotask.New(autotask.Config{Credentials: creds, Endpoints: ep, Options: ho})
		if err != nil {
			return nil, err
		}
		return c, nil
	case psa.ConnectWise:
		c, err := connectwise.New(connectwise.Config{Credentials: creds, Endpoints: ep, Options: ho})
		if err != nil {
			return nil, err
		}
		return c, nil
	case psa.HaloPSA:
		c, err := halopsa.New(halopsa.Config{Credentials: creds, Endpoints: ep, Options: ho})
		if err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, apperr.New(apperr.Invalid, "unknown PSA provider %q", creds.Provider)
	}
}
