package esm_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// TestMappingPartialFailuresAndRedrive drives a FIFO queue through the
// emulator: successes are deleted, reported failures come back with a higher
// ApproximateReceiveCount, and a message that always fails lands in the DLQ
// after five receives.
func TestMappingPartialFailuresAndRedrive(t *testing.T) {
	ctx := context.Background()
	client := sqstest.MustClient(t, nil)
	q := sqstest.MustFIFO(t, client)
	var msgs []sqsqueue.Message
	for i := 0; i < 25; i++ {
		body := strconv.Itoa(i)
		switch i {
		case 7:
			body = "poison"
		case 13:
			body = "flaky"
		}
		msgs = append(msgs, sqsqueue.Message{Body: body, GroupID: fmt.Sprintf("g%d", i%3), DedupID: "d" + strconv.Itoa(i)})
	}
	s := &sqsqueue.Sender{Client: client, QueueURL: q.URL}
	if _, err := s.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	done := map[string]int{}
	receives := map[string][]string{}
	maxBatch := 0
	m := &esm.Mapping{SQS: client, QueueURL: q.URL, VisibilityTimeout: 30 * time.Second,
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			maxBatch = max(maxBatch, len(ev.Records))
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				if r.Attributes["MessageGroupId"] == "" {
					t.Errorf("message %s: no MessageGroupId attribute", r.Body)
				}
				if r.EventSourceARN != q.ARN {
					t.Errorf("eventSourceARN: got %q, want %q", r.EventSourceARN, q.ARN)
				}
				receives[r.Body] = append(receives[r.Body], r.Attributes["ApproximateReceiveCount"])
				if r.Body == "poison" || (r.Body == "flaky" && len(receives[r.Body]) < 3) {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
					continue
				}
				done[r.Body]++
			}
			return resp, nil
		}}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := m.Drain(dctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if maxBatch > 10 {
		t.Errorf("largest batch: got %d, want at most 10", maxBatch)
	}
	for i := 0; i < 25; i++ {
		body := msgs[i].Body
		want := 1
		if body == "poison" {
			want = 0
		}
		if done[body] != want {
			t.Errorf("message %s processed %d times, want %d", body, done[body], want)
		}
	}
	if got, want := fmt.Sprint(receives["flaky"]), "[1 2 3]"; got != want {
		t.Errorf("flaky receive counts: got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(receives["poison"]), "[1 2 3 4 5]"; got != want {
		t.Errorf("poison receive counts: got %s, want %s", got, want)
	}
	dlq := sqstest.MustReceiveAll(t, client, q.DLQURL)
	if len(dlq) != 1 || aws.ToString(dlq[0].Body) != "poison" {
		t.Errorf("DLQ: got %d messages, want only poison", len(dlq))
	}
}

// TestMappingHandlerErrorFailsBatch checks Lambda's rule that a handler error
// (or an unknown batch item identifier) returns the whole batch to the queue.
func TestMappingHandlerErrorFailsBatch(t *testing.T) {
	for name, fail := range map[string]func(events.SQSEvent) (events.SQSEventResponse, error){
		"HandlerError": func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("boom")
		},
		"UnknownItemIdentifier": func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
		},
		"Panic": func(events.SQSEvent) (events.SQSEventResponse, error) { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			client := sqstest.MustClient(t, nil)
			q := sqstest.MustFIFO(t, client)
			s := &sqsqueue.Sender{Client: client, QueueURL: q.URL}
			if _, err := s.Send(ctx, []sqsqueue.Message{{Body: "a", GroupID: "g", DedupID: "a"}, {Body: "b", GroupID: "g", DedupID: "b"}}); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			m := &esm.Mapping{SQS: client, QueueURL: q.URL, Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if calls.Add(1) == 1 {
					return fail(ev)
				}
				return events.SQSEventResponse{}, nil
			}}
			n, err := m.PollOnce(ctx)
			if err != nil || n != 2 {
				t.Fatalf("first poll: got %d, %v; want 2, nil", n, err)
			}
			// Lambda leaves a failed batch invisible for the queue's
			// visibility timeout (30 s on this queue).
			m.Clock.Add(29 * time.Second)
			n, err = m.PollOnce(ctx)
			if err != nil || n != 0 {
				t.Fatalf("poll 29 s later: got %d, %v; want nothing before the visibility timeout", n, err)
			}
			m.Clock.Add(time.Second)
			n, err = m.PollOnce(ctx)
			if err != nil || n != 2 {
				t.Fatalf("poll after the visibility timeout: got %d, %v; want both messages again", n, err)
			}
			n, err = m.PollOnce(ctx)
			if err != nil || n != 0 {
				t.Fatalf("third poll: got %d, %v; want an empty queue", n, err)
			}
		})
	}
}

