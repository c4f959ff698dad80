package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"testing"
)

// mustUpdatables connects both tenants and gives tenant A something in every
// resource that can be updated.
func (e *psaEnv) mustUpdatables() {
	e.tb.Helper()
	e.mustConnect()
	e.mustMap("acme-org-1")
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/billing-settings", `{"timeZone":"America/Chicago","period":"previous","effectiveDate":"today","createMissingLines":true,"zeroDeprovisioned":true,"unitCost":{"users":4.5,"storage_gb":0.05},"orgUnitCost":{"acme-org-1":{"users":3}},"budgetPerHour":3000,"runAt":"06:30"}`},
		{"PUT", "/v1/alert-rules/user_lockout", `{"enabled":true,"priorityId":1,"statusId":1,"sourceId":8,"queueId":8,"resourceId":5001,"roleId":6001,"dueDays":2,"titlePrefix":"[Alert] ","minSeverity":"warning","closeOnResolve":true,"completeStatusId":5}`},
		{"PUT", "/v1/catalog", `{"products":[{"key":"users","name":"Acme Seats","period":"monthly","unitCost":4,"unitPrice":10,"billingCodeId":8101}]}`},
		{"PUT", "/v1/integration/company-types", `{"companyTypeIds":[1,3]}`},
		{"PUT", "/v1/ticketing", `{"enabled":true}`},
	} {
		if rec := e.admin(tenantA, req.method, req.path, []byte(req.body), nil); rec.Code != http.StatusOK {
			e.tb.Fatalf("setup %s %s: got %d %s", req.method, req.path, rec.Code, rec.Body)
		}
	}
}

