package lambdaruntime_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/samples"
)

// verifier holds what the checks of one test share: the seeded tenant, and
// the signing secret the API's provisioning sample returned.
type verifier struct {
	demo       *demoTenant
	refs       sampleRefs
	apiSecret  string
	sandboxURL string
	lambda     *lambdaEndpoint
}

func (v *verifier) signAPI(t *testing.T, event []byte) []byte {
	return resign(t, event, v.apiSecret)
}

func (v *verifier) signWebhook(t *testing.T, event []byte) []byte {
	return resign(t, event, v.demo.signing)
}

// api checks each sample's status, keeps the provisioned tenant's signing
// secret for the signed samples after it, and that the usage was taken.
func (v *verifier) api(t *testing.T, name string, _, resp []byte) {
	r := apiResponse(t, resp)
	secret, err := samples.CheckAPI(name, r.StatusCode, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		v.apiSecret = secret
	}
}

// webhook checks that each (re-signed) alert was accepted and stored.
func (v *verifier) webhook(t *testing.T, _ string, event, resp []byte) {
	if r := apiResponse(t, resp); r.StatusCode != 202 {
		t.Fatalf("got %d %s, want 202", r.StatusCode, r.Body)
	}
	var ev struct{ Body string }
	mustUnmarshal(t, event, &ev)
	var a alerting.Alert
	mustUnmarshal(t, []byte(ev.Body), &a)
	rec, err := v.demo.store.Alert(ctx(t), v.demo.name, a)
	if err != nil {
		t.Fatalf("alert %s (%s) not stored: %v", a.ID, a.Status, err)
	}
	if rec.ID != a.ID || rec.Status != a.Status {
		t.Errorf("stored: got %s (%s), want %s (%s)", rec.ID, rec.Status, a.ID, a.Status)
	}
}

// fanout checks the result names the run: the run-now sample's own id, or
// the scheduled run the hourly tick starts (the tenant's run time is the
// re-dated sample's tick), each with every seeded org.
func (v *verifier) fanout(t *testing.T, name string, event, resp []byte) {
	var res billingsync.Result
	mustUnmarshal(t, resp, &res)
	var req billingsync.StartRequest
	mustUnmarshal(t, event, &req)
	if len(res.Runs) != 1 {
		t.Fatalf("got runs %+v, want one run of %s", res.Runs, v.demo.name)
	}
	r := res.Runs[0]
	if r.Tenant != v.demo.name || r.ID == "" || r.Orgs != int64(len(v.demo.orgs)) {
		t.Errorf("got run %+v, want a run of %s with %d orgs", r, v.demo.name, len(v.demo.orgs))
	}
	if req.RunID != "" && r.ID != req.RunID {
		t.Errorf("got run id %s, want the request's %s", r.ID, req.RunID)
	}
	if _, err := v.demo.store.Run(ctx(t), v.demo.name, r.ID); err != nil {
		t.Errorf("run %s not stored: %v", r.ID, err)
	}
}

