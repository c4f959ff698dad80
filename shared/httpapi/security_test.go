package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/signature"
)

// operation is one route as "METHOD /path/{param}".
type operation = string

// documentedOperations lists every operation of the OpenAPI document.
func documentedOperations() []operation {
	doc, _ := openAPI()
	var out []operation
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// bearerOperations lists the documented operations that need an admin JWT.
func bearerOperations() []operation {
	doc, _ := openAPI()
	var out []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil {
				for _, req := range *op.Security {
					if _, ok := req["bearer"]; ok {
						out = append(out, method+" "+path)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// samplePath fills an operation's path parameters with tenant A's ids.
func samplePath(op operation) (method, path string) {
	method, path, _ = strings.Cut(op, " ")
	r := strings.NewReplacer("{org}", "acme-org-1", "{id}", "1001", "{alertType}", "user_lockout", "{tenant}", tenantA)
	return method, r.Replace(path)
}

// TestOperationIDs: every operation has an operationId, unique and of the
// form verbNoun, so generated clients get stable method names.
func TestOperationIDs(t *testing.T) {
	doc, _ := openAPI()
	verbNoun := regexp.MustCompile(`^(get|list|put|patch|delete|create|start|push|record|register|receive|rotate)[A-Z][A-Za-z]*$`)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch prev, dup := seen[op.OperationID]; {
			case !verbNoun.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q, want verbNoun", where, op.OperationID)
			case dup:
				t.Errorf("%s: operationId %q is also %s's", where, op.OperationID, prev)
			}
			seen[op.OperationID] = where
		}
	}
}

// TestRoutesDocumented: every registered route has an OpenAPI operation,
// and every operation is served (not the catch-all 404) unless another
// engineer's file has yet to register it.
func TestRoutesDocumented(t *testing.T) {
	a := newAPI(t)
	docs := documentedOperations()
	for _, route := range a.Handler.Routes() {
		if !slices.Contains(docs, route) {
			t.Errorf("route %q is registered but not in openapi.json", route)
		}
	}
	for _, op := range docs {
		if !slices.Contains(a.Handler.Routes(), op) && !slices.Contains(routesOfOthers, op) {
			t.Errorf("openapi.json documents %q, which no handler serves", op)
		}
	}
}

// routesOfOthers are documented routes whose handlers live in files of
// other features (runs.go, alerts.go, webhook.go); they register them.
var routesOfOthers = []operation{
	"POST /v1/sync-runs", "GET /v1/sync-runs", "GET /v1/sync-runs/{id}", "GET /v1/sync-runs/{id}/entries",
	"GET /v1/alerts", "POST /v1/webhooks/alerts",
}

// TestAdminAuth runs every admin route without a token, with bad tokens,
// with the wrong role and as an operator.
func TestAdminAuth(t *testing.T) {
	a := newAPI(t)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	foreign, err := httpapi.DevToken(otherKey, testIssuer, testAudience, tenantA, []string{billingRole}, time.Hour, a.Now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := httpapi.DevToken(a.Key, testIssuer, testAudience, tenantA, []string{billingRole}, time.Hour, a.Now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	noTenant, err := httpapi.DevToken(a.Key, testIssuer, testAudience, "", []string{billingRole}, time.Hour, a.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range bearerOperations() {
		if !slices.Contains(a.Handler.Routes(), op) {
			continue // not registered yet (routesOfOthers)
		}
		method, path := samplePath(op)
		for _, tc := range []struct {
			name  string
			token string
			want  int
		}{
			{"ErrNoToken", "", 401},
			{"ErrGarbageToken", "not.a.jwt", 401},
			{"ErrForeignKey", foreign, 401},
			{"ErrExpired", expired, 401},
			{"ErrNoTenant", noTenant, 401},
			{"ErrWrongRole", a.token(tenantA, "viewer"), 403},
			{"ErrOperator", a.operatorToken(), 403},
		} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				rec := a.do(method, path, tc.token, []byte(`{}`), nil)
				if rec.Code != tc.want {
					t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
				}
			})
		}
	}
}

// isolationCase is what tenant B tries against tenant A.
type isolationCase struct {
	// body of the request; signedAsA sends it as a platform request naming
	// tenant A but signed with B's secret; adminToken uses B's admin token.
	body      string
	signedAsA bool
	// want are the acceptable statuses (B's own data, or refusals).
	want []int
}

// isolationCases covers every route. Files that add routes add their cases
// here (a route without one fails TestTenantIsolation). Destructive cases
// run last, in deleteLast order.
var isolationCases = map[operation]isolationCase{
	"GET /v1/integration":                              {want: []int{200}},
	"PUT /v1/integration":                              {body: "B_CONNECTWISE", want: []int{200}},
	"DELETE /v1/integration":                           {want: []int{204}},
	"GET /v1/integration/company-types":                {want: []int{200}},
	"PUT /v1/integration/company-types":                {body: `{"companyTypeIds":[1]}`, want: []int{422}},
	"GET /v1/tenant":                                   {want: []int{200}},
	"GET /v1/ticketing":                                {want: []int{200}},
	"PUT /v1/ticketing":                                {body: `{"enabled":false}`, want: []int{200}},
	"PATCH /v1/ticketing":                              {body: `{"enabled":true}`, want: []int{200}},
	"GET /v1/psa/company-types":                        {want: []int{200}},
	"GET /v1/psa/companies":                            {want: []int{200}},
	"GET /v1/psa/companies/{id}/contracts":             {want: []int{200, 404}},
	"GET /v1/psa/contracts/{id}/lines":                 {want: []int{200, 404}},
	"GET /v1/psa/ticket-options":                       {want: []int{200}},
	"GET /v1/orgs":                                     {want: []int{200}},
	"GET /v1/orgs/{org}/mapping":                       {want: []int{404}},
	"PUT /v1/orgs/{org}/mapping":                       {body: `{"companyId":1001,"contractId":2001,"lines":[{"lineId":4001}]}`, want: []int{422}},
	"PATCH /v1/orgs/{org}/mapping":                     {body: `{"nonBillableUsers":0}`, want: []int{404}},
	"DELETE /v1/orgs/{org}/mapping":                    {want: []int{404}},
	"GET /v1/billing-settings":                         {want: []int{200}},
	"PUT /v1/billing-settings":                         {body: `{"timeZone":"Asia/Tokyo","period":"current","effectiveDate":"period-start","createMissingLines":false,"zeroDeprovisioned":false,"unitCost":{},"budgetPerHour":5000,"runAt":"12:00"}`, want: []int{200}},
	"PATCH /v1/billing-settings":                       {body: `{"timeZone":"Asia/Tokyo"}`, want: []int{200}},
	"GET /v1/alert-rules":                              {want: []int{200}},
	"GET /v1/alert-rules/{alertType}":                  {want: []int{200}},
	"PUT /v1/alert-rules/{alertType}":                  {body: `{"enabled":false}`, want: []int{200}},
	"PATCH /v1/alert-rules/{alertType}":                {body: `{"enabled":false}`, want: []int{200}},
	"GET /v1/openapi.json":                             {want: []int{200}},
	"POST /v1/usage":                                   {body: `{"observations":[{"org":"acme-org-1","value":999,"observedAt":"2026-11-20T10:00:00Z"}]}`, signedAsA: true, want: []int{401}},
	"PUT /v1/orgs/{org}":                               {body: `{"name":"Hijacked"}`, signedAsA: true, want: []int{401}},
	"POST /v1/webhooks/alerts":                         {body: `{"id":"x","type":"user_lockout","severity":"error","org":"acme-org-1","status":"open","occurredAt":"2026-11-20T10:00:00Z"}`, signedAsA: true, want: []int{401, 404}},
	"POST /v1/platform/tenants":                        {body: `{"id":"evil-msp"}`, want: []int{403}},
	"POST /v1/platform/tenants/{tenant}/rotate-secret": {want: []int{403}},
	// Routes of the billing sync and ticketing files: B sees only its own
	// (empty) runs and alerts; 404 while a route is not registered yet.
	// (503: this env wires no run starter, Config.Runs is nil.)
	"POST /v1/sync-runs":             {body: `{"dryRun":true}`, want: []int{202, 404, 409, 422, 503}},
	"GET /v1/sync-runs":              {want: []int{200, 404}},
	"GET /v1/sync-runs/{id}":         {want: []int{404}},
	"GET /v1/sync-runs/{id}/entries": {want: []int{404}},
	"GET /v1/alerts":                 {want: []int{200, 404}},
	// Mapping tools: B reads and writes only its own catalog, gets 404 for
	// A's org, and lists only its own (no) orgs.
	"GET /v1/catalog":                        {want: []int{200}},
	"PUT /v1/catalog":                        {body: `{"products":[]}`, want: []int{200}},
	"POST /v1/catalog/push":                  {want: []int{400}},
	"GET /v1/psa/catalog-options":            {want: []int{200}},
	"GET /v1/orgs/{org}/mapping/health":      {want: []int{404}},
	"GET /v1/orgs/{org}/mapping/suggestions": {want: []int{404}},
	"GET /v1/mapping-suggestions":            {want: []int{200}},
	"GET /v1/reconciliation":                 {want: []int{200}},
}

// everyOperation lists the documented operations and the routes h
// serves, the deleting ones (deleteLast) last.
func everyOperation(h *httpapi.Handler) []operation {
	ops := slices.Clone(documentedOperations())
	for _, r := range h.Routes() {
		if !slices.Contains(ops, r) {
			ops = append(ops, r)
		}
	}
	slices.SortStableFunc(ops, func(x, y operation) int { return slices.Index(deleteLast, x) - slices.Index(deleteLast, y) })
	return ops
}

var deleteLast = []operation{"DELETE /v1/orgs/{org}/mapping", "DELETE /v1/integration"}

// TestTenantIsolation: for every route, tenant B's credentials cannot read,
// change or delete anything of tenant A: B's answers never carry A's data,
// and A's items and secret are byte-for-byte the same afterwards.
func TestTenantIsolation(t *testing.T) {
	e := newPSAEnv(t)
	secretA := e.mustProvision(tenantA)
	secretB := e.mustProvision(tenantB)
	e.mustConnect()
	for _, req := range []struct {
		signed             bool
		method, path, body string
	}{
		{true, "PUT", "/v1/orgs/acme-org-1", `{"name":"Acme Org One"}`},
		{true, "POST", "/v1/usage", `{"observations":[{"org":"acme-org-1","value":12,"observedAt":"2026-11-20T10:00:00Z"}]}`},
		{false, "PATCH", "/v1/billing-settings", `{"timeZone":"Europe/Berlin","unitCost":{"users":4.5}}`},
		{false, "PUT", "/v1/alert-rules/user_lockout", `{"enabled":true,"priorityId":1,"statusId":1,"titlePrefix":"[Acme]"}`},
		{false, "PUT", "/v1/ticketing", `{"enabled":true}`},
		{false, "PUT", "/v1/integration/company-types", `{"companyTypeIds":[1]}`},
	} {
		var rec interface{ Result() *http.Response }
		if req.signed {
			rec = e.signed(req.method, req.path, tenantA, []byte(req.body), secretA)
		} else {
			rec = e.admin(tenantA, req.method, req.path, []byte(req.body), mergePatch())
		}
		if code := rec.Result().StatusCode; code != 200 {
			t.Fatalf("setup %s %s: got %d", req.method, req.path, code)
		}
	}
	e.mustMap("acme-org-1")
	mustPutItem(t, e.Store, "T#"+tenantA, "RUN#1001", nil)
	mustPutItem(t, e.Store, "T#"+tenantA+"#RUN#1001", "E#acme-org-1#users", nil)

	itemsA := mustItems(t, e.Store, tenantA)
	credsA, err := e.Secrets.FreshPSACredentials(ctx(), tenantA)
	if err != nil {
		t.Fatal(err)
	}

	ops := everyOperation(e.Handler)
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			tc, ok := isolationCases[op]
			if !ok {
				t.Fatalf("route %q has no tenant isolation case: add one to isolationCases", op)
			}
			method, path := samplePath(op)
			body := []byte(tc.body)
			if tc.body == "B_CONNECTWISE" {
				body = e.connectWiseBody(cwPrivate)
			}
			var rec interface {
				Result() *http.Response
			}
			if tc.signedAsA {
				h := http.Header{}
				h.Set(signature.TenantHeader, tenantA)
				h.Set(signature.Header, signature.Sign(body, e.Now, secretB))
				rec = e.do(method, path, "", body, h)
			} else {
				rec = e.admin(tenantB, method, path, body, mergePatch())
			}
			res := rec.Result()
			var got bytes.Buffer
			_, _ = got.ReadFrom(res.Body)
			if !slices.Contains(tc.want, res.StatusCode) {
				t.Errorf("got %d %s, want one of %v", res.StatusCode, got.String(), tc.want)
			}
			for _, f := range fingerprintsA {
				if strings.Contains(got.String(), f) {
					t.Errorf("tenant B's answer contains tenant A's %q: %s", f, got.String())
				}
			}
		})
	}
	after := mustItems(t, e.Store, tenantA)
	if !reflect.DeepEqual(itemsOf(itemsA), itemsOf(after)) {
		t.Errorf("tenant A's items changed:\nbefore %v\nafter  %v", keys(itemsA), keys(after))
	}
	if got, err := e.Secrets.FreshPSACredentials(ctx(), tenantA); err != nil || got != credsA {
		t.Errorf("tenant A's credentials changed: %v", err)
	}
}