// TestRunStopsWithContext checks that Run returns nil when ctx ends.
func TestRunStopsWithContext(t *testing.T) {
	client := sqstest.MustClient(t, nil)
	q := sqstest.MustFIFO(t, client)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	m := &esm.Mapping{SQS: client, QueueURL: q.URL, Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}}
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
}

// TestFailedFIFOMessageWaitsOutVisibilityAndBlocksItsGroup runs a FIFO
// queue whose visibility timeout is the stack's sync queue's (720 s) on a
// simulated clock. A message that fails (reported item, handler error) comes
// back no earlier than 720 s after its receipt, the rest of its group waits
// behind it, and another group is not held up. A message the handler hides
// for 30 s (ChangeMessageVisibility) comes back after 30 s.
func TestFailedFIFOMessageWaitsOutVisibilityAndBlocksItsGroup(t *testing.T) {
	const vt = 720 * time.Second
	for _, c := range []struct {
		name string
		fail func(ctx context.Context, m *esm.Mapping, r events.SQSMessage) (events.SQSEventResponse, error)
		want time.Duration // when a1 comes back
	}{
		{"ItemFailure", func(_ context.Context, _ *esm.Mapping, r events.SQSMessage) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: r.MessageId}}}, nil
		}, vt},
		{"HandlerError", func(context.Context, *esm.Mapping, events.SQSMessage) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("boom")
		}, vt},
		{"HiddenThenFailed", func(ctx context.Context, m *esm.Mapping, r events.SQSMessage) (events.SQSEventResponse, error) {
			if err := m.Hide(ctx, r.ReceiptHandle, 30*time.Second); err != nil {
				return events.SQSEventResponse{}, err
			}
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: r.MessageId}}}, nil
		}, 30 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			client := sqstest.MustClient(t, nil)
			q := sqstest.MustFIFO(t, client)
			s := &sqsqueue.Sender{Client: client, QueueURL: q.URL}
			if _, err := s.Send(ctx, []sqsqueue.Message{{Body: "a1", GroupID: "a", DedupID: "a1"}, {Body: "a2", GroupID: "a", DedupID: "a2"},
				{Body: "b1", GroupID: "b", DedupID: "b1"}}); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)
			clock := esm.NewClock(t0)
			var mu sync.Mutex
			var log []string
			done := map[string]time.Duration{}
			m := &esm.Mapping{SQS: client, QueueURL: q.URL, BatchSize: 1, VisibilityTimeout: vt, Clock: clock}
			m.Handler = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				mu.Lock()
				defer mu.Unlock()
				r := ev.Records[0]
				at := clock.Now().Sub(t0)
				log = append(log, fmt.Sprintf("%s@%s#%s", r.Body, at, r.Attributes["ApproximateReceiveCount"]))
				if r.Body == "a1" && r.Attributes["ApproximateReceiveCount"] == "1" {
					return c.fail(ctx, m, r)
				}
				done[r.Body] = at
				return events.SQSEventResponse{}, nil
			}
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := m.Drain(dctx, 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			t.Logf("receipts: %v", log)
			if got := done["a1"]; got < c.want {
				t.Errorf("a1 came back after %s, want no earlier than %s", got, c.want)
			}
			if got := done["a1"]; got > c.want+time.Second {
				t.Errorf("a1 came back after %s, want at %s", got, c.want)
			}
			if done["a2"] < done["a1"] {
				t.Errorf("a2 handled at %s, before a1 (%s): its group did not wait", done["a2"], done["a1"])
			}
			if got, ok := done["b1"]; !ok || got != 0 {
				t.Errorf("b1 handled at %s (ok %v), want at once: another group must not wait", got, ok)
			}
		})
	}
}
