package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

// ClockHeader carries the caller's clock on a request to a Remote handler:
// the sandbox's calendar (Server.Now) is the time of the latest request
// that carried it (RFC 3339 with nanoseconds), so a sandbox in another
// process follows a test's simulated clock.
const ClockHeader = "Sandbox-Now"

// Remote serves s to a test in another process (cmd/sandboxd): the PSA
// dialects as ServeHTTP does, plus what a test reads and steers in process,
// under /_sandbox/:
//
//	POST /_sandbox/seed                          a Seed (JSON) to Load
//	PUT  /_sandbox/faults                        the Faults (JSON) to set
//	GET  /_sandbox/counts                        Counts (by route)
//	POST /_sandbox/reset-counts                  ResetCounts
//	GET  /_sandbox/autotask/units?user=&line=&at=  Autotask.Units ({"units","ok"})
//	GET  /_sandbox/autotask/adjustments?user=     Autotask.Adjustments
//	GET  /_sandbox/connectwise/addition?company=&id=  ConnectWise.Addition ({"addition","ok"})
//	GET  /_sandbox/halopsa/line?client=&id=       HaloPSA.Line ({"line","ok"})
//
// Any request with a ClockHeader sets s's clock; before the first one s
// keeps its own Now. Remote replaces s.Now: call it before serving.
func (s *Server) Remote() http.Handler {
	var nanos atomic.Int64
	own := s.Now
	s.Now = func() time.Time {
		switch n := nanos.Load(); {
		case n != 0:
			return time.Unix(0, n).UTC()
		case own != nil:
			return own()
		default:
			return clock.Now()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sandbox/seed", func(w http.ResponseWriter, r *http.Request) {
		var seed Seed
		if !decodeAdmin(w, r, &seed) {
			return
		}
		s.Load(seed)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !decodeAdmin(w, r, &f) {
			return
		}
		s.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counts())
	})
	mux.HandleFunc("POST /_sandbox/reset-counts", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/autotask/units", func(w http.ResponseWriter, r *http.Request) {
		line, err1 := strconv.ParseInt(r.URL.Query().Get("line"), 10, 64)
		at, err2 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("at"))
		if err1 != nil || err2 != nil {
			http.Error(w, "line (integer) and at (RFC 3339) are required", http.StatusBadRequest)
			return
		}
		n, ok := s.Autotask.Units(r.URL.Query().Get("user"), line, at)
		writeJSON(w, http.StatusOK, struct {
			Units int64 `json:"units"`
			OK    bool  `json:"ok"`
		}{n, ok})
	})
	mux.HandleFunc("GET /_sandbox/autotask/adjustments", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Autotask.Adjustments(r.URL.Query().Get("user")))
	})
	mux.HandleFunc("GET /_sandbox/connectwise/addition", func(w http.ResponseWriter, r *http.Request) {
		id, ok := queryID(w, r)
		if !ok {
			return
		}
		a, ok := s.ConnectWise.Addition(r.URL.Query().Get("company"), id)
		writeJSON(w, http.StatusOK, struct {
			Addition CWAddition `json:"addition"`
			OK       bool       `json:"ok"`
		}{a, ok})
	})
	mux.HandleFunc("GET /_sandbox/halopsa/line", func(w http.ResponseWriter, r *http.Request) {
		id, ok := queryID(w, r)
		if !ok {
			return
		}
		l, ok := s.HaloPSA.Line(r.URL.Query().Get("client"), id)
		writeJSON(w, http.StatusOK, struct {
			Line HaloInvoiceLine `json:"line"`
			OK   bool            `json:"ok"`
		}{l, ok})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(ClockHeader); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				http.Error(w, ClockHeader+" must be an RFC 3339 time", http.StatusBadRequest)
				return
			}
			nanos.Store(t.UnixNano())
			r.Header.Del(ClockHeader)
		}
		if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
			mux.ServeHTTP(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
}

// decodeAdmin decodes an admin request's JSON body into v, answering 400
// when it does not parse.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// queryID is the request's integer query parameter id; on a missing or
// malformed one it answers 400 and reports false.
func queryID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		http.Error(w, "id (integer) is required", http.StatusBadRequest)
		return 0, false
	}
	return id, true
}