func itemsOf(m map[string]map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, item := range m {
		var b strings.Builder
		for _, name := range keys(item) {
			b.WriteString(name + "=" + avString(item[name]) + ";")
		}
		out[k] = b.String()
	}
	return out
}

func avString(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + x.Value
	case *types.AttributeValueMemberN:
		return "N:" + x.Value
	case *types.AttributeValueMemberBOOL:
		if x.Value {
			return "true"
		}
		return "false"
	case *types.AttributeValueMemberM:
		var b strings.Builder
		for _, k := range keys(x.Value) {
			b.WriteString(k + ":" + avString(x.Value[k]) + ",")
		}
		return "{" + b.String() + "}"
	case *types.AttributeValueMemberL:
		var b strings.Builder
		for _, e := range x.Value {
			b.WriteString(avString(e) + ",")
		}
		return "[" + b.String() + "]"
	default:
		return reflect.TypeOf(v).String()
	}
}

// TestOpenAPIValidatorBites: the harness's response check rejects a
// response that drifts from the document, so every a.do is a real check.
func TestOpenAPIValidatorBites(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"Valid", "GET", "/v1/ticketing", 200, `{"enabled":true}`, true},
		{"ErrWrongType", "GET", "/v1/ticketing", 200, `{"enabled":"yes"}`, false},
		{"ErrExtraField", "GET", "/v1/ticketing", 200, `{"enabled":true,"secret":"x"}`, false},
		{"ErrUndocumentedStatus", "GET", "/v1/ticketing", 418, `{"code":"invalid","message":"x"}`, false},
		{"ErrErrorShape", "GET", "/v1/ticketing", 404, `{"error":"x"}`, false},
		{"UnknownRouteErrorBody", "GET", "/v1/nope", 404, `{"code":"not_found","message":"no such route"}`, true},
		{"ErrUnknownRouteSuccess", "GET", "/v1/nope", 200, `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.path, nil)
			rec := newRecorder(tc.status, tc.body)
			if err := validateResponse(req, rec); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

var fuzzMethods = []string{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}

// FuzzAdminAPI sends any method, path and body as tenant A's billing admin:
// never a panic, never a 5xx, and every answer matches the document. Seeded
// with every documented operation and with trailing-data, duplicate-key and
// invalid UTF-8 bodies and queries (issue 13).
func FuzzAdminAPI(f *testing.F) {
	// Run-now wired as in AWS (the fan-out over a moto FIFO queue), so POST
	// /v1/sync-runs is not the 503 of an API without a run starter.
	e := newRunsEnv(f, func(c *httpapi.Config) { c.AllowCustomEndpoints = false }).psaEnv
	e.mustConnect()
	for _, op := range documentedOperations() {
		method, path := samplePath(op)
		f.Add(uint8(slices.Index(fuzzMethods, method)), path, []byte(`{}`))
	}
	for _, seed := range []struct {
		path, body string
	}{
		{"/v1/orgs/acme-org-1/mapping", `{"companyId":1001,"contractId":2001,"lines":[{"lineId":4001}]}`},
		{"/v1/alert-rules/user_lockout", `{"enabled":true,"resourceId":5001,"roleId":6001}`},
		{"/v1/billing-settings", `{"orgUnitCost":{"o":{"users":1e308}}}`},
		{"/v1/integration", `{"provider":"autotask","username":"api@acme.example","secret":"x","integrationCode":"y"}`},
		{"/v1/psa/companies?limit=200&cursor=99999999999999999999", ``},
		{"/v1/psa/contracts/99999999999999999999/lines", ``},
	} {
		f.Add(uint8(1), seed.path, []byte(seed.body))
	}
	for _, bad := range strictBodies(`{"enabled":true,"resourceId":5001,"roleId":6001}`, "enabled") {
		f.Add(uint8(1), "/v1/alert-rules/user_lockout", []byte(bad.body))
	}
	for _, bad := range strictBodies(`{"dryRun":true}`, "dryRun") {
		f.Add(uint8(2), "/v1/sync-runs", []byte(bad.body))
	}
	f.Add(uint8(1), "/v1/orgs/acme-org-1/mapping", []byte("{\"companyId\":1001,\"contractId\":2001,\"lines\":[{\"lineId\":4001,\"product\":\"u\xffsers\"}]}"))
	f.Add(uint8(0), "/v1/sync-runs/r-1/entries?q=%FF%FE", []byte(nil))
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		u, err := url.ParseRequestURI(path)
		if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.ContainsFunc(u.RequestURI(), func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return // not a request target a client can send
		}
		a := e.with(t)
		rec := a.do(fuzzMethods[int(m)%len(fuzzMethods)], u.RequestURI(), a.token(tenantA, billingRole), body, nil)
		if rec.Code >= 500 {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
}
