package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

const (
	haloClientID = "6f1c2a9e-psabridge"
	haloSecret   = "halo-s3cret"
	haloTenant   = "acmemsp"
)

// movableClock is a sandbox clock a test moves.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// haloFixture serves one HaloPSA instance.
type haloFixture struct {
	sb    *Server
	srv   *httptest.Server
	clock *movableClock
	token string
}

// haloSeed is an instance with non-default ids everywhere (nothing at 1,
// 2 or 3), negative recurring invoice ids as Halo numbers them.
func haloSeed() HaloPSASeed {
	return HaloPSASeed{
		TopLevels: []HaloOption{{ID: 312, Name: "Managed"}, {ID: 318, Name: "Prospects"}},
		Clients: []HaloClient{
			{ID: 25001, Name: "Contoso Labs", TopLevelID: 312}, {ID: 25002, Name: "Fabrikam", TopLevelID: 312},
			{ID: 25003, Name: "Northwind", TopLevelID: 318}, {ID: 25004, Name: "Gone Ltd", TopLevelID: 312, Inactive: true},
			{ID: 25005, Name: "Adatum", TopLevelID: 312}, {ID: 25006, Name: "Litware", TopLevelID: 318},
			{ID: 25007, Name: "Tailspin", TopLevelID: 312}, {ID: 25008, Name: "Woodgrove", TopLevelID: 312},
		},
		Contracts:  []HaloContract{{ID: 811, ClientID: 25001, Ref: "MSA-811"}, {ID: 812, ClientID: 25002, Ref: "MSA-812"}},
		ItemGroups: []HaloOption{{ID: 640, Name: "Licences"}},
		Items: []HaloItem{
			{ID: 5501, Name: "M365 Business Premium", InternalReference: "M365-BP", BasePrice: 25, CostPrice: 20, Recurring: true, RecurringPrice: 22, RecurringCost: 18, BillingPeriod: 2, GroupID: 640},
			{ID: 5502, Name: "Backup Seat", BasePrice: 5, CostPrice: 2},
			{ID: 5503, Name: "Retired Thing", Inactive: true},
		},
		RecurringInvoices: []HaloRecurringInvoice{
			{ID: -4101, ClientID: 25001, ContractID: 811, Reference: "Contoso monthly", Lines: []HaloInvoiceLine{
				{ID: 77001, ItemID: 5501, Description: "M365", Quantity: 10, UnitPrice: 22, UnitCost: 18},
				{ID: 77002, ItemID: 5502, Description: "Backup", Quantity: 4, UnitPrice: 5, UnitCost: 2},
			}},
			{ID: -4102, ClientID: 25002, Reference: "Fabrikam monthly", Lines: []HaloInvoiceLine{
				{ID: 77003, ItemID: 5501, Quantity: 3, UnitPrice: 22, UnitCost: 18},
			}},
		},
		TicketTypes: []HaloOption{{ID: 61, Name: "Incident", Default: true}, {ID: 63, Name: "Alert"}},
		Statuses:    []HaloStatus{{ID: 21, Name: "New", Default: true}, {ID: 22, Name: "In Progress"}, {ID: 29, Name: "Closed", Closed: true}},
		Priorities:  []HaloOption{{ID: 44, Name: "Critical"}, {ID: 45, Name: "Medium", Default: true}},
		Teams:       []HaloOption{{ID: 91, Name: "Service Desk"}, {ID: 92, Name: "Old Team", Inactive: true}},
		Agents:      []HaloAgent{{ID: 4471, Name: "API User", Team: "Service Desk"}, {ID: 4472, Name: "Dana Tech", Team: "Service Desk"}, {ID: 4473, Name: "Left Co", Disabled: true}},
		Outcomes:    []HaloOutcome{{ID: 5202, Name: "Private Note"}, {ID: 5209, Name: "Close", NewStatus: 29}},
	}
}

// mustHaloFixture serves seed (credentials and tenant filled in) with a
// movable clock and holds a token.
func mustHaloFixture(tb testing.TB, seed HaloPSASeed) *haloFixture {
	tb.Helper()
	seed.ClientID, seed.ClientSecret, seed.Tenant = haloClientID, haloSecret, haloTenant
	f := &haloFixture{sb: New(), clock: &movableClock{t: clock.Now()}}
	f.sb.Now = f.clock.Now
	f.sb.HaloPSA.AddInstance(seed)
	f.srv = httptest.NewServer(f.sb)
	tb.Cleanup(f.srv.Close)
	status, body := f.tokenRequest(tb, url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID},
		"client_secret": {haloSecret}, "scope": {"all"}}, haloTenant)
	if status != http.StatusOK {
		tb.Fatalf("token: %d %v", status, body)
	}
	f.token = body["access_token"].(string)
	return f
}

