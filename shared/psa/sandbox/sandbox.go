// Package sandbox serves in-memory PSAs that speak Autotask's,
// ConnectWise's and HaloPSA's HTTP dialects, for tests, `make run` and
// benchmarks.
//
// One Server hosts every dialect and any number of PSA instances (one per
// psabridge tenant): Autotask instances are keyed by API username,
// ConnectWise instances by company id, HaloPSA instances by the client_id
// of their API application. Paths:
//
//	/autotask/atservicesrest/v1.0/zoneInformation?user=…   zone lookup
//	/autotask/{zone}/v1.0/…                                Autotask REST
//	/connectwise/login/companyinfo/{company}               ConnectWise login
//	/connectwise/v4_6_release/apis/3.0/…                   ConnectWise REST
//	/halopsa/auth/token                                    HaloPSA OAuth token
//	/halopsa/api/…                                         HaloPSA API v2
//
// The sandboxes enforce the vendor rules that bite in production (see
// PSA-API-NOTES.md), count requests per route, keep write logs, and inject
// faults on demand, deterministically for a seed.
package sandbox

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

// Server is the sandbox HTTP handler. Create it with New.
type Server struct {
	// Autotask holds the Autotask instances; ConnectWise the ConnectWise ones.
	Autotask    *Autotask
	ConnectWise *ConnectWise
	HaloPSA     *HaloPSA
	// Now is the sandbox's calendar (default clock.Now): seeded contracts
	// without dates run from January 1 of the year before Now to December
	// 31 of the year after it. A test that pins its own clock sets Now to
	// it before seeding.
	Now func() time.Time

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	counts map[string]int
	lost   int
}

// New returns an empty sandbox.
func New() *Server {
	s := &Server{counts: map[string]int{}, rng: rand.New(rand.NewPCG(1, 1))}
	s.Autotask = newAutotask(s)
	s.ConnectWise = newConnectWise(s)
	s.HaloPSA = newHaloPSA(s)
	return s
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

// defaultContractDates is the date range of a seeded contract without
// dates: the years around the sandbox's now, so a seed never expires.
func (s *Server) defaultContractDates() (start, end time.Time) {
	y := s.now().Year()
	return time.Date(y-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, 12, 31, 0, 0, 0, 0, time.UTC)
}

// Seed is the JSON form of a sandbox's initial state.
type Seed struct {
	Autotask    []AutotaskSeed    `json:"autotask,omitempty"`
	ConnectWise []ConnectWiseSeed `json:"connectwise,omitempty"`
	HaloPSA     []HaloPSASeed     `json:"halopsa,omitempty"`
}

// Load adds the instances of a seed.
func (s *Server) Load(seed Seed) {
	for _, a := range seed.Autotask {
		s.Autotask.AddInstance(a)
	}
	for _, c := range seed.ConnectWise {
		s.ConnectWise.AddInstance(c)
	}
	for _, h := range seed.HaloPSA {
		s.HaloPSA.AddInstance(h)
	}
}

// LoadFile adds the instances of a JSON seed file.
func (s *Server) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var seed Seed
	if err := json.Unmarshal(b, &seed); err != nil {
		return err
	}
	s.Load(seed)
	return nil
}

// Faults are injected failures. Rates are probabilities in [0,1], drawn per
// request from a generator seeded with Seed, so a run is repeatable.
type Faults struct {
	Seed uint64
	// Rate500 answers HTTP 500 with a transient-looking error before acting.
	Rate500 float64
	// Rate429 answers 429 with Retry-After: RetryAfter before acting.
	Rate429    float64
	RetryAfter time.Duration
	// RateThreadLimit answers the dialect's thread-threshold error (Autotask).
	RateThreadLimit float64
	// RateSlow acts on the request, then waits SlowDelay before answering,
	// so a client with a shorter timeout sees a failure for a write that
	// did happen.
	RateSlow  float64
	SlowDelay time.Duration
	// RateLost acts on a write (a request that changes the PSA), then drops
	// the answer: the connection is cut without a response, as when a
	// proxy or the network fails after the PSA committed. The client sees
	// a transport error for a write that happened, at once, with no timer
	// involved. Reads drawn for it are answered normally.
	RateLost float64
	// CapUntil, when set, is the end of an hourly request cap the
	// database has reached: until the server's clock (Server.Now) reads
	// CapUntil, every request is answered 429 with Retry-After: the seconds
	// left (Autotask's 10,000 requests an hour).
	CapUntil time.Time
}

