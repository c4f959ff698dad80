// Package psatest holds what the PSA clients' tests and benchmarks share:
// a RoundTripper that records every exchange and one that sends a vendor
// host's requests to a local server, client options for a sandbox, the
// lookup of the vendors' API definitions in ../shared/specs beside the
// repository, and the timed read of BenchmarkReadLines.
package psatest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Exchange is one recorded request and its answer.
type Exchange struct {
	Method     string
	URL        *url.URL
	ReqHeader  http.Header
	ReqBody    []byte
	Status     int
	RespHeader http.Header
	RespBody   []byte
}

// Recorder is an http.RoundTripper that keeps every exchange passing through
// it to Next. Safe for concurrent use.
type Recorder struct {
	Next http.RoundTripper
	mu   sync.Mutex
	log  []Exchange
}

// RoundTrip sends req through Next and records both sides.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := Exchange{Method: req.Method, URL: req.URL, ReqHeader: req.Header.Clone()}
	if req.Body != nil {
		x.ReqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(x.ReqBody))
	}
	resp, err := r.Next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x.Status, x.RespHeader = resp.StatusCode, resp.Header.Clone()
	x.RespBody, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(x.RespBody))
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, nil
}

// Log returns the exchanges recorded so far, in order.
func (r *Recorder) Log() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.log...)
}

// MustSpecDir finds the shared/specs folder that holds file by walking up
// from the working directory (the repository is checked out with ../shared
// beside it; the definitions are never copied in).
func MustSpecDir(tb testing.TB, file string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "specs")
		if _, err := os.Stat(filepath.Join(cand, file)); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("shared/specs/%s not found above the working directory (clone the repo with ../shared beside it)", file)
		}
		dir = parent
	}
}
