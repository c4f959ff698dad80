package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/localaws/faultinject"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// outageCase is a request tenant A (or the operators) would send to a
// route; "{phase}" in the body is replaced by the phase, so creating routes
// create something new in each, and "{now}" by an hour before the test's
// clock.
type outageCase struct {
	body     string
	signed   bool
	operator bool
}

var outageCases = map[operation]outageCase{
	"GET /v1/integration":                              {},
	"GET /v1/integration/company-types":                {},
	"PUT /v1/integration":                              {body: "A_AUTOTASK"},
	"DELETE /v1/integration":                           {},
	"PUT /v1/integration/company-types":                {body: `{"companyTypeIds":[1]}`},
	"GET /v1/tenant":                                   {},
	"GET /v1/ticketing":                                {},
	"PUT /v1/ticketing":                                {body: `{"enabled":true}`},
	"PATCH /v1/ticketing":                              {body: `{"enabled":false}`},
	"GET /v1/psa/company-types":                        {},
	"GET /v1/psa/companies":                            {},
	"GET /v1/psa/companies/{id}/contracts":             {},
	"GET /v1/psa/contracts/{id}/lines":                 {},
	"GET /v1/psa/ticket-options":                       {},
	"GET /v1/orgs":                                     {},
	"GET /v1/orgs/{org}/mapping":                       {},
	"PUT /v1/orgs/{org}/mapping":                       {body: `{"companyId":1001,"contractId":2001,"lines":[{"product":"users","lineId":4001}],"nonBillableUsers":2}`},
	"PATCH /v1/orgs/{org}/mapping":                     {body: `{"nonBillableUsers":0}`},
	"DELETE /v1/orgs/{org}/mapping":                    {},
	"GET /v1/billing-settings":                         {},
	"PUT /v1/billing-settings":                         {body: `{"timeZone":"Asia/Tokyo","period":"current","effectiveDate":"period-start","createMissingLines":false,"zeroDeprovisioned":false,"unitCost":{},"budgetPerHour":5000,"runAt":"12:00"}`},
	"PATCH /v1/billing-settings":                       {body: `{"timeZone":"Asia/Tokyo"}`},
	"GET /v1/alert-rules":                              {},
	"GET /v1/alert-rules/{alertType}":                  {},
	"PATCH /v1/alert-rules/{alertType}":                {body: `{"enabled":true}`},
	"PUT /v1/alert-rules/{alertType}":                  {body: `{"enabled":false}`},
	"GET /v1/openapi.json":                             {},
	"POST /v1/usage":                                   {body: `{"observations":[{"org":"acme-org-1","value":31,"observedAt":"{now}"}]}`, signed: true},
	"PUT /v1/orgs/{org}":                               {body: `{"name":"Acme Org {phase}"}`, signed: true},
	"POST /v1/webhooks/alerts":                         {body: `{"id":"down-{phase}","type":"user_lockout","severity":"error","org":"acme-org-1","status":"open","occurredAt":"{now}"}`, signed: true},
	"POST /v1/platform/tenants":                        {body: `{"id":"new-{phase}-msp"}`, operator: true},
	"POST /v1/platform/tenants/{tenant}/rotate-secret": {operator: true},
	"POST /v1/sync-runs":                               {body: `{"dryRun":true}`},
	"GET /v1/sync-runs":                                {},
	"GET /v1/sync-runs/{id}":                           {},
	"GET /v1/sync-runs/{id}/entries":                   {},
	"GET /v1/alerts":                                   {},
	"GET /v1/catalog":                                  {},
	"PUT /v1/catalog":                                  {body: `{"products":[]}`},
	"POST /v1/catalog/push":                            {},
	"GET /v1/psa/catalog-options":                      {},
	"GET /v1/orgs/{org}/mapping/health":                {},
	"GET /v1/orgs/{org}/mapping/suggestions":           {},
	"GET /v1/mapping-suggestions":                      {},
	"GET /v1/reconciliation":                           {},
}

// outageState is what a request could have half-written: tenant A's items
// and secrets, the new tenant's, and the ticket queue's messages.
type outageState struct {
	items   map[string]string
	secrets []string
	queued  int
}

