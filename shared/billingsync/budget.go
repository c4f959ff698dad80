package billingsync

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// BudgetStore holds the tenants' hourly PSA request counters (implemented by
// *dynamo.Store). Reservations never let an hour's total pass the limit,
// whatever the number of concurrent workers.
type BudgetStore interface {
	ReserveBudget(ctx context.Context, tenant string, hour time.Time, n, limit int) (int, error)
	ReleaseBudget(ctx context.Context, tenant string, hour time.Time, n int) error
}

// DefaultBudgetBlock is how many requests a worker reserves at once, so the
// budget costs one DynamoDB request per block instead of one per PSA request.
const DefaultBudgetBlock = 20

// errBudgetSpent is returned by the transport when the hour's budget is spent.
var errBudgetSpent = apperr.New(apperr.Transient, "the tenant's PSA request budget for this hour is spent")

// Budget enforces each tenant's hourly PSA request budget on every request
// the tenant's PSA client sends (see Dialer). Safe for concurrent use.
type Budget struct {
	Store BudgetStore
	// Block is the reservation size (default DefaultBudgetBlock).
	Block int
	Now   func() time.Time
	// Metrics receives PSARequests (by PSA and status) on Flush.
	Metrics *metrics.Emitter

	mu      sync.Mutex
	tenants map[string]*tenantBudget
}

type tenantBudget struct {
	limit     int
	hour      time.Time
	left      int
	exhausted bool
	requests  map[[2]string]int // (psa, status) → count since the last Flush
}

func (b *Budget) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return clock.Now()
}

// tenant returns the tenant's state for the current hour; b.mu is held.
func (b *Budget) tenant(name string) *tenantBudget {
	if b.tenants == nil {
		b.tenants = map[string]*tenantBudget{}
	}
	t := b.tenants[name]
	if t == nil {
		t = &tenantBudget{limit: billing.DefaultBudgetPerHour, requests: map[[2]string]int{}}
		b.tenants[name] = t
	}
	if hour := b.now().UTC().Truncate(time.Hour); !hour.Equal(t.hour) {
		// A new hour: what was reserved in the old one is of no use.
		t.hour, t.left, t.exhausted = hour, 0, false
	}
	return t
}

// SetLimit sets a tenant's requests per hour (from its billing settings).
func (b *Budget) SetLimit(tenant string, perHour int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if perHour > 0 {
		b.tenant(tenant).limit = perHour
	}
}

// Exhausted reports whether the tenant's budget for this hour is known to be
// spent, so callers stop before sending.
func (b *Budget) Exhausted(tenant string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tenant(tenant).exhausted
}

// take spends one request, reserving a new block when the local one is used
// up. errBudgetSpent when none is left this hour; Transient when DynamoDB
// fails.
func (b *Budget) take(ctx context.Context, tenant string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tenant(tenant)
	if t.left > 0 {
		t.left--
		return nil
	}
	if t.exhausted {
		return errBudgetSpent
	}
	block := b.Block
	if block <= 0 {
		block = DefaultBudgetBlock
	}
	got, err := b.Store.ReserveBudget(ctx, tenant, t.hour, min(block, t.limit), t.limit)
	if err != nil {
		return err
	}
	if got == 0 {
		t.exhausted = true
		return errBudgetSpent
	}
	t.left = got - 1
	return nil
}

// Flush gives back the tenant's unspent reservation and emits the PSA
// request counts since the last Flush. Call it when a batch is done.
func (b *Budget) Flush(ctx context.Context, tenant string) error {
	b.mu.Lock()
	t := b.tenant(tenant)
	left, hour := t.left, t.hour
	t.left = 0
	reqs := t.requests
	t.requests = map[[2]string]int{}
	b.mu.Unlock()
	if b.Metrics != nil {
		for k, n := range reqs {
			b.Metrics.Count(metrics.PSARequests, float64(n), map[string]string{"PSA": k[0], "Status": k[1]})
		}
	}
	if left > 0 {
		return b.Store.ReleaseBudget(ctx, tenant, hour, left)
	}
	return nil
}

func (b *Budget) record(tenant, provider, status string) {
	b.mu.Lock()
	b.tenant(tenant).requests[[2]string{provider, status}]++
	b.mu.Unlock()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Transport wraps next so every request of the tenant's PSA client is
// counted against the budget before it is sent. When the budget is spent the
// request fails as a dial error: the PSA clients then know it was never sent.
func (b *Budget) Transport(tenant string, provider psa.Provider, next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if err := b.take(r.Context(), tenant); err != nil {
			b.record(tenant, string(provider), "budget")
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
		resp, err := next.RoundTrip(r)
		status := "error"
		if err == nil {
			status = strconv.Itoa(resp.StatusCode)
		}
		b.record(tenant, string(provider), status)
		return resp, err
	})
}

// Dialer returns an integration.Dialer that builds clients with connect.New
// whose every request passes through the tenant's budget.
func (b *Budget) Dialer(opts connect.Options) integration.Dialer {
	return func(tenant string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
		var hc http.Client
		if opts.HTTPClient != nil {
			hc = *opts.HTTPClient
		} else {
			hc = *psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: opts.AllowPrivate}, opts.Timeout)
		}
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		hc.Transport = b.Transport(tenant, creds.Provider, next)
		o := opts
		o.HTTPClient = &hc
		return connect.New(creds, ep, o)
	}
}
