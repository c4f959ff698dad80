// Package sandboxtest gives tests one view of the PSA sandbox whether it
// runs in the test's process (InProcess) or in a process of its own
// (Start: cmd/sandboxd), which a benchmark of its own process's CPU needs:
// the sandbox's share then stays out of the figure.
package sandboxtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psatest"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// Sandbox is what a test steers and reads of the PSA sandbox.
type Sandbox interface {
	// Load adds (or replaces) the seed's instances.
	Load(sandbox.Seed)
	// SetFaults replaces the injected faults.
	SetFaults(sandbox.Faults)
	// Total is the number of PSA requests since the last ResetCounts whose
	// route starts with prefix ("" all, "autotask", "connectwise").
	Total(prefix string) int
	// Counts are the requests since the last ResetCounts by route, as
	// sandbox.Server.Counts names them.
	Counts() map[string]int
	ResetCounts()
	// AutotaskUnits is sandbox.Autotask.Units.
	AutotaskUnits(user string, contractServiceID int64, at time.Time) (int64, bool)
	// AutotaskAdjustments is sandbox.Autotask.Adjustments.
	AutotaskAdjustments(user string) []sandbox.AutotaskAdjustment
	// ConnectWiseAddition is sandbox.ConnectWise.Addition.
	ConnectWiseAddition(company string, id int64) (sandbox.CWAddition, bool)
	// HaloPSALine is sandbox.HaloPSA.Line.
	HaloPSALine(client string, id int64) (sandbox.HaloInvoiceLine, bool)
}

// InProcess is a *sandbox.Server in the test's process as a Sandbox.
type InProcess struct{ *sandbox.Server }

var (
	_ Sandbox = InProcess{}
	_ Sandbox = (*Remote)(nil)
)

// AutotaskUnits implements Sandbox.
func (s InProcess) AutotaskUnits(user string, id int64, at time.Time) (int64, bool) {
	return s.Autotask.Units(user, id, at)
}

// AutotaskAdjustments implements Sandbox.
func (s InProcess) AutotaskAdjustments(user string) []sandbox.AutotaskAdjustment {
	return s.Autotask.Adjustments(user)
}

// ConnectWiseAddition implements Sandbox.
func (s InProcess) ConnectWiseAddition(company string, id int64) (sandbox.CWAddition, bool) {
	return s.ConnectWise.Addition(company, id)
}

// HaloPSALine implements Sandbox.
func (s InProcess) HaloPSALine(client string, id int64) (sandbox.HaloInvoiceLine, bool) {
	return s.HaloPSA.Line(client, id)
}

// Remote is a sandbox in another process (cmd/sandboxd) on a loopback
// port. Total is counted on this side, by Transport, so reading it costs no
// request (it is read per invocation, inside a measured run): only requests
// sent through Transport count, each under its dialect (the first element
// of its path). Counts asks the sandbox, by route.
type Remote struct {
	// URL is the sandbox's base URL (http://127.0.0.1:PORT).
	URL string
	tb  testing.TB
	now func() time.Time
	hc  *http.Client

	mu     sync.Mutex
	counts map[string]int
}

// Start builds cmd/sandboxd, runs it on a loopback port and stops it when
// the test ends. now is the test's clock: every request through Transport
// and every admin call carries it, so the sandbox's calendar is the test's.
func Start(tb testing.TB, now func() time.Time) *Remote {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "sandboxd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/psabridge/psabridge/shared/psa/sandbox/cmd/sandboxd").CombinedOutput(); err != nil {
		tb.Fatalf("building sandboxd: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting sandboxd: %v", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close() // sandboxd exits when its stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		tb.Fatalf("sandboxd did not start: %q %v\n%s", line, err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return &Remote{URL: base, tb: tb, now: now, hc: &http.Client{Timeout: time.Minute}, counts: map[string]int{}}
}

// Transport counts each request under its dialect and stamps it with the
// test's clock (sandbox.ClockHeader) before next sends it.
func (r *Remote) Transport(next http.RoundTripper) http.RoundTripper {
	return psatest.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		dialect, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		r.mu.Lock()
		r.counts[dialect]++
		r.mu.Unlock()
		req = req.Clone(req.Context())
		req.Header.Set(sandbox.ClockHeader, r.now().Format(time.RFC3339Nano))
		return next.RoundTrip(req)
	})
}

