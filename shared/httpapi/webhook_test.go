package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/localaws/faultinject"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

const webhookPath = "/v1/webhooks/alerts"

// webhookAPI is the API with a real FIFO ticket queue on moto.
type webhookAPI struct {
	*testAPI
	SQS   *sqs.Client
	Queue sqsqueue.FIFOQueue
}

// newWebhookAPI builds the API with the ticket queue; counter, when set,
// counts the SQS calls of the webhook's sender.
func newWebhookAPI(tb testing.TB, counter *awsconfig.RequestCounter, mutate ...func(*httpapi.Config)) *webhookAPI {
	tb.Helper()
	admin := sqstest.MustClient(tb, nil)
	q := sqstest.MustQueueOf(tb, admin, "ticket")
	sender := &sqsqueue.Sender{Client: sqstest.MustClient(tb, counter), QueueURL: q.URL}
	a := newAPI(tb, append([]func(*httpapi.Config){func(c *httpapi.Config) { c.TicketQueue = sender }}, mutate...)...)
	return &webhookAPI{testAPI: a, SQS: admin, Queue: q}
}

// alertJSON renders a webhook body.
func alertJSON(id, typ, org, status string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"type":%q,"severity":"error","org":%q,"status":%q,"occurredAt":%q,"title":"Backup of srv-1 failed","details":{"host":"srv-1","job":42}}`,
		id, typ, org, status, at.UTC().Format(time.RFC3339)))
}

// messages receives and deletes everything on the ticket queue.
func (w *webhookAPI) messages(tb testing.TB) []sqstypes.Message {
	tb.Helper()
	return sqstest.MustReceiveAll(tb, w.SQS, w.Queue.URL)
}

// TestWebhookSignature runs the signature table through the webhook: only
// valid signatures store and queue the alert; every failure is 401 and
// leaves nothing behind.
func TestWebhookSignature(t *testing.T) {
	w := newWebhookAPI(t, nil)
	old := w.mustProvision("acme-msp")
	rec := w.do("POST", "/v1/platform/tenants/acme-msp/rotate-secret", w.operatorToken(), nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("rotate: got %d %s", rec.Code, rec.Body)
	}
	var rotated struct {
		SigningSecret struct{ Value string } `json:"signingSecret"`
	}
	mustDecode(t, rec.Body, &rotated)
	secret := rotated.SigningSecret.Value
	other := w.mustProvision("other-msp")
	n := 0
	body := func() []byte {
		n++
		return alertJSON(fmt.Sprintf("sig-%d", n), "user_lockout", "org-1", "open", w.Now)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		header func(b []byte) string
		tamper bool
		ok     bool
	}{
		{"Valid", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, secret) }, false, true},
		{"RotationOldSecretStillValid", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, old) }, false, true},
		{"RotationBothSecrets", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, old, secret) }, false, true},
		{"ValidAtEdgeOfWindow", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now.Add(-299*time.Second), secret) }, false, true},
		{"Expired", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now.Add(-301*time.Second), secret) }, false, false},
		{"Future", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now.Add(301*time.Second), secret) }, false, false},
		{"WrongSecret", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, "whsec_wrong") }, false, false},
		{"OtherTenantsSecret", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, other) }, false, false},
		{"Tampered", "acme-msp", func(b []byte) string { return signature.Sign(b, w.Now, secret) }, true, false},
		{"Missing", "acme-msp", func([]byte) string { return "" }, false, false},
		{"MalformedGarbage", "acme-msp", func([]byte) string { return "garbage" }, false, false},
		{"MalformedNotHex", "acme-msp", func([]byte) string { return "t=" + fmt.Sprint(w.Now.Unix()) + ",v1=zz" }, false, false},
		{"MalformedNoTimestamp", "acme-msp", func(b []byte) string { return strings.SplitN(signature.Sign(b, w.Now, secret), ",", 2)[1] }, false, false},
		{"UnknownTenant", "nobody-msp", func(b []byte) string { return signature.Sign(b, w.Now, secret) }, false, false},
		{"MissingTenant", "", func(b []byte) string { return signature.Sign(b, w.Now, secret) }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body()
			h := http.Header{}
			h.Set(signature.TenantHeader, tc.tenant)
			if v := tc.header(b); v != "" {
				h.Set(signature.Header, v)
			}
			if tc.tamper {
				b = []byte(strings.Replace(string(b), `"severity":"error"`, `"severity":"info"`, 1))
			}
			rec := w.do("POST", webhookPath, "", b, h)
			msgs := w.messages(t)
			if tc.ok {
				if rec.Code != http.StatusAccepted || strings.TrimSpace(rec.Body.String()) != `{"accepted":true}` || len(msgs) != 1 {
					t.Fatalf("got %d %s and %d messages, want 202 {\"accepted\":true} and 1 message", rec.Code, rec.Body, len(msgs))
				}
				return
			}
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) || len(msgs) != 0 {
				t.Fatalf("got %d %s and %d messages, want 401 and no message", rec.Code, rec.Body, len(msgs))
			}
			stored, _, err := w.Store.Alerts(context.Background(), "acme-msp", dynamo.AlertFilter{}, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stored {
				if s.ID == fmt.Sprintf("sig-%d", n) {
					t.Fatalf("got %s stored, want nothing stored for a refused signature", s.ID)
				}
			}
		})
	}
}

func TestWebhookAlert(t *testing.T) {
	w := newWebhookAPI(t, nil)
	secret := w.mustProvision("acme-msp")
	t0 := w.Now.Add(-time.Hour)
	post := func(t *testing.T, body []byte) int {
		t.Helper()
		rec := w.signed("POST", webhookPath, "acme-msp", body, secret)
		return rec.Code
	}
	open := alertJSON("al-1", "backup_failed", "org-1", "open", t0)
	for _, tc := range []struct {
		name     string
		body     []byte
		wantCode int
		wantMsgs int
	}{
		{"New", open, 202, 1},
		{"Replay", open, 202, 0},
		{"ReplayWithOtherFieldOrder", []byte(`{"status":"open","org":"org-1","id":"al-1","type":"backup_failed","severity":"error","occurredAt":"` + t0.UTC().Format(time.RFC3339) + `"}`), 202, 0},
		{"Repeat", alertJSON("al-1", "backup_failed", "org-1", "open", t0.Add(time.Minute)), 202, 1},
		{"Resolved", alertJSON("al-1", "backup_failed", "org-1", "resolved", t0.Add(time.Hour)), 202, 1},
		{"ResolvedReplay", alertJSON("al-1", "backup_failed", "org-1", "resolved", t0.Add(time.Hour)), 202, 0},
		{"UnknownTypeStoredNotQueued", alertJSON("al-2", "printer_on_fire", "org-1", "open", t0), 202, 0},
		{"UnknownFieldIgnored", []byte(`{"id":"al-3","type":"user_lockout","severity":"info","org":"org-2","status":"open","occurredAt":"` + t0.UTC().Format(time.RFC3339) + `","newField":1}`), 202, 1},
		{"ErrSeverity", []byte(strings.Replace(string(alertJSON("al-4", "user_lockout", "o", "open", t0)), `"error"`, `"fatal"`, 1)), 400, 0},
		{"ErrStatus", alertJSON("al-4", "user_lockout", "o", "closed", t0), 400, 0},
		{"ErrNoID", alertJSON("", "user_lockout", "o", "open", t0), 400, 0},
		{"ErrBadOrg", alertJSON("al-4", "user_lockout", "a/b", "open", t0), 400, 0},
		{"ErrTime", []byte(`{"id":"al-4","type":"user_lockout","severity":"info","org":"o","status":"open","occurredAt":"yesterday"}`), 400, 0},
		{"ErrDetailsNotObject", []byte(`{"id":"al-4","type":"user_lockout","severity":"info","org":"o","status":"open","occurredAt":"2026-11-21T10:00:00Z","details":[1]}`), 400, 0},
		{"ErrMalformed", []byte(`{"id":`), 400, 0},
		{"ErrTrailing", append(alertJSON("al-4", "user_lockout", "o", "open", t0), []byte(`{}`)...), 400, 0},
		{"ErrTooLarge", []byte(`{"id":"al-4","pad":"` + strings.Repeat("x", 1<<20) + `"}`), 413, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(t, tc.body); code != tc.wantCode {
				t.Fatalf("got %d, want %d", code, tc.wantCode)
			}
			if msgs := w.messages(t); len(msgs) != tc.wantMsgs {
				t.Fatalf("got %d messages, want %d", len(msgs), tc.wantMsgs)
			}
		})
	}
	stored, _, err := w.Store.Alerts(context.Background(), "acme-msp", dynamo.AlertFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 5 {
		t.Fatalf("got %d stored occurrences, want 5 (open, repeat, resolved, unknown type, unknown field)", len(stored))
	}
	unknown, _, err := w.Store.Alerts(context.Background(), "acme-msp", dynamo.AlertFilter{State: alerting.Skipped}, "", 100)
	if err != nil || len(unknown) != 1 || unknown[0].ID != "al-2" || unknown[0].Reason != alerting.ReasonUnknownType {
		t.Fatalf("got %+v %v, want al-2 skipped as unknown_type", unknown, err)
	}
}

// TestWebhookMessage checks the queued message: FIFO group and dedup ids
// and the body the ticket worker reads.
func TestWebhookMessage(t *testing.T) {
	w := newWebhookAPI(t, nil)
	secret := w.mustProvision("acme-msp")
	t0 := w.Now.Add(-time.Minute)
	if rec := w.signed("POST", webhookPath, "acme-msp", alertJSON("al-9", "user_lockout", "org-7", "open", t0), secret); rec.Code != 202 {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
	}
	msgs := w.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	var m alerting.Message
	if err := json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Tenant != "acme-msp" || m.Alert.ID != "al-9" || m.Alert.Org != "org-7" || !m.Alert.OccurredAt.Equal(t0.Truncate(time.Second)) ||
		string(m.Alert.Details) != `{"host":"srv-1","job":42}` {
		t.Fatalf("got %+v, want the tenant and the alert with its details", m)
	}
	attrs := msgs[0].Attributes
	if got, want := attrs["MessageGroupId"], m.Alert.QueueGroup("acme-msp"); got != want {
		t.Fatalf("got group %q, want %q", got, want)
	}
	if got, want := attrs["MessageDeduplicationId"], m.Alert.QueueDedup("acme-msp"); got != want {
		t.Fatalf("got dedup %q, want %q", got, want)
	}
}

// failingQueue refuses every send.
type failingQueue struct{ calls int }

func (f *failingQueue) Send(context.Context, []sqsqueue.Message) (int, error) {
	f.calls++
	return 1, apperr.Wrap(errors.New("connection reset"), apperr.Transient, "the queue did not accept the messages")
}

// TestWebhookQueueDown: when the alert cannot be queued the platform gets
// 503 with Retry-After, and its retry queues the stored occurrence instead
// of acknowledging a replay that was never queued.
func TestWebhookQueueDown(t *testing.T) {
	down := &failingQueue{}
	w := newWebhookAPI(t, nil)
	secret := w.mustProvision("acme-msp")
	broken := newAPI(t, func(c *httpapi.Config) {
		c.TicketQueue = down
		c.Store, c.Alerts = w.Store, w.Store
		c.Secrets = w.Secrets
	})
	broken.Now = w.Now
	body := alertJSON("al-1", "user_lockout", "org-1", "open", w.Now)
	rec := broken.signed("POST", webhookPath, "acme-msp", body, secret)
	if rec.Code != http.StatusServiceUnavailable || down.calls != 1 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %s (Retry-After %q) after %d sends, want 503 with Retry-After after 1", rec.Code, rec.Body, rec.Header().Get("Retry-After"), down.calls)
	}
	for i, want := range []int{1, 0} {
		if rec := w.signed("POST", webhookPath, "acme-msp", body, secret); rec.Code != http.StatusAccepted {
			t.Fatalf("retry %d: got %d %s, want 202", i+1, rec.Code, rec.Body)
		}
		if msgs := w.messages(t); len(msgs) != want {
			t.Fatalf("retry %d: got %d messages, want %d (queued once, then a replay of a queued alert)", i+1, len(msgs), want)
		}
	}
}

// TestWebhookQueueHangs: with SQS blackholed (a call never answers), a
// delivery is answered 503 with Retry-After when its work's deadline
// passes, a margin before the function's timeout, after one SQS call: no
// retry is started that could not finish. (Before, the sender's tries on
// top of the SDK's retries took 27-30 s against the webhook's 10 s.)
func TestWebhookQueueHangs(t *testing.T) {
	var counter awsconfig.RequestCounter
	client := sqstest.MustClient(t, &counter)
	hole := faultinject.Blackhole(t)
	queue := &sqsqueue.Sender{Client: sqs.New(client.Options(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(hole) }),
		QueueURL: hole + "/123456789012/tickets.fifo"}
	w := newWebhookAPI(t, nil, func(c *httpapi.Config) { c.TicketQueue = queue; c.Timeout = 2 * time.Second })
	secret := w.mustProvision("acme-msp")
	counter.Reset()
	rec := w.signed("POST", webhookPath, "acme-msp", alertJSON("al-1", "user_lockout", "org-1", "open", w.Now), secret)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %s (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if n := counter.Total(); n != 1 {
		t.Fatalf("got %d SQS calls, want 1: the first hangs until the deadline", n)
	}
}

// deadlineQueue records the deadline of the context it is called with.
type deadlineQueue struct{ got time.Time }

func (q *deadlineQueue) Send(ctx context.Context, _ []sqsqueue.Message) (int, error) {
	q.got, _ = ctx.Deadline()
	return 1, nil
}

// TestWebhookWorkDeadline: the dependencies of a request see its context's
// deadline (in Lambda, the function's) moved a margin earlier, and a
// request without one gets Config.Timeout.
func TestWebhookWorkDeadline(t *testing.T) {
	q := &deadlineQueue{}
	w := newWebhookAPI(t, nil, func(c *httpapi.Config) { c.TicketQueue = q; c.Timeout = time.Hour })
	secret := w.mustProvision("acme-msp")
	end := time.Now().Add(10 * time.Second)
	body := alertJSON("al-1", "user_lockout", "org-1", "open", w.Now)
	req := httptest.NewRequest("POST", webhookPath, bytes.NewReader(body))
	req.Header.Set(signature.TenantHeader, "acme-msp")
	req.Header.Set(signature.Header, signature.Sign(body, w.Now, secret))
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	rec := httptest.NewRecorder()
	iamcalls.HTTP(w.Handler).ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
	}
	if want := end.Add(-deadline.Margin); !q.got.Equal(want) {
		t.Fatalf("got the queue's deadline %v, want %v (the request's, a margin early)", q.got, want)
	}
	before := time.Now()
	if rec := w.signed("POST", webhookPath, "acme-msp", alertJSON("al-2", "user_lockout", "org-1", "open", w.Now), secret); rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
	}
	if q.got.Before(before.Add(time.Hour-deadline.Margin)) || q.got.After(time.Now().Add(time.Hour-deadline.Margin)) {
		t.Fatalf("got the queue's deadline %v, want Config.Timeout less the margin from the request", q.got)
	}
}

// TestWebhookStoredNeverQueued: a delivery that stored its alert and then
// ended (Lambda's timeout killed it) left the occurrence Queued but not
// Enqueued; the next delivery queues it, and the ticket worker receives
// it. An occurrence the worker already handled is only acknowledged.
func TestWebhookStoredNeverQueued(t *testing.T) {
	w := newWebhookAPI(t, nil)
	secret := w.mustProvision("acme-msp")
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		state    alerting.State
		wantMsgs int
	}{
		{"Queued", alerting.Queued, 1},
		{"AlreadyHandled", alerting.Done, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := alerting.Alert{ID: "killed-" + tc.name, Type: alerting.UserLockout, Severity: alerting.Error, Org: "org-1",
				Status: alerting.Open, OccurredAt: w.Now.Truncate(time.Second)}
			rec := alerting.NewRecord(a, w.Now)
			rec.State = tc.state
			if _, _, err := w.Store.PutAlert(ctx, "acme-msp", rec); err != nil {
				t.Fatal(err)
			}
			body := alertJSON(a.ID, string(a.Type), a.Org, string(a.Status), a.OccurredAt)
			if got := w.signed("POST", webhookPath, "acme-msp", body, secret); got.Code != http.StatusAccepted {
				t.Fatalf("got %d %s, want 202", got.Code, got.Body)
			}
			msgs := w.messages(t)
			if len(msgs) != tc.wantMsgs {
				t.Fatalf("got %d messages, want %d", len(msgs), tc.wantMsgs)
			}
			if tc.wantMsgs == 1 {
				var m alerting.Message
				if err := json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &m); err != nil || m.Alert.ID != a.ID {
					t.Fatalf("got %s %v, want the alert %s", aws.ToString(msgs[0].Body), err, a.ID)
				}
				stored, err := w.Store.Alert(ctx, "acme-msp", a)
				if err != nil || !stored.Enqueued {
					t.Fatalf("got %+v %v, want the occurrence marked enqueued", stored, err)
				}
			}
		})
	}
}

// FuzzWebhook: whatever the body and headers, never a panic, never a 5xx.
// Seeded with the malformed bodies of issue 13 (trailing data, duplicate
// keys, invalid UTF-8 in details and elsewhere).
func FuzzWebhook(f *testing.F) {
	w := newWebhookAPI(f, nil)
	secret := w.mustProvision("fuzz-msp")
	seeds := [][]byte{
		alertJSON("f-1", "user_lockout", "org-1", "open", w.Now),
		alertJSON("f-1", "printer_on_fire", "org-1", "resolved", w.Now),
		[]byte(`{"id":"x","details":{"a":[1,{"b":null}]},"occurredAt":"0001-01-01T00:00:00Z"}`),
		[]byte(`{}`), []byte(`[]`), []byte(`null`), []byte(``), []byte(`{"id":"` + strings.Repeat("a", 200) + `"}`),
	}
	valid := string(alertJSON("f-2", "backup_failed", "org-1", "open", w.Now))
	for _, bad := range strictBodies(valid, "id") {
		seeds = append(seeds, []byte(bad.body))
	}
	seeds = append(seeds, []byte(strings.Replace(valid, `"srv-1"`, "\"srv-\xff\"", 1)))
	for _, s := range seeds {
		f.Add(s, "fuzz-msp", "", true)
		f.Add(s, "fuzz-msp", "t=1,v1=00", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, tenant, header string, sign bool) {
		h := http.Header{}
		h.Set(signature.TenantHeader, tenant)
		if sign {
			header = signature.Sign(body, w.Now, secret)
		}
		h.Set(signature.Header, header)
		rec := w.with(t).do("POST", webhookPath, "", body, h)
		if rec.Code >= 500 {
			t.Fatalf("got %d %s for body %q", rec.Code, rec.Body, body)
		}
	})
}

// BenchmarkWebhook reports the AWS requests one new alert costs (goal: two
// DynamoDB writes, the conditional put and the Enqueued mark, and one SQS
// send; signing secrets are cached).
func BenchmarkWebhook(b *testing.B) {
	var ddb, sq awsconfig.RequestCounter
	store := dynamotest.NewStore(b, &ddb)
	w := newWebhookAPI(b, &sq, func(c *httpapi.Config) { c.Alerts = store })
	secret := w.mustProvision("bench-msp")
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = alertJSON(fmt.Sprintf("bench-%d", i), "backup_failed", fmt.Sprintf("org-%d", i%50), "open", w.Now)
	}
	ddb.Reset()
	sq.Reset()
	b.ResetTimer()
	for i := range b.N {
		if rec := w.signed("POST", webhookPath, "bench-msp", bodies[i], secret); rec.Code != http.StatusAccepted {
			b.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(ddb.Total())/float64(b.N), "ddb-req/alert")
	b.ReportMetric(float64(sq.Total())/float64(b.N), "sqs-req/alert")
}

// TestWebhookSampleEvents posts each sample event of events/webhook (API
// Gateway v2 requests, every alert type open and resolved) through the
// Lambda adapter the webhook function uses: all accepted and queued.
func TestWebhookSampleEvents(t *testing.T) {
	w := newWebhookAPI(t, nil)
	w.Now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if err := w.Secrets.PutSigningSecrets(context.Background(), "demo-msp",
		[]secrets.SigningSecret{{ID: "sk_sample", Value: "whsec_sample_demo_msp", CreatedAt: w.Now}}); err != nil {
		t.Fatal(err)
	}
	all, err := samples.Load("webhook", w.Now)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 10 {
		t.Fatalf("got %d sample events, want every alert type open and resolved", len(all))
	}
	adapter := httpadapter.NewV2(iamcalls.HTTP(w.Handler))
	for _, s := range all {
		t.Run(strings.TrimSuffix(s.Name, ".json"), func(t *testing.T) {
			b, err := samples.Resign(s.JSON, w.Now, "whsec_sample_demo_msp")
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			resp, err := adapter.ProxyWithContext(context.Background(), ev)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("got %d %s %v, want 202", resp.StatusCode, resp.Body, err)
			}
		})
	}
	if msgs := w.messages(t); len(msgs) != len(all) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(all))
	}
}
