package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/iamcalls/iamcallstest"
)

// TestMain records the AWS calls of every function the stack runs
// (iamcallstest: infra/testdata/aws-calls-devstack.json; after a change in
// them, rerun the package with -update-aws-calls).
func TestMain(m *testing.M) { iamcallstest.Main(m, "devstack") }

// MustStack starts a stack on the servers of the test run, with the API on a
// free loopback port, and stops it when the test ends.
func MustStack(tb testing.TB) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", UseEnvAWS: true})
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// MustDemo runs the demo on s and returns its result and printed output.
func MustDemo(tb testing.TB, s *Stack) (Result, string) {
	tb.Helper()
	plan, err := DemoPlan()
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	d := &Demo{Stack: s, Plan: plan, Out: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := d.Run(ctx)
	if err != nil {
		tb.Fatalf("demo: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// TestDemo runs the `make run` demo in-process and checks what it left:
// every org's month HWM at the plan's peak, stored through the public API.
func TestDemo(t *testing.T) {
	s := MustStack(t)
	res, out := MustDemo(t, s)
	plan, _ := DemoPlan()
	if got, want := len(res.Tenants), len(plan.Tenants); got != want {
		t.Fatalf("got %d tenants, want %d\n%s", got, want, out)
	}
	for _, pt := range plan.Tenants {
		t.Run(pt.ID, func(t *testing.T) {
			tr, ok := res.Tenant(pt.ID)
			if !ok || tr.SigningSecret == "" || tr.AdminToken == "" {
				t.Fatalf("got %+v, want a signing secret and an admin token", tr)
			}
			wantObs := 0
			for _, o := range pt.Orgs {
				wantObs += len(o.Usage) * UsageDays
			}
			if tr.Observations != wantObs {
				t.Errorf("got %d observations accepted, want %d", tr.Observations, wantObs)
			}
			loc, err := tenantLocation(pt)
			if err != nil {
				t.Fatal(err)
			}
			hwms, err := s.Store.MonthUsage(context.Background(), pt.ID, billing.MonthOf(s.now(), loc))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, h := range hwms {
				got[h.Org+"/"+string(h.Product)] = h.Value
			}
			for _, o := range pt.Orgs {
				for p, v := range o.Usage {
					if g := got[o.ID+"/"+string(p)]; g != Peak(v) {
						t.Errorf("%s %s: got HWM %d, want %d", o.ID, p, g, Peak(v))
					}
				}
			}
		})
	}
	t.Run("Sync", func(t *testing.T) {
		checkSync(t, s, plan, res)
	})
	t.Run("Ticket", func(t *testing.T) {
		checkTicket(t, s, plan, res)
	})
	// Last: the sample raises an HWM the checks above rely on.
	t.Run("PostUsageSample", func(t *testing.T) {
		checkPostUsageSample(t, s, res)
	})
	var ready bytes.Buffer
	PrintReady(&ready, s, res, time.Second)
	wants := []string{s.APIURL, res.Tenants[0].AdminToken, res.Tenants[1].AdminToken, "-post-usage events/local/usage.json",
		s.APIURL + "/v1/orgs", `'{"dryRun":true}' ` + s.APIURL + "/v1/sync-runs", "'Accept: text/csv'"}
	if len(res.Syncs) > 0 {
		wants = append(wants, "/v1/sync-runs/"+res.Syncs[0].Run.ID+"/entries")
	}
	for _, want := range wants {
		if !strings.Contains(ready.String(), want) {
			t.Errorf("ready text lacks %q", want)
		}
	}
}

// checkPostUsageSample posts the sample usage request of events/ signed
// with the demo tenant's secret (what `make run` tells a user to do from a
// second terminal), and with a wrong secret.
func checkPostUsageSample(t *testing.T, s *Stack, res Result) {
	tr := res.Tenants[0]
	sample := filepath.Join(repoRoot(t), "events", "local", "usage.json")
	// The API Gateway v2 sample of the api function works as well.
	apigw := filepath.Join(repoRoot(t), "events", "api", "02-usage-signed.json")
	for name, tc := range map[string]struct {
		file, secret string
		status       int
	}{
		"OK":             {sample, tr.SigningSecret, http.StatusOK},
		"OKAPIGateway":   {apigw, tr.SigningSecret, http.StatusOK},
		"ErrWrongSecret": {sample, "whsec_wrong", http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := PostUsageSample(context.Background(), s.APIURL, tr.ID, tc.secret, tc.file)
			if got := StatusOf(err); tc.status != http.StatusOK && got != tc.status {
				t.Fatalf("got status %d (%v), want %d", got, err, tc.status)
			}
			if tc.status == http.StatusOK && (err != nil || !strings.Contains(string(out), `"rejected":[]`)) {
				t.Fatalf("got %s, %v; want every observation accepted", out, err)
			}
		})
	}
	// The sample is re-dated when posted: the admin sees its org in this
	// month's GET /v1/orgs the day it is posted.
	var view struct {
		Month billing.Month `json:"month"`
		Orgs  []struct {
			ID    string                    `json:"id"`
			Usage map[billing.Product]int64 `json:"usage"`
		} `json:"orgs"`
	}
	if err := (&Client{Base: s.APIURL}).Call(context.Background(), http.MethodGet, "/v1/orgs", tr.AdminToken, nil, &view); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range view.Orgs {
		found = found || (o.ID == "org-new-client" && o.Usage[billing.Users] == 7)
	}
	if !found {
		t.Errorf("GET /v1/orgs: got %+v, want the sample's org-new-client with 7 users in %s", view.Orgs, view.Month)
	}
}

func TestUsageBody(t *testing.T) {
	for name, tc := range map[string]struct {
		in, want string
		err      bool
	}{
		"Body":         {`{"observations":[]}`, `{"observations":[]}`, false},
		"APIGateway":   {`{"version":"2.0","body":"{\"observations\":[]}","isBase64Encoded":false}`, `{"observations":[]}`, false},
		"APIGateway64": {`{"body":"eyJvYnNlcnZhdGlvbnMiOltdfQ==","isBase64Encoded":true}`, `{"observations":[]}`, false},
		"ErrNotJSON":   {`nope`, "", true},
		"ErrNoBody":    {`{"x":1}`, "", true},
		"ErrBad64":     {`{"body":"%%%","isBase64Encoded":true}`, "", true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := UsageBody([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("got error %v, want error %v", err, tc.err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRealPSAFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	got, err := RealPSAFromEnv(env(map[string]string{
		"PSABRIDGE_AUTOTASK_USERNAME": "api@x", "PSABRIDGE_AUTOTASK_SECRET": "s", "PSABRIDGE_AUTOTASK_INTEGRATION_CODE": "c"}))
	if err != nil || got["autotask"]["username"] != "api@x" || got["connectwise"] != nil {
		t.Errorf("got %v, %v; want autotask only", got, err)
	}
	if _, err := RealPSAFromEnv(env(map[string]string{"PSABRIDGE_CONNECTWISE_SITE": "na.myconnectwise.net"})); err == nil ||
		!strings.Contains(err.Error(), "PSABRIDGE_CONNECTWISE_PRIVATE_KEY") {
		t.Errorf("got %v, want an error naming the missing variables", err)
	}
	halo := map[string]string{"PSABRIDGE_HALOPSA_HOST": "acme.halopsa.com", "PSABRIDGE_HALOPSA_CLIENT_ID": "app", "PSABRIDGE_HALOPSA_CLIENT_SECRET": "s"}
	if got, err := RealPSAFromEnv(env(halo)); err != nil || got["halopsa"]["host"] != "acme.halopsa.com" || got["halopsa"]["tenant"] != nil {
		t.Errorf("got %v, %v; want halopsa without a tenant", got, err)
	}
	halo["PSABRIDGE_HALOPSA_TENANT"] = "acme"
	if got, err := RealPSAFromEnv(env(halo)); err != nil || got["halopsa"]["tenant"] != "acme" || len(got) != 1 {
		t.Errorf("got %v, %v; want halopsa with its tenant only", got, err)
	}
	if _, err := RealPSAFromEnv(env(map[string]string{"PSABRIDGE_HALOPSA_TENANT": "acme"})); err == nil ||
		!strings.Contains(err.Error(), "PSABRIDGE_HALOPSA_HOST") {
		t.Errorf("got %v, want an error naming the missing Halo variables", err)
	}
	if got, err := RealPSAFromEnv(env(nil)); err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want none", got, err)
	}
}

func TestSeries(t *testing.T) {
	for name, v := range map[string][3]int64{"Rise": {18, 24, 22}, "Flat": {9, 9, 9}, "Fall": {15, 13, 12}} {
		t.Run(name, func(t *testing.T) {
			s := Series(v)
			mx := s[0]
			for _, x := range s {
				mx = max(mx, x)
			}
			if len(s) != UsageDays || s[0] != v[0] || s[len(s)-1] != v[2] || mx != max(v[0], v[1]) {
				t.Errorf("got %v, want %d days from %d peaking at %d ending at %d", s, UsageDays, v[0], v[1], v[2])
			}
		})
	}
}

// repoRoot walks up from the package directory to the folder with go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// checkTicket asserts the demo alert stream made exactly one ticket in the
// Autotask sandbox, with one note (the repeat), closed with the rule's
// complete status and the rule's priority and queue.
func checkTicket(t *testing.T, s *Stack, plan Plan, res Result) {
	t.Helper()
	var withAlert []PlanTenant
	for _, p := range plan.Tenants {
		if p.Alert != nil {
			withAlert = append(withAlert, p)
		}
	}
	if len(res.Alerts) != len(withAlert) {
		t.Fatalf("got %d alert streams, want %d", len(res.Alerts), len(withAlert))
	}
	for _, ar := range res.Alerts {
		var pt PlanTenant
		for _, p := range plan.Tenants {
			if p.ID == ar.Tenant {
				pt = p
			}
		}
		t.Run(pt.ID, func(t *testing.T) {
			var decisions []string
			for _, o := range ar.Occurrences {
				decisions = append(decisions, o.Decision+"/"+o.State)
			}
			if got, want := strings.Join(decisions, " "), "open/done note/done close/done"; got != want {
				t.Errorf("got decisions %q, want %q", got, want)
			}
			var rule struct {
				PriorityID       int64 `json:"priorityId"`
				QueueID          int64 `json:"queueId"`
				CompleteStatusID int64 `json:"completeStatusId"`
			}
			for _, raw := range pt.AlertRules {
				var r struct {
					Type string `json:"alertType"`
				}
				_ = json.Unmarshal(raw, &r)
				if r.Type == pt.Alert.Type {
					_ = json.Unmarshal(raw, &rule)
				}
			}
			tk := sandboxTicket(t, s, pt, ar.TicketID)
			if tk.created != 1 {
				t.Errorf("got %d tickets created, want 1", tk.created)
			}
			if tk.status != rule.CompleteStatusID || tk.priority != rule.PriorityID || tk.queue != rule.QueueID {
				t.Errorf("got status %d priority %d queue %d, want %d %d %d", tk.status, tk.priority, tk.queue,
					rule.CompleteStatusID, rule.PriorityID, rule.QueueID)
			}
			if tk.notes != 1 {
				t.Errorf("got %d notes on the ticket, want 1", tk.notes)
			}
		})
	}
}

// ticketState is a demo ticket as a sandbox holds it: how many tickets the
// tenant's PSA instance created, and the ticket's status, priority, queue
// (Autotask queue, HaloPSA team) and notes.
type ticketState struct {
	created                 int
	status, priority, queue int64
	notes                   int
}

func sandboxTicket(t *testing.T, s *Stack, pt PlanTenant, id int64) ticketState {
	t.Helper()
	var st ticketState
	switch pt.Provider() {
	case "autotask":
		user, _ := pt.Integration["username"].(string)
		tk, ok := s.Sandbox.Autotask.Ticket(user, id)
		if !ok {
			t.Fatalf("ticket %d is not in the sandbox", id)
		}
		st = ticketState{created: s.Sandbox.Autotask.TicketsCreated(user), status: tk.Status, priority: tk.Priority, queue: tk.QueueID}
		for _, n := range s.Sandbox.Autotask.Notes(user) {
			if n.TicketID == id {
				st.notes++
			}
		}
	case "halopsa":
		app, _ := pt.Integration["clientId"].(string)
		tk, ok := s.Sandbox.HaloPSA.Ticket(app, id)
		if !ok {
			t.Fatalf("ticket %d is not in the sandbox", id)
		}
		st = ticketState{created: s.Sandbox.HaloPSA.TicketsCreated(app), status: tk.StatusID, priority: tk.PriorityID}
		for _, team := range haloSeed(s.Seed, app).Teams {
			if team.Name == tk.Team {
				st.queue = team.ID
			}
		}
		for _, a := range s.Sandbox.HaloPSA.Actions(app) {
			if a.TicketID == id {
				st.notes++
			}
		}
	default:
		t.Fatalf("no demo ticket check for %s", pt.Provider())
	}
	return st
}

// checkSync asserts the demo sync left every mapped line of every sandbox
// tenant at its target, in the sandbox and in the run's entries.
func checkSync(t *testing.T, s *Stack, plan Plan, res Result) {
	t.Helper()
	if got, want := len(res.Syncs), len(plan.Tenants); got != want {
		t.Fatalf("got %d sync runs, want %d", got, want)
	}
	for i, pt := range plan.Tenants {
		sr := res.Syncs[i]
		if sr.Run.Status != billing.Succeeded {
			t.Errorf("%s: got run status %s, want succeeded", pt.ID, sr.Run.Status)
		}
		var set billing.Settings
		if err := json.Unmarshal(pt.BillingSettings, &set); err != nil {
			t.Fatal(err)
		}
		entries := map[string]billing.Entry{}
		for _, e := range sr.Entries {
			entries[e.Org+"/"+string(e.Product)] = e
		}
		for _, o := range pt.Orgs {
			if o.Mapping == nil {
				continue
			}
			for _, l := range o.Mapping.Lines {
				name := pt.ID + "/" + o.ID + "/" + string(l.Product)
				want := billing.LineValue{Quantity: o.Target(l.Product)}
				want.UnitCost, _ = set.CostOf(o.ID, l.Product)
				e, ok := entries[o.ID+"/"+string(l.Product)]
				switch {
				case !ok:
					t.Errorf("%s: no entry", name)
					continue
				case e.Code != billing.CodeUpdated && e.Code != billing.CodeUnchanged:
					t.Errorf("%s: got code %s (%s), want updated or unchanged", name, e.Code, e.Message)
				case e.After == nil || *e.After != want:
					t.Errorf("%s: got after %+v, want %+v", name, e.After, want)
				}
				if got := sandboxLine(t, s, pt, l.LineID); got.Quantity != want.Quantity ||
					(got.UnitCost >= 0 && got.UnitCost != want.UnitCost) {
					t.Errorf("%s: got %+v in the sandbox, want %+v", name, got, want)
				}
			}
		}
	}
}

// sandboxLine reads a line's current value from the sandbox. The Autotask
// sandbox exposes units only: UnitCost is then -1.
func sandboxLine(t *testing.T, s *Stack, pt PlanTenant, lineID int64) billing.LineValue {
	t.Helper()
	switch pt.Provider() {
	case "autotask":
		user, _ := pt.Integration["username"].(string)
		n, ok := s.Sandbox.Autotask.Units(user, lineID, s.now())
		if !ok {
			t.Fatalf("line %d has no units this month", lineID)
		}
		return billing.LineValue{Quantity: n, UnitCost: -1}
	case "halopsa":
		app, _ := pt.Integration["clientId"].(string)
		l, ok := s.Sandbox.HaloPSA.Line(app, lineID)
		if !ok {
			t.Fatalf("recurring invoice line %d not found", lineID)
		}
		return billing.LineValue{Quantity: int64(l.Quantity), UnitCost: l.UnitCost}
	default:
		company, _ := pt.Integration["companyId"].(string)
		a, ok := s.Sandbox.ConnectWise.Addition(company, lineID)
		if !ok {
			t.Fatalf("addition %d not found", lineID)
		}
		return billing.LineValue{Quantity: int64(a.Quantity), UnitCost: a.UnitCost}
	}
}
