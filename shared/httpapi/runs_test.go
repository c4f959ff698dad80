package httpapi_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/compose"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/psa/budget"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// runsEnv is the API with run-now wired to the billing sync's fan-out over
// a moto FIFO queue, and the sync worker behind the emulated event source
// mapping.
type runsEnv struct {
	*psaEnv
	mapping *esm.Mapping
}

// newRunsEnv builds it; mutate, if given, adjusts the config as for newPSAEnv.
func newRunsEnv(tb testing.TB, mutate ...func(*httpapi.Config)) *runsEnv {
	tb.Helper()
	client := sqstest.MustClient(tb, nil)
	q := sqstest.MustQueueOf(tb, client, "sync")
	e := &runsEnv{}
	e.psaEnv = newPSAEnv(tb, append([]func(*httpapi.Config){func(c *httpapi.Config) {
		c.Runs = compose.InProcess(&billingsync.Fanout{Store: syncstore.Adapter{Store: c.Store.(*dynamo.Store)},
			Queue:  syncstore.Queue{Sender: &sqsqueue.Sender{Client: client, QueueURL: q.URL}},
			Shards: schema.MappedShards, Now: c.Now})
	}}, mutate...)...)
	st := syncstore.Adapter{Store: e.Store}
	w := &billingsync.Worker{Store: st, Now: func() time.Time { return e.Now },
		Connector: &integration.Connector{Store: e.Store, Credentials: e.Secrets,
			Dial: (&budget.Budget{Store: e.Store}).Dialer(connect.Options{AllowPrivate: true})}}
	e.mapping = &esm.Mapping{SQS: client, QueueURL: q.URL, Handler: iamcalls.As("syncworker", w.HandleSQS)}
	return e
}

func (e *runsEnv) mustDrain() {
	e.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.mapping.Drain(ctx, 200*time.Millisecond); err != nil {
		e.tb.Fatal(err)
	}
}

