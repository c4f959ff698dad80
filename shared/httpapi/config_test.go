package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/dynamo"
)

func TestPickers(t *testing.T) {
	e := newPSAEnv(t)
	e.mustConnect()
	for _, tc := range []struct {
		name, tenant, path string
		want               int
		contains           []string
	}{
		{"Companies", tenantA, "/v1/psa/companies", 200, []string{"Acme Dental", "Beta Law"}},
		{"CompaniesQuery", tenantA, "/v1/psa/companies?q=acme", 200, []string{`"companies":[{"id":1001,"name":"Acme Dental"`}},
		{"CompaniesPaged", tenantA, "/v1/psa/companies?limit=1", 200, []string{`"nextCursor":"1"`, "Acme Dental"}},
		{"CompaniesLastPage", tenantA, "/v1/psa/companies?limit=1&cursor=1", 200, []string{"Beta Law"}},
		{"CompaniesConnectWise", tenantB, "/v1/psa/companies", 200, []string{"Zeta Clinic"}},
		{"Contracts", tenantA, "/v1/psa/companies/1001/contracts", 200, []string{`"id":2001`, "Acme Managed Services"}},
		{"ContractsConnectWise", tenantB, "/v1/psa/companies/7101/contracts", 200, []string{"Zeta MSA"}},
		{"Lines", tenantA, "/v1/psa/contracts/2001/lines", 200, []string{`"id":4001`}},
		{"LinesConnectWise", tenantB, "/v1/psa/contracts/7201/lines", 200, []string{`"id":7301`}},
		{"TicketOptions", tenantA, "/v1/psa/ticket-options", 200, []string{`"resources":[{"id":5001`, `"roles":[{"id":6001`}},
		{"TicketOptionsConnectWise", tenantB, "/v1/psa/ticket-options", 200, []string{`"boards":[`, `"id":7602`}},
		{"ErrLimit", tenantA, "/v1/psa/companies?limit=0", 400, []string{"limit"}},
		{"ErrCursor", tenantA, "/v1/psa/companies?cursor=x", 400, []string{"cursor"}},
		{"ErrBadID", tenantA, "/v1/psa/companies/abc/contracts", 404, nil},
		{"ErrNoIntegration", "gamma-msp", "/v1/psa/ticket-options", 404, []string{"not_found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tc.tenant, "GET", tc.path, nil, nil)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			for _, c := range tc.contains {
				if !strings.Contains(rec.Body.String(), c) {
					t.Errorf("got %s, want it to contain %s", rec.Body, c)
				}
			}
		})
	}
	t.Run("Cached", func(t *testing.T) {
		e.Sandbox.ResetCounts()
		for i := 0; i < 5; i++ {
			e.admin(tenantA, "GET", "/v1/psa/companies?q="+strings.Repeat("a", i), nil, nil)
		}
		if n := e.Sandbox.Total("autotask"); n != 0 {
			t.Errorf("got %d PSA requests for cached pickers, want 0", n)
		}
		e.Now = e.Now.Add(2 * time.Minute)
		e.admin(tenantA, "GET", "/v1/psa/companies", nil, nil)
		if n := e.Sandbox.Total("autotask"); n == 0 {
			t.Error("got no PSA request after the cache expired, want a fresh read")
		}
	})
}

