package billingsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

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
		// What the queue still holds tells a lost receive (messages in
		// flight) from messages never sent.
		attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.queue.URL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		t.Errorf("queued by the samples: got %d, want 6 (queue attributes %v, %v; runs %v)", got, attrsOf(attrs), err, runsOf(e, "demo-msp"))
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

// attrsOf is the queue's message counts from a GetQueueAttributes answer.
func attrsOf(out *sqs.GetQueueAttributesOutput) map[string]string {
	if out == nil {
		return nil
	}
	m := map[string]string{}
	for k, v := range out.Attributes {
		if strings.HasPrefix(k, "ApproximateNumberOf") {
			m[k] = v
		}
	}
	return m
}

// runsOf is the tenant's runs with their status and counts, or the error.
func runsOf(e *env, tenant string) any {
	runs, err := e.store.Runs(context.Background(), tenant, 10)
	if err != nil {
		return err
	}
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = fmt.Sprintf("%s %s %+v", r.ID, r.Status, r.Counts)
	}
	return out
}
