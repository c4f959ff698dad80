package ticketing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// TestExactlyOnce: 100 distinct alerts, each posted to the webhook 10 times
// in shuffled order; the ticket worker driven through the event source
// mapping emulator on moto's FIFO queue, with a third of the messages
// redelivered after they were handled (a lost acknowledgement), a sixth
// crashing between the PSA write and the record, and 20% transient PSA
// faults → exactly 100 tickets, each with the right company, priority,
// status, source, queue or board, due date and external key, and an empty
// dead-letter queue. Run for each PSA.
//
// Where the time goes: ~1,000 conditional puts on DynamoDB Local (the
// deliveries), ~1,000 DynamoDB and ~320 PSA requests of the worker, and ~60
// SQS calls on moto. On two cores it is CPU-bound: DynamoDB Local's JVM
// takes about two thirds of the CPU (most of it JIT compilation while the
// JVM is cold), moto about a quarter (~15 ms of Python per call). So the
// deliveries are posted from many goroutines while the emulated pollers
// already work the queue, and two pollers hold batches at once, as Lambda
// runs batches of different message groups at once; nothing waits on a
// visibility timeout. Moto keeps each FIFO group to one batch at a time, so
// this proves what the sequential version did; serialSQS keeps moto itself
// consistent.
func TestExactlyOnce(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		const alerts, deliveries, orgs = 100, 10, 20
		start := time.Now()
		ctx := context.Background()
		f := mustFixture(t, p, orgs)

		// The webhook, as functions/webhook wires it: signing secrets, the
		// alert store and the FIFO ticket queue.
		sec := secretstest.NewStore(t)
		const signingSecret = "whsec_exactly_once"
		if err := sec.PutSigningSecrets(ctx, tenant, []secrets.SigningSecret{{ID: "sk_1", Value: signingSecret, CreatedAt: f.now}}); err != nil {
			t.Fatal(err)
		}
		sqsClient := sqstest.MustClient(t, nil)
		queue := sqstest.MustFIFO(t, sqsClient)
		// Every call of the webhook and the pollers goes through one
		// serialized client (see serialSQS).
		serial := serialSQS(sqsClient)
		api := httpapi.New(httpapi.Config{Secrets: httpapi.SigningOnly(sec), Alerts: f.store, TicketQueue: &sqsqueue.Sender{Client: serial, QueueURL: queue.URL},
			Now: func() time.Time { return f.now }, Logger: slog.New(slog.DiscardHandler)})

		// The worker behind the queue: a sixth of the alerts crash between
		// the PSA write and the record once, 20% of PSA requests fail, and
		// a third of the messages are redelivered once after they were
		// handled (their acknowledgement lost).
		index := func(id string) int {
			n, _ := strconv.Atoi(strings.TrimPrefix(id, "x-"))
			return n
		}
		f.worker.Store = &crashingStore{Store: f.store, crash: func(r alerting.Record) bool { return index(r.ID)%6 == 1 }, crashed: map[string]bool{}}
		f.sb.SetFaults(sandbox.Faults{Seed: 20, Rate500: 0.2})
		var mu sync.Mutex
		lostAck := map[string]bool{}
		received := 0
		handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			resp, err := f.worker.Handle(ctx, ev)
			mu.Lock()
			defer mu.Unlock()
			received += len(ev.Records)
			failed := map[string]bool{}
			for _, x := range resp.BatchItemFailures {
				failed[x.ItemIdentifier] = true
			}
			for _, r := range ev.Records {
				var m alerting.Message
				if json.Unmarshal([]byte(r.Body), &m) != nil {
					return resp, fmt.Errorf("message %s: not an alert message", r.MessageId)
				}
				if index(m.Alert.ID)%3 == 0 && !failed[r.MessageId] && !lostAck[r.Body] {
					lostAck[r.Body] = true
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, err
		}
		var mappings []*esm.Mapping
		for range queuePollers {
			mappings = append(mappings, &esm.Mapping{SQS: serial, QueueURL: queue.URL, BatchSize: 10, VisibilityTimeout: 30 * time.Second, Handler: handler})
		}

		// 100 alerts × 10 deliveries, shuffled, posted concurrently while
		// the pollers already work the queue, as in production.
		var bodies [][]byte
		for i := range alerts {
			b, err := json.Marshal(exactlyOnceAlert(f, i, orgs))
			if err != nil {
				t.Fatal(err)
			}
			for range deliveries {
				bodies = append(bodies, b)
			}
		}
		rng := rand.New(rand.NewPCG(6, 6))
		rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
		post := func(b []byte) error {
			req := httptest.NewRequest("POST", "/v1/webhooks/alerts", bytes.NewReader(b))
			req.Header.Set(signature.TenantHeader, tenant)
			req.Header.Set(signature.Header, signature.Sign(b, f.now, signingSecret))
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				return fmt.Errorf("got %d %s, want 202", rec.Code, rec.Body)
			}
			return nil
		}
		out := pollWhile(mappings, func() error { return inParallel(webhookSenders, bodies, post) })
		if out.work != nil {
			t.Fatalf("webhook: %v", out.work)
		}
		if out.poll != nil {
			t.Fatalf("poll: %v", out.poll)
		}
		t.Logf("webhook: %d deliveries done at %s", len(bodies), time.Since(start))
		mustDrain(t, mappings)
		f.sb.SetFaults(sandbox.Faults{})
		t.Logf("queue drained at %s", time.Since(start))

		if received < alerts+alerts/3 {
			t.Fatalf("got %d receives, want at least %d (every message plus the forced redeliveries)", received, alerts+alerts/3)
		}
		if dlq := sqstest.MustReceiveAll(t, sqsClient, queue.DLQURL); len(dlq) != 0 {
			t.Fatalf("got %d messages in the DLQ, want none", len(dlq))
		}
		if n := f.ticketsMade(); n != alerts {
			t.Fatalf("got %d tickets, want exactly %d", n, alerts)
		}
		seen := map[int64]bool{}
		for i := range alerts {
			a := exactlyOnceAlert(f, i, orgs)
			rec := f.mustRecord(t, a)
			if rec.State != alerting.Done || rec.Decision != alerting.OpenTicket || seen[rec.TicketID] {
				t.Fatalf("%s: got %+v, want open done on a ticket of its own", a.ID, rec)
			}
			seen[rec.TicketID] = true
			f.checkOpened(t, f.mustTicket(t, rec.TicketID), a, i%orgs+1)
		}
		t.Logf("%d receives for %d alerts; %d PSA requests; done at %s", received, alerts, f.sb.Total(strings.ToLower(p.name)), time.Since(start))
	})
}