func TestMapping(t *testing.T) {
	e := newPSAEnv(t)
	secret := e.mustProvision(tenantA)
	e.mustConnect()
	body := []byte(`{"observations":[{"org":"acme-org-1","value":12,"observedAt":"2026-11-20T10:00:00Z"},{"org":"acme-org-2","value":3,"observedAt":"2026-11-20T10:00:00Z"}]}`)
	if rec := e.signed("POST", "/v1/usage", tenantA, body, secret); rec.Code != 200 {
		t.Fatalf("usage: %d", rec.Code)
	}
	etag := e.mustMap("acme-org-1")
	if etag != `"1"` {
		t.Fatalf("got ETag %s, want \"1\"", etag)
	}
	t.Run("ListOrgs", func(t *testing.T) {
		rec := e.admin(tenantA, "GET", "/v1/orgs", nil, nil)
		for _, want := range []string{`"month":"2026-11"`, `"id":"acme-org-1","name":"","state":"mapped"`, `"usage":{"users":12}`, `"id":"acme-org-2","name":"","state":"unmapped"`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("got %s, want %s", rec.Body, want)
			}
		}
	})
	t.Run("Get", func(t *testing.T) {
		rec := e.admin(tenantA, "GET", "/v1/orgs/acme-org-1/mapping", nil, nil)
		if rec.Code != 200 || rec.Header().Get("ETag") != `"1"` || !strings.Contains(rec.Body.String(), `"contractId":2001`) {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	change := []byte(`{"companyId":1001,"contractId":2001,"lines":[{"lineId":4001}],"nonBillableUsers":2}`)
	for _, tc := range []struct {
		name   string
		org    string
		body   string
		header http.Header
		want   int
	}{
		{"ErrNoIfMatch", "acme-org-1", string(change), nil, 412},
		{"ErrStaleIfMatch", "acme-org-1", string(change), ifMatch(`"7"`), 412},
		{"ErrBadIfMatch", "acme-org-1", string(change), ifMatch(`seven`), 400},
		{"ErrLineOfOtherContract", "acme-org-3", `{"companyId":1001,"contractId":2001,"lines":[{"lineId":4002}]}`, nil, 422},
		{"ErrContractOfOtherCompany", "acme-org-3", `{"companyId":1001,"contractId":2002,"lines":[{"lineId":4002}]}`, nil, 422},
		{"ErrNoSuchCompany", "acme-org-3", `{"companyId":9999,"contractId":2001,"lines":[{"lineId":4001}]}`, nil, 422},
		{"ErrNoLines", "acme-org-3", `{"companyId":1001,"contractId":2001,"lines":[]}`, nil, 400},
		{"ErrNegativeNonBillable", "acme-org-3", `{"companyId":1001,"contractId":2001,"lines":[{"lineId":4001}],"nonBillableUsers":-1}`, nil, 400},
		{"ErrBadOrg", "bad%20org", string(change), nil, 404},
		{"Update", "acme-org-1", string(change), ifMatch(`"1"`), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantA, "PUT", "/v1/orgs/"+tc.org+"/mapping", []byte(tc.body), tc.header)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	t.Run("Disable", func(t *testing.T) {
		rec := e.admin(tenantA, "DELETE", "/v1/orgs/acme-org-1/mapping", nil, nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"state":"disabled"`) {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
		o, err := e.Store.Org(ctx(), tenantA, "acme-org-1")
		if err != nil || o.State() != "disabled" {
			t.Fatalf("got %v %v, want disabled", o.State(), err)
		}
		n := 0
		for shard := 0; shard < 16; shard++ {
			_ = e.Store.MappedOrgs(ctx(), shard, "", func(dynamo.MappedOrg) error { n++; return nil })
		}
		if n != 0 {
			t.Errorf("got %d orgs in the mapped index, want 0 after disabling", n)
		}
	})
	t.Run("ErrDisableUnmapped", func(t *testing.T) {
		if rec := e.admin(tenantA, "DELETE", "/v1/orgs/acme-org-2/mapping", nil, nil); rec.Code != 404 {
			t.Fatalf("got %d, want 404", rec.Code)
		}
	})
	t.Run("ConnectWise", func(t *testing.T) {
		rec := e.admin(tenantB, "PUT", "/v1/orgs/zeta/mapping", []byte(`{"companyId":7101,"contractId":7201,"lines":[{"lineId":7301}]}`), nil)
		if rec.Code != 200 {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	// A cancelled addition or agreement is refused for that reason, with
	// the fix, not as a line the contract lacks.
	for _, tc := range []struct{ name, body, want string }{
		{"ErrConnectWiseLineCancelled", `{"companyId":7101,"contractId":7201,"lines":[{"lineId":7303}]}`, "line_cancelled: Line 7303"},
		{"ErrConnectWiseAgreementCancelled", `{"companyId":7101,"contractId":7202,"lines":[{"lineId":7302}]}`, "contract_cancelled: Contract 7202"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantB, "PUT", "/v1/orgs/zeta-2/mapping", []byte(tc.body), nil)
			if rec.Code != 422 || !strings.Contains(rec.Body.String(), tc.want) || !strings.Contains(rec.Body.String(), "Choose an active") {
				t.Fatalf("got %d %s, want 422 saying %q and the fix", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestBillingSettings(t *testing.T) {
	e := newPSAEnv(t)
	rec := e.admin(tenantA, "GET", "/v1/billing-settings", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"timeZone":"America/New_York"`) || !strings.Contains(rec.Body.String(), `"budgetPerHour":5000`) {
		t.Fatalf("defaults: got %d %s", rec.Code, rec.Body)
	}
	body := `{"timeZone":"Europe/Berlin","period":"previous","effectiveDate":"today","createMissingLines":true,"zeroDeprovisioned":false,"unitCost":{"users":4.5},"orgUnitCost":{"acme-org-1":{"users":3}},"budgetPerHour":1000,"runAt":"12:00"}`
	rec = e.admin(tenantA, "PUT", "/v1/billing-settings", []byte(body), ifMatch(`"0"`))
	if rec.Code != 200 || rec.Header().Get("ETag") != `"1"` {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if set, _ := e.Store.BillingSettings(ctx(), tenantA); set.TimeZone != "Europe/Berlin" || set.BudgetPerHour != 1000 || set.UnitCost["users"] != 4.5 {
		t.Fatalf("stored %+v", set)
	}
	for _, tc := range []struct {
		name, body string
		header     http.Header
		want       int
	}{
		{"ErrTimeZone", with(body, `"timeZone":"Mars/Olympus"`), nil, 400},
		{"ErrPeriod", with(body, `"period":"next"`), nil, 400},
		{"ErrBudget", with(body, `"budgetPerHour":20000`), nil, 400},
		{"ErrCost", with(body, `"unitCost":{"users":-1}`), nil, 400},
		{"ErrPartial", `{"budgetPerHour":2000}`, nil, 400},
		{"ErrStaleVersionInBody", with(body, `"version":0`), nil, 412},
		{"ErrVersionDisagrees", with(body, `"version":1`), ifMatch(`"0"`), 400},
		{"ErrStale", body, ifMatch(`"0"`), 412},
		{"VersionInBody", with(body, `"version":1`), nil, 200},
		{"NoIfMatch", body, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.admin(tenantA, "PUT", "/v1/billing-settings", []byte(tc.body), tc.header); rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

// with returns the JSON object body with members replaced or added (a
// merge of flat members, for test tables).
func with(body, members string) string {
	var b, m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		panic(err)
	}
	if err := json.Unmarshal([]byte("{"+members+"}"), &m); err != nil {
		panic(err)
	}
	maps.Copy(b, m)
	out, _ := json.Marshal(b)
	return string(out)
}

func TestAlertRules(t *testing.T) {
	e := newPSAEnv(t)
	e.mustConnect()
	for _, tc := range []struct {
		name, tenant, alertType, body string
		want                          int
	}{
		{"Autotask", tenantA, "user_lockout", `{"enabled":true,"priorityId":1,"statusId":1,"sourceId":8,"queueId":8,"resourceId":5001,"roleId":6001,"categoryId":4,"issueTypeId":2,"dueDays":2,"titlePrefix":"[Alert] ","minSeverity":"warning","closeOnResolve":true,"completeStatusId":5}`, 200},
		{"ConnectWise", tenantB, "backup_failed", `{"enabled":true,"priorityId":7801,"statusId":7601,"sourceId":7901,"boardId":7501,"issueTypeId":7701,"closeOnResolve":true,"completeStatusId":7602}`, 200},
		{"ErrResourceWithoutRole", tenantA, "user_lockout", `{"enabled":true,"resourceId":5001}`, 400},
		{"ErrUnknownPriority", tenantA, "user_lockout", `{"enabled":true,"priorityId":99}`, 422},
		{"ErrUnknownResource", tenantA, "user_lockout", `{"enabled":true,"resourceId":5999,"roleId":6001}`, 422},
		{"ErrCompleteNotClosing", tenantA, "user_lockout", `{"closeOnResolve":true,"completeStatusId":1}`, 422},
		{"ErrCloseWithoutStatus", tenantA, "user_lockout", `{"closeOnResolve":true}`, 400},
		{"ErrBoardOnAutotask", tenantA, "user_lockout", `{"boardId":7501}`, 400},
		{"ErrQueueOnConnectWise", tenantB, "user_lockout", `{"queueId":8}`, 400},
		{"ErrStatusOfOtherBoard", tenantB, "user_lockout", `{"boardId":7501,"statusId":7603}`, 422},
		{"ErrSeverity", tenantA, "user_lockout", `{"minSeverity":"loud"}`, 400},
		{"ErrUnknownType", tenantA, "printer_on_fire", `{}`, 404},
		{"ErrAlertTypeInBody", tenantA, "user_lockout", `{"alertType":"backup_failed"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tc.tenant, "PUT", "/v1/alert-rules/"+tc.alertType, []byte(tc.body), nil)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	rec := e.admin(tenantA, "GET", "/v1/alert-rules", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"alertType":"user_lockout","enabled":true`) || !strings.Contains(rec.Body.String(), `"alertTypes":["disk_encryption_key_decrypted"`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}