// SetFaults replaces the injected faults (zero value: none).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// fault is the failure drawn for one request.
type fault int

const (
	faultNone fault = iota
	fault500
	fault429
	faultThread
	faultSlow
	faultLost
)

// draw picks the fault for one request.
func (s *Server) draw() (fault, Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if !f.CapUntil.IsZero() {
		if left := f.CapUntil.Sub(s.now()); left > 0 {
			f.RetryAfter = left.Round(time.Second)
			if f.RetryAfter < left {
				f.RetryAfter += time.Second
			}
			return fault429, f
		}
	}
	if f.Rate500+f.Rate429+f.RateThreadLimit+f.RateSlow+f.RateLost == 0 {
		return faultNone, f
	}
	x := s.rng.Float64()
	for _, c := range []struct {
		rate float64
		kind fault
	}{{f.Rate500, fault500}, {f.Rate429, fault429}, {f.RateThreadLimit, faultThread}, {f.RateSlow, faultSlow}, {f.RateLost, faultLost}} {
		if x < c.rate {
			return c.kind, f
		}
		x -= c.rate
	}
	return faultNone, f
}

// count records one request under a route name such as "autotask GET Companies/query".
func (s *Server) count(route string) {
	s.mu.Lock()
	s.counts[route]++
	s.mu.Unlock()
}

// Counts returns a copy of the request counts per route.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of requests whose route starts with prefix
// ("" for all, "autotask", "connectwise", "halopsa").
func (s *Server) Total(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return TotalOf(s.counts, prefix)
}

// TotalOf sums the request counts by route whose route starts with prefix
// (the one sum of Server.Total and of a remote sandbox's client-side
// counts).
func TotalOf(counts map[string]int, prefix string) int {
	n := 0
	for k, v := range counts {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// ResetCounts zeroes the request counts.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.counts = map[string]int{}
	s.mu.Unlock()
}

// ServeHTTP routes to the dialects.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/autotask/"):
		s.Autotask.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/connectwise/"):
		s.ConnectWise.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/halopsa/"):
		s.HaloPSA.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// writeJSON writes v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// dropAnswer cuts the connection of a request the sandbox acted on without
// answering it (the lost fault): net/http aborts the response on
// http.ErrAbortHandler and closes the connection.
func (s *Server) dropAnswer() {
	s.mu.Lock()
	s.lost++
	s.mu.Unlock()
	panic(http.ErrAbortHandler)
}

// settle applies the faults that strike after the sandbox acted on a
// request: slow waits SlowDelay (or until the client gives up) before the
// answer; lost drops the answer of a write (a request that changed the
// PSA), so the client sees a transport error for a write that happened.
// Every dialect calls it between acting and answering.
func (s *Server) settle(r *http.Request, kind fault, f Faults, write bool) {
	switch {
	case kind == faultLost && write:
		s.dropAnswer()
	case kind == faultSlow:
		t := time.NewTimer(f.SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
}

// gauge counts a dialect's concurrent requests per key (an Autotask
// tracking identifier and endpoint, a HaloPSA application) and keeps the
// highest count seen. The zero value is ready.
type gauge struct {
	mu   sync.Mutex
	cur  map[string]int
	peak map[string]int
}

// enter counts a request in and returns how many are in flight on key,
// this one included; leave counts it out.
func (g *gauge) enter(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		g.cur, g.peak = map[string]int{}, map[string]int{}
	}
	g.cur[key]++
	g.peak[key] = max(g.peak[key], g.cur[key])
	return g.cur[key]
}

func (g *gauge) leave(key string) {
	g.mu.Lock()
	g.cur[key]--
	g.mu.Unlock()
}

// max returns the highest count seen on any key.
func (g *gauge) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := 0
	for _, v := range g.peak {
		m = max(m, v)
	}
	return m
}

// LostAnswers returns how many writes the lost fault acted on without
// answering, so a test can show its fault model was exercised.
func (s *Server) LostAnswers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// retryAfterSeconds renders a Retry-After value.
func retryAfterSeconds(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
