package halopsa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// clientOps are the operations of Halo's definition the client uses; the
// drive must exercise each of them.
var clientOps = []string{
	"GET /Agent/me", "GET /TopLevel", "GET /Client", "GET /Client/{id}", "GET /RecurringInvoice",
	"GET /RecurringInvoice/{id}", "POST /RecurringInvoice/updatelines", "GET /ItemGroup", "GET /Item", "POST /Item",
	"GET /Status", "GET /Priority", "GET /TicketType", "GET /Team", "GET /Team/{id}", "GET /Agent",
	"GET /Tickets", "GET /Tickets/{id}", "POST /Tickets", "GET /Actions", "POST /Actions",
}

// TestConformance drives every client operation against the sandbox,
// records each request and answer, and holds them against Halo's own
// definition (normalised, see MustSpec): the token call against
// docs/HALOPSA.md 1.2, every API call against its operation.
func TestConformance(t *testing.T) {
	s := MustSpec(t)
	rec := &psatest.Recorder{Next: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 5*time.Second).Transport}
	seed := baseSeed()
	seed.Clients = append(seed.Clients, manyClients(120)...)
	e := MustEnv(t, seed, &http.Client{Transport: rec, Timeout: 5 * time.Second})
	driveAll(t, e)

	seen := map[string]bool{}
	for i, x := range rec.Log() {
		name := fmt.Sprintf("#%d %s %s", i, x.Method, x.URL.Path)
		if x.URL.Path == "/halopsa/auth/token" {
			checkToken(t, name, x)
			seen["token"] = true
			continue
		}
		path, ok := strings.CutPrefix(x.URL.Path, "/halopsa/api")
		if !ok {
			t.Errorf("%s: not under the API base", name)
			continue
		}
		checkHeaders(t, name, x)
		if x.Status < 200 || x.Status > 299 {
			checkErrorBody(t, name, x)
		}
		if tmpl := s.validateExchange(t, name, path, x); tmpl != "" {
			seen[x.Method+" "+tmpl] = true
		}
	}
	for _, op := range append([]string{"token"}, clientOps...) {
		if !seen[op] {
			t.Errorf("the drive did not exercise %s", op)
		}
	}
	var ops []string
	for k := range seen {
		ops = append(ops, k)
	}
	slices.Sort(ops)
	t.Logf("%d exchanges, operations: %s", len(rec.Log()), strings.Join(ops, "; "))
}

// driveAll calls every client operation, including ones that fail.
func driveAll(t *testing.T, e *env) {
	t.Helper()
	c := e.client
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("Verify", c.Verify(ctx))
	_, err := c.CompanyTypes(ctx)
	must("CompanyTypes", err)
	cos, err := c.Companies(ctx, psa.CompanyFilter{TypeIDs: []int64{tlManaged}, NameContains: "o"})
	must("Companies", err)
	if len(cos) < PageSize {
		t.Fatalf("got %d companies, want more than a page", len(cos))
	}
	_, err = c.CompaniesByID(ctx, []int64{clContoso, clGone, 30110, 99999})
	must("CompaniesByID", err)
	_, err = c.Company(ctx, clContoso)
	must("Company", err)
	_, _ = c.Company(ctx, 99999) // a 404
	_, err = c.Contracts(ctx, clContoso)
	must("Contracts", err)
	_, err = c.Contract(ctx, ctMain)
	must("Contract", err)
	_, err = c.ContractsByID(ctx, []int64{ctMain, ctDisabled, 777})
	must("ContractsByID", err)
	_, _, err = c.ContractsWithLines(ctx, []int64{ctMain, ctDisabled, 777}, testNow)
	must("ContractsWithLines", err)
	_, err = c.Lines(ctx, ctMain)
	must("Lines", err)
	_, err = c.ReadLines(ctx, []psa.LineRef{{ContractID: ctMain, LineID: lnSeats}, {ContractID: ctFabrikam, LineID: lnFabrikam}}, testNow)
	must("ReadLines", err)
	must("SetLine", c.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: ctMain, LineID: lnSeats}, Quantity: 12, UnitCost: 18.25, EffectiveDate: testNow}))
	_, err = c.CreateLine(ctx, ctFabrikam, itStorage, 7, 2.25, testNow)
	must("CreateLine", err)
	_, _ = c.CreateLine(ctx, ctFabrikam, 999, 1, 1, testNow) // a 400
	_, err = c.TicketOptions(ctx)
	must("TicketOptions", err)
	_, _ = c.FindOpenTicket(ctx, clContoso, "alert:conf-1") // none yet
	tk, err := c.CreateTicket(ctx, psa.TicketSpec{CompanyID: clContoso, Title: "Seat overage", Description: "Details", ExternalKey: "alert:conf-1",
		StatusID: stNew, PriorityID: prHigh, IssueTypeID: ttAlert, QueueID: teamAlert, ResourceID: agJo, Due: testNow.Add(24 * time.Hour)})
	must("CreateTicket", err)
	_, err = c.FindOpenTicket(ctx, clContoso, "alert:conf-1")
	must("FindOpenTicket", err)
	_, err = c.HasNote(ctx, tk.ID, "run-1") // no actions yet: reads the ticket
	must("HasNote", err)
	must("AddNote", c.AddNote(ctx, tk.ID, psa.Note{Title: "Update", Text: "still over run-1"}))
	_, err = c.HasNote(ctx, tk.ID, "run-1")
	must("HasNote", err)
	must("CloseTicket", c.CloseTicket(ctx, tk.ID, stClosed))
	_, err = c.CatalogOptions(ctx)
	must("CatalogOptions", err)
	_, err = c.CatalogItems(ctx)
	must("CatalogItems", err)
	it, err := c.UpsertCatalogItem(ctx, psa.CatalogItem{Identifier: "PSAB-USERS", Name: "Acme Backup - User", Period: psa.Monthly,
		UnitCost: 2.5, UnitPrice: 4, ProductTypeID: grpCloud, Active: true})
	must("UpsertCatalogItem (create)", err)
	it.Period, it.UnitPrice = psa.Yearly, 40
	_, err = c.UpsertCatalogItem(ctx, it)
	must("UpsertCatalogItem (update)", err)
}

