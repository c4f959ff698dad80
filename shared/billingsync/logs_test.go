package billingsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/psa"
)

// syncBuffer is a log sink shared by concurrent pollers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the logged lines whose msg is msg, decoded.
func (s *syncBuffer) lines(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestRunLogLines: a run logs one line when it starts, one per batch with
// its counts and the run's progress, one per failed org with its code, and
// one when it finishes (counts, duration, deferred); the worker's lines
// carry the Lambda request id.
func TestRunLogLines(t *testing.T) {
	e := MustEnv(t)
	var sink syncBuffer
	logger := logging.New(&sink, slog.LevelInfo, nil)
	e.fanout.Log, e.log = logger, logger
	ten := e.MustTenant("acme", psa.Autotask, 12, 5, nil)
	// org-1's line is gone from the PSA: line_missing, a failed org.
	ten.atSeed.ContractServices = ten.atSeed.ContractServices[1:]
	e.sb.Autotask.AddInstance(*ten.atSeed)

	invocation := 0
	withRequestID := func(h handler) handler {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			invocation++
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + strings.Repeat("x", invocation)})
			return h(ctx, ev)
		}
	}
	runs := e.MustScheduledRun(1, withRequestID)
	run := runs["acme"]

	started := sink.lines(t, "run started")
	if len(started) != 1 || started[0]["tenant"] != "acme" || started[0]["run"] != run.ID || started[0]["orgs"] != 12.0 {
		t.Errorf("run started: got %v, want one line for run %s with 12 orgs", started, run.ID)
	}
	batches := sink.lines(t, "run batch")
	if len(batches) < 2 {
		t.Fatalf("run batch: got %d lines, want one per batch (12 orgs, batches of at most 10)", len(batches))
	}
	orgs := 0.0
	for _, b := range batches {
		for _, k := range []string{"updated", "unchanged", "skipped", "failed", "deferred", "retry"} {
			n, _ := b[k].(float64)
			orgs += n
		}
		if b["run"] != run.ID || b["total"] != 12.0 || b["done"] == nil || !strings.HasPrefix(b["requestId"].(string), "req-") {
			t.Errorf("run batch: got %v, want the run, done/total and the request id", b)
		}
	}
	if orgs != 12 {
		t.Errorf("run batch: the batches count %v orgs, want 12", orgs)
	}
	if b := batches[0]; b["estimatedFinish"] == nil {
		t.Errorf("run batch: got %v, want an estimated finish while the run goes on", b)
	}
	failed := sink.lines(t, "org failed")
	if len(failed) != 1 || failed[0]["org"] != "org-1" || failed[0]["code"] != "line_missing" || failed[0]["final"] != true {
		t.Errorf("org failed: got %v, want one line for org-1 with code line_missing", failed)
	}
	finished := sink.lines(t, "run finished")
	if len(finished) != 1 {
		t.Fatalf("run finished: got %v, want one line", finished)
	}
	f := finished[0]
	if f["run"] != run.ID || f["status"] != string(run.Status) || f["total"] != 12.0 || f["failed"] != 1.0 || f["updated"] != 11.0 ||
		f["deferred"] != 0.0 || f["durationMs"] == nil || f["requestId"] == nil {
		t.Errorf("run finished: got %v, want run %s %s: 11 updated, 1 failed, 0 deferred, a duration, the request id", f, run.ID, run.Status)
	}
}