func (f *haloFixture) tokenRequest(tb testing.TB, form url.Values, tenant string) (int, map[string]any) {
	tb.Helper()
	u := f.srv.URL + "/halopsa/auth/token"
	if tenant != "" {
		u += "?tenant=" + tenant
	}
	resp, err := http.PostForm(u, form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// do sends an API request (path below /halopsa/api) with the fixture's
// token and decodes the answer into any.
func (f *haloFixture) do(tb testing.TB, method, path, body string) (int, any, http.Header) {
	tb.Helper()
	return f.doToken(tb, f.token, method, path, body)
}

func (f *haloFixture) doToken(tb testing.TB, token, method, path, body string) (int, any, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(method, f.srv.URL+"/halopsa/api"+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// obj returns v as an object (failing when it is not one).
func obj(tb testing.TB, v any) map[string]any {
	tb.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		tb.Fatalf("got %T %v, want an object", v, v)
	}
	return m
}

// rows returns the array under key of a list answer.
func rows(tb testing.TB, v any, key string) []map[string]any {
	tb.Helper()
	list, ok := obj(tb, v)[key].([]any)
	if !ok {
		tb.Fatalf("got %v, want an array under %q", v, key)
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = obj(tb, r)
	}
	return out
}

func ids(rs []map[string]any) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, int64(r["id"].(float64)))
	}
	return out
}

func eqIDs(a []int64, b ...int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// haloMessage returns the Message of a Halo exception body.
func haloMessage(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["Message"].(string)
	return s
}

func TestHaloToken(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID}, "client_secret": {haloSecret}, "scope": {"all"}}
	}
	with := func(k, v string) url.Values {
		f := good()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		tenant string
		status int
		err    string
	}{
		{"OK", good(), haloTenant, 200, ""},
		{"TenantCaseInsensitive", good(), strings.ToUpper(haloTenant), 200, ""},
		{"WrongSecret", with("client_secret", "nope"), haloTenant, 401, "invalid_client"},
		{"UnknownClient", with("client_id", "other"), haloTenant, 401, "invalid_client"},
		{"NoTenant", good(), "", 401, "invalid_client"},
		{"WrongTenant", good(), "othermsp", 401, "invalid_client"},
		{"WrongGrant", with("grant_type", "password"), haloTenant, 400, "unsupported_grant_type"},
		{"UnknownScope", with("scope", "all admin:everything"), haloTenant, 400, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.tokenRequest(t, tc.form, tc.tenant)
			if status != tc.status || (tc.err != "" && body["error"] != tc.err) {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.err)
			}
			if tc.status == 200 && (body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "") {
				t.Errorf("got %v, want a Bearer token for an hour", body)
			}
		})
	}
	t.Run("JSONBody", func(t *testing.T) {
		resp, err := http.Post(f.srv.URL+"/halopsa/auth/token?tenant="+haloTenant, "application/json",
			strings.NewReader(`{"grant_type":"client_credentials","client_id":"`+haloClientID+`","client_secret":"`+haloSecret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("got %d, want 400 for a JSON token request", resp.StatusCode)
		}
	})
	if got := f.sb.HaloPSA.TokensIssued(haloClientID); got != 3 {
		t.Errorf("got %d tokens issued, want 3 (fixture, OK, TenantCaseInsensitive)", got)
	}
	if got := f.sb.Counts()["halopsa POST /auth/token"]; got != 10 {
		t.Errorf("got %d token requests counted, want 10", got)
	}
}

func TestHaloBearer(t *testing.T) {
	seed := haloSeed()
	seed.TokenTTLSeconds = 60
	f := mustHaloFixture(t, seed)
	get := func(token string) (int, http.Header) {
		status, _, h := f.doToken(t, token, "GET", "/Client/25001", "")
		return status, h
	}
	if s, _ := get(f.token); s != 200 {
		t.Fatalf("got %d with a fresh token, want 200", s)
	}
	for name, tok := range map[string]string{"None": "", "Unknown": "abc123"} {
		if s, h := get(tok); s != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: got %d %q, want 401 with a Bearer challenge", name, s, h.Get("WWW-Authenticate"))
		}
	}
	f.clock.Add(59 * time.Second)
	if s, _ := get(f.token); s != 200 {
		t.Fatalf("got %d a second before expiry, want 200", s)
	}
	f.clock.Add(time.Second)
	if s, h := get(f.token); s != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "expired") {
		t.Fatalf("got %d %q at expiry, want 401 saying the token expired", s, h.Get("WWW-Authenticate"))
	}
	_, body := f.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID},
		"client_secret": {haloSecret}, "scope": {"all"}}, haloTenant)
	fresh := body["access_token"].(string)
	if s, _ := get(fresh); s != 200 {
		t.Fatalf("got %d with a new token, want 200", s)
	}
	f.sb.HaloPSA.ExpireTokens(haloClientID)
	if s, _ := get(fresh); s != 401 {
		t.Fatalf("got %d after ExpireTokens, want 401", s)
	}
	_, body = f.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID},
		"client_secret": {haloSecret}, "scope": {"all"}}, haloTenant)
	fresh = body["access_token"].(string)
	// Re-seeding the instance (here with a rotated secret) keeps the
	// tokens it issued until they expire; a new one needs the new secret.
	seed.ClientID, seed.ClientSecret, seed.Tenant = haloClientID, "rotated", haloTenant
	f.sb.HaloPSA.AddInstance(seed)
	if s, _ := get(fresh); s != 200 {
		t.Fatalf("got %d with a token issued before the instance was re-seeded, want 200", s)
	}
	if s, body := f.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID},
		"client_secret": {haloSecret}, "scope": {"all"}}, haloTenant); s != 401 || body["error"] != "invalid_client" {
		t.Fatalf("got %d %v for the old secret, want invalid_client", s, body)
	}
	f.clock.Add(time.Minute)
	if s, _ := get(fresh); s != 401 {
		t.Fatalf("got %d after the token's lifetime, want 401", s)
	}
}

