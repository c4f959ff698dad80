package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/psabridge/psabridge/shared/httpapi"
)

// errorResponse is the one error shape of the API (README, openapi.json's Error).
type errorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func mustError(tb testing.TB, body []byte) errorResponse {
	tb.Helper()
	var e errorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		tb.Fatalf("error body %s: %v", body, err)
	}
	return e
}

// TestMethodNotAllowed: a path the API has, asked with a method it does not
// serve there, is 405 with Allow listing the path's methods; a path it does
// not have stays 404.
func TestMethodNotAllowed(t *testing.T) {
	a := newAPI(t)
	tok := a.token(tenantA, billingRole)
	for _, tc := range []struct {
		name, method, path string
		want               int
		allow              string
	}{
		{"PostOnSettings", "POST", "/v1/billing-settings", 405, "GET, PUT, PATCH"},
		{"DeleteOnOrgs", "DELETE", "/v1/orgs", 405, "GET"},
		{"GetOnUsage", "GET", "/v1/usage", 405, "POST"},
		{"HeadOnOpenAPI", "HEAD", "/v1/openapi.json", 405, "GET"},
		{"PatchOnOrgWithParam", "PATCH", "/v1/orgs/acme-org-1", 405, "PUT"},
		{"UnknownPath", "GET", "/v1/no-such-thing", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.do(tc.method, tc.path, tok, nil, nil)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow: got %q, want %q", got, tc.allow)
			}
			e := mustError(t, rec.Body.Bytes())
			if want := map[int]string{405: "method_not_allowed", 404: "not_found"}[tc.want]; e.Code != want || e.Message == "" || e.Details == nil {
				t.Errorf("got %s, want code %s, a message and details", rec.Body, want)
			}
		})
	}
}

// TestValidationDetails: a request with several invalid fields hears of all
// of them at once, one {field, message} each.
func TestValidationDetails(t *testing.T) {
	a := newAPI(t, func(c *httpapi.Config) { c.AllowCustomEndpoints = true })
	tok := a.token(tenantA, billingRole)
	for _, tc := range []struct {
		name, method, path, body string
		fields                   []string
	}{
		{"BillingSettings", "PUT", "/v1/billing-settings",
			`{"timeZone":"Mars/Olympus","period":"next","effectiveDate":"today","createMissingLines":false,"zeroDeprovisioned":false,"budgetPerHour":20000,"runAt":"25:00","unitCost":{"users":-1}}`,
			[]string{"timeZone", "period", "budgetPerHour", "runAt", "unitCost.users"}},
		{"BillingSettingsPartial", "PUT", "/v1/billing-settings", `{"budgetPerHour":2000}`,
			[]string{"timeZone", "period", "effectiveDate", "createMissingLines", "zeroDeprovisioned", "unitCost", "runAt"}},
		{"Mapping", "PUT", "/v1/orgs/acme-org-1/mapping",
			`{"companyId":0,"contractId":-1,"lines":[{"product":"users","lineId":0},{"product":"users","lineId":5}],"nonBillableUsers":-2}`,
			[]string{"companyId", "contractId", "nonBillableUsers", "lines[0].lineId", "lines[1].product"}},
		{"AlertRule", "PUT", "/v1/alert-rules/user_lockout",
			`{"minSeverity":"loud","dueDays":400,"closeOnResolve":true}`,
			[]string{"minSeverity", "dueDays", "completeStatusId"}},
		{"Catalog", "PUT", "/v1/catalog",
			`{"products":[{"key":"Users!","name":"","identifier":"a","period":"quarterly","unitCost":-1,"unitPrice":2000000},` +
				`{"key":"users","name":"Users","identifier":"b","period":"monthly"},` +
				`{"key":"users","name":" USERS ","identifier":"B","period":"monthly"}]}`,
			[]string{"products[0].key", "products[0].name", "products[0].period", "products[0].unitCost", "products[0].unitPrice",
				"products[2].key", "products[2].name", "products[2].identifier"}},
		{"IntegrationConnectWise", "PUT", "/v1/integration",
			`{"provider":"connectwise","site":"https://na.myconnectwise.net","companyId":"","publicKey":"pub","privateKey":"priv","username":"u",` +
				`"endpoints":{"connectwiseLoginUrl":"ftp://127.0.0.1","connectwiseApiUrl":"http://127.0.0.1:9"}}`,
			[]string{"companyId", "clientId", "username", "site", "endpoints.connectwiseLoginUrl"}},
		{"IntegrationProvider", "PUT", "/v1/integration", `{"provider":"halo"}`, []string{"provider"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.do(tc.method, tc.path, tok, []byte(tc.body), nil)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", rec.Code, rec.Body)
			}
			e := mustError(t, rec.Body.Bytes())
			var got []string
			for _, d := range e.Details {
				if d.Message == "" {
					t.Errorf("detail %q has no message", d.Field)
				}
				got = append(got, d.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields: got %q, want %q (body %s)", got, tc.fields, rec.Body)
			}
		})
	}
}