// checkToken: the token request of docs/HALOPSA.md 1.2, and its answer.
func checkToken(t *testing.T, name string, x psatest.Exchange) {
	t.Helper()
	if x.Method != http.MethodPost || x.ReqHeader.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("%s: want a form POST, got %s %q", name, x.Method, x.ReqHeader.Get("Content-Type"))
	}
	form, err := url.ParseQuery(string(x.ReqBody))
	if err != nil {
		t.Errorf("%s: body is not a form: %v", name, err)
		return
	}
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}, "scope": {"all"}}
	if len(form) != len(want) {
		t.Errorf("%s: form fields %v, want %v", name, keys(form), keys(want))
	}
	for k, v := range want {
		if form.Get(k) != v[0] {
			t.Errorf("%s: %s = %q, want %q", name, k, form.Get(k), v[0])
		}
	}
	if x.Status != http.StatusOK {
		return
	}
	var ans struct {
		AccessToken string   `json:"access_token"`
		TokenType   string   `json:"token_type"`
		ExpiresIn   *float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(x.RespBody, &ans); err != nil || ans.AccessToken == "" || ans.TokenType != "Bearer" || ans.ExpiresIn == nil {
		t.Errorf("%s: answer %s is not a Bearer token with expires_in", name, x.RespBody)
	}
}

func keys(v url.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkHeaders: every API call carries the Bearer token and asks for JSON;
// a write sends a JSON array (Halo's writes take arrays).
func checkHeaders(t *testing.T, name string, x psatest.Exchange) {
	t.Helper()
	if tok, ok := strings.CutPrefix(x.ReqHeader.Get("Authorization"), "Bearer "); !ok || tok == "" {
		t.Errorf("%s: no Bearer token", name)
	}
	if x.ReqHeader.Get("Accept") != "application/json" {
		t.Errorf("%s: Accept %q", name, x.ReqHeader.Get("Accept"))
	}
	if x.Method == http.MethodGet {
		if len(x.ReqBody) > 0 {
			t.Errorf("%s: a GET with a body", name)
		}
		return
	}
	var arr []map[string]any
	if x.ReqHeader.Get("Content-Type") != "application/json" || json.Unmarshal(x.ReqBody, &arr) != nil || len(arr) == 0 {
		t.Errorf("%s: the body %s is not a JSON array of objects", name, x.ReqBody)
	}
}

// checkErrorBody: Halo's error answers are in the shapes docs/HALOPSA.md 4
// lists, which the client reads its words from.
func checkErrorBody(t *testing.T, name string, x psatest.Exchange) {
	t.Helper()
	if x.Status == http.StatusUnauthorized || len(x.RespBody) == 0 && x.Status == http.StatusNotFound {
		return
	}
	if len(vendorDetails(x.RespBody)) == 0 {
		t.Errorf("%s: error body %s is in none of Halo's shapes", name, x.RespBody)
	}
}
