package httpapi_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// The mapping tools (catalog, health, suggestions, reconciliation) run on
// every PSA: tenant A on the Autotask sandbox, tenant B on ConnectWise,
// tenant C on HaloPSA.

// psaChange is what a test changes in a PSA after the org was mapped.
type psaChange struct {
	renameCompany, cancelContract, dropLine bool
}

// toolFixture is one PSA's ids and bodies in these tests.
type toolFixture struct {
	name      string
	tenant    string
	org       string
	mapping   string // PUT …/mapping body of org
	companyID int64
	// catalog is a PUT /v1/catalog body: users is the PSA's existing
	// "users" item (adopted by the push), storage_gb's name is held by an
	// item psabridge did not create (a clash).
	catalog      string
	usersItem    int64
	foreignItem  int64
	chosenType   int64
	unchosenType int64
	acmeInc      int64 // "Acme, Inc."
	acmeContract int64
	acmeLine     int64
	units        int64 // the mapped line's quantity in the PSA
	// bareProduct is the answer to a catalog product without PSA fields:
	// 400 where the PSA requires some (Autotask billing code, ConnectWise
	// type and subcategory), 200 on HaloPSA (its item group is optional).
	bareProduct int
	reseed      func(*psaEnv, psaChange)
	// writes counts the sandbox's catalog writes.
	writes func(*psaEnv) int
}

func toolFixtures() []toolFixture {
	return []toolFixture{
		{
			name: "Autotask", tenant: tenantA, org: "acme-org-1", companyID: 1001,
			mapping:   `{"companyId":1001,"contractId":2001,"lines":[{"product":"users","lineId":4001}],"nonBillableUsers":1}`,
			catalog:   `{"products":[{"key":"users","name":"Acme Seats","period":"monthly","unitCost":4,"unitPrice":10,"billingCodeId":8101},{"key":"storage_gb","name":"Backup Seats","period":"monthly","unitCost":1,"unitPrice":2,"billingCodeId":8101}]}`,
			usersItem: 3001, foreignItem: 3002, chosenType: 1, unchosenType: 7, acmeInc: 1011, acmeContract: 2011, acmeLine: 4011, units: 10,
			bareProduct: http.StatusBadRequest,
			reseed:      func(e *psaEnv, c psaChange) { e.Sandbox.Autotask.AddInstance(toolAutotaskSeed(c)) },
			writes: func(e *psaEnv) int {
				n := e.Sandbox.Counts()
				return n["autotask POST Services"] + n["autotask PATCH Services"]
			},
		},
		{
			name: "ConnectWise", tenant: tenantB, org: "zeta-org-1", companyID: 7101,
			mapping:   `{"companyId":7101,"contractId":7201,"lines":[{"product":"users","lineId":7301}],"nonBillableUsers":1}`,
			catalog:   `{"products":[{"key":"users","name":"Zeta Seats","period":"monthly","unitCost":4,"unitPrice":10,"productTypeId":7951,"subcategoryId":7961},{"key":"storage_gb","identifier":"STORAGE","name":"Backup Seats","period":"monthly","unitCost":1,"unitPrice":2,"productTypeId":7951,"subcategoryId":7961}]}`,
			usersItem: 7401, foreignItem: 7402, chosenType: 71, unchosenType: 72, acmeInc: 7111, acmeContract: 7211, acmeLine: 7311, units: 5,
			bareProduct: http.StatusBadRequest,
			reseed:      func(e *psaEnv, c psaChange) { e.Sandbox.ConnectWise.AddInstance(toolConnectWiseSeed(c)) },
			writes: func(e *psaEnv) int {
				n := e.Sandbox.Counts()
				return n["connectwise POST /procurement/catalog"] + n["connectwise PATCH /procurement/catalog/{id}"]
			},
		},
		{
			// Contract ids are the recurring invoices' negated (-9201).
			name: "HaloPSA", tenant: tenantC, org: "gamma-org-1", companyID: 9101,
			mapping:   `{"companyId":9101,"contractId":9201,"lines":[{"product":"users","lineId":9301}],"nonBillableUsers":1}`,
			catalog:   `{"products":[{"key":"users","name":"Gamma Seats","period":"monthly","unitCost":4,"unitPrice":10,"productTypeId":9501},{"key":"storage_gb","name":"Backup Seats","period":"monthly","unitCost":1,"unitPrice":2}]}`,
			usersItem: 9401, foreignItem: 9402, chosenType: 91, unchosenType: 92, acmeInc: 9111, acmeContract: 9211, acmeLine: 9311, units: 7,
			bareProduct: http.StatusOK,
			reseed:      func(e *psaEnv, c psaChange) { e.Sandbox.HaloPSA.AddInstance(toolHaloSeed(c)) },
			writes: func(e *psaEnv) int {
				return e.Sandbox.Counts()["halopsa POST /Item"]
			},
		},
	}
}