// TestDependencyDown: DynamoDB, SQS and Secrets Manager are each
// unreachable in turn (Secrets Manager with the process's secret cache warm
// and cold), and every route is called by its rightful caller. No answer is
// 500; every request that met the outage is answered 503 with Retry-After;
// and a 503 leaves nothing half-written: tenant items, secrets and the
// ticket queue are as before, but for the webhook's alert stored before
// the queue failed, which the platform's next delivery queues.
func TestDependencyDown(t *testing.T) {
	inj := &faultinject.Injector{}
	cfg := dynamotest.MustConfig(t)
	prefix := fmt.Sprintf("test-outage-%d/psabridge/", time.Now().UnixNano())
	healthySecrets, err := secrets.New(awsconfig.SecretsManager(cfg), prefix)
	if err != nil {
		t.Fatal(err)
	}
	injectedSecrets := func() *secrets.Store {
		s, err := secrets.New(awsconfig.SecretsManager(cfg, inj.SecretsManager), prefix)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sqsAdmin := sqstest.MustClient(t, nil)
	queue := sqstest.MustQueueOf(t, sqsAdmin, "ticket")
	var wired httpapi.Config
	e := newPSAEnv(t, func(c *httpapi.Config) {
		faulty := dynamo.New(awsconfig.DynamoDB(cfg, inj.DynamoDB), c.Store.(*dynamo.Store).Table)
		c.Store, c.RunLog, c.Alerts = faulty, faulty, faulty
		c.Secrets = injectedSecrets()
		c.TicketQueue = &sqsqueue.Sender{Client: awsconfig.SQS(cfg, inj.SQS), QueueURL: queue.URL}
		// Lambda's timeout, scaled down (the SDK and the sender retry
		// until the deadline).
		c.Timeout = 5 * time.Second
		wired = *c
	})
	secretA := e.mustProvision(tenantA)
	e.mustConnect()
	if rec := e.signed("PUT", "/v1/orgs/acme-org-1", tenantA, []byte(`{"name":"Acme Org One"}`), secretA); rec.Code != 200 {
		t.Fatalf("register org: got %d %s", rec.Code, rec.Body)
	}
	e.mustMap("acme-org-1")

	state := func(newTenant string) outageState {
		t.Helper()
		var s outageState
		s.items = map[string]string{}
		for _, tenant := range []string{tenantA, newTenant} {
			for k, v := range itemsOf(mustItems(t, e.Store, tenant)) {
				s.items[k] = v
			}
			signing, err := healthySecrets.FreshSigningSecrets(ctx(), tenant)
			creds, err2 := healthySecrets.FreshPSACredentials(ctx(), tenant)
			s.secrets = append(s.secrets, fmt.Sprint(signing, apperr.CodeOf(err)), fmt.Sprint(creds, apperr.CodeOf(err2)))
		}
		s.queued = len(sqstest.MustReceiveAll(t, sqsAdmin, queue.URL))
		return s
	}

	ops := everyOperation(e.Handler)
	for _, phase := range []struct {
		name, service string
		cold          bool
	}{
		{"dynamodb", "DynamoDB", false},
		{"secrets", "Secrets Manager", false},
		{"coldsecrets", "Secrets Manager", true},
		{"sqs", "SQS", false},
	} {
		api := e
		if phase.cold {
			// A fresh process: nothing cached.
			c := wired
			c.Secrets = injectedSecrets()
			fresh := *e.testAPI
			fresh.Handler = httpapi.New(c)
			env := *e
			env.testAPI = &fresh
			api = &env
		}
		t.Run(phase.name, func(t *testing.T) {
			for _, op := range ops {
				t.Run(op, func(t *testing.T) {
					tc, ok := outageCases[op]
					if !ok {
						t.Fatalf("route %q has no case: add one to outageCases", op)
					}
					newTenant := "new-" + phase.name + "-msp"
					method, path := samplePath(op)
					body := []byte(strings.NewReplacer("{phase}", phase.name, "{now}", api.Now.Add(-time.Hour).UTC().Format(time.RFC3339)).Replace(tc.body))
					if tc.body == "A_AUTOTASK" {
						body = e.autotaskBody(atSecret)
					}
					before := state(newTenant)
					calls := func() int {
						n := 0
						for k, v := range inj.Injected() {
							if strings.HasSuffix(k, "/Unreachable") {
								n += v
							}
						}
						return n
					}
					met := calls()
					inj.Set(faultinject.Down(phase.service, faultinject.Unreachable))
					var rec interface{ Result() *http.Response }
					switch {
					case tc.signed:
						h := http.Header{}
						h.Set(signature.TenantHeader, tenantA)
						h.Set(signature.Header, signature.Sign(body, api.Now, secretA))
						rec = api.do(method, path, "", body, h)
					case tc.operator:
						rec = api.do(method, path, api.operatorToken(), body, nil)
					default:
						rec = api.admin(tenantA, method, path, body, nil)
					}
					inj.Set(nil)
					met = calls() - met
					res := rec.Result()
					if res.StatusCode == http.StatusInternalServerError {
						t.Fatalf("got 500, want 503 for an outage, never internal")
					}
					if met > 0 && res.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("got %d after %d calls to the unreachable %s, want 503", res.StatusCode, met, phase.service)
					}
					if res.StatusCode != http.StatusServiceUnavailable {
						return
					}
					if res.Header.Get("Retry-After") == "" {
						t.Errorf("got 503 without Retry-After")
					}
					after := state(newTenant)
					if pending, ok := resumable[op+" "+phase.service]; ok {
						// A designed pending state that the caller's
						// retry, as 503 asks, completes.
						after = before.without(t, after, pending.item)
						inj.Set(nil)
						var rec interface{ Result() *http.Response }
						if tc.signed {
							h := http.Header{}
							h.Set(signature.TenantHeader, tenantA)
							h.Set(signature.Header, signature.Sign(body, api.Now, secretA))
							rec = api.do(method, path, "", body, h)
						} else {
							rec = api.do(method, path, api.operatorToken(), body, nil)
						}
						if got := rec.Result().StatusCode; got != pending.retry {
							t.Fatalf("retry: got %d, want %d", got, pending.retry)
						}
						if n := len(sqstest.MustReceiveAll(t, sqsAdmin, queue.URL)); n != pending.queued {
							t.Fatalf("retry: got %d messages, want %d", n, pending.queued)
						}
					}
					if !reflect.DeepEqual(before, after) {
						t.Errorf("a 503 left state behind: %s", before.diff(after))
					}
				})
			}
		})
	}
}

