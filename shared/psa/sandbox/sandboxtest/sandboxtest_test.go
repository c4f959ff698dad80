package sandboxtest_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/psa/sandbox/sandboxtest"
)

// TestSandboxViews runs the same steps against a sandbox in this process
// and one in another process: seeding, the test's clock (a clock years
// away from today, so seeded contracts only cover it if the sandbox got
// it), request counts per dialect, faults, and the state reads.
func TestSandboxViews(t *testing.T) {
	now := time.Date(2031, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cases := []struct {
		name string
		// start returns the sandbox, its base URL and a client whose
		// requests it counts.
		start func(t *testing.T) (sandboxtest.Sandbox, string, *http.Client)
	}{
		{"InProcess", func(t *testing.T) (sandboxtest.Sandbox, string, *http.Client) {
			sb := sandbox.New()
			sb.Now = clock
			srv := httptest.NewServer(sb)
			t.Cleanup(srv.Close)
			return sandboxtest.InProcess{Server: sb}, srv.URL, srv.Client()
		}},
		{"Remote", func(t *testing.T) (sandboxtest.Sandbox, string, *http.Client) {
			r := sandboxtest.Start(t, clock)
			return r, r.URL, &http.Client{Transport: r.Transport(http.DefaultTransport)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb, base, hc := tc.start(t)
			sb.Load(sandbox.Seed{
				Autotask: []sandbox.AutotaskSeed{{Username: "api@at.example", Secret: "s", IntegrationCode: "C",
					Services:         []sandbox.AutotaskService{{ID: 900, Name: "Seats", UnitPrice: 12, UnitCost: 3}},
					Companies:        []sandbox.AutotaskCompany{{ID: 1, Name: "Acme", Type: 1}},
					Contracts:        []sandbox.AutotaskContract{{ID: 10, CompanyID: 1, Name: "Seats"}},
					ContractServices: []sandbox.AutotaskContractService{{ID: 100, ContractID: 10, ServiceID: 900, UnitPrice: 12, UnitCost: 3, Units: 7}}}},
				ConnectWise: []sandbox.ConnectWiseSeed{{CompanyID: "cwco", PublicKey: "pub", PrivateKey: "priv", ClientID: "client",
					Companies:  []sandbox.CWCompany{{ID: 2, Identifier: "Acme", Name: "Acme"}},
					Agreements: []sandbox.CWAgreement{{ID: 20, CompanyID: 2, Name: "Seats"}},
					Additions:  []sandbox.CWAddition{{ID: 200, AgreementID: 20, ProductID: 901, Quantity: 5, UnitPrice: 12, UnitCost: 3}}}},
				HaloPSA: []sandbox.HaloPSASeed{{ClientID: "halo-app", ClientSecret: "hs",
					TopLevels:         []sandbox.HaloOption{{ID: 1, Name: "Managed"}},
					Items:             []sandbox.HaloItem{{ID: 902, Name: "Seats", Recurring: true, RecurringPrice: 12, RecurringCost: 3, BillingPeriod: 2}},
					Clients:           []sandbox.HaloClient{{ID: 3, Name: "Acme", TopLevelID: 1}},
					RecurringInvoices: []sandbox.HaloRecurringInvoice{{ID: 30, ClientID: 3, Reference: "Seats", Lines: []sandbox.HaloInvoiceLine{{ID: 300, ItemID: 902, Quantity: 6, UnitPrice: 12, UnitCost: 3}}}}}},
			})
			get := func(path string) int {
				t.Helper()
				req, err := http.NewRequest("GET", base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("UserName", "api@at.example")
				req.Header.Set("Secret", "s")
				req.Header.Set("ApiIntegrationCode", "C")
				res, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			sb.ResetCounts()
			if got := get("/autotask/atservicesrest/v1.0/zoneInformation?user=api@at.example"); got != http.StatusOK {
				t.Fatalf("zone lookup: got %d, want 200", got)
			}
			if got := get("/connectwise/login/companyinfo/cwco"); got != http.StatusOK {
				t.Fatalf("company info: got %d, want 200", got)
			}
			for prefix, want := range map[string]int{"": 2, "autotask": 1, "connectwise": 1} {
				if got := sb.Total(prefix); got != want {
					t.Errorf("Total(%q): got %d, want %d", prefix, got, want)
				}
			}
			wantRoutes := map[string]int{"autotask GET zoneInformation": 1, "connectwise GET /login/companyinfo/{company}": 1}
			if got := sb.Counts(); !maps.Equal(got, wantRoutes) {
				t.Errorf("Counts: got %v, want %v", got, wantRoutes)
			}
			const company = "/autotask/webservices1/v1.0/Companies/1"
			sb.SetFaults(sandbox.Faults{Seed: 1, Rate500: 1})
			if got := get(company); got != http.StatusInternalServerError {
				t.Errorf("with Rate500 1: got %d, want 500", got)
			}
			sb.SetFaults(sandbox.Faults{})
			if got := get(company); got != http.StatusOK {
				t.Errorf("after the faults are cleared: got %d, want 200", got)
			}
			sb.ResetCounts()
			if got, routes := sb.Total(""), sb.Counts(); got != 0 || len(routes) != 0 {
				t.Errorf("after ResetCounts: got Total %d, Counts %v, want none", got, routes)
			}
			// The seeded contract runs through the years around the
			// sandbox's clock: 2031 only when the test's clock reached it.
			if n, ok := sb.AutotaskUnits("api@at.example", 100, now); !ok || n != 7 {
				t.Errorf("AutotaskUnits: got %d %v, want 7 true", n, ok)
			}
			if _, ok := sb.AutotaskUnits("api@at.example", 999, now); ok {
				t.Error("AutotaskUnits of an unknown line: got ok")
			}
			if got := sb.AutotaskAdjustments("api@at.example"); len(got) != 0 {
				t.Errorf("AutotaskAdjustments: got %v, want none", got)
			}
			if a, ok := sb.ConnectWiseAddition("CWCO", 200); !ok || a.Quantity != 5 || a.AgreementID != 20 {
				t.Errorf("ConnectWiseAddition: got %+v %v, want quantity 5 on agreement 20", a, ok)
			}
			if _, ok := sb.ConnectWiseAddition("cwco", 999); ok {
				t.Error("ConnectWiseAddition of an unknown addition: got ok")
			}
			if l, ok := sb.HaloPSALine("halo-app", 300); !ok || l.Quantity != 6 || l.ItemID != 902 {
				t.Errorf("HaloPSALine: got %+v %v, want quantity 6 of item 902", l, ok)
			}
			if _, ok := sb.HaloPSALine("halo-app", 999); ok {
				t.Error("HaloPSALine of an unknown line: got ok")
			}
		})
	}
}
