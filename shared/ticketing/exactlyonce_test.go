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

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// TestExactlyOnce: 100 distinct alerts, each opened, repeated and resolved;
// every occurrence posted to the webhook several times in shuffled order
// (10 times for the opens, 3 for repeats and resolves); the ticket worker
// driven through the event source mapping emulator on moto's FIFO queue,
// with a third of the messages redelivered after they were handled (a lost
// acknowledgement), a sixth of the alerts crashing once between the PSA
// write and the record, and on every PSA request 20% transient faults
// before acting plus, on every PSA write, 20% acted-then-lost answers (the
// PSA did it, the worker never hears) → exactly 100 tickets, each with the
// right company, priority, status, source, queue or board, due date and
// external key; exactly one note per repeat; every ticket closed by its
// resolve; an empty dead-letter queue. Run for each PSA.
//
// Where the time goes: ~1,600 conditional puts on DynamoDB Local (the
// deliveries), ~2,000 DynamoDB and ~800 PSA requests of the worker, and
// ~150 SQS calls on moto. On two cores it is CPU-bound: DynamoDB Local's JVM
// takes about two thirds of the CPU (most of it JIT compilation while the
// JVM is cold), moto about a quarter (~15 ms of Python per call). So the
// deliveries are posted from many goroutines while the emulated pollers
// already work the queue, and two pollers hold batches at once, as Lambda
// runs batches of different message groups at once; nothing waits on a
// visibility timeout. Moto keeps each FIFO group to one batch at a time, so
// this proves what the sequential version did; sqstest.Serial keeps moto
// itself consistent. The phases (opens, repeats, resolves) are delivered one
// after the other, as the platform sends them.
func TestExactlyOnce(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		const alerts, orgs = 100, 20
		start := time.Now()
		ctx := context.Background()
		f := mustFixture(t, p, orgs)

		// The webhook, as functions/webhook wires it: signing secrets, the
		// alert store and the FIFO ticket queue.
		stores := secretstest.NewStoresAs(t, "", "webhook")
		sec := stores[0]
		const signingSecret = "whsec_exactly_once"
		if err := sec.PutSigningSecrets(ctx, tenant, []secrets.SigningSecret{{ID: "sk_1", Value: signingSecret, CreatedAt: f.now}}); err != nil {
			t.Fatal(err)
		}
		sqsClient := sqstest.MustClient(t, nil)
		queue := sqstest.MustQueueOf(t, sqsClient, "ticket")
		// Every call of the webhook and the pollers goes through one
		// serialized client (see sqstest.Serial).
		serial := sqstest.Serial(sqsClient)
		api := httpapi.New(httpapi.Config{Secrets: httpapi.SigningOnly(stores[1]), Alerts: dynamotest.As(f.store, "webhook"),
			TicketQueue: &sqsqueue.Sender{Client: sqstest.As(serial, "webhook"), QueueURL: queue.URL},
			Now:         func() time.Time { return f.now }, Logger: slog.New(slog.DiscardHandler)})

		// The worker behind the queue: a sixth of the alerts crash between
		// the PSA write and the record once, 20% of PSA requests fail
		// before acting, 20% of PSA writes act and lose their answer, and a
		// third of the messages are redelivered once after they were
		// handled (their acknowledgement lost).
		index := func(id string) int {
			n, _ := strconv.Atoi(strings.TrimPrefix(id, "x-"))
			return n
		}
		f.worker.Store = &crashingStore{Store: dynamotest.As(f.store, "ticketworker"), crash: func(r alerting.Record) bool { return index(r.ID)%6 == 1 }, crashed: map[string]bool{}}
		f.sb.SetFaults(sandbox.Faults{Seed: 20, Rate500: 0.2, RateLost: 0.2})
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
		clock := esm.NewClock(time.Now()) // the pollers' visibility timeouts, simulated
		for range queuePollers {
			mappings = append(mappings, &esm.Mapping{SQS: serial, QueueURL: queue.URL, BatchSize: 10, VisibilityTimeout: 30 * time.Second, Clock: clock, Handler: handler})
		}

		// Each phase: its occurrences × deliveries, shuffled, posted
		// concurrently while the pollers already work the queue, as in
		// production; then the queue drains.
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
		// After the opens: one ticket per alert, each as the rule says.
		checkOpens := func() {
			t.Helper()
			if n := f.ticketsMade(); n != alerts {
				t.Fatalf("got %d tickets, want exactly %d", n, alerts)
			}
			seen := map[int64]bool{}
			for i := range alerts {
				a := exactlyOnceAlert(f, i, orgs, alerting.Open)
				rec := f.mustRecord(t, a)
				if rec.State != alerting.Done || rec.Decision != alerting.OpenTicket || seen[rec.TicketID] {
					t.Fatalf("%s: got %+v, want open done on a ticket of its own", a.ID, rec)
				}
				seen[rec.TicketID] = true
				f.checkOpened(t, f.mustTicket(t, rec.TicketID), a, i%orgs+1)
			}
		}
		rng := rand.New(rand.NewPCG(6, 6))
		for _, phase := range []struct {
			status     alerting.Status
			deliveries int
		}{{alerting.Open, 10}, {exactlyOnceRepeat, 3}, {alerting.Resolved, 3}} {
			var bodies [][]byte
			for i := range alerts {
				b, err := json.Marshal(exactlyOnceAlert(f, i, orgs, phase.status))
				if err != nil {
					t.Fatal(err)
				}
				for range phase.deliveries {
					bodies = append(bodies, b)
				}
			}
			rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
			out := pollWhile(mappings, func() error { return inParallel(webhookSenders, bodies, post) })
			if out.work != nil {
				t.Fatalf("webhook: %v", out.work)
			}
			if out.poll != nil {
				t.Fatalf("poll: %v", out.poll)
			}
			mustDrain(t, mappings)
			t.Logf("%s phase: %d deliveries done and the queue drained at %s", phase.status, len(bodies), time.Since(start))
			if phase.status == alerting.Open {
				checkOpens()
			}
		}
		f.sb.SetFaults(sandbox.Faults{})
		if f.sb.LostAnswers() == 0 {
			t.Fatal("no write lost its answer: the fault model was not exercised")
		}

		if received < 3*(alerts+alerts/3) {
			t.Fatalf("got %d receives, want at least %d (every message plus the forced redeliveries)", received, 3*(alerts+alerts/3))
		}
		if dlq := sqstest.MustReceiveAll(t, sqsClient, queue.DLQURL); len(dlq) != 0 {
			t.Fatalf("got %d messages in the DLQ, want none", len(dlq))
		}
		if n := f.ticketsMade(); n != alerts {
			t.Fatalf("got %d tickets, want exactly %d", n, alerts)
		}
		notes := map[int64][]string{}
		for _, n := range f.psa.notes(f.sb) {
			notes[n.TicketID] = append(notes[n.TicketID], n.Text)
		}
		for i := range alerts {
			a := exactlyOnceAlert(f, i, orgs, alerting.Open)
			rec := f.mustRecord(t, a)
			repeat := exactlyOnceAlert(f, i, orgs, exactlyOnceRepeat)
			if r := f.mustRecord(t, repeat); r.State != alerting.Done || r.Decision != alerting.NoteTicket || r.TicketID != rec.TicketID {
				t.Fatalf("%s repeat: got %+v, want a note done on ticket %d", a.ID, r, rec.TicketID)
			}
			if got := notes[rec.TicketID]; len(got) != 1 || !strings.Contains(got[0], alerting.NoteMarker(repeat)) {
				t.Fatalf("%s: ticket %d has notes %q, want exactly the repeat's one", a.ID, rec.TicketID, got)
			}
			resolve := exactlyOnceAlert(f, i, orgs, alerting.Resolved)
			if r := f.mustRecord(t, resolve); r.State != alerting.Done || r.Decision != alerting.CloseTicket || r.TicketID != rec.TicketID {
				t.Fatalf("%s resolve: got %+v, want a close done on ticket %d", a.ID, r, rec.TicketID)
			}
			if !f.mustTicket(t, rec.TicketID).Closed {
				t.Fatalf("%s: ticket %d is still open after its resolve", a.ID, rec.TicketID)
			}
		}
		if n := len(f.psa.notes(f.sb)); n != alerts {
			t.Fatalf("got %d notes, want exactly %d (one per repeat)", n, alerts)
		}
		t.Logf("%d receives for %d alerts; %d PSA requests; done at %s", received, alerts, f.sb.Total(strings.ToLower(p.name)), time.Since(start))
	})
}

// exactlyOnceRepeat marks the repeat phase of the exactly-once test: an
// occurrence in status open after the first one.
const exactlyOnceRepeat alerting.Status = "repeat"

// exactlyOnceAlert is alert i of the exactly-once test in a phase (open,
// exactlyOnceRepeat, resolved): on org i%orgs+1, backup_failed or
// user_lockout by parity; opened two hours before the fixture's now,
// repeated an hour later, resolved i seconds before now.
func exactlyOnceAlert(f *fixture, i, orgs int, phase alerting.Status) alerting.Alert {
	typ := alerting.BackupFailed
	if i%2 == 1 {
		typ = alerting.UserLockout
	}
	at, status := f.now.Add(-2*time.Hour-time.Duration(i)*time.Second), alerting.Open
	switch phase {
	case exactlyOnceRepeat:
		at = at.Add(time.Hour)
	case alerting.Resolved:
		at, status = f.now.Add(-time.Duration(i)*time.Second), alerting.Resolved
	}
	return alert(fmt.Sprintf("x-%03d", i), i%orgs+1, typ, alerting.Error, status, at)
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
