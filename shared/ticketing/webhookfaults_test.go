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
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/localaws/faultinject"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// webhookSteps are the AWS calls of the webhook's path after the signing
// secret: store the occurrence, queue it, mark it queued.
var webhookSteps = []string{"PutItem", "SendMessageBatch", "UpdateItem"}

// webhookFaults are the faults each step meets in turn.
var webhookFaults = []faultinject.Kind{faultinject.Error, faultinject.Timeout, faultinject.LostResponse, faultinject.Unreachable}

// faultPlan fails, for alert i, the first call of step i%3 that concerns
// it, with fault (i/3)%4; and the first four reads of the signing secret,
// one of each fault. So every AWS call of the webhook's path fails once
// with every fault, at every step, and every alert meets one fault.
type faultPlan struct {
	mu          sync.Mutex
	hit         map[string]bool
	secretReads int
}

var alertIDPattern = regexp.MustCompile(`x-(\d{3})`)

func (p *faultPlan) decide(c faultinject.Call) faultinject.Kind {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Operation == "GetSecretValue" {
		p.secretReads++
		if p.secretReads <= len(webhookFaults) {
			return webhookFaults[p.secretReads-1]
		}
		return faultinject.None
	}
	var text string
	switch in := c.Input.(type) {
	case *dynamodb.PutItemInput:
		text = attrString(in.Item[schema.SortKey])
	case *dynamodb.UpdateItemInput:
		text = attrString(in.Key[schema.SortKey])
	case *sqs.SendMessageBatchInput:
		for _, e := range in.Entries {
			text += aws.ToString(e.MessageBody)
		}
	}
	m := alertIDPattern.FindStringSubmatch(text)
	if m == nil {
		return faultinject.None
	}
	i, _ := strconv.Atoi(m[1])
	if c.Operation != webhookSteps[i%len(webhookSteps)] || p.hit[m[0]] {
		return faultinject.None
	}
	p.hit[m[0]] = true
	return webhookFaults[(i/len(webhookSteps))%len(webhookFaults)]
}

// lockedHTTP sends one HTTP request at a time.
type lockedHTTP struct {
	mu   sync.Mutex
	next aws.HTTPClient
}

func (l *lockedHTTP) Do(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next.Do(req)
}