func TestHaloPaging(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	active := []int64{25005, 25001, 25002, 25006, 25003, 25007, 25008} // by name
	for _, tc := range []struct {
		query string
		want  []int64
		page  bool
	}{
		{"", active, false},
		{"?pageinate=true&page_size=3&page_no=1", active[:3], true},
		{"?pageinate=true&page_size=3&page_no=2", active[3:6], true},
		{"?pageinate=true&page_size=3&page_no=3", active[6:], true},
		{"?pageinate=true&page_size=3&page_no=4", nil, true},
		{"?PageInate=True&Page_Size=3", active[:3], true},
		{"?count=2", active[:2], false},
		{"?page_size=3&page_no=2", active, false}, // not paged without pageinate
	} {
		t.Run(tc.query, func(t *testing.T) {
			status, body, _ := f.do(t, "GET", "/Client"+tc.query, "")
			if status != 200 {
				t.Fatalf("got %d %v", status, body)
			}
			m := obj(t, body)
			if got := ids(rows(t, body, "clients")); !eqIDs(got, tc.want...) {
				t.Errorf("got ids %v, want %v", got, tc.want)
			}
			if m["record_count"] != float64(len(active)) {
				t.Errorf("got record_count %v, want %d", m["record_count"], len(active))
			}
			if _, ok := m["page_no"]; ok != tc.page {
				t.Errorf("got page_no present %v, want %v", ok, tc.page)
			}
		})
	}
	t.Run("PageSizeCapped", func(t *testing.T) {
		_, body, _ := f.do(t, "GET", "/Client?pageinate=true&page_size=5000", "")
		if got := obj(t, body)["page_size"]; got != float64(HaloMaxPageSize) {
			t.Errorf("got page_size %v, want %d", got, HaloMaxPageSize)
		}
	})
	for _, q := range []string{"?pageinate=yes", "?pageinate=true&page_no=two", "?page_size=1.5", "?toplevel_id=x", "?includeinactive=1"} {
		t.Run("Malformed"+q, func(t *testing.T) {
			status, body, _ := f.do(t, "GET", "/Client"+q, "")
			m, _ := body.(map[string]any)
			if errs, _ := m["errors"].(map[string]any); status != 400 || len(errs) != 1 || m["title"] == nil {
				t.Errorf("got %d %v, want 400 with problem details naming the parameter", status, body)
			}
		})
	}
}

func TestHaloClients(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"?search=LAB", []int64{25001}},
		{"?toplevel_id=318", []int64{25006, 25003}},
		{"?includeinactive=true&search=gone", []int64{25004}},
		{"?includeactive=false&includeinactive=true", []int64{25004}},
		{"?search=gone", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, body, _ := f.do(t, "GET", "/Client"+tc.query, "")
			if got := ids(rows(t, body, "clients")); !eqIDs(got, tc.want...) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	status, body, _ := f.do(t, "GET", "/client/25004", "")
	if c := obj(t, body); status != 200 || c["inactive"] != true || c["toplevel_name"] != "Managed" {
		t.Errorf("got %d %v, want the inactive client", status, body)
	}
	if status, _, _ := f.do(t, "GET", "/Client/1", ""); status != 404 {
		t.Errorf("got %d for a default id, want 404", status)
	}
	_, body, _ = f.do(t, "GET", "/TopLevel", "")
	if got := ids(rows(t, body, "tree")); !eqIDs(got, 312, 318) {
		t.Errorf("got top levels %v, want 312 318", got)
	}
	_, body, _ = f.do(t, "GET", "/ClientContract?client_id=25001", "")
	if got := ids(rows(t, body, "contracts")); !eqIDs(got, 811) {
		t.Errorf("got contracts %v, want 811", got)
	}
}