// fanoutOrdered starts a run-now of a second tenant with more mapped orgs
// than one worker batch, so the fan-out orders them by the stored HWMs and
// line memories (BatchGetItem) before queueing: a call the samples' small
// tenant never makes, and one its role must allow.
func (v *verifier) fanoutOrdered(t *testing.T, _ map[string][]byte, invoke func([]byte) []byte) {
	const tenant, orgs = "smoke-many-orgs", 11
	c := ctx(t)
	store := v.demo.store
	if _, err := store.PutIntegration(c, tenant, integration.Integration{Provider: psa.Autotask, Username: "many@smoke.example",
		IntegrationCode: atCode, CredentialsUpdatedAt: clock.Now().UTC()}, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < orgs; i++ {
		m := billing.Mapping{CompanyID: int64(30001 + i), ContractID: int64(60001 + i), State: billing.Mapped,
			Lines: []billing.LineMapping{{Product: billing.Users, LineID: int64(80001 + i)}}}
		if _, err := store.PutMapping(c, tenant, fmt.Sprintf("org-%02d", i+1), m, 0); err != nil {
			t.Fatal(err)
		}
	}
	run := "20261116T190000Z-many01"
	r := billing.Run{ID: run, Kind: billing.Manual, Status: billing.Running, StartedAt: clock.Now().UTC(), Month: v.refs.month}
	if _, _, err := store.CreateRun(c, tenant, r, ""); err != nil {
		t.Fatal(err)
	}
	var res billingsync.Result
	mustUnmarshal(t, invoke(mustMarshal(t, billingsync.StartRequest{Tenant: tenant, RunID: run})), &res)
	if len(res.Runs) != 1 || res.Runs[0].ID != run || res.Runs[0].Orgs != orgs {
		t.Errorf("got %+v, want run %s with %d orgs", res.Runs, run, orgs)
	}
}

// syncDryRun checks the (dry-run) sync sample: no failures, a would-update
// entry per org in its run, and the sandbox lines untouched.
func (v *verifier) syncDryRun(t *testing.T, _ string, event, resp []byte) {
	if f := batchFailures(t, resp); len(f) != 0 {
		t.Fatalf("batch failures %v, want none", f)
	}
	_, msgs := syncMessages(t, event)
	entries, err := v.demo.store.Entries(ctx(t), v.demo.name, msgs[0]["run"].(string), billing.EntryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(msgs) {
		t.Fatalf("entries: got %+v, want one per message (%d)", entries, len(msgs))
	}
	for _, e := range entries {
		if e.Code != billing.CodeWouldUpdate {
			t.Errorf("%s: got %s (%s), want %s", e.Org, e.Code, e.Message, billing.CodeWouldUpdate)
		}
	}
	for _, m := range msgs {
		o := v.demo.org(t, m["org"].(string))
		if got := v.demo.units(t, o); got != initialUnits {
			t.Errorf("%s: line %d at %d after a dry run, want %d untouched", o.id, o.line, got, initialUnits)
		}
	}
}

// syncLive sends each sync sample again as a live run and checks that the
// sandbox lines are at their targets (HWM − non-billable).
func (v *verifier) syncLive(t *testing.T, samples map[string][]byte, invoke func([]byte) []byte) {
	for i, name := range slices.Sorted(maps.Keys(samples)) {
		event := samples[name]
		t.Run("live-"+strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			run := fmt.Sprintf("20261116T180000Z-live%02d", i)
			v.demo.MustRun(t, run, false, v.refs.month)
			live := liveVariant(t, event, run)
			resp := invoke(live)
			if f := batchFailures(t, resp); len(f) != 0 {
				t.Fatalf("batch failures %v, want none", f)
			}
			_, msgs := syncMessages(t, live)
			for _, m := range msgs {
				o := v.demo.org(t, m["org"].(string))
				if got := v.demo.units(t, o); got != o.target {
					t.Errorf("%s: line %d at %d, want the target %d (HWM %d − %d non-billable)", o.id, o.line, got, o.target, o.hwm, o.nonBillable)
				}
			}
			entries, err := v.demo.store.Entries(ctx(t), v.demo.name, run, billing.EntryFilter{})
			if err != nil || len(entries) != len(msgs) {
				t.Fatalf("entries: got %+v (%v), want one per message", entries, err)
			}
			for _, e := range entries {
				if e.Code != billing.CodeUpdated {
					t.Errorf("%s: got %s (%s), want %s", e.Org, e.Code, e.Message, billing.CodeUpdated)
				}
			}
		})
	}
}

// tickets checks each alert of a ticket sample: a ruled type has its
// ticket in the sandbox on the org's company (closed when the batch ends
// with the alert resolved), and repeats reuse it; any other type is
// skipped.
func (v *verifier) tickets(t *testing.T, _ string, event, resp []byte) {
	if f := batchFailures(t, resp); len(f) != 0 {
		t.Fatalf("batch failures %v, want none", f)
	}
	_, raws := syncMessages(t, event)
	var msgs []alerting.Message
	last := map[string]alerting.Status{} // each alert's status after the batch
	for _, raw := range raws {
		var m alerting.Message
		mustUnmarshal(t, mustMarshal(t, raw), &m)
		msgs = append(msgs, m)
		last[m.Alert.ID] = m.Alert.Status
	}
	for _, m := range msgs {
		a := m.Alert
		rec, err := v.demo.store.Alert(ctx(t), v.demo.name, a)
		if err != nil {
			t.Fatalf("alert %s (%s): %v", a.ID, a.Status, err)
		}
		if !slices.Contains(ruledTypes, a.Type) {
			if rec.State != alerting.Skipped {
				t.Errorf("alert %s (%s, no rule): got %s, want %s", a.ID, a.Type, rec.State, alerting.Skipped)
			}
			continue
		}
		if rec.State != alerting.Done || rec.TicketID == 0 {
			t.Errorf("alert %s (%s): got %s %s ticket %d (%s), want done with a ticket", a.ID, a.Status, rec.State, rec.Decision, rec.TicketID, rec.Error)
			continue
		}
		tk, ok := v.demo.sb.Autotask.Ticket(atUser, rec.TicketID)
		if !ok {
			t.Errorf("alert %s: ticket %d not in the sandbox", a.ID, rec.TicketID)
			continue
		}
		if o := v.demo.org(t, a.Org); tk.CompanyID != o.company || tk.ExternalID != a.ExternalKey() {
			t.Errorf("alert %s: ticket on company %d key %q, want %d %q", a.ID, tk.CompanyID, tk.ExternalID, o.company, a.ExternalKey())
		}
		if closed := tk.Status == ticketRule.CompleteStatusID; closed != (last[a.ID] == alerting.Resolved) {
			t.Errorf("alert %s (%s, then %s in the batch): ticket %d status %d, closed %v", a.ID, a.Status, last[a.ID], tk.ID, tk.Status, closed)
		}
	}
	if got, want := v.demo.sb.Autotask.TicketsCreated(atUser), len(ruledTypes); got != want {
		t.Errorf("tickets created: got %d, want %d (one per ruled alert; repeats add notes)", got, want)
	}
}

// apiAdmin makes the calls of the API's routes the samples leave out, so
// its recorded calls cover every grant of its role: an integration saved
// (PSA credentials created), a run started (the fan-out invoked through the
// Lambda endpoint the test serves), the integration deleted (credentials
// scheduled for deletion) and saved again (restored), and the signing
// secret rotated.
func (v *verifier) apiAdmin(t *testing.T, samples map[string][]byte, invoke func([]byte) []byte) {
	jwt, iam := samples["03-get-billing-settings.json"], samples["01-provision-tenant-iam.json"]
	const user = "api@smoke-admin.example"
	v.demo.sb.Autotask.AddInstance(sandbox.AutotaskSeed{Username: user, Secret: "s3cret-admin", IntegrationCode: "TRACKING-ADMIN"})
	integration := fmt.Sprintf(`{"provider":"autotask","username":%q,"secret":"s3cret-admin","integrationCode":"TRACKING-ADMIN","endpoints":{"autotaskZoneUrl":%q}}`,
		user, v.sandboxURL+"/autotask/atservicesrest/")
	var tenant struct {
		Tenant string `json:"tenant"`
	}
	var ev struct {
		RequestContext struct {
			Authorizer struct {
				JWT struct {
					Claims map[string]string `json:"claims"`
				} `json:"jwt"`
			} `json:"authorizer"`
		} `json:"requestContext"`
	}
	mustUnmarshal(t, jwt, &ev)
	tenant.Tenant = ev.RequestContext.Authorizer.JWT.Claims["tenant"]
	for _, step := range []struct {
		name, method, path, body string
		template                 []byte
		status                   int
	}{
		{"put-integration", "PUT", "/v1/integration", integration, jwt, 200},
		{"company-types", "GET", "/v1/psa/company-types", "", jwt, 200},
		{"catalog", "GET", "/v1/catalog", "", jwt, 200},
		{"reconciliation", "GET", "/v1/reconciliation", "", jwt, 200},
		{"start-run", "POST", "/v1/sync-runs", `{"dryRun":true}`, jwt, 202},
		{"delete-integration", "DELETE", "/v1/integration", "", jwt, 204},
		{"put-integration-again", "PUT", "/v1/integration", integration, jwt, 200},
		{"rotate-secret", "POST", "/v1/platform/tenants/" + tenant.Tenant + "/rotate-secret", "", iam, 200},
	} {
		t.Run(step.name, func(t *testing.T) {
			r := apiResponse(t, invoke(apiEvent(t, step.template, step.method, step.path, step.body)))
			if r.StatusCode != step.status {
				t.Fatalf("got %d %s, want %d", r.StatusCode, r.Body, step.status)
			}
		})
	}
	if got := v.lambda.invocations(); len(got) != 1 || !strings.Contains(got[0], `"dryRun":true`) {
		t.Errorf("fan-out invocations: got %q, want the one run-now request", got)
	}
}

// apiEvent returns an API Gateway v2 event of template's caller (JWT claims
// or IAM) for another route.
func apiEvent(tb testing.TB, template []byte, method, path, body string) []byte {
	tb.Helper()
	var ev map[string]any
	mustUnmarshal(tb, template, &ev)
	rc := ev["requestContext"].(map[string]any)
	h := rc["http"].(map[string]any)
	h["method"], h["path"] = method, path
	rc["routeKey"], ev["routeKey"], ev["rawPath"] = method+" "+path, method+" "+path, path
	rc["requestId"] = "req-smoke-" + strings.ToLower(method) + strings.ReplaceAll(path, "/", "-")
	ev["body"] = body
	headers := ev["headers"].(map[string]any)
	if body != "" {
		headers["content-type"] = "application/json"
	}
	return mustMarshal(tb, ev)
}

// lambdaEndpoint serves the Lambda Invoke API for one function, accepting
// only asynchronous invocations (InvocationType Event), as the API makes.
type lambdaEndpoint struct {
	function string
	mu       sync.Mutex
	payloads []string
}

func (l *lambdaEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	want := "/2015-03-31/functions/" + l.function + "/invocations"
	switch {
	case r.Method != http.MethodPost || r.URL.Path != want:
		http.Error(w, `{"Type":"User","message":"Function not found: `+r.URL.Path+`"}`, http.StatusNotFound)
	case r.Header.Get("X-Amz-Invocation-Type") != "Event":
		http.Error(w, `{"Type":"User","message":"only asynchronous invocations are expected"}`, http.StatusBadRequest)
	case !json.Valid(body):
		http.Error(w, `{"Type":"User","message":"payload is not JSON"}`, http.StatusBadRequest)
	default:
		l.mu.Lock()
		l.payloads = append(l.payloads, string(body))
		l.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}
}

func (l *lambdaEndpoint) invocations() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.payloads)
}
