package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
)

// mustRun starts a run of tenant A through the API, lets the worker finish
// it and returns its id.
func (e *runsEnv) mustRun(dryRun bool) string {
	e.tb.Helper()
	rec := e.admin(tenantA, "POST", "/v1/sync-runs", mustJSON(e.tb, map[string]bool{"dryRun": dryRun}), nil)
	if rec.Code != http.StatusAccepted {
		e.tb.Fatalf("POST /v1/sync-runs: got %d %s, want 202", rec.Code, rec.Body)
	}
	var started struct{ ID string }
	mustDecode(e.tb, rec.Body, &started)
	e.mustDrain()
	return started.ID
}

// orgsLastSync returns GET /v1/orgs's lastSync column by org.
func (e *runsEnv) orgsLastSync(tenant string) map[string][]dynamo.LastEntry {
	e.tb.Helper()
	rec := e.admin(tenant, "GET", "/v1/orgs", nil, nil)
	if rec.Code != http.StatusOK {
		e.tb.Fatalf("GET /v1/orgs: got %d %s, want 200", rec.Code, rec.Body)
	}
	var got struct {
		Orgs []struct {
			ID       string
			LastSync []dynamo.LastEntry
		}
	}
	mustDecode(e.tb, rec.Body, &got)
	out := map[string][]dynamo.LastEntry{}
	for _, o := range got.Orgs {
		out[o.ID] = o.LastSync
	}
	return out
}

func TestOrgsLastSync(t *testing.T) {
	e := newRunsEnv(t)
	e.mustConnect()
	e.mustMap("acme-org-1")
	loc, _ := billing.LoadLocation("")
	for _, o := range []billing.Observation{
		{Org: "acme-org-1", Product: billing.Users, Value: 12, ObservedAt: e.Now.Add(-time.Hour)},
		{Org: "acme-org-2", Product: billing.Users, Value: 3, ObservedAt: e.Now.Add(-time.Hour)},
	} {
		if _, err := e.Store.RecordObservation(ctx(), tenantA, loc, o); err != nil {
			t.Fatal(err)
		}
	}
	// A line the org no longer maps, recorded by an older run: not current.
	stale := billing.Entry{Org: "acme-org-1", Product: "devices", LineID: 4002, Code: billing.CodeUpdated, Level: billing.Info, Message: "old", At: e.Now.Add(-48 * time.Hour)}
	if err := e.Store.PutEntries(ctx(), tenantA, billing.NewRunID(stale.At), false, []billing.Entry{stale}); err != nil {
		t.Fatal(err)
	}
	if got := e.orgsLastSync(tenantA)["acme-org-1"]; len(got) != 1 || got[0].Product != "devices" {
		t.Fatalf("before any run: got %+v, want the stale entry alone", got)
	}

	for _, tc := range []struct {
		name   string
		dryRun bool
		code   billing.Code
		before int64
	}{
		{"DryRunLeavesIt", true, "", 0},
		{"RealRunReplacesIt", false, billing.CodeUpdated, 0},
		{"UnchangedRun", false, billing.CodeUnchanged, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Now = e.Now.Add(time.Minute)
			id := e.mustRun(tc.dryRun)
			all := e.orgsLastSync(tenantA)
			got := all["acme-org-1"]
			if tc.dryRun {
				// A dry run wrote nothing to the PSA: the last sync stays.
				if len(got) != 1 || got[0].Product != "devices" {
					t.Fatalf("after a dry run: got %+v, want the stale entry alone", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("acme-org-1: got %d entries %+v, want the run's one line entry", len(got), got)
			}
			g := got[0]
			if g.RunID != id || g.Product != billing.Users || g.LineID != 4001 || g.Code != tc.code || g.Level != billing.Info || g.Message == "" || g.At.IsZero() {
				t.Errorf("got run %s %s line %d %s/%s %q at %v, want run %s users line 4001 %s/info with a message",
					g.RunID, g.Product, g.LineID, g.Code, g.Level, g.Message, g.At, id, tc.code)
			}
			if g.After == nil || g.After.Quantity != 11 {
				t.Errorf("after: got %+v, want quantity 11 (12 less 1 non-billable)", g.After)
			}
			if tc.before > 0 && (g.Before == nil || g.Before.Quantity != tc.before) {
				t.Errorf("before: got %+v, want quantity %d", g.Before, tc.before)
			}
			if n := len(all["acme-org-2"]); n != 0 {
				t.Errorf("unmapped acme-org-2: got %d entries, want none", n)
			}
			if other := e.orgsLastSync(tenantB); len(other) != 0 {
				t.Errorf("tenant B: got %+v, want no orgs", other)
			}
		})
	}
}