func TestHaloRecurringInvoices(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	_, body, _ := f.do(t, "GET", "/RecurringInvoice?client_id=25001", "")
	inv := rows(t, body, "invoices")
	if !eqIDs(ids(inv), -4101) || inv[0]["lines"] != nil {
		t.Fatalf("got %v, want invoice -4101 without lines", inv)
	}
	_, body, _ = f.do(t, "GET", "/RecurringInvoice?includelines=true&pageinate=true&page_size=1&page_no=2", "")
	inv = rows(t, body, "invoices")
	if !eqIDs(ids(inv), -4101) || len(inv[0]["lines"].([]any)) != 2 {
		t.Fatalf("got %v, want page 2 = invoice -4101 with its 2 lines (ids count down)", inv)
	}
	status, body, _ := f.do(t, "GET", "/RecurringInvoice/-4102", "")
	m := obj(t, body)
	lines := m["lines"].([]any)
	if status != 200 || len(lines) != 1 || obj(t, lines[0])["ihid"] != float64(-4102) || obj(t, lines[0])["_itemid"] != float64(5501) {
		t.Fatalf("got %d %v, want invoice -4102 with its line", status, body)
	}
	if m["enddate"] != haloNoDate || obj(t, lines[0])["enddate"] != haloNoDate || m["startdate"] == haloNoDate {
		t.Errorf("got %v, want open ends rendered as Halo's %s and the seeded start date set", body, haloNoDate)
	}
	if status, _, _ := f.do(t, "GET", "/RecurringInvoice/4102", ""); status != 404 {
		t.Errorf("got %d for the positive id, want 404", status)
	}
	t.Run("NotJSON", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/halopsa/api/RecurringInvoice/updatelines", strings.NewReader(`[{"id":77001,"ihid":-4101,"qty_order":5}]`))
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if l, _ := f.sb.HaloPSA.Line(haloClientID, 77001); resp.StatusCode != 415 || l.Quantity != 10 {
			t.Errorf("got %d, quantity %v; want 415 and nothing written", resp.StatusCode, l.Quantity)
		}
	})
	t.Run("CreateHeader", func(t *testing.T) {
		for _, tc := range []struct{ body, msg string }{
			{`[{"client_id":99999}]`, "valid client"},
			{`[{"client_id":25002,"contract_id":811}]`, "Contract 811"},
			{`[{"id":-1,"client_id":25002}]`, "not found"},
			{`{"client_id":25002}`, ""},
		} {
			status, body, _ := f.do(t, "POST", "/RecurringInvoice", tc.body)
			if status/100 != 4 || !strings.Contains(haloMessage(body), tc.msg) {
				t.Errorf("%s: got %d %v, want a 4xx saying %q", tc.body, status, body, tc.msg)
			}
		}
		status, body, _ := f.do(t, "POST", "/RecurringInvoice", `[{"client_id":25002,"reference":"New","lines":[{"_itemid":5502,"qty_order":2}]}]`)
		m := obj(t, body)
		if status != 201 || m["id"].(float64) >= -4102 || len(m["lines"].([]any)) != 1 {
			t.Fatalf("got %d %v, want a new invoice numbered below -4102 with one line", status, body)
		}
	})
}

func TestHaloUpdateLines(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"NotAnArray", `{"id":77001,"ihid":-4101,"qty_order":5}`, 400, ""},
		{"Empty", `[]`, 400, "No InvoiceDetail"},
		{"UnknownHeader", `[{"id":77001,"ihid":-9999,"qty_order":5}]`, 404, "-9999"},
		{"LineOfAnotherHeader", `[{"id":77003,"ihid":-4101,"qty_order":5}]`, 404, "77003"},
		{"UnknownLine", `[{"id":1,"ihid":-4101,"qty_order":5}]`, 404, "line 1"},
		{"NoItem", `[{"ihid":-4101,"qty_order":5}]`, 400, "select an item"},
		{"ItemIDIsNotAField", `[{"ihid":-4101,"item_id":5501,"qty_order":5}]`, 400, "select an item"},
		{"UnknownItem", `[{"ihid":-4101,"_itemid":1,"qty_order":5}]`, 400, "Item 1 does not exist"},
		{"InactiveItem", `[{"ihid":-4101,"_itemid":5503,"qty_order":5}]`, 400, "inactive"},
		{"WrongType", `[{"id":77001,"ihid":-4101,"qty_order":"many"}]`, 400, ""},
		{"AllOrNothing", `[{"id":77001,"ihid":-4101,"qty_order":99},{"id":77002,"ihid":-4102,"qty_order":1}]`, 404, "77002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := f.do(t, "POST", "/RecurringInvoice/updatelines", tc.body)
			if status != tc.status || !strings.Contains(haloMessage(body), tc.msg) {
				t.Errorf("got %d %v, want %d saying %q", status, body, tc.status, tc.msg)
			}
		})
	}
	if l, _ := f.sb.HaloPSA.Line(haloClientID, 77001); l.Quantity != 10 {
		t.Fatalf("got quantity %v after refused writes, want 10 untouched", l.Quantity)
	}
	if w := f.sb.HaloPSA.LineWrites(haloClientID); len(w) != 0 {
		t.Fatalf("got write log %+v after refused writes, want none", w)
	}

	status, body, _ := f.do(t, "POST", "/RecurringInvoice/updatelines", `[{"id":77001,"ihid":-4101,"qty_order":12,"unit_cost":17.5}]`)
	if m := obj(t, body); status != 200 || m["qty_order"] != float64(12) || m["unit_cost"] != 17.5 || m["unit_price"] != float64(22) {
		t.Fatalf("got %d %v, want line 77001 at 12 × cost 17.5, price untouched", status, body)
	}
	status, body, _ = f.do(t, "POST", "/RecurringInvoice/updatelines", `[{"ihid":-4102,"_itemid":5501,"qty_order":3,"unit_cost":18,"startdate":"2026-12-01T00:00:00"}]`)
	created := obj(t, body)
	if status != 201 || created["unit_price"] != float64(22) || created["item_shortdescription"] != "M365 Business Premium" || created["startdate"] != "2026-12-01T00:00:00" {
		t.Fatalf("got %d %v, want a new line priced from the recurring item", status, body)
	}
	newID := int64(created["id"].(float64))
	w := f.sb.HaloPSA.LineWrites(haloClientID)
	if len(w) != 2 || w[0].LineID != 77001 || *w[0].Quantity != 12 || *w[0].UnitCost != 17.5 || w[0].UnitPrice != nil ||
		!w[1].Created || w[1].LineID != newID || w[1].InvoiceID != -4102 || w[1].Route != "POST /RecurringInvoice/updatelines" {
		t.Fatalf("got write log %+v, want the update then the create", w)
	}
	// A header posted with its lines upserts them too, and logs the writes.
	status, _, _ = f.do(t, "POST", "/RecurringInvoice", `[{"id":-4101,"lines":[{"id":77002,"qty_order":6}]}]`)
	if l, _ := f.sb.HaloPSA.Line(haloClientID, 77002); status != 200 || l.Quantity != 6 || len(f.sb.HaloPSA.LineWrites(haloClientID)) != 3 {
		t.Fatalf("got %d, line %+v, want 77002 at 6 and a third write", status, l)
	}
}

