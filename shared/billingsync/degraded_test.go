package billingsync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
)

// deniedStore is the fan-out's store with the batch reads refused, as IAM
// refuses a call the role does not allow.
type deniedStore struct {
	billingsync.FanoutStore
	hwms, mems bool
}

var errDenied = errors.New("AccessDeniedException: not authorized to perform dynamodb:BatchGetItem")

func (s deniedStore) HighWaterMarks(ctx context.Context, tenant string, month billing.Month, keys []billing.LineKey) (map[billing.LineKey]int64, error) {
	if s.hwms {
		return nil, errDenied
	}
	return s.FanoutStore.HighWaterMarks(ctx, tenant, month, keys)
}

func (s deniedStore) LineMemories(ctx context.Context, tenant string, keys []billing.LineKey) (map[billing.LineKey]billing.LineMemory, error) {
	if s.mems {
		return nil, errDenied
	}
	return s.FanoutStore.LineMemories(ctx, tenant, keys)
}

// TestOrderFailureIsLoggedAndCounted: when the reads that order a large
// tenant's orgs fail, the run still queues every org, and the error is
// logged with its text and counted as Degraded (never swallowed).
func TestOrderFailureIsLoggedAndCounted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hwms, mems bool
	}{{"HWMsDenied", true, false}, {"MemoriesDenied", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t)
			tn := e.MustTenant("deg-"+strings.ToLower(tc.name[:4]), psa.Autotask, 12, 0, nil)
			var logs, emf bytes.Buffer
			q := &memQueue{}
			f := *e.fanout
			f.Store, f.Queue = deniedStore{FanoutStore: e.fanout.Store, hwms: tc.hwms, mems: tc.mems}, q
			f.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			f.Metrics = &metrics.Emitter{W: &emf}
			if _, err := f.Manual(context.Background(), tn.name, f.NewManualRun(true)); err != nil {
				t.Fatal(err)
			}
			if len(q.msgs) != 12 {
				t.Errorf("queued %d messages, want all 12 orgs", len(q.msgs))
			}
			if !strings.Contains(logs.String(), errDenied.Error()) || !strings.Contains(logs.String(), `"operation":"fanout.order"`) {
				t.Errorf("log: got %s, want a fanout.order line with the error %q", logs.String(), errDenied)
			}
			if n := strings.Count(emf.String(), `"Degraded":1`); n != 1 {
				t.Errorf("metrics: got %s, want Degraded=1 once", emf.String())
			}
		})
	}
}

// deadlineStore records the deadline of the context each MappedOrgs call
// gets, as a DynamoDB request would carry it.
type deadlineStore struct {
	billingsync.FanoutStore
	seen *[]time.Time
}

func (s deadlineStore) MappedOrgs(ctx context.Context, shard int, tenant string, each func(billingsync.MappedOrg) error) error {
	if d, ok := ctx.Deadline(); ok {
		*s.seen = append(*s.seen, d)
	}
	return s.FanoutStore.MappedOrgs(ctx, shard, tenant, each)
}

// TestFanoutKeepsItsMargin: the fan-out's store calls carry the Lambda
// deadline less deadline.Margin, so Lambda never kills it mid-call.
func TestFanoutKeepsItsMargin(t *testing.T) {
	e := MustEnv(t)
	tn := e.MustTenant("margin", psa.Autotask, 2, 0, nil)
	var seen []time.Time
	f := *e.fanout
	f.Store, f.Queue = deadlineStore{FanoutStore: e.fanout.Store, seen: &seen}, &memQueue{}
	end := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	if _, err := f.HandleEvent(ctx, []byte(`{"tenant":"`+tn.name+`","dryRun":true,"runId":"margin-1"}`)); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no store call carried a deadline")
	}
	for _, d := range seen {
		if !d.Equal(end.Add(-deadline.Margin)) {
			t.Fatalf("store call deadline %v, want the Lambda deadline less the margin (%v)", d, end.Add(-deadline.Margin))
		}
	}
}