// toolHaloSeed is haloSeed with the "users" item (internal reference
// "users"), a foreign "Backup Seats" item, and Acme look-alike clients.
func toolHaloSeed(c psaChange) sandbox.HaloPSASeed {
	s := haloSeed()
	s.Items = []sandbox.HaloItem{
		{ID: 9401, Name: "Gamma Seats", InternalReference: "users", Recurring: true, RecurringPrice: 10, RecurringCost: 4, BillingPeriod: 2, GroupID: 9501},
		{ID: 9402, Name: "Backup Seats", InternalReference: "BKP", Recurring: true, RecurringPrice: 6, RecurringCost: 3, BillingPeriod: 2},
	}
	s.Clients = append(s.Clients, sandbox.HaloClient{ID: 9111, Name: "Acme, Inc.", TopLevelID: 91},
		sandbox.HaloClient{ID: 9112, Name: "Acme LLC", TopLevelID: 91}, sandbox.HaloClient{ID: 9113, Name: "ACME Inc", TopLevelID: 92})
	s.RecurringInvoices = append(s.RecurringInvoices, sandbox.HaloRecurringInvoice{ID: -9211, ClientID: 9111, Reference: "Acme Recurring",
		Lines: []sandbox.HaloInvoiceLine{{ID: 9311, ItemID: 9401, Quantity: 1, UnitPrice: 10}}})
	if c.renameCompany {
		s.Clients[0].Name = "Gamma Labs Group"
	}
	if c.cancelContract {
		s.RecurringInvoices[0].Disabled = true
	}
	if c.dropLine {
		s.RecurringInvoices[0].Lines = slices.DeleteFunc(s.RecurringInvoices[0].Lines, func(l sandbox.HaloInvoiceLine) bool { return l.ID == 9301 })
	}
	return s
}

// toolAutotaskSeed is autotaskSeed with a billing code, the "users" item
// and a foreign "Backup Seats" service, and Acme look-alike companies.
func toolAutotaskSeed(c psaChange) sandbox.AutotaskSeed {
	s := autotaskSeed()
	s.Picklists = append(s.Picklists,
		sandbox.AutotaskPicklist{Entity: "BillingCodes", Field: "useType", Values: []sandbox.AutotaskPicklistValue{{Value: 4, Label: "Recurring Contract Service"}}},
		sandbox.AutotaskPicklist{Entity: "Contracts", Field: "status", Values: []sandbox.AutotaskPicklistValue{{Value: 1, Label: "Active", IsDefault: true}, {Value: 2, Label: "Cancelled"}}})
	s.BillingCodes = []sandbox.AutotaskBillingCode{{ID: 8101, Name: "Managed seats", UseType: 4}}
	s.Services = []sandbox.AutotaskService{
		{ID: 3001, Name: "Acme Seats", Description: "users", UnitPrice: 10, UnitCost: 4, BillingCodeID: 8101},
		{ID: 3002, Name: "Backup Seats", UnitPrice: 6, UnitCost: 3, BillingCodeID: 8101},
	}
	s.Companies = append(s.Companies, sandbox.AutotaskCompany{ID: 1011, Name: "Acme, Inc.", Type: 1},
		sandbox.AutotaskCompany{ID: 1012, Name: "Acme LLC", Type: 1}, sandbox.AutotaskCompany{ID: 1013, Name: "ACME Inc", Type: 7})
	s.Contracts = append(s.Contracts, sandbox.AutotaskContract{ID: 2011, CompanyID: 1011, Name: "Acme Inc Recurring"})
	s.ContractServices = append(s.ContractServices, sandbox.AutotaskContractService{ID: 4011, ContractID: 2011, ServiceID: 3001, UnitPrice: 10, Units: 1})
	if c.renameCompany {
		s.Companies[0].Name = "Acme Dental Group"
	}
	if c.cancelContract {
		s.Contracts[0].Status = 2
	}
	if c.dropLine {
		s.ContractServices = slices.DeleteFunc(s.ContractServices, func(cs sandbox.AutotaskContractService) bool { return cs.ID == 4001 })
	}
	return s
}