func TestHaloTickets(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	for _, tc := range []struct{ name, body, msg string }{
		{"NoClient", `[{"summary":"Disk full"}]`, "valid Client"},
		{"UnknownClient", `[{"client_id":1,"summary":"Disk full"}]`, "valid Client"},
		{"NoSummary", `[{"client_id":25001,"summary":"  "}]`, "Summary"},
		{"UnknownStatus", `[{"client_id":25001,"summary":"x","status_id":1}]`, "Status"},
		{"UnknownPriority", `[{"client_id":25001,"summary":"x","priority_id":1}]`, "Priority"},
		{"UnknownType", `[{"client_id":25001,"summary":"x","tickettype_id":1}]`, "Ticket Type"},
		{"UnknownTeam", `[{"client_id":25001,"summary":"x","team":"Nobody"}]`, "Team"},
		{"InactiveTeam", `[{"client_id":25001,"summary":"x","team":"Old Team"}]`, "Team"},
		{"DisabledAgent", `[{"client_id":25001,"summary":"x","agent_id":4473}]`, "Agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := f.do(t, "POST", "/Tickets", tc.body)
			if status != 400 || !strings.Contains(haloMessage(body), tc.msg) {
				t.Errorf("got %d %v, want 400 saying %q", status, body, tc.msg)
			}
		})
	}
	if n := f.sb.HaloPSA.TicketsCreated(haloClientID); n != 0 {
		t.Fatalf("got %d tickets created by refused posts", n)
	}
	status, body, _ := f.do(t, "POST", "/Tickets", `[{"client_id":25001,"summary":"Backup failed","details":"d","third_party_id_string":"psab-1","team":"service desk","agent_id":4472,"deadlinedate":"2026-12-03T17:00:00"}]`)
	tk := obj(t, body)
	if status != 201 || tk["status_id"] != float64(21) || tk["tickettype_id"] != float64(61) || tk["priority_id"] != float64(45) ||
		tk["third_party_id_string"] != "psab-1" || tk["hasbeenclosed"] != false {
		t.Fatalf("got %d %v, want an open ticket with the defaults and the key", status, body)
	}
	id := int64(tk["id"].(float64))
	if id < 70000 {
		t.Errorf("got ticket id %d, want one above the seeded ids", id)
	}
	_, body, _ = f.do(t, "GET", "/Tickets?client_id=25001&open_only=true", "")
	if got := rows(t, body, "tickets"); len(got) != 1 || got[0]["third_party_id_string"] != "psab-1" {
		t.Fatalf("got %v, want the open ticket with its key", got)
	}

	note := func(body string) (int, string) {
		status, b, _ := f.do(t, "POST", "/Actions", body)
		return status, haloMessage(b)
	}
	tid := jsonNum(id)
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"NoTicket", `[{"outcome":"Private Note","note":"n"}]`, 400, "ticket_id"},
		{"MissingTicket", `[{"ticket_id":1,"outcome":"Private Note","note":"n"}]`, 404, "Ticket 1"},
		{"UnknownOutcome", `[{"ticket_id":` + tid + `,"outcome":"Shout","note":"n"}]`, 400, "Outcome"},
		{"EmptyNote", `[{"ticket_id":` + tid + `,"outcome":"Private Note","note":""}]`, 400, "Note"},
	} {
		t.Run("Note"+tc.name, func(t *testing.T) {
			if status, msg := note(tc.body); status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %d %q, want %d saying %q", status, msg, tc.status, tc.msg)
			}
		})
	}
	if status, msg := note(`[{"ticket_id":` + tid + `,"outcome":"private note","note":"marker-7 seen","hiddenfromuser":true,"sendemail":false}]`); status != 201 {
		t.Fatalf("got %d %q adding a note", status, msg)
	}
	_, body, _ = f.do(t, "GET", "/Actions?ticket_id="+tid+"&excludesys=true", "")
	if acts := rows(t, body, "actions"); len(acts) != 1 || !strings.Contains(acts[0]["note"].(string), "marker-7") || acts[0]["hiddenfromuser"] != true {
		t.Fatalf("got %v, want the hidden note", acts)
	}
	_, body, _ = f.do(t, "GET", "/Actions?ticket_id="+tid, "")
	if acts := rows(t, body, "actions"); len(acts) != 2 || acts[0]["action_systemid"] != float64(HaloSystemLogged) || acts[0]["note"] != "d" {
		t.Fatalf("got %v, want Halo's own logging action (with the details) before the note", acts)
	}
	status, body, _ = f.do(t, "POST", "/Tickets", `[{"id":`+tid+`,"status_id":29}]`)
	if m := obj(t, body); status != 200 || m["hasbeenclosed"] != true || m["summary"] != "Backup failed" {
		t.Fatalf("got %d %v, want the ticket closed and otherwise untouched", status, body)
	}
	if status, msg := note(`[{"ticket_id":` + tid + `,"outcome":"Private Note","note":"late"}]`); status != 400 || !strings.Contains(msg, "closed") {
		t.Errorf("got %d %q for a note on a closed ticket, want 400", status, msg)
	}
	_, body, _ = f.do(t, "GET", "/Tickets?client_id=25001&open_only=true", "")
	if got := rows(t, body, "tickets"); len(got) != 0 {
		t.Errorf("got open tickets %v after closing, want none", got)
	}
	if status, _, _ := f.do(t, "POST", "/Tickets", `[{"id":1,"status_id":29}]`); status != 404 {
		t.Errorf("got %d closing a missing ticket, want 404", status)
	}
	// An action whose outcome carries a status closes the ticket.
	_, body, _ = f.do(t, "POST", "/Tickets", `[{"client_id":25002,"summary":"Second"}]`)
	second := jsonNum(int64(obj(t, body)["id"].(float64)))
	if status, msg := note(`[{"ticket_id":` + second + `,"outcome_id":5209,"note":"done"}]`); status != 201 {
		t.Fatalf("got %d %q closing by action", status, msg)
	}
	if tk, _ := f.sb.HaloPSA.Ticket(haloClientID, mustAtoi(t, second)); !tk.Closed || tk.StatusID != 29 {
		t.Errorf("got %+v, want the ticket closed by the Close outcome", tk)
	}
	_, body, _ = f.do(t, "GET", "/Actions?ticket_id="+tid, "")
	if acts := rows(t, body, "actions"); len(acts) != 3 || acts[2]["action_systemid"] != float64(HaloSystemStatus) ||
		acts[2]["note"] != "Status changed from New to Closed" {
		t.Errorf("got %v, want the status change logged after the note", acts)
	}
	if n, acts := f.sb.HaloPSA.TicketsCreated(haloClientID), f.sb.HaloPSA.Actions(haloClientID); n != 2 || len(acts) != 2 {
		t.Errorf("got %d tickets and %d actions, want 2 and 2", n, len(acts))
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func mustAtoi(tb testing.TB, s string) int64 {
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestHaloLookups(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	list := func(path string) []map[string]any {
		t.Helper()
		_, body, _ := f.do(t, "GET", path, "")
		arr, ok := body.([]any)
		if !ok {
			t.Fatalf("%s: got %v, want a bare array", path, body)
		}
		out := make([]map[string]any, len(arr))
		for i := range arr {
			out[i] = obj(t, arr[i])
		}
		return out
	}
	if got := ids(list("/Status?type=ticket")); !eqIDs(got, 21, 22, 29) {
		t.Errorf("got statuses %v", got)
	}
	if got := ids(list("/Status?type=ticket&excludeclosed=true")); !eqIDs(got, 21, 22) {
		t.Errorf("got open statuses %v, want the closed one missing", got)
	}
	pr := list("/Priority")
	if _, isString := pr[0]["id"].(string); !isString || pr[0]["priorityid"] != float64(44) {
		t.Errorf("got priority %v, want a uuid id and priorityid 44", pr[0])
	}
	if got := ids(list("/Team?type=reqs")); !eqIDs(got, 91) {
		t.Errorf("got teams %v, want the active one", got)
	}
	if got := ids(list("/Agent")); !eqIDs(got, 4471, 4472) {
		t.Errorf("got agents %v, want the enabled ones", got)
	}
	if got := ids(list("/TicketType")); !eqIDs(got, 61, 63) {
		t.Errorf("got ticket types %v", got)
	}
	_, body, _ := f.do(t, "GET", "/Agent/me", "")
	if m := obj(t, body); m["id"] != float64(4471) || m["name"] != "API User" {
		t.Errorf("got /Agent/me %v, want the API agent", body)
	}
	_, body, _ = f.do(t, "GET", "/Team/91", "")
	if obj(t, body)["name"] != "Service Desk" {
		t.Errorf("got %v, want team 91", body)
	}
	if status, _, _ := f.do(t, "GET", "/NoSuchThing", ""); status != 404 {
		t.Errorf("got %d for an unknown resource, want 404", status)
	}
	if status, _, h := f.do(t, "PUT", "/Tickets", "[]"); status != 405 || h.Get("Allow") != "GET, POST" {
		t.Errorf("got %d Allow %q for PUT /Tickets, want 405 and GET, POST (writes are POSTs)", status, h.Get("Allow"))
	}
}

func TestHaloItems(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	_, body, _ := f.do(t, "GET", "/Item?includeactive=true&includeinactive=false", "")
	if got := ids(rows(t, body, "items")); !eqIDs(got, 5502, 5501) {
		t.Errorf("got active items %v, want by name", got)
	}
	_, body, _ = f.do(t, "GET", "/Item?includeactive=false&includeinactive=true", "")
	if got := ids(rows(t, body, "items")); !eqIDs(got, 5503) {
		t.Errorf("got inactive items %v", got)
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"NoName", `[{"baseprice":3}]`, "Name"},
		{"DuplicateName", `[{"name":"backup seat "}]`, "already exists"},
		{"DuplicateInPost", `[{"name":"A"},{"name":"a"}]`, "already exists"},
		{"UnknownGroup", `[{"name":"New","assetgroup_id":1}]`, "Item Group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := f.do(t, "POST", "/Item", tc.body)
			if status != 400 || !strings.Contains(haloMessage(body), tc.msg) {
				t.Errorf("got %d %v, want 400 saying %q", status, body, tc.msg)
			}
		})
	}
	status, body, _ := f.do(t, "POST", "/Item", `[{"name":"EDR","internalreference":"EDR-1","isrecurringitem":true,"recurringprice":9,"recurringcost":4,"item_default_billing_period":2,"assetgroup_id":640}]`)
	it := obj(t, body)
	if status != 201 || it["assetgroup_name"] != "Licences" {
		t.Fatalf("got %d %v", status, body)
	}
	status, body, _ = f.do(t, "POST", "/Item", `[{"id":`+jsonNum(int64(it["id"].(float64)))+`,"recurringprice":11}]`)
	if m := obj(t, body); status != 200 || m["recurringprice"] != float64(11) || m["name"] != "EDR" {
		t.Fatalf("got %d %v, want a partial update", status, body)
	}
	if status, _, _ := f.do(t, "POST", "/Item", `[{"id":1,"name":"x"}]`); status != 404 {
		t.Errorf("got %d updating a missing item, want 404", status)
	}
	if got := len(f.sb.HaloPSA.Items(haloClientID)); got != 4 {
		t.Errorf("got %d items, want 4", got)
	}
}