func TestSyncRuns(t *testing.T) {
	e := newRunsEnv(t)
	e.mustConnect()
	e.mustMap("acme-org-1")
	loc, _ := billing.LoadLocation("")
	if _, err := e.Store.RecordObservation(ctx(), tenantA, loc, billing.Observation{Org: "acme-org-1", Product: billing.Users, Value: 12, ObservedAt: e.Now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}

	rec := e.admin(tenantA, "POST", "/v1/sync-runs", []byte(`{"dryRun":true}`), nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST: got %d %s, want 202", rec.Code, rec.Body)
	}
	var started struct{ ID, Status string }
	mustDecode(t, rec.Body, &started)
	if started.ID == "" || started.Status != "running" {
		t.Fatalf("POST: got %+v, want an id and status running", started)
	}
	t.Run("ErrConflictWhileRunning", func(t *testing.T) {
		if rec := e.admin(tenantA, "POST", "/v1/sync-runs", []byte(`{"dryRun":false}`), nil); rec.Code != http.StatusConflict {
			t.Errorf("got %d %s, want 409", rec.Code, rec.Body)
		}
	})
	e.mustDrain()

	t.Run("List", func(t *testing.T) {
		rec := e.admin(tenantA, "GET", "/v1/sync-runs", nil, nil)
		var got struct{ Runs []billing.Run }
		mustDecode(t, rec.Body, &got)
		if rec.Code != 200 || len(got.Runs) != 1 || got.Runs[0].ID != started.ID {
			t.Errorf("got %d %+v, want the one run", rec.Code, got)
		}
	})
	t.Run("Get", func(t *testing.T) {
		rec := e.admin(tenantA, "GET", "/v1/sync-runs/"+started.ID, nil, nil)
		var got billing.Run
		mustDecode(t, rec.Body, &got)
		if rec.Code != 200 || got.Status != billing.Succeeded || got.Kind != billing.DryRun || got.Counts.Total != 1 || got.Counts.Updated != 1 || got.FinishedAt == nil {
			t.Errorf("got %d %+v, want a finished dry run with 1 org updated", rec.Code, got)
		}
	})
	t.Run("Entries", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  int
		}{{"", 1}, {"?code=would_update", 1}, {"?level=info&q=ACME-ORG", 1}, {"?level=error", 0}, {"?q=nothing-like-it", 0}} {
			rec := e.admin(tenantA, "GET", "/v1/sync-runs/"+started.ID+"/entries"+tc.query, nil, nil)
			var got struct{ Entries []billing.Entry }
			mustDecode(t, rec.Body, &got)
			if rec.Code != 200 || len(got.Entries) != tc.want {
				t.Errorf("%q: got %d with %d entries, want 200 with %d", tc.query, rec.Code, len(got.Entries), tc.want)
			}
			if tc.want == 1 {
				en := got.Entries[0]
				if en.Org != "acme-org-1" || en.After == nil || en.After.Quantity != 11 || en.LineID != 4001 {
					t.Errorf("%q: entry %+v, want acme-org-1 line 4001 → 11 (12 less 1 non-billable)", tc.query, en)
				}
			}
		}
	})
	t.Run("CSV", func(t *testing.T) {
		rec := e.admin(tenantA, "GET", "/v1/sync-runs/"+started.ID+"/entries", nil, http.Header{"Accept": {"text/csv"}})
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("got %d %s, want 200 text/csv", rec.Code, rec.Header().Get("Content-Type"))
		}
		rows, err := csv.NewReader(rec.Body).ReadAll()
		if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(httpapi.EntryCSVHeader, ",") {
			t.Fatalf("got %v (%v), want the header and one row", rows, err)
		}
		if rows[1][0] != "acme-org-1" || rows[1][5] != string(billing.CodeWouldUpdate) || rows[1][10] != "11" {
			t.Errorf("row: got %v", rows[1])
		}
	})
	for _, tc := range []struct {
		name, method, path, body string
		tenant                   string
		roles                    []string
		want                     int
	}{
		{"ErrOtherTenantGet", "GET", "/v1/sync-runs/" + started.ID, "", tenantB, []string{billingRole}, 404},
		{"ErrOtherTenantEntries", "GET", "/v1/sync-runs/" + started.ID + "/entries", "", tenantB, []string{billingRole}, 404},
		{"OtherTenantListEmpty", "GET", "/v1/sync-runs", "", tenantB, []string{billingRole}, 200},
		{"ErrUnknownRun", "GET", "/v1/sync-runs/20260101T000000Z-000000", "", tenantA, []string{billingRole}, 404},
		{"ErrBadLevel", "GET", "/v1/sync-runs/" + started.ID + "/entries?level=fatal", "", tenantA, []string{billingRole}, 400},
		{"ErrBadCode", "GET", "/v1/sync-runs/" + started.ID + "/entries?code=nope", "", tenantA, []string{billingRole}, 400},
		{"ErrUnknownField", "POST", "/v1/sync-runs", `{"dry":true}`, tenantA, []string{billingRole}, 400},
		{"ErrNoIntegration", "POST", "/v1/sync-runs", `{"dryRun":true}`, "gamma-msp", []string{billingRole}, 404},
		{"ErrWrongRole", "GET", "/v1/sync-runs", "", tenantA, []string{"viewer"}, 403},
		{"ErrWrongRolePost", "POST", "/v1/sync-runs", `{"dryRun":true}`, tenantA, nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			rec := e.do(tc.method, tc.path, e.token(tc.tenant, tc.roles...), body, nil)
			if rec.Code != tc.want {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.tenant == tenantB && strings.Contains(rec.Body.String(), "acme-org-1") {
				t.Errorf("tenant B sees tenant A's data: %s", rec.Body)
			}
		})
	}
	t.Run("ErrNoToken", func(t *testing.T) {
		if rec := e.do("GET", "/v1/sync-runs", "", nil, nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", rec.Code)
		}
	})
}