func toolConnectWiseSeed(c psaChange) sandbox.ConnectWiseSeed {
	s := connectWiseSeed()
	s.ProductTypes = []sandbox.CWOption{{ID: 7951, Name: "Service"}}
	s.Subcategories = []sandbox.CWOption{{ID: 7961, Name: "Managed"}}
	s.CatalogItems = []sandbox.CWCatalogItem{
		{ID: 7401, Identifier: "users", Description: "Zeta Seats", TypeID: 7951, SubcategoryID: 7961, Price: 10, Cost: 4},
		{ID: 7402, Identifier: "BKP", Description: "Backup Seats", TypeID: 7951, SubcategoryID: 7961, Price: 6, Cost: 3},
	}
	s.Companies = append(s.Companies, sandbox.CWCompany{ID: 7111, Identifier: "AcmeInc", Name: "Acme, Inc.", TypeIDs: []int64{71}},
		sandbox.CWCompany{ID: 7112, Identifier: "AcmeLLC", Name: "Acme LLC", TypeIDs: []int64{71}},
		sandbox.CWCompany{ID: 7113, Identifier: "AcmeVendor", Name: "ACME Inc", TypeIDs: []int64{72}})
	s.Agreements = append(s.Agreements, sandbox.CWAgreement{ID: 7211, CompanyID: 7111, Name: "Acme Agreement"})
	s.Additions = append(s.Additions, sandbox.CWAddition{ID: 7311, AgreementID: 7211, ProductID: 7401, Quantity: 1, UnitPrice: 10})
	if c.renameCompany {
		s.Companies[0].Name = "Zeta Clinic Group"
	}
	if c.cancelContract {
		s.Agreements[0].Cancelled = true
	}
	if c.dropLine {
		s.Additions = slices.DeleteFunc(s.Additions, func(a sandbox.CWAddition) bool { return a.ID == 7301 })
	}
	return s
}

// newToolEnv is the API over sandboxes seeded for the mapping tools, with
// both tenants connected; it returns their platform signing secrets.
func newToolEnv(t *testing.T) (*psaEnv, map[string]string) {
	t.Helper()
	e := newPSAEnv(t)
	for _, f := range toolFixtures() {
		f.reseed(e, psaChange{})
	}
	secrets := map[string]string{tenantA: e.mustProvision(tenantA), tenantB: e.mustProvision(tenantB), tenantC: e.mustProvision(tenantC)}
	e.mustConnect()
	if rec := e.admin(tenantC, "PUT", "/v1/integration", e.haloBody(haloSecret), nil); rec.Code != http.StatusOK {
		t.Fatalf("connect %s: got %d %s, want 200", tenantC, rec.Code, rec.Body)
	}
	return e, secrets
}

// mustRegister registers an org with a name, as the platform does.
func (e *psaEnv) mustRegister(tenant, secret, org, name string) {
	e.tb.Helper()
	if rec := e.signed("PUT", "/v1/orgs/"+org, tenant, []byte(`{"name":"`+name+`"}`), secret); rec.Code != http.StatusOK {
		e.tb.Fatalf("register %s: got %d %s", org, rec.Code, rec.Body)
	}
}