func TestHaloFaults(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	f.sb.SetFaults(Faults{Rate500: 1})
	if status, body, _ := f.do(t, "GET", "/Client", ""); status != 500 || haloMessage(body) == "" {
		t.Errorf("got %d %v, want 500 with a Halo body", status, body)
	}
	f.sb.SetFaults(Faults{Rate429: 1, RetryAfter: 7 * time.Second})
	if status, _, h := f.do(t, "GET", "/Client", ""); status != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("got %d Retry-After %q, want 429 and 7", status, h.Get("Retry-After"))
	}
	f.sb.SetFaults(Faults{CapUntil: f.clock.Now().Add(90 * time.Second)})
	if status, _, h := f.do(t, "GET", "/Client", ""); status != 429 || h.Get("Retry-After") != "90" {
		t.Errorf("got %d Retry-After %q, want 429 and 90 under the cap", status, h.Get("Retry-After"))
	}
	// Lost: a write is acted on and its answer dropped; reads are answered.
	f.sb.SetFaults(Faults{RateLost: 1})
	if status, _, _ := f.do(t, "GET", "/Client/25001", ""); status != 200 {
		t.Errorf("got %d for a read under RateLost, want 200", status)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/halopsa/api/Tickets", strings.NewReader(`[{"client_id":25001,"summary":"lost"}]`))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want the answer dropped", resp.StatusCode)
	}
	if n := f.sb.HaloPSA.TicketsCreated(haloClientID); n != 1 || f.sb.LostAnswers() != 1 {
		t.Fatalf("got %d tickets, %d lost answers; want the write done and its answer lost", n, f.sb.LostAnswers())
	}
	// A refused write is answered even when lost is drawn (nothing happened).
	if status, _, _ := f.do(t, "POST", "/Tickets", `[{"summary":"no client"}]`); status != 400 {
		t.Errorf("got %d for a refused write under RateLost, want 400", status)
	}
	// Slow: the write happens, the answer comes late.
	f.sb.SetFaults(Faults{RateSlow: 1, SlowDelay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "POST", f.srv.URL+"/halopsa/api/RecurringInvoice/updatelines", strings.NewReader(`[{"id":77001,"ihid":-4101,"qty_order":8}]`))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for i := 0; ; i++ {
		if l, _ := f.sb.HaloPSA.Line(haloClientID, 77001); l.Quantity == 8 {
			break
		}
		if i > 1000 {
			t.Fatal("the slow write never happened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Errorf("got %v, want the client to give up on the slow answer", err)
	}
	f.sb.SetFaults(Faults{})
	counts := f.sb.Counts()
	for route, want := range map[string]int{
		"halopsa GET /Client": 3, "halopsa GET /Client/{id}": 1, "halopsa POST /Tickets": 2,
		"halopsa POST /RecurringInvoice/updatelines": 1, "halopsa POST /auth/token": 1,
	} {
		if counts[route] != want {
			t.Errorf("got %d requests on %q, want %d (all: %v)", counts[route], route, want, counts)
		}
	}
	if got := f.sb.Total("halopsa"); got != 8 {
		t.Errorf("got %d halopsa requests, want 8", got)
	}
}

func TestHaloSeedFromJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	data := `{"halopsa":[{"clientId":"demo-app","clientSecret":"s","tokenTtlSeconds":120,
		"clients":[{"id":25001,"name":"Contoso","toplevelId":312}],
		"items":[{"id":5501,"name":"M365","recurring":true,"recurringPrice":22}],
		"recurringInvoices":[{"id":-4101,"clientId":25001,"lines":[{"id":77001,"itemId":5501,"quantity":10,"unitPrice":22,"unitCost":18}]},
			{"clientId":25001}],
		"tickets":[{"clientId":25001,"summary":"seeded","refs":{"third_party_id_string":"k-1"}}]}]}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New()
	if err := s.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if l, ok := s.HaloPSA.Line("demo-app", 77001); !ok || l.Quantity != 10 || l.InvoiceID != -4101 {
		t.Errorf("got %+v %v, want line 77001 of -4101 at 10", l, ok)
	}
	tk := s.HaloPSA.Tickets("demo-app")
	if len(tk) != 1 || tk[0].ID <= 77001 || tk[0].Refs["third_party_id_string"] != "k-1" {
		t.Errorf("got %+v, want the seeded ticket numbered above the seeded ids", tk)
	}
	// The unnumbered invoice is numbered below the seeded one.
	srv := httptest.NewServer(s)
	defer srv.Close()
	f := &haloFixture{sb: s, srv: srv}
	_, body := f.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-app"}, "client_secret": {"s"}}, "")
	if body["expires_in"] != float64(120) {
		t.Fatalf("got %v, want a 120 s token", body)
	}
	f.token = body["access_token"].(string)
	_, got, _ := f.do(t, "GET", "/RecurringInvoice", "")
	if ids := ids(rows(t, got, "invoices")); len(ids) != 2 || ids[1] != -4101 || ids[0] >= -4101 {
		t.Errorf("got invoice ids %v, want a new negative id below -4101 then -4101", ids)
	}
}

func TestHaloPermissions(t *testing.T) {
	seed := haloSeed()
	seed.Permissions = []string{"read:customers", "edit:invoices", "edit:tickets", "read:items"}
	f := mustHaloFixture(t, seed)
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/Client", "", 200},
		{"GET", "/TopLevel", "", 200},
		{"GET", "/RecurringInvoice/-4101", "", 200}, // edit includes read
		{"POST", "/RecurringInvoice/updatelines", `[{"id":77001,"ihid":-4101,"qty_order":9}]`, 200},
		{"GET", "/Item", "", 200},
		{"POST", "/Item", `[{"name":"EDR"}]`, 403},
		{"GET", "/ClientContract", "", 403},
		{"POST", "/Tickets", `[{"client_id":25001,"summary":"x"}]`, 201},
		{"GET", "/Status", "", 200},
		{"GET", "/Agent/me", "", 200},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body, _ := f.do(t, tc.method, tc.path, tc.body)
			if status != tc.status || (status == 403 && !strings.Contains(haloMessage(body), "permission")) {
				t.Errorf("got %d %v, want %d", status, body, tc.status)
			}
		})
	}
	if n := len(f.sb.HaloPSA.Items(haloClientID)); n != 3 {
		t.Errorf("got %d items after a refused post, want 3", n)
	}
	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {haloClientID}, "client_secret": {haloSecret}, "scope": {scope}}
	}
	if status, body := f.tokenRequest(t, form("all"), haloTenant); status != 200 || body["scope"] != "read:customers edit:invoices edit:tickets read:items" {
		t.Errorf("got %d %v, want the application's permissions for scope=all", status, body)
	}
	status, body := f.tokenRequest(t, form("read:customers"), haloTenant)
	if status != 200 {
		t.Fatalf("got %d %v for a granted scope", status, body)
	}
	narrow := body["access_token"].(string)
	if status, _, _ := f.doToken(t, narrow, "GET", "/Tickets", ""); status != 403 {
		t.Errorf("got %d for a call outside the token's scope, want 403", status)
	}
	if status, body := f.tokenRequest(t, form("edit:items"), haloTenant); status != 400 || body["error"] != "invalid_scope" {
		t.Errorf("got %d %v for a scope the application lacks, want invalid_scope", status, body)
	}
}

func TestHaloInFlight(t *testing.T) {
	f := mustHaloFixture(t, haloSeed())
	for range 2 {
		f.do(t, "GET", "/Client/25001", "")
	}
	if got := f.sb.HaloPSA.MaxInFlight(); got != 1 {
		t.Fatalf("got %d in flight for sequential requests, want 1", got)
	}
	// Four requests held by the latency overlap; they end when their
	// callers give up.
	f.sb.HaloPSA.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/halopsa/api/Client/25001", nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for i := 0; f.sb.HaloPSA.MaxInFlight() < 4; i++ {
		if i > 2000 {
			t.Fatalf("got %d in flight, want 4", f.sb.HaloPSA.MaxInFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}
