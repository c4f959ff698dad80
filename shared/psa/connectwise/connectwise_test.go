package connectwise

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/psatest"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

var ctx = context.Background()

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"MissingClientID", func(c *Config) { c.Credentials.ClientID = "" }},
		{"MissingPrivateKey", func(c *Config) { c.Credentials.PrivateKey = "" }},
		{"WrongProvider", func(c *Config) { c.Credentials.Provider = psa.Autotask }},
		{"SiteWithPath", func(c *Config) { c.Credentials.Site = "evil.example/x" }},
		{"RelativeLoginURL", func(c *Config) { c.Endpoints.ConnectWiseLoginURL = "/connectwise/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Credentials: testCredentials()}
			tc.mutate(&cfg)
			if _, err := New(cfg); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		if err := e.client.Verify(ctx); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		counts := e.sb.Counts()
		if got := counts["connectwise GET /login/companyinfo/{company}"]; got != 1 {
			t.Errorf("got %d companyinfo calls, want 1", got)
		}
		// The base is discovered once.
		if err := e.client.Verify(ctx); err != nil {
			t.Fatalf("Verify again: %v", err)
		}
		if got := e.sb.Counts()["connectwise GET /login/companyinfo/{company}"]; got != 1 {
			t.Errorf("got %d companyinfo calls after two Verify, want 1", got)
		}
	})
	t.Run("WrongPrivateKey", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		cfg := e.client.cfg
		cfg.Credentials.PrivateKey = "nope"
		if err := MustClient(t, cfg).Verify(ctx); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
	t.Run("UnknownCompany", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		cfg := e.client.cfg
		cfg.Credentials.CompanyID = "nobody"
		if err := MustClient(t, cfg).Verify(ctx); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
	t.Run("WrongClientIDIsRejectedWithVendorText", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		cfg := e.client.cfg
		cfg.Credentials.ClientID = "00000000-0000-0000-0000-000000000000"
		err := MustClient(t, cfg).Verify(ctx)
		if !apperr.Is(err, apperr.Rejected) {
			t.Fatalf("got %v, want rejected", err)
		}
		want := "A valid clientId header is required. See https://developer.connectwise.com/ClientID."
		if d := apperr.DetailsOf(err); len(d) == 0 || d[0] != want {
			t.Errorf("got details %q, want first %q", d, want)
		}
	})
	t.Run("APIURLOverrideSkipsDiscovery", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		cfg := e.client.cfg
		cfg.Endpoints = psa.Endpoints{ConnectWiseAPIURL: e.srv.URL + "/connectwise/v4_6_release/apis/3.0"}
		cfg.Credentials.Site = "unused.invalid"
		if err := MustClient(t, cfg).Verify(ctx); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got := e.sb.Counts()["connectwise GET /login/companyinfo/{company}"]; got != 0 {
			t.Errorf("got %d companyinfo calls, want 0", got)
		}
	})
}

// A sandbox without the clientId header answers 400 with an
// ErrorResponseMessage, whatever the credentials.
func TestSandboxRequiresClientID(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/connectwise/v4_6_release/apis/3.0/system/info", nil)
	req.SetBasicAuth(testCompany+"+"+testPublic, testPrivate)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body.Code == "" || body.Message == "" {
		t.Errorf("got %d %+v, want 400 with code and message", resp.StatusCode, body)
	}
}