// Total implements Sandbox from the counts Transport keeps.
func (r *Remote) Total(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sandbox.TotalOf(r.counts, prefix)
}

// Counts implements Sandbox: the sandbox's own counts by route.
func (r *Remote) Counts() map[string]int {
	r.tb.Helper()
	var out map[string]int
	r.admin("GET", "/_sandbox/counts", nil, nil, &out)
	return out
}

// ResetCounts zeroes the counts Transport keeps and the sandbox's.
func (r *Remote) ResetCounts() {
	r.tb.Helper()
	r.mu.Lock()
	r.counts = map[string]int{}
	r.mu.Unlock()
	r.admin("POST", "/_sandbox/reset-counts", nil, nil, nil)
}

// Load sends the seed to the sandbox.
func (r *Remote) Load(seed sandbox.Seed) {
	r.tb.Helper()
	r.admin("POST", "/_sandbox/seed", nil, seed, nil)
}

// SetFaults sets the sandbox's injected faults.
func (r *Remote) SetFaults(f sandbox.Faults) {
	r.tb.Helper()
	r.admin("PUT", "/_sandbox/faults", nil, f, nil)
}

// AutotaskUnits implements Sandbox.
func (r *Remote) AutotaskUnits(user string, id int64, at time.Time) (int64, bool) {
	r.tb.Helper()
	var out struct {
		Units int64 `json:"units"`
		OK    bool  `json:"ok"`
	}
	r.admin("GET", "/_sandbox/autotask/units", url.Values{"user": {user}, "line": {strconv.FormatInt(id, 10)}, "at": {at.Format(time.RFC3339Nano)}}, nil, &out)
	return out.Units, out.OK
}

// AutotaskAdjustments implements Sandbox.
func (r *Remote) AutotaskAdjustments(user string) []sandbox.AutotaskAdjustment {
	r.tb.Helper()
	var out []sandbox.AutotaskAdjustment
	r.admin("GET", "/_sandbox/autotask/adjustments", url.Values{"user": {user}}, nil, &out)
	return out
}

// ConnectWiseAddition implements Sandbox.
func (r *Remote) ConnectWiseAddition(company string, id int64) (sandbox.CWAddition, bool) {
	r.tb.Helper()
	var out struct {
		Addition sandbox.CWAddition `json:"addition"`
		OK       bool               `json:"ok"`
	}
	r.admin("GET", "/_sandbox/connectwise/addition", url.Values{"company": {company}, "id": {strconv.FormatInt(id, 10)}}, nil, &out)
	return out.Addition, out.OK
}

// HaloPSALine implements Sandbox.
func (r *Remote) HaloPSALine(client string, id int64) (sandbox.HaloInvoiceLine, bool) {
	r.tb.Helper()
	var out struct {
		Line sandbox.HaloInvoiceLine `json:"line"`
		OK   bool                    `json:"ok"`
	}
	r.admin("GET", "/_sandbox/halopsa/line", url.Values{"client": {client}, "id": {strconv.FormatInt(id, 10)}}, nil, &out)
	return out.Line, out.OK
}

// admin makes one admin call with the test's clock, sending in and
// decoding the answer into out (when not nil); it fails the test on any
// error.
func (r *Remote) admin(method, path string, q url.Values, in, out any) {
	r.tb.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			r.tb.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	u := r.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		r.tb.Fatal(err)
	}
	req.Header.Set(sandbox.ClockHeader, r.now().Format(time.RFC3339Nano))
	res, err := r.hc.Do(req)
	if err != nil {
		r.tb.Fatalf("sandbox %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		r.tb.Fatalf("sandbox %s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			r.tb.Fatalf("sandbox %s %s: decoding the answer: %v", method, path, err)
		}
	}
}