// diff names what differs between s and after.
func (s outageState) diff(after outageState) string {
	var out []string
	for k, v := range after.items {
		if s.items[k] != v {
			out = append(out, "item "+k+" written")
		}
	}
	for k := range s.items {
		if _, ok := after.items[k]; !ok {
			out = append(out, "item "+k+" deleted")
		}
	}
	if !reflect.DeepEqual(s.secrets, after.secrets) {
		out = append(out, "secrets changed")
	}
	if after.queued != s.queued {
		out = append(out, fmt.Sprintf("%d messages queued", after.queued))
	}
	return strings.Join(out, "; ")
}

// resumable lists the pending states a 503 may leave, by route and the
// service that was down: what is left (an item matching item) and what
// the caller's retry then answers and queues.
var resumable = map[string]struct {
	item   func(key, attrs string) bool
	retry  int
	queued int
}{
	// The alert is stored, not yet queued: the next delivery queues it.
	"POST /v1/webhooks/alerts SQS": {item: func(k, v string) bool {
		return strings.Contains(k, " ALERT#") && strings.Contains(v, "state=S:queued;") && !strings.Contains(v, "enqueued=")
	}, retry: http.StatusAccepted, queued: 1},
	// The tenant is stored without a signing secret: the retry finishes it.
	"POST /v1/platform/tenants Secrets Manager": {item: func(k, _ string) bool {
		return strings.HasSuffix(k, " TENANT") && !strings.HasPrefix(k, "T#"+tenantA+" ")
	}, retry: http.StatusCreated},
}

// without checks that after differs from s by exactly one new item that
// matches pending, and returns after without it.
func (s outageState) without(tb testing.TB, after outageState, pending func(key, attrs string) bool) outageState {
	tb.Helper()
	out := after
	out.items = map[string]string{}
	n := 0
	for k, v := range after.items {
		if _, ok := s.items[k]; !ok && pending(k, v) {
			n++
			continue
		}
		out.items[k] = v
	}
	if n != 1 {
		tb.Errorf("got %d pending items, want 1", n)
	}
	return out
}