// TestSyncRunDeferred reads a run whose orgs wait for the PSA budget: GET
// /v1/sync-runs/{id} shows the deferred count and the resume time (and the
// answer matches the OpenAPI document); once the org is done the resume
// time is gone.
func TestSyncRunDeferred(t *testing.T) {
	e := newRunsEnv(t)
	resume := e.Now.UTC().Truncate(time.Hour).Add(time.Hour)
	run, _, err := e.Store.CreateRun(ctx(), tenantA, billing.Run{ID: billing.NewRunID(e.Now), Kind: billing.Manual, Status: billing.Running,
		StartedAt: e.Now, Month: billing.MonthOf(e.Now, time.UTC), Counts: billing.Counts{Total: 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	deferred := billing.OutcomeState{Outcome: billing.OutcomeDeferred, ResumeAt: resume}
	if err := e.Store.RecordOutcomes(ctx(), tenantA, run.ID, []billing.OutcomeChange{{Org: "acme-org-1", Next: deferred}}); err != nil {
		t.Fatal(err)
	}
	get := func() billing.Run {
		rec := e.admin(tenantA, "GET", "/v1/sync-runs/"+run.ID, nil, nil)
		var got billing.Run
		mustDecode(t, rec.Body, &got)
		if rec.Code != 200 {
			t.Fatalf("GET: got %d %s", rec.Code, rec.Body)
		}
		return got
	}
	if got := get(); got.Status != billing.Running || got.Counts.Deferred != 1 || got.ResumeAt == nil || !got.ResumeAt.Equal(resume) {
		t.Errorf("deferred run: got %s %+v resumeAt %v, want running, 1 deferred, resumeAt %s", got.Status, got.Counts, got.ResumeAt, resume)
	}
	done := billing.OutcomeState{Outcome: billing.OutcomeUpdated, Final: true}
	if err := e.Store.RecordOutcomes(ctx(), tenantA, run.ID, []billing.OutcomeChange{{Org: "acme-org-1", Prev: deferred, Next: done}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.FinishRunIfDone(ctx(), tenantA, run.ID); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Status != billing.Succeeded || got.Counts.Deferred != 0 || got.ResumeAt != nil {
		t.Errorf("finished run: got %s %+v resumeAt %v, want succeeded with no resume time", got.Status, got.Counts, got.ResumeAt)
	}
}

// TestSyncRunProgress: while a run is running, GET /v1/sync-runs/{id}
// shows its orgs done of total and the finish the pace so far gives
// (startedAt + elapsed × total ÷ done, on the test clock); a finished run
// keeps its progress and has no estimate. Read with the generated client.
func TestSyncRunProgress(t *testing.T) {
	e := newRunsEnv(t)
	started := e.Now.Add(-10 * time.Minute)
	run, _, err := e.Store.CreateRun(ctx(), tenantA, billing.Run{ID: billing.NewRunID(started), Kind: billing.Manual, Status: billing.Running,
		StartedAt: started, Month: billing.MonthOf(e.Now, time.UTC), Counts: billing.Counts{Total: 4}}, "")
	if err != nil {
		t.Fatal(err)
	}
	updated := billing.OutcomeState{Outcome: billing.OutcomeUpdated, Final: true}
	record := func(orgs ...string) {
		t.Helper()
		var changes []billing.OutcomeChange
		for _, o := range orgs {
			changes = append(changes, billing.OutcomeChange{Org: o, Next: updated})
		}
		if err := e.Store.RecordOutcomes(ctx(), tenantA, run.ID, changes); err != nil {
			t.Fatal(err)
		}
	}
	api := e.client(e.token(tenantA, billingRole))
	get := func() apiclient.Run {
		t.Helper()
		resp, err := api.GetSyncRunWithResponse(ctx(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if resp.JSON200 == nil || resp.JSON200.Progress == nil {
			t.Fatalf("GET: got %s %s, want 200 with progress", resp.Status(), resp.Body)
		}
		return *resp.JSON200
	}
	if got := get(); got.Progress.Done != 0 || got.Progress.Total != 4 || got.EstimatedFinish != nil {
		t.Errorf("nothing done: got %+v, want 0/4 and no estimate", got)
	}
	record("org-1")
	// 1 of 4 done in 10 minutes: the 4 take 40 minutes from the start.
	if got, want := get(), started.Add(40*time.Minute).UTC(); got.Progress.Done != 1 || got.Progress.Total != 4 || got.EstimatedFinish == nil || !got.EstimatedFinish.Equal(want) {
		t.Errorf("1 of 4 done: got %+v (estimate %v), want 1/4 and an estimate of %s", got, got.EstimatedFinish, want)
	}
	record("org-2", "org-3", "org-4")
	if _, err := e.Store.FinishRunIfDone(ctx(), tenantA, run.ID); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Status != apiclient.RunStatus(billing.Succeeded) || got.Progress.Done != 4 || got.Progress.Total != 4 || got.EstimatedFinish != nil {
		t.Errorf("finished: got %+v, want succeeded, 4/4 and no estimate", got)
	}
}
