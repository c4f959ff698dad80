// Package budget keeps each tenant's hourly PSA request budget on the PSA
// clients it limits: a Dialer wraps every client's transport so each request
// is counted against the tenant's budget before it is sent, across all
// concurrent workers and API instances (the counters live in DynamoDB).
// Autotask caps requests per database and hour, shared with the tenant's
// other integrations; psabridge stays within its own share.
package budget

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

// Store holds the tenants' hourly PSA request counters (implemented by
// *dynamo.Store). Reservations never let an hour's total pass the limit,
// whatever the number of concurrent workers.
type Store interface {
	ReserveBudget(ctx context.Context, tenant string, hour time.Time, n, limit int) (int, error)
	ReleaseBudget(ctx context.Context, tenant string, hour time.Time, n int) error
}

// DefaultBlock is how many requests a worker reserves at once, so the
// budget costs one DynamoDB request per block instead of one per PSA request.
const DefaultBlock = 20

// Limits returns a tenant's requests per hour (its billing settings'
// budgetPerHour); ≤ 0 means billing.DefaultBudgetPerHour.
type Limits func(ctx context.Context, tenant string) (int, error)

// errBudgetSpent is returned by the transport when the hour's budget is spent.
var errBudgetSpent = apperr.New(apperr.Transient, "the tenant's PSA request budget for this hour is spent")

// SettingsLimits reads a tenant's limit from its billing settings
// (budgetPerHour) in store (*dynamo.Store).
func SettingsLimits(store interface {
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
}) Limits {
	return func(ctx context.Context, tenant string) (int, error) {
		set, err := store.BillingSettings(ctx, tenant)
		return set.BudgetPerHour, err
	}
}

// Budget enforces each tenant's hourly PSA request budget on every request
// the tenant's PSA client sends (see Dialer). The tenant's limit is read
// (Limits) at every reservation, so a changed budgetPerHour applies from the
// next block, however long a client stays cached. Safe for concurrent use.
type Budget struct {
	Store Store
	// Limits reads a tenant's limit; nil means
	// billing.DefaultBudgetPerHour for everyone.
	Limits Limits
	// Block is the reservation size (default DefaultBlock).
	Block int
	Now   func() time.Time
	// Metrics receives PSARequests (by PSA and status) on Flush.
	Metrics *metrics.Emitter

	mu      sync.Mutex
	tenants map[string]*tenantBudget
}

type tenantBudget struct {
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
		t = &tenantBudget{requests: map[[2]string]int{}}
		b.tenants[name] = t
	}
	if hour := b.now().UTC().Truncate(time.Hour); !hour.Equal(t.hour) {
		// A new hour: what was reserved in the old one is of no use.
		t.hour, t.left, t.exhausted = hour, 0, false
	}
	return t
}

// Exhausted reports whether the tenant's budget for this hour is known to be
// spent, so callers stop before sending.
func (b *Budget) Exhausted(tenant string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tenant(tenant).exhausted
}

// limit reads the tenant's requests per hour.
func (b *Budget) limit(ctx context.Context, tenant string) (int, error) {
	if b.Limits == nil {
		return billing.DefaultBudgetPerHour, nil
	}
	n, err := b.Limits(ctx, tenant)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		n = billing.DefaultBudgetPerHour
	}
	return n, nil
}

// take spends one request, reserving a new block (with the tenant's limit as
// read now) when the local one is used up. errBudgetSpent when none is left
// this hour; Transient when DynamoDB fails.
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
		block = DefaultBlock
	}
	limit, err := b.limit(ctx, tenant)
	if err != nil {
		return err
	}
	got, err := b.Store.ReserveBudget(ctx, tenant, t.hour, min(block, limit), limit)
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
// request counts since the last Flush. Call it when a batch is done. It
// also forgets that the budget was found spent: the next batch's first
// request asks again, under the limit as read then, so a raised budget
// takes effect at the next request instead of the next hour.
func (b *Budget) Flush(ctx context.Context, tenant string) error {
	b.mu.Lock()
	t := b.tenant(tenant)
	left, hour := t.left, t.hour
	t.left, t.exhausted = 0, false
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
