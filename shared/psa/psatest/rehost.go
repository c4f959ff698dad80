package psatest

import (
	"net/http"
	"net/url"
	"sync"
)

// RoundTripFunc is an http.RoundTripper made of a function.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Rehoster is an http.RoundTripper that sends every request to Target (a
// test server's URL, such as httptest.Server.URL) whatever host it names,
// over http.DefaultTransport, and keeps the hosts named: a client's real
// vendor hosts can be tested against a local server. Safe for concurrent
// use.
type Rehoster struct {
	Target string
	mu     sync.Mutex
	hosts  []string
}

// RoundTrip records req's host and sends a copy of req to Target.
func (h *Rehoster) RoundTrip(req *http.Request) (*http.Response, error) {
	target, err := url.Parse(h.Target)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.hosts = append(h.hosts, req.URL.Host)
	h.mu.Unlock()
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
	return http.DefaultTransport.RoundTrip(req)
}

// Hosts returns the hosts the requests named so far, in order.
func (h *Rehoster) Hosts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}
