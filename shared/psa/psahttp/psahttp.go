// Package psahttp is the HTTP layer shared by the PSA clients: a client that
// refuses to dial private networks unless told otherwise, and one retry loop
// for transient failures that honours Retry-After.
package psahttp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/deadline"
)

// Policy says which destinations a PSA client may reach.
type Policy struct {
	// AllowPrivate permits loopback addresses and plain http. Only for local
	// runs and tests (sandboxes on 127.0.0.1). Private, link-local (cloud
	// metadata) and unspecified addresses stay refused even then.
	AllowPrivate bool
}

// ErrDestinationRefused is wrapped by dial errors for refused addresses.
var ErrDestinationRefused = errors.New("psahttp: destination address refused")

// refusedPrefixes are the special-purpose ranges no PSA lives in (IANA's
// IPv4 and IPv6 special-purpose address registries): private and shared
// networks, link-local (the cloud metadata address), documentation and
// benchmarking ranges, reserved space, multicast and broadcast, and every
// IPv6 form that embeds or tunnels to an IPv4 address (IPv4-compatible,
// NAT64, 6to4, Teredo), since a gateway would carry the request on to the
// IPv4 address inside. Loopback is decided separately (AllowPrivate).
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
	netip.MustParsePrefix("::/96"),           // IPv4-compatible ::a.b.c.d, unspecified
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing SIDs
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

// checkAddr decides on the resolved IP the dialer is about to connect to, so a
// DNS name that resolves to a special-purpose address is refused too.
func (p Policy) checkAddr(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP", ErrDestinationRefused, host)
	}
	ip = ip.Unmap().WithZone("")
	if ip.IsLoopback() {
		if p.AllowPrivate {
			return nil
		}
		return fmt.Errorf("%w: loopback %s", ErrDestinationRefused, ip)
	}
	for _, pre := range refusedPrefixes {
		if pre.Contains(ip) {
			return fmt.Errorf("%w: %s is in the special-purpose range %s", ErrDestinationRefused, ip, pre)
		}
	}
	return nil
}

// NewHTTPClient returns an *http.Client whose dialer enforces p on every
// resolved address and whose requests refuse plain http unless p allows it.
// Timeout bounds one request (default 30 s).
func NewHTTPClient(p Policy, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error { return p.checkAddr(address) },
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would dial for us and bypass the check
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Timeout:   timeout,
		Transport: schemeGuard{p: p, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("psahttp: too many redirects")
			}
			return nil
		},
	}
}

// schemeGuard refuses plain http unless the policy allows it.
type schemeGuard struct {
	p    Policy
	next http.RoundTripper
}

func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.p.AllowPrivate {
		return nil, fmt.Errorf("%w: scheme %q (https required)", ErrDestinationRefused, req.URL.Scheme)
	}
	return g.next.RoundTrip(req)
}

// Retrier runs a PSA request until it succeeds, fails for good, or runs out of
// attempts.
type Retrier struct {
	// MaxAttempts per call, default 4.
	MaxAttempts int
	// BaseDelay of the exponential backoff with full jitter, default 200 ms.
	BaseDelay time.Duration
	// MaxDelay caps one wait, default 30 s. A Retry-After longer than it
	// is not waited for: Do returns the error (with its RetryAfter).
	MaxDelay time.Duration
	// Sleep waits; tests replace it. Default: deadline.Sleep, which
	// returns at once when ctx's deadline comes first.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Attempt is one try's outcome as the vendor client classifies it.
type Attempt struct {
	// Err is nil on success, else an *apperr.Error.
	Err error
	// Unprocessed is true when the PSA certainly did not act on the request
	// (HTTP 429, thread limit, connection refused): even a non-idempotent
	// request may then be sent again.
	Unprocessed bool
}

// Do calls try until it succeeds or returns a non-transient error. A
// transient failure is retried only if idempotent is true or the attempt says
// the PSA did not process it, so an Autotask adjustment is never posted twice
// after a timeout. It never waits past ctx's deadline: when the pause before
// the next try (a Retry-After included) would end after it, Do stops at once.
// The last error is returned as it came (codes and Retry-After preserved, so
// the caller can defer the work instead).
func (r Retrier) Do(ctx context.Context, idempotent bool, try func(ctx context.Context) Attempt) error {
	max := r.MaxAttempts
	if max <= 0 {
		max = 4
	}
	var last error
	for attempt := 1; ; attempt++ {
		a := try(ctx)
		if a.Err == nil {
			return nil
		}
		last = a.Err
		if !apperr.IsTransient(a.Err) || (!idempotent && !a.Unprocessed) || attempt >= max {
			return last
		}
		if apperr.RetryAfterOf(a.Err) > r.maxDelay() {
			// The PSA asked for a longer wait than one call may sit out
			// (an hourly cap): the caller defers instead (its RetryAfter).
			return last
		}
		if err := r.sleep(ctx, r.delay(attempt, apperr.RetryAfterOf(a.Err))); err != nil {
			return last
		}
	}
}

func (r Retrier) maxDelay() time.Duration {
	if r.MaxDelay <= 0 {
		return 30 * time.Second
	}
	return r.MaxDelay
}

func (r Retrier) delay(attempt int, retryAfter time.Duration) time.Duration {
	base, maxd := r.BaseDelay, r.maxDelay()
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if retryAfter > 0 {
		return min(retryAfter, maxd)
	}
	d := base << (attempt - 1)
	if d > maxd || d <= 0 {
		d = maxd
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (r Retrier) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return deadline.Sleep(ctx, d)
}

// RetryAfter parses a Retry-After header (seconds or HTTP date); zero when
// absent or unparseable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// TransportError classifies an error from http.Client.Do: a refused
// destination is Invalid (retrying will not help), anything else Transient.
// Unprocessed is true when the connection was never made.
func TransportError(err error) Attempt {
	if errors.Is(err, ErrDestinationRefused) {
		where := "the PSA address"
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				where = u.Scheme + "://" + u.Host
			}
		}
		return Attempt{Err: apperr.Wrap(err, apperr.Invalid,
			"%s is not allowed: psabridge calls a PSA only over https on a public address (loopback and http only where the deployment allows custom endpoints, as make run does)", where)}
	}
	var opErr *net.OpError
	unprocessed := errors.As(err, &opErr) && opErr.Op == "dial"
	return Attempt{Err: apperr.Wrap(err, apperr.Transient, "the PSA could not be reached"), Unprocessed: unprocessed}
}
