package billingsync_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/fanoutevent"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// MustEvents returns the sample events of a function under <repo>/events,
// re-dated to now (samples.Load).
func MustEvents(tb testing.TB, function string, now time.Time) map[string][]byte {
	tb.Helper()
	all, err := samples.Load(function, now)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, s := range all {
		out[s.Name] = s.JSON
	}
	return out
}

// scheduledRunAt is the local run time (HH:MM in loc) of a tenant that the
// scheduled fan-out sample starts: the sample's tick, re-dated like the
// sample.
func scheduledRunAt(tb testing.TB, scheduled []byte, loc *time.Location) string {
	tb.Helper()
	ev, err := fanoutevent.Decode(scheduled)
	if err != nil || ev.Tick == nil {
		tb.Fatalf("the scheduled sample is not a scheduled tick: %v", err)
	}
	return ev.Tick.ScheduledTime.In(loc).Format("15:04")
}

// TestHandlersWithSampleEvents invokes the fan-out and worker handlers with
// the events under events/ against a tenant "demo-msp" the samples name.
func TestHandlersWithSampleEvents(t *testing.T) {
	e := MustEnv(t)
	fanoutSamples := MustEvents(t, "fanout", e.clock.Now())
	e.MustTenant("demo-msp", psa.ConnectWise, 3, 0, func(s *billing.Settings) {
		loc, err := billing.LoadLocation(s.TimeZone)
		if err != nil {
			t.Fatal(err)
		}
		s.RunAt = scheduledRunAt(t, fanoutSamples["scheduled.json"], loc)
	})
	ctx := context.Background()
	for name, raw := range fanoutSamples {
		t.Run("fanout/"+name, func(t *testing.T) {
			res, err := e.fanout.HandleEvent(ctx, json.RawMessage(raw))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Runs) != 1 || res.Runs[0].Tenant != "demo-msp" || res.Runs[0].Orgs != 3 {
				t.Errorf("result: got %+v, want one run of demo-msp with 3 orgs", res)
			}
		})
	}
	if got := len(sqstest.MustReceiveAll(t, e.sqs, e.queue.URL)); got != 6 {
		t.Errorf("queued by the samples: got %d, want 6", got)
	}
	for name, raw := range MustEvents(t, "syncworker", e.clock.Now()) {
		t.Run("syncworker/"+name, func(t *testing.T) {
			var ev events.SQSEvent
			mustJSON(t, string(raw), &ev)
			resp, err := e.NewWorker().HandleSQS(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("got %+v, %v; want no failures", resp, err)
			}
			var msg struct{ Run string }
			mustJSON(t, ev.Records[0].Body, &msg)
			entries, err := e.store.Entries(ctx, "demo-msp", msg.Run, billing.EntryFilter{})
			if err != nil || len(entries) != len(ev.Records) {
				t.Fatalf("entries: got %d (%v), want %d", len(entries), err, len(ev.Records))
			}
			for _, en := range entries {
				if en.Code != billing.CodeWouldUpdate {
					t.Errorf("%s: got %s, want %s (the sample is a dry run)", en.Org, en.Code, billing.CodeWouldUpdate)
				}
			}
		})
	}
	if w := e.Writes(e.tenants[0]); len(w) != 0 {
		t.Errorf("dry-run samples wrote %d times", len(w))
	}
}