// Discovery follows companyinfo: on-premise keeps the site's host and the
// login scheme; cloud moves to the api- host over https.
func TestBaseDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		info  string
		want  string
		login func(string) string
	}{
		{"Cloud", `{"CompanyName":"Acme","Codebase":"v2025_1/","CompanyID":"acme","IsCloud":true,"SiteUrl":"na.myconnectwise.net"}`,
			"https://api-na.myconnectwise.net/v2025_1/apis/3.0/", nil},
		{"OnPremise", `{"CompanyName":"Acme","Codebase":"v4_6_release/","CompanyID":"acme","IsCloud":false,"SiteUrl":"cw.acme.example"}`,
			"http://cw.acme.example/v4_6_release/apis/3.0/", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/login/companyinfo/acme" {
					http.NotFound(w, r)
					return
				}
				_, _ = w.Write([]byte(tc.info))
			}))
			defer srv.Close()
			c := MustClient(t, Config{Credentials: testCredentials(), Endpoints: psa.Endpoints{ConnectWiseLoginURL: srv.URL},
				Options: psahttp.Options{HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, time.Second)}})
			got, err := c.base(ctx)
			if err != nil {
				t.Fatalf("base: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("DefaultLoginIsSite", func(t *testing.T) {
		c := MustClient(t, Config{Credentials: testCredentials()})
		if got, want := c.login, "https://na.myconnectwise.net/"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestCompanyTypes(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.CompanyTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []psa.CompanyType{{ID: typeClient, Name: "Client", IsDefault: true}, {ID: typeProspect, Name: "Prospect"}, {ID: typeVendor, Name: "Vendor"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestCompanies(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	for _, tc := range []struct {
		name string
		f    psa.CompanyFilter
		want []int64
	}{
		{"All", psa.CompanyFilter{}, []int64{coContoso, coFabrikam, coLabs}},
		{"OneType", psa.CompanyFilter{TypeIDs: []int64{typeClient}}, []int64{coContoso, coLabs}},
		{"TwoTypes", psa.CompanyFilter{TypeIDs: []int64{typeProspect, typeVendor}}, []int64{coFabrikam, coLabs}},
		{"NameContains", psa.CompanyFilter{NameContains: "LABS"}, []int64{coLabs}},
		{"TypeAndName", psa.CompanyFilter{TypeIDs: []int64{typeClient}, NameContains: "contoso la"}, []int64{coLabs}},
		{"QuoteInName", psa.CompanyFilter{NameContains: `"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.client.Companies(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}
	t.Run("Shape", func(t *testing.T) {
		got, err := e.client.Companies(ctx, psa.CompanyFilter{NameContains: "Labs"})
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v %v", got, err)
		}
		want := psa.Company{ID: coLabs, Name: "Contoso Labs", TypeIDs: []int64{typeClient, typeVendor}, Active: true}
		if got[0].Name != want.Name || !slices.Equal(got[0].TypeIDs, want.TypeIDs) || !got[0].Active {
			t.Errorf("got %+v, want %+v", got[0], want)
		}
	})
}

// 1,200 companies take two pages of 1,000, found through the Link header.
func TestCompaniesPaging(t *testing.T) {
	seed := baseSeed()
	seed.Companies = manyCompanies(1200)
	e := MustEnv(t, seed, nil)
	got, err := e.client.Companies(ctx, psa.CompanyFilter{TypeIDs: []int64{typeClient}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1200 {
		t.Fatalf("got %d companies, want 1200", len(got))
	}
	seen := map[int64]bool{}
	for _, c := range got {
		seen[c.ID] = true
	}
	if len(seen) != 1200 {
		t.Errorf("got %d distinct companies, want 1200", len(seen))
	}
	if n := e.sb.Counts()["connectwise GET /company/companies"]; n != 2 {
		t.Errorf("got %d list requests, want 2", n)
	}
}

func TestCompany(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	t.Run("OK", func(t *testing.T) {
		got, err := e.client.Company(ctx, coDeleted)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != coDeleted || got.Name != "Gone Corp" || got.Active || !slices.Equal(got.TypeIDs, []int64{typeClient}) {
			t.Errorf("got %+v, want the deleted company, inactive", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if _, err := e.client.Company(ctx, 99999); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
}

func TestContracts(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.Contracts(ctx, coContoso)
	if err != nil {
		t.Fatal(err)
	}
	want := psa.Contract{ID: agrMain, CompanyID: coContoso, Name: "Managed Services", Recurring: true, Active: true, StartDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want [%+v] (cancelled agreement left out)", got, want)
	}
	t.Run("One", func(t *testing.T) {
		got, err := e.client.Contract(ctx, agrCancelled)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != agrCancelled || got.Active {
			t.Errorf("got %+v, want the cancelled agreement, inactive", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if _, err := e.client.Contract(ctx, 99999); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
}

func TestLines(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.Lines(ctx, agrMain)
	if err != nil {
		t.Fatal(err)
	}
	want := []psa.ServiceLine{
		{ID: addSeats, ContractID: agrMain, ServiceID: 5501, Name: "Microsoft 365 seats", UnitPrice: 22, UnitCost: 18.5},
		{ID: addStorage, ContractID: agrMain, ServiceID: 5502, Name: "STOR-GB", UnitPrice: 1, UnitCost: 0.5},
		{ID: addCancelled, ContractID: agrMain, ServiceID: 5503, Name: "OLD", Cancelled: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v (the cancelled addition marked)", got, want)
	}
}

// TestReadLinesCancelledAndFuture: a state says that an addition is
// cancelled, that its agreement is cancelled or expired, and when a line
// not yet effective starts, so the sync never writes what no longer bills
// (ConnectWise would take the PATCH).
func TestReadLinesCancelledAndFuture(t *testing.T) {
	const agrExpired, addOnCancelled, addOnExpired, addFuture = 4109, 77011, 77012, 77013
	seed := baseSeed()
	seed.Agreements = append(seed.Agreements, sandbox.CWAgreement{ID: agrExpired, CompanyID: coContoso, Name: "2024 Agreement",
		StartDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), EndDate: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)})
	seed.Additions = append(seed.Additions,
		sandbox.CWAddition{ID: addOnCancelled, AgreementID: agrCancelled, ProductID: 5501, Quantity: 2},
		sandbox.CWAddition{ID: addOnExpired, AgreementID: agrExpired, ProductID: 5501, Quantity: 3},
		sandbox.CWAddition{ID: addFuture, AgreementID: agrMain, ProductID: 5504, Quantity: 4, EffectiveDate: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		sandbox.CWAddition{ID: 77014, AgreementID: agrMain, ProductID: 5505, Quantity: 5, CancelledDate: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	e := MustEnv(t, seed, nil)
	e.sb.Now = func() time.Time { return testNow }
	for _, tc := range []struct {
		name string
		ref  psa.LineRef
		want func(psa.LineState) bool
	}{
		{"CancelledAddition", psa.LineRef{ContractID: agrMain, LineID: addCancelled}, func(s psa.LineState) bool { return s.Cancelled && !s.ContractCancelled }},
		{"CancelledLater", psa.LineRef{ContractID: agrMain, LineID: 77014}, func(s psa.LineState) bool { return !s.Cancelled && s.Quantity == 5 }},
		{"OnCancelledAgreement", psa.LineRef{ContractID: agrCancelled, LineID: addOnCancelled}, func(s psa.LineState) bool { return s.ContractCancelled && !s.ContractEnded }},
		{"OnExpiredAgreement", psa.LineRef{ContractID: agrExpired, LineID: addOnExpired}, func(s psa.LineState) bool { return s.ContractEnded && !s.ContractCancelled }},
		{"NotYetEffective", psa.LineRef{ContractID: agrMain, LineID: addFuture}, func(s psa.LineState) bool {
			return s.Starts.Equal(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)) && !s.Cancelled
		}},
		{"Active", psa.LineRef{ContractID: agrMain, LineID: addSeats}, func(s psa.LineState) bool {
			return !s.Cancelled && !s.ContractCancelled && !s.ContractEnded && s.Starts.IsZero()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.client.ReadLines(ctx, []psa.LineRef{tc.ref}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if st, ok := got[tc.ref]; !ok || !tc.want(st) {
				t.Errorf("got %+v (present %v), not what the case wants", st, ok)
			}
		})
	}
}

func TestReadLines(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	refs := []psa.LineRef{
		{ContractID: agrMain, LineID: addSeats},
		{ContractID: agrMain, LineID: addStorage},
		{ContractID: agrFabrikam, LineID: addFabrikam},
		{ContractID: agrMain, LineID: 123456}, // no such line
		{ContractID: 88888, LineID: 1},        // no such agreement
	}
	got, err := e.client.ReadLines(ctx, refs, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[psa.LineRef]psa.LineState{
		refs[0]: {Ref: refs[0], ServiceID: 5501, Quantity: 10, UnitCost: 18.5, UnitPrice: 22},
		refs[1]: {Ref: refs[1], ServiceID: 5502, Quantity: 3, UnitCost: 0.5, UnitPrice: 1},
		refs[2]: {Ref: refs[2], ServiceID: 5501, Quantity: 4, UnitCost: 18.5, UnitPrice: 22},
	}
	if len(got) != len(want) {
		t.Errorf("got %d lines, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("line %v: got %+v, want %+v", k, got[k], w)
		}
	}
	if n := e.sb.Counts()["connectwise GET /finance/agreements/{id}/additions"]; n != 3 {
		t.Errorf("got %d additions requests, want 3 (one per distinct agreement)", n)
	}
	t.Run("OtherErrorFails", func(t *testing.T) {
		// One agreement's additions answer 403: the call fails with it
		// (a gone agreement only leaves its lines absent, above).
		denied := fmt.Sprintf("/finance/agreements/%d/additions", agrFabrikam)
		hc := psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 5*time.Second)
		next := hc.Transport
		hc.Transport = psatest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, denied) {
				return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"code":"Forbidden","message":"no access"}`)), Request: r}, nil
			}
			return next.RoundTrip(r)
		})
		got, err := MustEnv(t, baseSeed(), hc).client.ReadLines(ctx, refs, testNow)
		if !apperr.Is(err, apperr.Forbidden) || got != nil {
			t.Fatalf("got %v, %v; want forbidden and no lines", got, err)
		}
	})
}

