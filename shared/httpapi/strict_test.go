package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// strictBodies turns a valid body (a JSON object) into the malformed
// variants issue 13 names: each must get 400 invalid with a message that
// says what is wrong. key is a top-level key of valid, repeated for the
// duplicate-key variant.
func strictBodies(valid, key string) []struct{ name, body, msg string } {
	inner := strings.TrimSuffix(strings.TrimSpace(valid), "}")
	return []struct{ name, body, msg string }{
		{"ErrTrailingCloser", valid + "}", "trailing data"},
		{"ErrTrailingArrayClosers", valid + "]]]", "trailing data"},
		{"ErrSecondValue", valid + valid, "trailing data"},
		{"ErrDuplicateKey", inner + `,"` + key + `":` + extractValue(valid, key) + "}", "duplicate key"},
		{"ErrInvalidUTF8", inner + ",\"x\xff\":\"a\xfe\"}", "not valid UTF-8"},
		{"ErrLoneSurrogate", inner + `,"x":"\ud800"}`, "surrogate"},
	}
}

// extractValue returns the JSON text of valid's top-level key.
func extractValue(valid, key string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(valid), &m); err != nil {
		panic(err)
	}
	return string(m[key])
}

// TestStrictInput sends every malformed variant to each kind of route that
// takes a body: webhook, usage, org registration (platform-signed), tenant
// provisioning (operator) and admin routes. All are 400 invalid, and the
// webhook queues nothing.
func TestStrictInput(t *testing.T) {
	w := newWebhookAPI(t, nil)
	secret := w.mustProvision(tenantA)
	signed := func(method, path string, body []byte) *httptest.ResponseRecorder {
		return w.signed(method, path, tenantA, body, secret)
	}
	bearer := func(token string) func(method, path string, body []byte) *httptest.ResponseRecorder {
		return func(method, path string, body []byte) *httptest.ResponseRecorder {
			return w.do(method, path, token, body, nil)
		}
	}
	admin := bearer(w.token(tenantA, billingRole))
	for _, rt := range []struct {
		name, method, path string
		send               func(method, path string, body []byte) *httptest.ResponseRecorder
		valid, key         string
	}{
		{"Webhook", "POST", webhookPath, signed, string(alertJSON("al-1", "user_lockout", "org-1", "open", w.Now)), "id"},
		{"Usage", "POST", "/v1/usage", signed, `{"observations":[{"org":"org-1","value":3,"observedAt":"2026-11-21T10:00:00Z"}]}`, "observations"},
		{"OrgRegistration", "PUT", "/v1/orgs/org-1", signed, `{"name":"Org One"}`, "name"},
		{"ProvisionTenant", "POST", "/v1/platform/tenants", bearer(w.operatorToken()), `{"id":"strict-new"}`, "id"},
		{"Ticketing", "PUT", "/v1/ticketing", admin, `{"enabled":true}`, "enabled"},
		{"BillingSettings", "PUT", "/v1/billing-settings", admin, `{"timeZone":"America/New_York","period":"current","effectiveDate":"period-start","createMissingLines":false,"zeroDeprovisioned":false,"unitCost":{},"budgetPerHour":5000,"runAt":"12:00"}`, "timeZone"},
		{"SyncRun", "POST", "/v1/sync-runs", admin, `{"dryRun":true}`, "dryRun"},
	} {
		for _, tc := range strictBodies(rt.valid, rt.key) {
			t.Run(rt.name+"/"+tc.name, func(t *testing.T) {
				rec := rt.send(rt.method, rt.path, []byte(tc.body))
				mustInvalid(t, rec, tc.msg)
			})
		}
	}
	if msgs := w.messages(t); len(msgs) != 0 {
		t.Fatalf("got %d queued alerts, want none", len(msgs))
	}
}

// TestStrictURLText: a path or query parameter that is not valid UTF-8 once
// unescaped is 400 before any handler sees it.
func TestStrictURLText(t *testing.T) {
	a := newAPI(t)
	admin := a.token(tenantA, billingRole)
	for _, tc := range []struct{ name, target, msg string }{
		{"ErrQueryValue", "/v1/sync-runs/r-1/entries?q=%FF", "query parameter"},
		{"ErrQueryName", "/v1/orgs?%C3%28=1", "query parameter name"},
		{"ErrOpenAPIQuery", "/v1/openapi.json?x=%FF", "query parameter"},
		{"ErrPath", "/v1/orgs/%FF/mapping", "request path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustInvalid(t, a.do("GET", tc.target, admin, nil, nil), tc.msg)
		})
	}
}

// TestEveryOperationDocuments400: the URL-text check runs before routing,
// so every operation can answer 400 and must say so (FuzzAdminAPI found
// GET /v1/alert-rules/%92 answered an undocumented 400).
func TestEveryOperationDocuments400(t *testing.T) {
	doc, _ := openAPI()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Value("400") == nil {
				t.Errorf("%s %s documents no 400", method, path)
			}
		}
	}
}

// mustInvalid fails unless rec is 400 invalid with msg in its message.
func mustInvalid(tb testing.TB, rec *httptest.ResponseRecorder, msg string) {
	tb.Helper()
	var eb struct{ Code, Message string }
	if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Code != "invalid" || !strings.Contains(eb.Message, msg) {
		tb.Fatalf("got %d %s, want 400 invalid with a message containing %q", rec.Code, rec.Body, msg)
	}
}