func (e *psaEnv) mustOK(tenant, method, path, body string, header http.Header) []byte {
	e.tb.Helper()
	rec := e.admin(tenant, method, path, []byte(body), header)
	if rec.Code != http.StatusOK {
		e.tb.Fatalf("%s %s: got %d %s, want 200", method, path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

type pushResult struct {
	Catalog billing.Catalog `json:"catalog"`
	Steps   []struct {
		Product billing.Product       `json:"product"`
		Action  billing.CatalogAction `json:"action"`
		State   billing.PushState     `json:"state"`
		ItemID  int64                 `json:"itemId"`
		Message string                `json:"message"`
	} `json:"steps"`
}

func (e *psaEnv) mustPush(tenant string) pushResult {
	e.tb.Helper()
	var res pushResult
	mustDecode(e.tb, strings.NewReader(string(e.mustOK(tenant, "POST", "/v1/catalog/push", "", nil))), &res)
	return res
}

func TestCatalogPush(t *testing.T) {
	for _, f := range toolFixtures() {
		t.Run(f.name, func(t *testing.T) {
			e, _ := newToolEnv(t)
			var opts struct {
				BillingCodes, ProductTypes, Subcategories []struct{ ID int64 }
			}
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/psa/catalog-options", "", nil))), &opts)
			if len(opts.BillingCodes)+len(opts.ProductTypes)+len(opts.Subcategories) == 0 {
				t.Errorf("catalog options: got none")
			}
			t.Run("PushStatusInBodyIgnored", func(t *testing.T) {
				// push is read-only: accepted (a GET body can be PUT
				// back), never taken from the body.
				rec := e.admin(f.tenant, "PUT", "/v1/catalog", []byte(`{"products":[{"key":"users","name":"X","period":"monthly","billingCodeId":8101,"productTypeId":7951,"subcategoryId":7961,"push":{"state":"pushed","itemId":1}}]}`), nil)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"push":{"state":"not_pushed"}`) {
					t.Errorf("got %d %s, want 200 with the product not pushed", rec.Code, rec.Body)
				}
			})
			t.Run("ProductWithoutPSAFields", func(t *testing.T) {
				rec := e.admin(f.tenant, "PUT", "/v1/catalog", []byte(`{"products":[{"key":"users","name":"X","period":"monthly"}]}`), nil)
				if rec.Code != f.bareProduct {
					t.Errorf("got %d %s, want %d", rec.Code, rec.Body, f.bareProduct)
				}
			})
			rec := e.admin(f.tenant, "PUT", "/v1/catalog", []byte(f.catalog), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("put: got %d %s", rec.Code, rec.Body)
			}
			stale := rec.Header().Get("ETag")
			foreignBefore := e.catalogItem(f, f.foreignItem)

			first := e.mustPush(f.tenant)
			got := map[billing.Product]string{}
			for _, s := range first.Steps {
				got[s.Product] = string(s.Action) + "/" + string(s.State)
			}
			if (got["users"] != "update/pushed" && got["users"] != "unchanged/pushed") || got["storage_gb"] != "clash/error" {
				t.Errorf("first push: got %v, want users pushed (the PSA's item adopted), storage_gb clash/error", got)
			}
			users, _ := first.Catalog.Product("users")
			storage, _ := first.Catalog.Product("storage_gb")
			if users.Push.ItemID != f.usersItem {
				t.Errorf("users item: got %d, want %d", users.Push.ItemID, f.usersItem)
			}
			if !strings.Contains(storage.Push.Message, "Backup Seats") || storage.Push.State != billing.PushError {
				t.Errorf("clash status: got %+v, want an error naming the held name", storage.Push)
			}
			if after := e.catalogItem(f, f.foreignItem); after != foreignBefore {
				t.Errorf("the clashing PSA item changed: %v → %v", foreignBefore, after)
			}

			writes := f.writes(e)
			second := e.mustPush(f.tenant)
			if n := f.writes(e) - writes; n != 0 {
				t.Errorf("second push wrote %d times, want 0", n)
			}
			for _, s := range second.Steps {
				if s.Action != billing.CatalogUnchanged && s.Action != billing.CatalogClash {
					t.Errorf("second push: %s %s, want unchanged or clash", s.Product, s.Action)
				}
			}

			t.Run("ErrStaleIfMatch", func(t *testing.T) {
				if rec := e.admin(f.tenant, "PUT", "/v1/catalog", []byte(f.catalog), ifMatch(stale)); rec.Code != http.StatusPreconditionFailed {
					t.Errorf("got %d %s, want 412", rec.Code, rec.Body)
				}
			})
			t.Run("ChangeMarksNotPushed", func(t *testing.T) {
				body := strings.Replace(f.catalog, `"unitPrice":10`, `"unitPrice":11`, 1)
				var c billing.Catalog
				mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "PUT", "/v1/catalog", body, nil))), &c)
				if p, _ := c.Product("users"); p.Push.State != billing.NotPushed || p.Push.ItemID != f.usersItem {
					t.Errorf("got %+v, want not_pushed keeping item %d", p.Push, f.usersItem)
				}
				res := e.mustPush(f.tenant)
				if res.Steps[0].Action != billing.CatalogUpdate || res.Steps[0].State != billing.Pushed {
					t.Errorf("got %+v, want an update", res.Steps[0])
				}
			})
		})
	}
}

// catalogItem renders a sandbox catalog item for comparison.
func (e *psaEnv) catalogItem(f toolFixture, id int64) string {
	if f.tenant == tenantC {
		for _, it := range e.Sandbox.HaloPSA.Items(haloApp) {
			if it.ID == id {
				return it.Name + "|" + it.InternalReference
			}
		}
		return ""
	}
	if f.tenant == tenantA {
		for _, s := range e.Sandbox.Autotask.Services(atUser) {
			if s.ID == id {
				return s.Name + "|" + s.Description
			}
		}
		return ""
	}
	for _, it := range e.Sandbox.ConnectWise.CatalogItems(cwCompany) {
		if it.ID == id {
			return it.Description + "|" + it.Identifier
		}
	}
	return ""
}

func TestMappingHealth(t *testing.T) {
	for _, f := range toolFixtures() {
		t.Run(f.name, func(t *testing.T) {
			e, _ := newToolEnv(t)
			var m billing.Mapping
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "PUT", "/v1/orgs/"+f.org+"/mapping", f.mapping, nil))), &m)
			if m.Seen.Company == "" || m.Seen.Contract == "" {
				t.Errorf("seen names: got %+v, want the company's and contract's", m.Seen)
			}
			var h billing.Health
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/orgs/"+f.org+"/mapping/health", "", nil))), &h)
			if h.Status != billing.HealthOK {
				t.Errorf("before: got %s %+v, want ok", h.Status, h.Problems)
			}
			var orgs struct {
				Orgs []struct {
					ID     string
					Health *struct{ Status string }
				}
			}
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/orgs", "", nil))), &orgs)
			if len(orgs.Orgs) != 1 || orgs.Orgs[0].Health == nil || orgs.Orgs[0].Health.Status != "unchecked" {
				t.Errorf("orgs health column: got %+v, want unchecked until a run checks it", orgs.Orgs)
			}
			f.reseed(e, psaChange{renameCompany: true, cancelContract: true, dropLine: true})
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/orgs/"+f.org+"/mapping/health", "", nil))), &h)
			want := []billing.ProblemCode{billing.CompanyRenamed, billing.ContractCancelled, billing.LineMissing}
			if h.Status != billing.HealthBroken || !slices.Equal(h.Codes(), want) {
				t.Errorf("after: got %s %v, want broken %v", h.Status, h.Codes(), want)
			}
			for _, p := range h.Problems {
				if p.Code == billing.CompanyRenamed && (p.Before != m.Seen.Company || p.After == m.Seen.Company || p.CompanyID != f.companyID) {
					t.Errorf("rename: got %q → %q of %d, want from %q", p.Before, p.After, p.CompanyID, m.Seen.Company)
				}
				if p.Fix == "" {
					t.Errorf("%s has no fix", p.Code)
				}
			}
			t.Run("ErrUnmapped", func(t *testing.T) {
				if rec := e.admin(f.tenant, "GET", "/v1/orgs/nobody/mapping/health", nil, nil); rec.Code != http.StatusNotFound {
					t.Errorf("got %d, want 404", rec.Code)
				}
			})
		})
	}
}

func TestMappingSuggestions(t *testing.T) {
	for _, f := range toolFixtures() {
		t.Run(f.name, func(t *testing.T) {
			e, secrets := newToolEnv(t)
			e.mustOK(f.tenant, "PUT", "/v1/integration/company-types", `{"companyTypeIds":[`+strconv.FormatInt(f.chosenType, 10)+`]}`, nil)
			e.mustOK(f.tenant, "PUT", "/v1/catalog", f.catalog, nil)
			e.mustPush(f.tenant)
			for org, name := range map[string]string{"acme-inc": "ACME Inc", "beta-llc": "Beta Law LLC", "nomatch": "Qwxyz Holdings"} {
				e.mustRegister(f.tenant, secrets[f.tenant], org, name)
			}

			t.Run("Bulk", func(t *testing.T) {
				before := e.Sandbox.Total("")
				var bulk struct {
					Suggestions []struct {
						Org       string
						Companies []billing.CompanySuggestion
					}
				}
				mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/mapping-suggestions", "", nil))), &bulk)
				if n := e.Sandbox.Total("") - before; n > 3 {
					t.Errorf("PSA requests: got %d, want at most 3", n)
				}
				orgs := map[string][]billing.CompanySuggestion{}
				for _, s := range bulk.Suggestions {
					orgs[s.Org] = s.Companies
					for _, c := range s.Companies {
						if slices.Contains(c.Company.TypeIDs, f.unchosenType) {
							t.Errorf("%s: suggested %q of an unchosen type", s.Org, c.Company.Name)
						}
					}
				}
				if len(orgs) != 3 || len(orgs["acme-inc"]) == 0 || orgs["acme-inc"][0].Company.Name != "Acme, Inc." || len(orgs["nomatch"]) != 0 {
					t.Errorf("got %+v, want the 3 unmapped orgs, Acme, Inc. first for acme-inc, nothing for nomatch", bulk.Suggestions)
				}
			})
			var s struct {
				Org       string
				Companies []billing.CompanySuggestion
				Proposal  *struct {
					CompanyID, ContractID int64
					Lines                 []billing.LineMapping
				}
			}
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/orgs/acme-inc/mapping/suggestions", "", nil))), &s)
			if len(s.Companies) == 0 || s.Companies[0].Company.Name != "Acme, Inc." {
				t.Fatalf("got %+v, want \"Acme, Inc.\" first", s.Companies)
			}
			for _, c := range s.Companies {
				if slices.Contains(c.Company.TypeIDs, f.unchosenType) {
					t.Errorf("suggested %q of the unchosen type %d", c.Company.Name, f.unchosenType)
				}
			}
			if p := s.Proposal; p == nil || p.CompanyID != f.acmeInc || p.ContractID != f.acmeContract ||
				!slices.Equal(p.Lines, []billing.LineMapping{{Product: billing.Users, LineID: f.acmeLine}}) {
				t.Errorf("proposal: got %+v, want company %d, contract %d, users line %d", s.Proposal, f.acmeInc, f.acmeContract, f.acmeLine)
			}
			if rec := e.admin(f.tenant, "GET", "/v1/orgs/acme-inc/mapping", nil, nil); rec.Code != http.StatusNotFound {
				t.Errorf("a suggestion was applied: GET mapping got %d, want 404", rec.Code)
			}

		})
	}
}

func TestReconciliation(t *testing.T) {
	for _, f := range toolFixtures() {
		t.Run(f.name, func(t *testing.T) {
			e, secrets := newToolEnv(t)
			secret := secrets[f.tenant]
			e.mustOK(f.tenant, "PATCH", "/v1/billing-settings", `{"unitCost":{"users":4}}`, mergePatch())
			e.mustOK(f.tenant, "PUT", "/v1/orgs/"+f.org+"/mapping", f.mapping, nil)
			usage := `{"observations":[{"org":"` + f.org + `","value":12,"observedAt":"2026-11-20T10:00:00Z"}]}`
			if rec := e.signed("POST", "/v1/usage", f.tenant, []byte(usage), secret); rec.Code != http.StatusOK {
				t.Fatalf("usage: got %d %s", rec.Code, rec.Body)
			}
			var rep struct {
				Period string
				Rows   []billing.ReconciliationRow
			}
			mustDecode(t, strings.NewReader(string(e.mustOK(f.tenant, "GET", "/v1/reconciliation?period=2026-11", "", nil))), &rep)
			if len(rep.Rows) != 1 {
				t.Fatalf("rows: got %+v, want 1", rep.Rows)
			}
			r := rep.Rows[0]
			if r.HWM != 12 || r.NonBillable != 1 || r.Target != 11 || r.PSAQuantity == nil || *r.PSAQuantity != f.units ||
				r.QuantityDiff != 11-f.units || !slices.Contains(r.Flags, billing.FlagQuantity) || r.Agrees {
				t.Errorf("got %+v (psa %v), want hwm 12, 1 non-billable, target 11, PSA %d, flagged", r, r.PSAQuantity, f.units)
			}
			rec := e.admin(f.tenant, "GET", "/v1/reconciliation?period=2026-11", nil, http.Header{"Accept": {"text/csv"}})
			recs, err := csv.NewReader(rec.Body).ReadAll()
			if err != nil || rec.Code != 200 || len(recs) != 2 || !slices.Equal(recs[0], billing.ReconciliationCSVHeader) || recs[1][0] != f.org {
				t.Errorf("csv: got %d %v (%v)", rec.Code, recs, err)
			}
			if rec := e.admin(f.tenant, "GET", "/v1/reconciliation?period=2026-13", nil, nil); rec.Code != http.StatusBadRequest {
				t.Errorf("bad period: got %d, want 400", rec.Code)
			}
		})
	}
}