func TestSetLine(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	ref := psa.LineRef{ContractID: agrMain, LineID: addSeats}
	if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: 42, UnitCost: 17.25, EffectiveDate: testNow}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.sb.ConnectWise.Addition(testCompany, addSeats)
	if got.Quantity != 42 || got.UnitCost != 17.25 || got.UnitPrice != 22 {
		t.Errorf("got quantity %v cost %v price %v, want 42 17.25 22", got.Quantity, got.UnitCost, got.UnitPrice)
	}
	patches := e.sb.ConnectWise.Patches(testCompany)
	if len(patches) != 1 {
		t.Fatalf("got %d patches, want 1", len(patches))
	}
	var ops []string
	for _, op := range patches[0].Ops {
		ops = append(ops, op.Op+" "+op.Path+" "+string(op.Value))
	}
	if want := []string{"replace quantity 42", "replace unitCost 17.25"}; !slices.Equal(ops, want) {
		t.Errorf("got ops %q, want %q", ops, want)
	}
	t.Run("NotFound", func(t *testing.T) {
		err := e.client.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: agrMain, LineID: addFabrikam}, Quantity: 1})
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("Negative", func(t *testing.T) {
		if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: -1}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

func TestCreateLine(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	line, err := e.client.CreateLine(ctx, agrFabrikam, 5502, 9, 0.75, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if line.ID == 0 || line.ContractID != agrFabrikam || line.ServiceID != 5502 || line.UnitCost != 0.75 {
		t.Fatalf("got %+v, want a new addition of product 5502 on agreement %d at cost 0.75", line, agrFabrikam)
	}
	ref := psa.LineRef{ContractID: agrFabrikam, LineID: line.ID}
	states, err := e.client.ReadLines(ctx, []psa.LineRef{ref}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := (psa.LineState{Ref: ref, ServiceID: 5502, Quantity: 9, UnitCost: 0.75}); !reflect.DeepEqual(states[ref], want) {
		t.Fatalf("got %+v, want %+v", states[ref], want)
	}
	got, _ := e.sb.ConnectWise.Addition(testCompany, line.ID)
	if !got.EffectiveDate.Equal(testNow) {
		t.Errorf("got effective date %v, want %v", got.EffectiveDate, testNow)
	}
	for _, tc := range []struct {
		name      string
		agreement int64
		quantity  int64
		want      apperr.Code
	}{
		{"ErrAgreementGone", 4999, 1, apperr.NotFound},
		{"ErrNegative", agrFabrikam, -1, apperr.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.client.CreateLine(ctx, tc.agreement, 5502, tc.quantity, 1, testNow); !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// JSON Patch paths are case-sensitive: "Quantity" is an unknown path, a
// 400 whose vendor text reaches the caller unchanged.
func TestPatchUnknownPathRejected(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	ops := []patchOp{{Op: "replace", Path: "Quantity", Value: 5}}
	_, err := e.client.call(ctx, http.MethodPatch, "finance/agreements/4101/additions/77001", nil, ops, true, nil)
	if !apperr.Is(err, apperr.Rejected) {
		t.Fatalf("got %v, want rejected", err)
	}
	want := []string{"addition object is invalid", "The path 'Quantity' is not a valid field of Addition."}
	if got := apperr.DetailsOf(err); !slices.Equal(got, want) {
		t.Errorf("got details %q, want %q", got, want)
	}
	if got, _ := e.sb.ConnectWise.Addition(testCompany, addSeats); got.Quantity != 10 {
		t.Errorf("got quantity %v after a rejected patch, want 10", got.Quantity)
	}
}

// A 429 is retried after exactly the Retry-After the server gave.
func TestRetryAfterHonoured(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	if err := e.client.Verify(ctx); err != nil { // discover before throttling
		t.Fatal(err)
	}
	e.sb.SetFaults(sandbox.Faults{Rate429: 1, RetryAfter: 7 * time.Second})
	e.client.cfg.Retry.Sleep = func(_ context.Context, d time.Duration) error {
		e.slept = append(e.slept, d)
		e.sb.SetFaults(sandbox.Faults{}) // the throttle lifts after the wait
		return nil
	}
	if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: agrMain, LineID: addSeats}, Quantity: 11, UnitCost: 18.5}); err != nil {
		t.Fatalf("SetLine: %v", err)
	}
	if want := []time.Duration{7 * time.Second}; !slices.Equal(e.slept, want) {
		t.Errorf("got waits %v, want %v", e.slept, want)
	}
	t.Run("ExhaustedIsTransientWithRetryAfter", func(t *testing.T) {
		e.sb.SetFaults(sandbox.Faults{Rate429: 1, RetryAfter: 30 * time.Second})
		defer e.sb.SetFaults(sandbox.Faults{})
		e.client.cfg.Retry.Sleep = func(context.Context, time.Duration) error { return nil }
		err := e.client.Verify(ctx)
		if !apperr.IsTransient(err) || apperr.RetryAfterOf(err) != 30*time.Second {
			t.Fatalf("got %v (retry after %v), want transient with 30s", err, apperr.RetryAfterOf(err))
		}
		if d := apperr.DetailsOf(err); len(d) != 1 || !strings.HasPrefix(d[0], "Too many requests.") {
			t.Errorf("got details %q, want the throttling message", d)
		}
	})
}

// Under 20% injected transient faults, 500 quantity updates, each retried
// by the caller until it succeeds as the sync worker would, leave every line
// at its last target.
func TestSetLineUnderFaults(t *testing.T) {
	seed := baseSeed()
	refs := linesSeed(&seed, 5, 2)
	e := MustEnv(t, seed, nil)
	if err := e.client.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.SetFaults(sandbox.Faults{Seed: 7, Rate500: 0.1, Rate429: 0.1, RetryAfter: time.Second})
	target := map[psa.LineRef]int64{}
	transient := 0
	for i := 0; i < 500; i++ {
		ref := refs[i%len(refs)]
		q := int64(i*7%97 + 1)
		for attempt := 0; ; attempt++ {
			err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: q, UnitCost: 7})
			if err == nil {
				break
			}
			if !apperr.IsTransient(err) || attempt > 10 {
				t.Fatalf("update %d: %v", i, err)
			}
			transient++
		}
		target[ref] = q
	}
	e.sb.SetFaults(sandbox.Faults{})
	for ref, q := range target {
		got, _ := e.sb.ConnectWise.Addition(testCompany, ref.LineID)
		if int64(got.Quantity) != q {
			t.Errorf("line %d: got %v, want %d", ref.LineID, got.Quantity, q)
		}
	}
	// The writes are absolute values: the log holds at most one accepted
	// patch per update, each with the update's own quantity.
	if n := len(e.sb.ConnectWise.Patches(testCompany)); n != 500 {
		t.Errorf("got %d accepted patches, want 500", n)
	}
	if len(e.slept) == 0 {
		t.Errorf("no retry happened: the faults were not injected")
	}
	t.Logf("retries slept %d times; %d updates failed after all attempts and were retried by the caller", len(e.slept), transient)
}

func TestTicketOptions(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.TicketOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := psa.TicketOptions{
		Boards: []psa.Option{{ID: boardAlerts, Name: "Alerts"}, {ID: boardHelpDesk, Name: "Help Desk"}},
		Statuses: []psa.Option{
			{ID: stNew, Name: "New", IsDefault: true, ParentID: boardAlerts}, {ID: stClosed, Name: "Closed", Closed: true, ParentID: boardAlerts},
			{ID: stHDNew, Name: "New", IsDefault: true, ParentID: boardHelpDesk}, {ID: stHDResolved, Name: "Resolved", Closed: true, ParentID: boardHelpDesk},
		},
		IssueTypes: []psa.Option{{ID: typeMonitor, Name: "Monitoring", ParentID: boardAlerts}},
		Priorities: []psa.Option{{ID: prioHigh, Name: "Priority 1 - Critical"}, {ID: prioLow, Name: "Priority 3 - Normal", IsDefault: true}},
		Sources:    []psa.Option{{ID: srcEmail, Name: "Email"}, {ID: srcAPI, Name: "API", IsDefault: true}},
	}
	for _, c := range []struct {
		name      string
		got, want []psa.Option
	}{
		{"Boards", got.Boards, want.Boards}, {"Statuses", got.Statuses, want.Statuses}, {"IssueTypes", got.IssueTypes, want.IssueTypes},
		{"Priorities", got.Priorities, want.Priorities}, {"Sources", got.Sources, want.Sources},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestTicketLifecycle(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	const key = "alert:abc123"
	if _, err := e.client.FindOpenTicket(ctx, coContoso, key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("FindOpenTicket before create: got %v, want not_found", err)
	}
	due := time.Date(2025, 6, 16, 17, 0, 0, 0, time.UTC)
	long := strings.Repeat("Seat overage on Contoso ", 10)
	tk, err := e.client.CreateTicket(ctx, psa.TicketSpec{
		CompanyID: coContoso, Title: long, Description: "Details", ExternalKey: key,
		BoardID: boardAlerts, StatusID: stNew, PriorityID: prioHigh, SourceID: srcAPI, IssueTypeID: typeMonitor, Due: due,
	})
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	stored := e.sb.ConnectWise.Tickets(testCompany)
	if len(stored) != 1 {
		t.Fatalf("got %d tickets, want 1", len(stored))
	}
	want := sandbox.CWTicket{ID: tk.ID, CompanyID: coContoso, Summary: psa.Truncate(long, 100), ExternalXRef: key, BoardID: boardAlerts,
		StatusID: stNew, PriorityID: prioHigh, SourceID: srcAPI, TypeID: typeMonitor, RequiredDate: due, InitialDescription: "Details"}
	if stored[0] != want {
		t.Errorf("got %+v, want %+v", stored[0], want)
	}
	if n := len([]rune(stored[0].Summary)); n != 100 {
		t.Errorf("got summary of %d characters, want 100", n)
	}

	t.Run("FindOpen", func(t *testing.T) {
		got, err := e.client.FindOpenTicket(ctx, coContoso, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tk.ID || got.ExternalKey != key || got.StatusID != stNew || got.CompanyID != coContoso {
			t.Errorf("got %+v, want ticket %d open", got, tk.ID)
		}
		if _, err := e.client.FindOpenTicket(ctx, coFabrikam, key); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("other company: got %v, want not_found", err)
		}
	})
	t.Run("AddNote", func(t *testing.T) {
		if err := e.client.AddNote(ctx, tk.ID, psa.Note{Title: "Still over", Text: "42 seats"}); err != nil {
			t.Fatal(err)
		}
		notes := e.sb.ConnectWise.Notes(testCompany)
		if len(notes) != 1 || notes[0].TicketID != tk.ID || notes[0].Text != "Still over\n\n42 seats" || !notes[0].DetailDescriptionFlag {
			t.Errorf("got %+v, want one detail note on %d", notes, tk.ID)
		}
		if err := e.client.AddNote(ctx, 424242, psa.Note{Text: "x"}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("missing ticket: got %v, want not_found", err)
		}
	})
	t.Run("StatusOfOtherBoardRejected", func(t *testing.T) {
		err := e.client.CloseTicket(ctx, tk.ID, stHDResolved)
		if !apperr.Is(err, apperr.Rejected) {
			t.Fatalf("got %v, want rejected", err)
		}
		if d := apperr.DetailsOf(err); !slices.Contains(d, "Status 622 is not a status of board 61.") {
			t.Errorf("got details %q, want the vendor text", d)
		}
	})
	t.Run("Close", func(t *testing.T) {
		if err := e.client.CloseTicket(ctx, tk.ID, stClosed); err != nil {
			t.Fatal(err)
		}
		got := e.sb.ConnectWise.Tickets(testCompany)[0]
		if !got.Closed || got.StatusID != stClosed {
			t.Errorf("got %+v, want closed with status %d", got, stClosed)
		}
		p := e.sb.ConnectWise.Patches(testCompany)
		last := p[len(p)-1]
		if len(last.Ops) != 1 || last.Ops[0].Path != "status" || string(last.Ops[0].Value) != `{"id":612}` {
			t.Errorf("got ops %+v, want one replace of the whole status reference", last.Ops)
		}
		if _, err := e.client.FindOpenTicket(ctx, coContoso, key); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("after close: got %v, want not_found", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		if _, err := e.client.CreateTicket(ctx, psa.TicketSpec{CompanyID: coContoso, Title: "x", ExternalKey: strings.Repeat("k", 101)}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("long key: got %v, want invalid", err)
		}
		if _, err := e.client.CreateTicket(ctx, psa.TicketSpec{Title: "x"}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("no company: got %v, want invalid", err)
		}
	})
}

// Errors map to the vocabulary by status.
func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		status      int
		want        apperr.Code
		unprocessed bool
	}{
		{400, apperr.Rejected, false}, {401, apperr.Unauthorized, false}, {403, apperr.Forbidden, false},
		{404, apperr.NotFound, false}, {409, apperr.Transient, true}, {429, apperr.Transient, true},
		{500, apperr.Transient, false}, {503, apperr.Transient, false}, {415, apperr.Rejected, false},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			c := MustClient(t, Config{Credentials: testCredentials()})
			req := httptest.NewRequest(http.MethodGet, "https://api-na.myconnectwise.net/x", nil)
			a := c.classify(&http.Response{StatusCode: tc.status, Request: req, Header: http.Header{}},
				[]byte(`{"code":"X","message":"vendor says no","errors":[{"code":"Y","message":"field is bad"}]}`))
			if got := apperr.CodeOf(a.Err); got != tc.want || a.Unprocessed != tc.unprocessed {
				t.Errorf("got %s unprocessed=%v, want %s unprocessed=%v", got, a.Unprocessed, tc.want, tc.unprocessed)
			}
			if d := apperr.DetailsOf(a.Err); !slices.Equal(d, []string{"vendor says no", "field is bad"}) {
				t.Errorf("got details %q, want the vendor texts", d)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct{ name, h, want string }{
		{"Next", `<https://h/x?page=2>; rel="next", <https://h/x?page=3>; rel="last"`, "https://h/x?page=2"},
		{"LastPage", `<https://h/x?page=1>; rel="first", <https://h/x?page=2>; rel="prev"`, ""},
		{"Empty", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextLink(tc.h); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A write that happened but whose answer came too late is sent again: the
// patch carries absolute values, so the second one changes nothing more.
func TestSetLineSlowAnswerRetried(t *testing.T) {
	e := MustEnv(t, baseSeed(), psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 200*time.Millisecond))
	if err := e.client.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.SetFaults(sandbox.Faults{RateSlow: 1, SlowDelay: 5 * time.Second})
	e.client.cfg.Retry.Sleep = func(context.Context, time.Duration) error {
		e.sb.SetFaults(sandbox.Faults{})
		return nil
	}
	ref := psa.LineRef{ContractID: agrMain, LineID: addSeats}
	if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: 12, UnitCost: 18.5}); err != nil {
		t.Fatalf("SetLine: %v", err)
	}
	if got, _ := e.sb.ConnectWise.Addition(testCompany, addSeats); got.Quantity != 12 {
		t.Errorf("got quantity %v, want 12", got.Quantity)
	}
	p := e.sb.ConnectWise.Patches(testCompany)
	if len(p) != 2 || string(p[0].Ops[0].Value) != "12" || string(p[1].Ops[0].Value) != "12" {
		t.Errorf("got patches %+v, want the same absolute patch twice", p)
	}
}