// exactlyOnceAlert is alert i of the exactly-once test: on org i%orgs+1,
// backup_failed or user_lockout by parity.
func exactlyOnceAlert(f *fixture, i, orgs int) alerting.Alert {
	typ := alerting.BackupFailed
	if i%2 == 1 {
		typ = alerting.UserLockout
	}
	return alert(fmt.Sprintf("x-%03d", i), i%orgs+1, typ, alerting.Error, alerting.Open, f.now.Add(-time.Duration(i)*time.Second))
}

// Concurrency of the exactly-once test. The platform posts alerts
// concurrently; Lambda works a FIFO queue with several batches at once (a
// message group is never in two of them).
const (
	webhookSenders = 16
	queuePollers   = 2
	// idlePoll is the pause of a poller that found the queue empty while
	// deliveries still arrive.
	idlePoll = 250 * time.Millisecond
)

// inParallel calls do for every item from n goroutines and returns the
// first error.
func inParallel[T any](n int, items []T, do func(T) error) error {
	work := make(chan T)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := do(it); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// pollOutcome is the first error of the work and of the pollers.
type pollOutcome struct{ work, poll error }

// pollWhile runs the mappings' pollers while work runs, and stops them
// (each finishing the batch it holds) when work returns.
func pollWhile(mappings []*esm.Mapping, work func() error) pollOutcome {
	ctx, stop := context.WithCancel(context.Background())
	errs := make(chan error, len(mappings))
	for _, m := range mappings {
		go func() {
			for ctx.Err() == nil {
				// Never cancel a receive under way: moto would hide what
				// it handed out for the visibility timeout.
				n, err := m.PollOnce(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					select {
					case <-ctx.Done():
					case <-time.After(idlePoll):
					}
				}
			}
			errs <- nil
		}()
	}
	var out pollOutcome
	out.work = work()
	stop()
	for range mappings {
		if err := <-errs; err != nil && out.poll == nil {
			out.poll = err
		}
	}
	return out
}

// mustDrain runs the mappings until the queue has been empty for a moment:
// each waits until nothing is visible, in flight or delayed, so none stops
// while another's batch may still come back.
func mustDrain(tb testing.TB, mappings []*esm.Mapping) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make(chan error, len(mappings))
	for _, m := range mappings {
		go func() { errs <- m.Drain(ctx, 100*time.Millisecond) }()
	}
	for range mappings {
		if err := <-errs; err != nil {
			tb.Fatalf("drain: %v", err)
		}
	}
}

// serialSQS returns a client for the same moto server whose calls run one
// at a time. Moto's SQS keeps no lock around its queues: two concurrent
// ReceiveMessage calls on a FIFO queue can both hand out messages of one
// group, and a DeleteMessage that rebuilds the message list can drop a
// message sent at the same moment; real SQS does neither. Serializing the
// SQS calls keeps the emulation faithful while the handlers and the
// webhook's DynamoDB writes run in parallel.
func serialSQS(client *sqs.Client) *sqs.Client {
	var mu sync.Mutex
	one := middleware.InitializeMiddlewareFunc("SerializeCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		mu.Lock()
		defer mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	return sqs.New(client.Options(), func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error { return st.Initialize.Add(one, middleware.Before) })
	})
}
