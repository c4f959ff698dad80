package ticketing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
// status, queue and due date, and an empty dead-letter queue.
func TestExactlyOnce(t *testing.T) {
	const alerts, deliveries, orgs = 100, 10, 20
	start := time.Now()
	ctx := context.Background()
	f := mustFixture(t, orgs)

	// The webhook, as functions/webhook wires it: signing secrets, the
	// alert store and the FIFO ticket queue.
	sec := secretstest.NewStore(t)
	const signingSecret = "whsec_exactly_once"
	if err := sec.PutSigningSecrets(ctx, tenant, []secrets.SigningSecret{{ID: "sk_1", Value: signingSecret, CreatedAt: f.now}}); err != nil {
		t.Fatal(err)
	}
	sqsClient := sqstest.MustClient(t, nil)
	queue := sqstest.MustFIFO(t, sqsClient)
	api := httpapi.New(httpapi.Config{Secrets: httpapi.SigningOnly(sec), Alerts: f.store, TicketQueue: &sqsqueue.Sender{Client: sqsClient, QueueURL: queue.URL},
		Now: func() time.Time { return f.now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})

	var bodies [][]byte
	for i := range alerts {
		typ := alerting.BackupFailed
		if i%2 == 1 {
			typ = alerting.UserLockout
		}
		a := alert(fmt.Sprintf("x-%03d", i), i%orgs+1, typ, alerting.Error, alerting.Open, f.now.Add(-time.Duration(i)*time.Second))
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		for range deliveries {
			bodies = append(bodies, b)
		}
	}
	rng := rand.New(rand.NewPCG(6, 6))
	rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	var wg sync.WaitGroup
	work := make(chan []byte)
	errs := make(chan string, len(bodies))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				req := httptest.NewRequest("POST", "/v1/webhooks/alerts", bytes.NewReader(b))
				req.Header.Set(signature.TenantHeader, tenant)
				req.Header.Set(signature.Header, signature.Sign(b, f.now, signingSecret))
				rec := httptest.NewRecorder()
				api.ServeHTTP(rec, req)
				if rec.Code != http.StatusAccepted {
					errs <- fmt.Sprintf("%d %s", rec.Code, rec.Body)
				}
			}
		}()
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("webhook: got %s, want 202", e)
	}

	t.Logf("webhook phase done at %s", time.Since(start))
	index := func(body string) int {
		var m alerting.Message
		_ = json.Unmarshal([]byte(body), &m)
		n, _ := strconv.Atoi(strings.TrimPrefix(m.Alert.ID, "x-"))
		return n
	}
	f.worker.Store = &crashingStore{Store: f.store, crash: func(r alerting.Record) bool {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.ID, "x-"))
		return n%6 == 1
	}, crashed: map[string]bool{}}
	f.sb.SetFaults(sandbox.Faults{Seed: 20, Rate500: 0.2})
	var mu sync.Mutex
	lostAck := map[string]bool{}
	received := 0
	m := esm.Mapping{SQS: sqsClient, QueueURL: queue.URL, BatchSize: 10, VisibilityTimeout: 30 * time.Second,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			resp, err := f.worker.Handle(ctx, ev)
			mu.Lock()
			defer mu.Unlock()
			received += len(ev.Records)
			failed := map[string]bool{}
			for _, x := range resp.BatchItemFailures {
				failed[x.ItemIdentifier] = true
			}
			for _, r := range ev.Records {
				if index(r.Body)%3 == 0 && !failed[r.MessageId] && !lostAck[r.Body] {
					lostAck[r.Body] = true
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, err
		}}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := m.Drain(dctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.sb.SetFaults(sandbox.Faults{})

	if received < alerts+alerts/3 {
		t.Fatalf("got %d receives, want at least %d (every message plus the forced redeliveries)", received, alerts+alerts/3)
	}
	if dlq := sqstest.MustReceiveAll(t, sqsClient, queue.DLQURL); len(dlq) != 0 {
		t.Fatalf("got %d messages in the DLQ, want none", len(dlq))
	}
	if n := f.sb.Autotask.TicketsCreated(atUser); n != alerts {
		t.Fatalf("got %d tickets, want exactly %d", n, alerts)
	}
	due := alerting.DueDate(f.now, testRule.DueDays, mustLoc(t, timeZone)).UTC().Format(time.RFC3339)
	seen := map[int64]bool{}
	for i := range alerts {
		a := alert(fmt.Sprintf("x-%03d", i), i%orgs+1, alerting.BackupFailed, alerting.Error, alerting.Open, f.now.Add(-time.Duration(i)*time.Second))
		rec := f.mustRecord(t, a)
		if rec.State != alerting.Done || rec.Decision != alerting.OpenTicket || seen[rec.TicketID] {
			t.Fatalf("%s: got %+v, want open done on a ticket of its own", a.ID, rec)
		}
		seen[rec.TicketID] = true
		tk, ok := f.sb.Autotask.Ticket(atUser, rec.TicketID)
		if !ok || tk.CompanyID != companyOf(i%orgs+1) || tk.Priority != testRule.PriorityID || tk.Status != testRule.StatusID ||
			tk.QueueID != testRule.QueueID || tk.DueDateTime != due || tk.ExternalID != a.ExternalKey() {
			t.Fatalf("%s: got ticket %+v, want company %d, priority %d, status %d, queue %d, due %s", a.ID, tk,
				companyOf(i%orgs+1), testRule.PriorityID, testRule.StatusID, testRule.QueueID, due)
		}
	}
	t.Logf("%d receives for %d alerts; %d PSA requests", received, alerts, f.sb.Total("autotask"))
}
