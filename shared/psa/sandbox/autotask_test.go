package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	atUser   = "api@msp.example"
	atSecret = "s3cret"
	atCode   = "TRACK"
)

// atFixture serves one Autotask instance.
type atFixture struct {
	sb  *Server
	srv *httptest.Server
}

// MustATFixture serves seed (username, secret and code filled in) on 127.0.0.1.
func MustATFixture(tb testing.TB, seed AutotaskSeed) *atFixture {
	tb.Helper()
	seed.Username, seed.Secret, seed.IntegrationCode = atUser, atSecret, atCode
	if seed.Zone == "" {
		seed.Zone = "webservices5"
	}
	sb := New()
	sb.Autotask.AddInstance(seed)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	return &atFixture{sb: sb, srv: srv}
}

// do sends a request to the instance's API (path below V1.0/) with the auth
// headers, or to an absolute URL, and decodes the JSON answer.
func (f *atFixture) do(tb testing.TB, method, path, body string, auth bool) (int, map[string]any, http.Header) {
	tb.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = f.srv.URL + "/autotask/webservices5/V1.0/" + path
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if auth {
		req.Header.Set("ApiIntegrationCode", atCode)
		req.Header.Set("UserName", atUser)
		req.Header.Set("Secret", atSecret)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func atErrors(m map[string]any) []string {
	var out []string
	if list, ok := m["errors"].([]any); ok {
		for _, e := range list {
			s, _ := e.(string)
			out = append(out, s)
		}
	}
	return out
}

func atIDs(m map[string]any) []int64 {
	var ids []int64
	items, _ := m["items"].([]any)
	for _, it := range items {
		ids = append(ids, int64(it.(map[string]any)["id"].(float64)))
	}
	return ids
}

func atCompanies() AutotaskSeed {
	return AutotaskSeed{Companies: []AutotaskCompany{
		{ID: 1, Name: "Acme Corp", Type: 1}, {ID: 2, Name: "Beta LLC", Type: 3}, {ID: 3, Name: "Acme Vendor", Type: 7},
		{ID: 4, Name: "Gone Ltd", Type: 1, Inactive: true}, {ID: 5, Name: "Delta", Type: 1},
	}}
}

func TestATZoneInformation(t *testing.T) {
	f := MustATFixture(t, AutotaskSeed{})
	resp, err := http.Get(f.srv.URL + "/autotask/atservicesrest/v1.0/zoneInformation?user=" + atUser)
	if err != nil {
		t.Fatal(err)
	}
	var zi map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&zi)
	resp.Body.Close()
	if want := f.srv.URL + "/autotask/webservices5/"; zi["url"] != want {
		t.Fatalf("got url %v, want %s (built from the request host)", zi["url"], want)
	}
	resp, err = http.Get(f.srv.URL + "/autotask/atservicesrest/v1.0/zoneInformation?user=nobody@x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("got 200 for an unknown user, want an error")
	}
}

func TestATAuth(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	if st, _, _ := f.do(t, "GET", "Companies/1", "", false); st != http.StatusUnauthorized {
		t.Fatalf("got %d without headers, want 401", st)
	}
	if st, _, _ := f.do(t, "GET", "Companies/1", "", true); st != http.StatusOK {
		t.Fatalf("got %d with headers, want 200", st)
	}
	f.sb.Autotask.MoveInstance(atUser, "webservices29")
	if st, _, _ := f.do(t, "GET", "Companies/1", "", true); st != http.StatusUnauthorized {
		t.Fatalf("got %d on the old zone, want 401", st)
	}
	if st, _, _ := f.do(t, "GET", f.srv.URL+"/autotask/webservices29/v1.0/companies/1", "", true); st != http.StatusOK {
		t.Fatalf("got %d on the new zone (lower-case path), want 200", st)
	}
}

func TestATMaxRecords(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	for name, tc := range map[string]struct {
		body string
		ok   bool
	}{
		"Zero":     {`{"MaxRecords":0,"filter":[]}`, false},
		"Over500":  {`{"maxRecords":501,"filter":[]}`, false},
		"One":      {`{"maxRecords":1,"filter":[]}`, true},
		"Max":      {`{"MaxRecords":500,"filter":[]}`, true},
		"Absent":   {`{"filter":[]}`, true},
		"NotANumb": {`{"MaxRecords":"many"}`, false},
	} {
		t.Run(name, func(t *testing.T) {
			st, body, _ := f.do(t, "POST", "Companies/query", tc.body, true)
			if tc.ok && st != http.StatusOK {
				t.Fatalf("got %d %v, want 200", st, body)
			}
			if !tc.ok && (st != http.StatusInternalServerError || !slices.Equal(atErrors(body), []string{"maxCountOfRecordsToReturn must be between 1 and 500"})) {
				t.Fatalf("got %d %v, want 500 with the MaxRecords error", st, body)
			}
		})
	}
}

func TestATQueryOperators(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	for name, tc := range map[string]struct {
		filter string
		want   []int64
	}{
		"Eq":          {`[{"op":"eq","field":"companyType","value":1}]`, []int64{1, 4, 5}},
		"FieldCase":   {`[{"op":"eq","field":"CompanyType","value":1}]`, []int64{1, 4, 5}},
		"NotEq":       {`[{"op":"noteq","field":"companyType","value":1}]`, []int64{2, 3}},
		"GtLte":       {`[{"op":"gt","field":"id","value":1},{"op":"lte","field":"id","value":3}]`, []int64{2, 3}},
		"GteLt":       {`[{"op":"gte","field":"id","value":4},{"op":"lt","field":"id","value":5}]`, []int64{4}},
		"Contains":    {`[{"op":"contains","field":"companyName","value":"acme"}]`, []int64{1, 3}},
		"BeginsWith":  {`[{"op":"beginsWith","field":"companyName","value":"Be"}]`, []int64{2}},
		"EndsWith":    {`[{"op":"endsWith","field":"companyName","value":"ltd"}]`, []int64{4}},
		"In":          {`[{"op":"in","field":"id","value":[2,5,99]}]`, []int64{2, 5}},
		"NotIn":       {`[{"op":"notIn","field":"id","value":[2,5]}]`, []int64{1, 3, 4}},
		"Bool":        {`[{"op":"eq","field":"isActive","value":false}]`, []int64{4}},
		"Exist":       {`[{"op":"exist","field":"id"}]`, []int64{1, 2, 3, 4, 5}},
		"OrGroup":     {`[{"op":"eq","field":"isActive","value":true},{"op":"or","items":[{"op":"eq","field":"companyType","value":3},{"op":"contains","field":"companyName","value":"delta"}]}]`, []int64{2, 5}},
		"AndInsideOr": {`[{"op":"or","items":[{"op":"and","items":[{"op":"eq","field":"companyType","value":1},{"op":"eq","field":"isActive","value":false}]},{"op":"eq","field":"id","value":3}]}]`, []int64{3, 4}},
	} {
		t.Run(name, func(t *testing.T) {
			st, body, _ := f.do(t, "POST", "Companies/query", `{"filter":`+tc.filter+`}`, true)
			if st != http.StatusOK {
				t.Fatalf("got %d %v, want 200", st, body)
			}
			if got := atIDs(body); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for name, filter := range map[string]string{
		"ErrUnknownField": `[{"op":"eq","field":"nope","value":1}]`,
		"ErrBoolAsString": `[{"op":"eq","field":"isActive","value":"true"}]`,
		"ErrUnknownOp":    `[{"op":"like","field":"id","value":1}]`,
	} {
		t.Run(name, func(t *testing.T) {
			st, body, _ := f.do(t, "POST", "Companies/query", `{"filter":`+filter+`}`, true)
			if st != http.StatusInternalServerError || len(atErrors(body)) != 1 {
				t.Fatalf("got %d %v, want 500 with one error", st, body)
			}
		})
	}
}

func TestATPaging(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	t.Run("POST", func(t *testing.T) {
		q := `{"MaxRecords":2,"filter":[{"op":"exist","field":"id"}]}`
		var all []int64
		st, body, _ := f.do(t, "POST", "Companies/query", q, true)
		for {
			if st != http.StatusOK {
				t.Fatalf("got %d %v", st, body)
			}
			all = append(all, atIDs(body)...)
			next, _ := body["pageDetails"].(map[string]any)["nextPageUrl"].(string)
			if next == "" {
				break
			}
			if st, _, _ := f.do(t, "GET", next, "", true); st != http.StatusMethodNotAllowed {
				t.Fatalf("got %d for GET on a POST query's next page, want 405", st)
			}
			st, body, _ = f.do(t, "POST", next, q, true)
		}
		if !slices.Equal(all, []int64{1, 2, 3, 4, 5}) {
			t.Fatalf("got %v, want all five in id order", all)
		}
	})
	t.Run("GET", func(t *testing.T) {
		search := `{"MaxRecords":3,"filter":[{"op":"gt","field":"id","value":0}]}`
		st, body, _ := f.do(t, "GET", "Companies/query?search="+strings.ReplaceAll(search, " ", ""), "", true)
		if st != http.StatusOK || len(atIDs(body)) != 3 {
			t.Fatalf("got %d %v, want 3 items", st, body)
		}
		next := body["pageDetails"].(map[string]any)["nextPageUrl"].(string)
		st, body, _ = f.do(t, "GET", next, "", true)
		if st != http.StatusOK || !slices.Equal(atIDs(body), []int64{4, 5}) || body["pageDetails"].(map[string]any)["nextPageUrl"] != nil {
			t.Fatalf("got %d %v, want 4 and 5 and no next page", st, body)
		}
	})
}

func atLineSeed() AutotaskSeed {
	s := atCompanies()
	s.Contracts = []AutotaskContract{{ID: 10, CompanyID: 1, Name: "Managed"}}
	s.Services = []AutotaskService{{ID: 20, Name: "Seats", UnitPrice: 22, UnitCost: 18}}
	s.ContractServices = []AutotaskContractService{{ID: 30, ContractID: 10, ServiceID: 20, UnitPrice: 22, UnitCost: 18, Units: 5}}
	return s
}

func TestATContractServiceUpdateRules(t *testing.T) {
	f := MustATFixture(t, atLineSeed())
	st, body, _ := f.do(t, "PATCH", "Contracts/10/Services", `{"id":30,"unitCost":12}`, true)
	if st != http.StatusInternalServerError || len(atErrors(body)) != 1 || !strings.Contains(atErrors(body)[0], "unitCost") {
		t.Fatalf("got %d %v, want 500 naming the read-only unitCost", st, body)
	}
	st, body, _ = f.do(t, "PATCH", "Contracts/10/Services", `{"id":30,"unitPrice":25,"invoiceDescription":"Seats"}`, true)
	if st != http.StatusOK {
		t.Fatalf("got %d %v, want 200", st, body)
	}
	_, body, _ = f.do(t, "GET", "ContractServices/30", "", true)
	if item := body["item"].(map[string]any); item["unitPrice"] != 25.0 || item["unitCost"] != 18.0 {
		t.Fatalf("got %v, want unitPrice 25 and unitCost unchanged", item)
	}
}

func TestATAdjustments(t *testing.T) {
	f := MustATFixture(t, atLineSeed())
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		if st, _, _ := f.do(t, m, "ContractServiceAdjustments", `{}`, true); st == http.StatusOK {
			t.Fatalf("got 200 for %s, want it refused (create-only)", m)
		}
	}
	if st, _, _ := f.do(t, "POST", "ContractServiceAdjustments/query", `{"filter":[]}`, true); st == http.StatusOK {
		t.Fatalf("got 200 for a query, want it refused (create-only)")
	}
	st, body, _ := f.do(t, "POST", "ContractServiceAdjustments",
		`{"contractID":10,"contractServiceID":30,"serviceID":20,"effectiveDate":"2025-06-16T00:00:00Z","unitChange":3,"adjustedUnitCost":17.5}`, true)
	if st != http.StatusOK {
		t.Fatalf("got %d %v, want 200", st, body)
	}
	st, body, _ = f.do(t, "POST", "ContractServiceUnits/query",
		`{"filter":[{"op":"eq","field":"contractServiceID","value":30},{"op":"gte","field":"startDate","value":"2025-06-01T00:00:00Z"},{"op":"lte","field":"startDate","value":"2025-07-01T00:00:00Z"}]}`, true)
	items, _ := body["items"].([]any)
	if st != http.StatusOK || len(items) != 3 {
		t.Fatalf("got %d %v, want June split at the 16th plus July", st, body)
	}
	for i, want := range []struct {
		start string
		units float64
		cost  float64
	}{{"2025-06-01T00:00:00Z", 5, 18}, {"2025-07-01T00:00:00Z", 8, 17.5}, {"2025-06-16T00:00:00Z", 8, 17.5}} {
		it := items[i].(map[string]any)
		if it["startDate"] != want.start || it["units"] != want.units || it["cost"] != want.cost {
			t.Fatalf("row %d: got %v, want %+v", i, it, want)
		}
	}
	if n, _ := f.sb.Autotask.Units(atUser, 30, time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)); n != 5 {
		t.Fatalf("got %d units on June 15th, want 5", n)
	}
	if adj := f.sb.Autotask.Adjustments(atUser); len(adj) != 1 || adj[0].UnitChange != 3 || *adj[0].AdjustedUnitCost != 17.5 || adj[0].AdjustedUnitPrice != nil {
		t.Fatalf("got %+v, want one logged adjustment", adj)
	}
	st, body, _ = f.do(t, "POST", "ContractServiceAdjustments", `{"contractID":10,"contractServiceID":30,"unitChange":1}`, true)
	if st != http.StatusInternalServerError || !slices.Equal(atErrors(body), []string{"Missing Required Field: effectiveDate"}) {
		t.Fatalf("got %d %v, want the missing effectiveDate error", st, body)
	}
}

func TestATTicketRules(t *testing.T) {
	s := atCompanies()
	s.Resources = []AutotaskResource{{ID: 7, FirstName: "Ada", LastName: "L"}}
	s.Roles = []AutotaskRole{{ID: 8, Name: "Engineer"}}
	f := MustATFixture(t, s)
	for name, tc := range map[string]struct {
		body string
		want string
	}{
		"ErrResourceWithoutRole": {`{"companyID":1,"title":"t","status":1,"priority":2,"assignedResourceID":7}`,
			"Data violation: When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID."},
		"ErrNoTitle":     {`{"companyID":1,"status":1,"priority":2}`, "Missing Required Field: title"},
		"ErrNoPriority":  {`{"companyID":1,"title":"t","status":1}`, "Missing Required Field: priority"},
		"ErrBadStatus":   {`{"companyID":1,"title":"t","status":99,"priority":2}`, "Value 99 is not a valid status."},
		"ErrBadQueue":    {`{"companyID":1,"title":"t","status":1,"priority":2,"queueID":1}`, "Value 1 is not a valid queueID."},
		"ErrNoCompany":   {`{"companyID":404,"title":"t","status":1,"priority":2}`, "Reference value on field: companyID of type: Account does not exist or is invalid."},
		"ErrTitleTooBig": {`{"companyID":1,"title":"` + strings.Repeat("x", 256) + `","status":1,"priority":2}`, "Value of field title exceeds the maximum length of 255."},
	} {
		t.Run(name, func(t *testing.T) {
			st, body, _ := f.do(t, "POST", "Tickets", tc.body, true)
			if st != http.StatusInternalServerError || !slices.Equal(atErrors(body), []string{tc.want}) {
				t.Fatalf("got %d %v, want 500 %q", st, body, tc.want)
			}
		})
	}
	st, body, _ := f.do(t, "POST", "Tickets", `{"companyID":1,"title":"t","status":1,"priority":2,"assignedResourceID":7,"assignedResourceRoleID":8,"externalID":"k","source":8}`, true)
	if st != http.StatusOK {
		t.Fatalf("got %d %v, want 200", st, body)
	}
	id := int64(body["itemId"].(float64))
	if st, body, _ := f.do(t, "PATCH", "Tickets", `{"id":`+jsonInt(id)+`,"status":5}`, true); st != http.StatusOK {
		t.Fatalf("got %d %v, want 200", st, body)
	}
	if tk, _ := f.sb.Autotask.Ticket(atUser, id); tk.Status != 5 || tk.ExternalID != "k" || tk.Source != 8 {
		t.Fatalf("got %+v, want status 5, external id k and source 8", tk)
	}
	if st, _, _ := f.do(t, "POST", "Tickets/"+jsonInt(id)+"/Notes", `{"title":"n","description":"d","noteType":1,"publish":1}`, true); st != http.StatusOK {
		t.Fatalf("got %d, want 200 for a note", st)
	}
	if got := f.sb.Autotask.TicketsCreated(atUser); got != 1 {
		t.Fatalf("got %d tickets created, want 1", got)
	}
	if got := len(f.sb.Autotask.Notes(atUser)); got != 1 {
		t.Fatalf("got %d notes, want 1", got)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestATThreadLimit(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	f.sb.Autotask.SetLatency(50 * time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var texts []string
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body, h := f.do(t, "GET", "Companies/1", "", true)
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if st == http.StatusTooManyRequests && h.Get("Retry-After") != "" {
				texts = append(texts, atErrors(body)...)
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != AutotaskThreadLimit || statuses[http.StatusTooManyRequests] != 3 {
		t.Fatalf("got statuses %v, want 3 answered and 3 refused", statuses)
	}
	if len(texts) != 3 || texts[0] != ThreadThresholdText {
		t.Fatalf("got %q, want the thread-threshold text with Retry-After", texts)
	}
	if got := f.sb.Autotask.MaxInFlight(); got <= AutotaskThreadLimit {
		t.Fatalf("got max in flight %d, want more than %d (refused ones counted)", got, AutotaskThreadLimit)
	}
	// Another endpoint is not affected by the first one's load.
	f.sb.Autotask.SetLatency(0)
	if st, _, _ := f.do(t, "POST", "Tickets/query", `{"filter":[]}`, true); st != http.StatusOK {
		t.Fatalf("got %d, want 200", st)
	}
}

func TestATFaults(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	f.sb.SetFaults(Faults{Seed: 1, Rate500: 1})
	st, body, _ := f.do(t, "GET", "Companies/1", "", true)
	if st != http.StatusInternalServerError || len(atErrors(body)) != 0 {
		t.Fatalf("got %d %v, want 500 without an errors array (not a validation failure)", st, body)
	}
	f.sb.SetFaults(Faults{Seed: 1, Rate429: 1, RetryAfter: 9 * time.Second})
	st, _, h := f.do(t, "GET", "Companies/1", "", true)
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "9" {
		t.Fatalf("got %d Retry-After %q, want 429 and 9", st, h.Get("Retry-After"))
	}
	f.sb.SetFaults(Faults{})
	if got := f.sb.Counts()["autotask GET Companies/{id}"]; got != 2 {
		t.Fatalf("got %d counted, want 2", got)
	}
}

// TestATLostAnswer: the lost fault acts on a write and cuts the connection
// without an answer; reads, queries included, are answered.
func TestATLostAnswer(t *testing.T) {
	f := MustATFixture(t, atCompanies())
	st, body, _ := f.do(t, "POST", "Tickets", `{"companyID":1,"title":"t","status":1,"priority":2}`, true)
	if st != http.StatusOK {
		t.Fatalf("got %d %v, want 200", st, body)
	}
	id := jsonInt(int64(body["itemId"].(float64)))
	f.sb.SetFaults(Faults{Seed: 1, RateLost: 1})
	defer f.sb.SetFaults(Faults{})
	for _, read := range [][2]string{{"GET", "Companies/1"}, {"POST", "TicketNotes/query"}} {
		if st, body, _ := f.do(t, read[0], read[1], `{"filter":[{"op":"eq","field":"ticketID","value":`+id+`}]}`, true); st != http.StatusOK {
			t.Fatalf("%s %s: got %d %v, want 200 (reads are answered)", read[0], read[1], st, body)
		}
	}
	req, err := http.NewRequest("POST", f.srv.URL+"/autotask/webservices5/V1.0/Tickets/"+id+"/Notes",
		strings.NewReader(`{"ticketID":`+id+`,"title":"n","description":"d","noteType":1,"publish":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("ApiIntegrationCode", atCode)
	req.Header.Set("UserName", atUser)
	req.Header.Set("Secret", atSecret)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want the connection cut without an answer", resp.StatusCode)
	}
	if n := len(f.sb.Autotask.Notes(atUser)); n != 1 || f.sb.LostAnswers() != 1 {
		t.Fatalf("got %d notes, %d lost answers, want 1 and 1 (the write happened)", n, f.sb.LostAnswers())
	}
}

func TestATSeedFromJSON(t *testing.T) {
	seed := `{"autotask":[{"username":"json@msp.example","secret":"x","integrationCode":"c","zone":"webservices9",
	  "picklists":[{"entity":"Companies","field":"companyType","values":[{"value":501,"label":"Customer","isDefaultValue":true}]}],
	  "companies":[{"id":42,"companyName":"From JSON","companyType":501}]}]}`
	path := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(path, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	sb := New()
	if err := sb.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	get := func(p string) map[string]any {
		req, _ := http.NewRequest("GET", srv.URL+"/autotask/webservices9/V1.0/"+p, nil)
		req.Header.Set("ApiIntegrationCode", "c")
		req.Header.Set("UserName", "json@msp.example")
		req.Header.Set("Secret", "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	if item, _ := get("Companies/42")["item"].(map[string]any); item["companyName"] != "From JSON" {
		t.Fatalf("got %v, want the seeded company", item)
	}
	for _, fl := range get("Companies/entityInformation/fields")["fields"].([]any) {
		fm := fl.(map[string]any)
		if fm["name"] != "companyType" {
			continue
		}
		pv := fm["picklistValues"].([]any)
		if len(pv) != 1 || pv[0].(map[string]any)["value"] != "501" {
			t.Fatalf("got %v, want the seeded picklist", pv)
		}
		return
	}
	t.Fatalf("no companyType field")
}