func attrString(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// TestWebhookFaultInjection: every AWS call on the webhook's path (the
// signing secret's read, the conditional put, the send to the ticket
// queue, the Enqueued mark) fails once with each fault (an AWS error, a
// timeout past the request's deadline, a lost response, an unreachable
// service), in turn at every step, while the platform sends 100 alerts × 5
// deliveries, shuffled and concurrent, and the ticket worker works the
// queue. Every delivery is answered 202 or 503 with Retry-After (never
// another status), and the outcome is exactly 100 tickets, none lost, and
// an empty dead-letter queue.
func TestWebhookFaultInjection(t *testing.T) {
	forEachPSA(t, func(t *testing.T, p sandboxPSA) {
		const alerts, deliveries, orgs = 100, 5, 20
		ctx := context.Background()
		f := mustFixture(t, p, orgs)
		plan := &faultPlan{hit: map[string]bool{}}
		inj := &faultinject.Injector{Decide: plan.decide}
		cfg := dynamotest.MustConfig(t)

		// The webhook as functions/webhook wires it, its three clients
		// through the injector; the worker's own clients are healthy.
		prefix := fmt.Sprintf("test-%d/psabridge/", time.Now().UnixNano())
		seed, err := secrets.New(awsconfig.SecretsManager(cfg), prefix)
		if err != nil {
			t.Fatal(err)
		}
		const signingSecret = "whsec_faults"
		if err := seed.PutSigningSecrets(ctx, tenant, []secrets.SigningSecret{{ID: "sk_1", Value: signingSecret, CreatedAt: f.now}}); err != nil {
			t.Fatal(err)
		}
		// The webhook's clients: their calls are the webhook's in the
		// record of AWS calls (TestMain).
		wcfg := awsconfig.As(cfg, "webhook")
		sec, err := secrets.New(awsconfig.SecretsManager(wcfg, inj.SecretsManager), prefix)
		if err != nil {
			t.Fatal(err)
		}
		sqsClient := sqstest.MustClient(t, nil)
		queue := sqstest.MustQueueOf(t, sqsClient, "ticket")
		// Moto's SQS must see one request at a time (see sqstest.Serial); here
		// the lock is taken per HTTP request, beneath the faults, so a
		// call hanging past its deadline does not hold it.
		oneAtATime := &lockedHTTP{next: awshttp.NewBuildableClient()}
		serial := sqs.New(sqsClient.Options(), func(o *sqs.Options) { o.HTTPClient = oneAtATime })
		api := httpapi.New(httpapi.Config{
			Secrets:     httpapi.SigningOnly(sec),
			Alerts:      dynamo.New(awsconfig.DynamoDB(wcfg, inj.DynamoDB), f.store.Table),
			TicketQueue: &sqsqueue.Sender{Client: sqs.New(sqstest.As(serial, "webhook").Options(), inj.SQS), QueueURL: queue.URL},
			// The webhook function's 10 s, scaled down: the work of a
			// request ends a second early, when a hung call is given up.
			Timeout: 4 * time.Second,
			Now:     func() time.Time { return f.now }, Logger: slog.New(slog.DiscardHandler)})

		var mappings []*esm.Mapping
		for range queuePollers {
			mappings = append(mappings, &esm.Mapping{SQS: serial, QueueURL: queue.URL, BatchSize: 10, VisibilityTimeout: 30 * time.Second, Handler: f.worker.Handle})
		}
		var bodies [][]byte
		for i := range alerts {
			b, err := json.Marshal(exactlyOnceAlert(f, i, orgs, alerting.Open))
			if err != nil {
				t.Fatal(err)
			}
			for range deliveries {
				bodies = append(bodies, b)
			}
		}
		rng := rand.New(rand.NewPCG(13, 5))
		rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
		var mu sync.Mutex
		answers := map[int]int{}
		accepted := map[string]int{}
		post := func(b []byte) error {
			req := httptest.NewRequest("POST", "/v1/webhooks/alerts", bytes.NewReader(b))
			req.Header.Set(signature.TenantHeader, tenant)
			req.Header.Set(signature.Header, signature.Sign(b, f.now, signingSecret))
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			switch {
			case rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") != "":
			case rec.Code == http.StatusAccepted:
			default:
				return fmt.Errorf("got %d %s (Retry-After %q), want 202, or 503 with Retry-After", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
			}
			mu.Lock()
			defer mu.Unlock()
			answers[rec.Code]++
			if rec.Code == http.StatusAccepted {
				accepted[alertIDPattern.FindString(string(b))]++
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
		mustDrain(t, mappings)

		injected := inj.Injected()
		for _, step := range append([]string{"GetSecretValue"}, webhookSteps...) {
			for _, k := range webhookFaults {
				if injected[step+"/"+k.String()] == 0 {
					t.Errorf("no %s fault was injected into %s (injected: %v)", k, step, injected)
				}
			}
		}
		if answers[http.StatusServiceUnavailable] == 0 {
			t.Errorf("got no 503, want some: the faults did not reach the answers (%v)", answers)
		}
		if dlq := sqstest.MustReceiveAll(t, sqsClient, queue.DLQURL); len(dlq) != 0 {
			t.Fatalf("got %d messages in the DLQ, want none", len(dlq))
		}
		if n := f.ticketsMade(); n != alerts {
			t.Fatalf("got %d tickets, want exactly %d", n, alerts)
		}
		seen := map[int64]bool{}
		for i := range alerts {
			a := exactlyOnceAlert(f, i, orgs, alerting.Open)
			if accepted[a.ID] == 0 {
				t.Errorf("%s: no delivery was accepted", a.ID)
			}
			rec := f.mustRecord(t, a)
			if rec.State != alerting.Done || rec.Decision != alerting.OpenTicket || seen[rec.TicketID] {
				t.Fatalf("%s: got %+v, want open done on a ticket of its own", a.ID, rec)
			}
			seen[rec.TicketID] = true
		}
		t.Logf("answers %v; faults injected %v", answers, injected)
	})
}