// mustGetObject GETs path as tenant and returns the JSON object and ETag.
func (e *psaEnv) mustGetObject(tenant, path string) (map[string]any, []byte, string) {
	e.tb.Helper()
	rec := e.admin(tenant, "GET", path, nil, nil)
	if rec.Code != http.StatusOK {
		e.tb.Fatalf("GET %s: got %d %s", path, rec.Code, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		e.tb.Fatalf("GET %s: %v", path, err)
	}
	return m, rec.Body.Bytes(), rec.Header().Get("ETag")
}

// without returns m less the named members.
func without(m map[string]any, names ...string) map[string]any {
	out := maps.Clone(m)
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// TestRoundTrip: for every resource with a PUT, what GET returns can be PUT
// back unchanged (version and read-only members included): 200, and GET
// then returns the same but for the new version and the write's own
// timestamps.
func TestRoundTrip(t *testing.T) {
	e := newPSAEnv(t)
	e.mustUpdatables()
	for _, tc := range []struct {
		name, tenant, path string
		// written are members every write sets anew (timestamps).
		written []string
	}{
		{"BillingSettings", tenantA, "/v1/billing-settings", nil},
		{"Mapping", tenantA, "/v1/orgs/acme-org-1/mapping", []string{"updatedAt"}},
		{"AlertRule", tenantA, "/v1/alert-rules/user_lockout", nil},
		{"AlertRuleNeverSet", tenantA, "/v1/alert-rules/backup_failed", nil},
		{"Catalog", tenantA, "/v1/catalog", []string{"updatedAt"}},
		{"IntegrationAutotask", tenantA, "/v1/integration", []string{"verifiedAt", "credentialsUpdatedAt"}},
		{"IntegrationConnectWise", tenantB, "/v1/integration", []string{"verifiedAt", "credentialsUpdatedAt"}},
		{"CompanyTypes", tenantA, "/v1/integration/company-types", nil},
		{"Ticketing", tenantA, "/v1/ticketing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, body, _ := e.mustGetObject(tc.tenant, tc.path)
			if rec := e.admin(tc.tenant, "PUT", tc.path, body, nil); rec.Code != http.StatusOK {
				t.Fatalf("PUT of the GET body: got %d %s, want 200", rec.Code, rec.Body)
			}
			after, _, etag := e.mustGetObject(tc.tenant, tc.path)
			ignore := append([]string{"version"}, tc.written...)
			if got, want := without(after, ignore...), without(before, ignore...); !reflect.DeepEqual(got, want) {
				t.Errorf("after the round trip got %v, want %v", got, want)
			}
			if v, _ := before["version"].(float64); etag != `"`+jsonNumber(v+1)+`"` {
				t.Errorf("ETag: got %s, want the next version %v", etag, v+1)
			}
			// The same body again: its version is now stale.
			if rec := e.admin(tc.tenant, "PUT", tc.path, body, nil); rec.Code != http.StatusPreconditionFailed {
				t.Errorf("PUT with a stale version: got %d %s, want 412", rec.Code, rec.Body)
			}
		})
	}
}

func jsonNumber(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestMergePatch: a JSON Merge Patch changes the members it names and
// leaves every other member as it was.
func TestMergePatch(t *testing.T) {
	e := newPSAEnv(t)
	e.mustUpdatables()
	for _, tc := range []struct {
		name, path, patch string
		// changed are the members the patch changes, with their new values.
		changed map[string]any
	}{
		{"BillingSettingsBudget", "/v1/billing-settings", `{"budgetPerHour":2000}`, map[string]any{"budgetPerHour": 2000.0}},
		{"BillingSettingsRemoveOverride", "/v1/billing-settings", `{"orgUnitCost":{"acme-org-1":null}}`, map[string]any{"orgUnitCost": nil}},
		{"BillingSettingsNestedCost", "/v1/billing-settings", `{"unitCost":{"users":5}}`, map[string]any{"unitCost": map[string]any{"users": 5.0, "storage_gb": 0.05}}},
		{"Mapping", "/v1/orgs/acme-org-1/mapping", `{"nonBillableUsers":4}`, map[string]any{"nonBillableUsers": 4.0}},
		{"AlertRule", "/v1/alert-rules/user_lockout", `{"titlePrefix":"[Lockout] "}`, map[string]any{"titlePrefix": "[Lockout] "}},
		{"Ticketing", "/v1/ticketing", `{"enabled":false}`, map[string]any{"enabled": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, etag := e.mustGetObject(tenantA, tc.path)
			rec := e.admin(tenantA, "PATCH", tc.path, []byte(tc.patch), mergePatch())
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
			}
			after, _, _ := e.mustGetObject(tenantA, tc.path)
			want := maps.Clone(before)
			for k, v := range tc.changed {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			ignore := []string{"version", "updatedAt"}
			if got, want := without(after, ignore...), without(want, ignore...); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			// The version read before is stale now.
			if rec := e.admin(tenantA, "PATCH", tc.path, []byte(tc.patch), mergePatch("If-Match", etag)); rec.Code != http.StatusPreconditionFailed {
				t.Errorf("PATCH with a stale If-Match: got %d %s, want 412", rec.Code, rec.Body)
			}
		})
	}
	for _, tc := range []struct {
		name, path, patch string
		header            http.Header
		want              int
	}{
		{"ErrContentType", "/v1/billing-settings", `{"budgetPerHour":2000}`, http.Header{"Content-Type": {"application/json"}}, 400},
		{"ErrNotObject", "/v1/billing-settings", `[1]`, mergePatch(), 400},
		{"ErrInvalidResult", "/v1/billing-settings", `{"budgetPerHour":1}`, mergePatch(), 400},
		{"ErrRemoveRequired", "/v1/billing-settings", `{"timeZone":null}`, mergePatch(), 400},
		{"ErrStaleVersion", "/v1/billing-settings", `{"budgetPerHour":2000,"version":0}`, mergePatch(), 412},
		{"ErrNoMapping", "/v1/orgs/acme-org-2/mapping", `{"nonBillableUsers":1}`, mergePatch(), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.admin(tenantA, "PATCH", tc.path, []byte(tc.patch), tc.header); rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}
