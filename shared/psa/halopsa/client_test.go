package halopsa

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

func ids[T any](rows []T, id func(T) int64) []int64 {
	out := make([]int64, 0, len(rows))
	for _, r := range rows {
		out = append(out, id(r))
	}
	slices.Sort(out)
	return out
}

func companyIDs(cs []psa.Company) []int64 { return ids(cs, func(c psa.Company) int64 { return c.ID }) }
func contractIDs(cs []psa.Contract) []int64 {
	return ids(cs, func(c psa.Contract) int64 { return c.ID })
}

func TestVerify(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := MustEnv(t, baseSeed(), nil).client.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrWrongSecret", func(t *testing.T) {
		seed := baseSeed()
		e := MustEnv(t, seed, nil)
		e.client.cfg.Credentials.ClientSecret = "wrong"
		if err := e.client.Verify(ctx); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
	t.Run("Tenant", func(t *testing.T) {
		seed := baseSeed()
		seed.Tenant = "acme"
		e := MustEnv(t, seed, nil)
		if err := e.client.Verify(ctx); err != nil {
			t.Fatalf("with the tenant: %v", err)
		}
		e.client.cfg.Credentials.Tenant = ""
		e.client.token = ""
		if err := e.client.Verify(ctx); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("without the tenant: got %v, want unauthorized", err)
		}
	})
	t.Run("ExpiredTokenRenewed", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		if err := e.client.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		e.sb.HaloPSA.ExpireTokens(testClientID)
		if err := e.client.Verify(ctx); err != nil {
			t.Fatalf("after the token expired: %v", err)
		}
		if n := e.sb.HaloPSA.TokensIssued(testClientID); n != 2 {
			t.Errorf("%d tokens issued, want 2", n)
		}
	})
}

func TestCompanies(t *testing.T) {
	seed := baseSeed()
	seed.Clients = append(seed.Clients, manyClients(230)...)
	e := MustEnv(t, seed, nil)
	types, err := e.client.CompanyTypes(ctx)
	if err != nil || len(types) != 3 || types[0].ID != tlManaged || types[0].Name != "Managed Clients" {
		t.Fatalf("CompanyTypes: %+v %v", types, err)
	}
	for _, tc := range []struct {
		name string
		f    psa.CompanyFilter
		want int     // how many
		has  []int64 // among them
		not  []int64
	}{
		{"All", psa.CompanyFilter{}, 233, []int64{clContoso, clFabrikam, clLabs, 30001, 30230}, []int64{clGone}},
		{"OneType", psa.CompanyFilter{TypeIDs: []int64{tlProspects}}, 1, []int64{clFabrikam}, nil},
		{"TwoTypes", psa.CompanyFilter{TypeIDs: []int64{tlProspects, tlInternal}}, 2, []int64{clFabrikam, clLabs}, nil},
		{"NameContains", psa.CompanyFilter{NameContains: "contoso"}, 2, []int64{clContoso, clLabs}, nil},
		{"NameAndType", psa.CompanyFilter{NameContains: "Contoso", TypeIDs: []int64{tlManaged}}, 1, []int64{clContoso}, nil},
		{"None", psa.CompanyFilter{NameContains: "Northwind"}, 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.client.Companies(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			gotIDs := companyIDs(got)
			if len(got) != tc.want {
				t.Errorf("%d companies, want %d", len(got), tc.want)
			}
			for _, id := range tc.has {
				if !slices.Contains(gotIDs, id) {
					t.Errorf("company %d missing", id)
				}
			}
			for _, id := range tc.not {
				if slices.Contains(gotIDs, id) {
					t.Errorf("company %d listed", id)
				}
			}
			for _, c := range got {
				if !c.Active || len(c.TypeIDs) != 1 {
					t.Errorf("company %+v", c)
				}
			}
		})
	}
	t.Run("Company", func(t *testing.T) {
		co, err := e.client.Company(ctx, clGone)
		if err != nil || co.Active || co.Name != "Gone Corp" || !slices.Equal(co.TypeIDs, []int64{tlManaged}) {
			t.Fatalf("got %+v %v", co, err)
		}
		if _, err := e.client.Company(ctx, 99999); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("missing company: %v", err)
		}
	})
	t.Run("CompaniesByID", func(t *testing.T) {
		got, err := e.client.CompaniesByID(ctx, []int64{clContoso, clGone, 99999, clContoso, 30200})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[clGone].Active || got[30200].Name != "Customer 00199" {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestContracts(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.Contracts(ctx, clContoso)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(contractIDs(got), []int64{ctMain, ctEnded}) {
		t.Fatalf("contracts %v, want %d and %d (not the disabled one)", contractIDs(got), ctMain, ctEnded)
	}
	ct, err := e.client.Contract(ctx, ctMain)
	if err != nil || ct.CompanyID != clContoso || ct.Name != "Managed Services" || !ct.Active || !ct.Recurring ||
		!ct.StartDate.Equal(date(2026, 1, 1)) || !ct.EndDate.IsZero() {
		t.Fatalf("Contract: %+v %v", ct, err)
	}
	if _, err := e.client.Contract(ctx, 777); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing contract: %v", err)
	}
	byID, err := e.client.ContractsByID(ctx, []int64{ctMain, ctDisabled, ctFabrikam, 777, -5})
	if err != nil || len(byID) != 3 || byID[ctDisabled].Active || byID[ctFabrikam].CompanyID != clFabrikam || byID[ctMain].ID != ctMain {
		t.Fatalf("ContractsByID: %+v %v", byID, err)
	}
}

func TestLines(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	got, err := e.client.Lines(ctx, ctMain)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]psa.ServiceLine{
		lnSeats:    {ID: lnSeats, ContractID: ctMain, ServiceID: itM365, Name: "Microsoft 365 seats", UnitPrice: 22, UnitCost: 18.5},
		lnStorage:  {ID: lnStorage, ContractID: ctMain, ServiceID: itStorage, Name: "Storage GB", UnitPrice: 1, UnitCost: 0.5},
		lnInactive: {ID: lnInactive, ContractID: ctMain, ServiceID: itOld, Name: "Old service", Cancelled: true},
		lnFuture:   {ID: lnFuture, ContractID: ctMain, ServiceID: itBackup, Name: "Backup", UnitPrice: 4, UnitCost: 2},
		lnEnded:    {ID: lnEnded, ContractID: ctMain, ServiceID: itBackup, Name: "Backup (old)", UnitPrice: 4, UnitCost: 2, Cancelled: true},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for _, l := range got {
		if l != want[l.ID] {
			t.Errorf("line %d: %+v, want %+v", l.ID, l, want[l.ID])
		}
	}
	if _, err := e.client.Lines(ctx, 777); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing invoice: %v", err)
	}
}

func TestReadLines(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	refs := []psa.LineRef{
		{ContractID: ctMain, LineID: lnSeats}, {ContractID: ctMain, LineID: lnInactive}, {ContractID: ctMain, LineID: lnFuture},
		{ContractID: ctMain, LineID: lnEnded}, {ContractID: ctFabrikam, LineID: lnFabrikam},
		{ContractID: ctMain, LineID: 12345},         // no such line
		{ContractID: 777, LineID: lnSeats},          // no such invoice
		{ContractID: ctFabrikam, LineID: lnStorage}, // a line of another invoice
	}
	got, err := e.client.ReadLines(ctx, refs, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[psa.LineRef]psa.LineState{
		refs[0]: {Ref: refs[0], ServiceID: itM365, Quantity: 10, UnitCost: 18.5, UnitPrice: 22},
		refs[1]: {Ref: refs[1], ServiceID: itOld, Quantity: 1, Cancelled: true},
		refs[2]: {Ref: refs[2], ServiceID: itBackup, Quantity: 5, UnitCost: 2, UnitPrice: 4, Starts: date(2026, 7, 1)},
		refs[3]: {Ref: refs[3], ServiceID: itBackup, Quantity: 5, UnitCost: 2, UnitPrice: 4, Cancelled: true},
		refs[4]: {Ref: refs[4], ServiceID: itM365, Quantity: 4, UnitCost: 18.5, UnitPrice: 22},
	}
	if len(got) != len(want) {
		t.Errorf("%d states, want %d: %+v", len(got), len(want), got)
	}
	for ref, w := range want {
		g, ok := got[ref]
		if !ok || !g.Starts.Equal(w.Starts) || g.Ref != w.Ref || g.Quantity != w.Quantity || g.UnitCost != w.UnitCost ||
			g.UnitPrice != w.UnitPrice || g.Cancelled != w.Cancelled || g.ServiceID != w.ServiceID || g.ContractCancelled || g.ContractEnded || len(g.Later) != 0 {
			t.Errorf("%+v: got %+v, want %+v", ref, g, w)
		}
	}
	t.Run("DisabledAndEndedInvoices", func(t *testing.T) {
		seed := baseSeed()
		seed.RecurringInvoices[1].Lines = []sandbox.HaloInvoiceLine{{ID: 88101, ItemID: itM365, Quantity: 2}}
		seed.RecurringInvoices[3].Lines = []sandbox.HaloInvoiceLine{{ID: 88102, ItemID: itM365, Quantity: 3}}
		e := MustEnv(t, seed, nil)
		a, b := psa.LineRef{ContractID: ctDisabled, LineID: 88101}, psa.LineRef{ContractID: ctEnded, LineID: 88102}
		got, err := e.client.ReadLines(ctx, []psa.LineRef{a, b}, testNow)
		if err != nil || !got[a].ContractCancelled || got[a].ContractEnded || !got[b].ContractEnded || got[b].ContractCancelled {
			t.Fatalf("got %+v %v", got, err)
		}
		// On the invoice's last day it has not ended yet.
		got, _ = e.client.ReadLines(ctx, []psa.LineRef{b}, date(2026, 3, 31).Add(20*time.Hour))
		if got[b].ContractEnded {
			t.Errorf("ended on its last day")
		}
	})
}

// TestContractsWithLines: the contracts are ContractsByID's and the line
// states ReadLines', every line of each invoice read, in as many requests
// as ContractsByID takes (the list pages ask for the lines; a single
// invoice answers with them).
func TestContractsWithLines(t *testing.T) {
	base := []int64{ctMain, ctDisabled, ctFabrikam, ctEnded, 777} // 777: none
	var many []int64                                              // linesSeed's 300
	for i := range int64(300) {
		many = append(many, 50001+i)
	}
	for _, tc := range []struct {
		name     string
		invoices int // linesSeed's, in the instance besides the base seed's 4
		ids      []int64
	}{
		{"Base", 0, base},
		{"AllOfMany", 300, append(slices.Clone(base), many...)},            // every page
		{"FewOfMany", 300, []int64{ctMain, ctFabrikam, 50001, 50299, 777}}, // one page, then by id
		{"One", 0, []int64{ctMain}},                                        // read directly
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := baseSeed()
			linesSeed(&seed, tc.invoices, 2)
			e := MustEnv(t, seed, nil)
			reads := func() int {
				n := e.haloCount("halopsa GET /RecurringInvoice") + e.haloCount("halopsa GET /RecurringInvoice/{id}")
				e.sb.ResetCounts()
				return n
			}
			want, err := e.client.ContractsByID(ctx, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			wantReads := reads()
			got, states, err := e.client.ContractsWithLines(ctx, tc.ids, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if n := reads(); n != wantReads {
				t.Errorf("%d requests, want ContractsByID's %d", n, wantReads)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("contracts %+v, want ContractsByID's %+v", got, want)
			}
			var lines []psa.LineRef
			for _, inv := range seed.RecurringInvoices {
				if _, ok := want[-inv.ID]; ok {
					for _, l := range inv.Lines {
						lines = append(lines, psa.LineRef{ContractID: -inv.ID, LineID: l.ID})
					}
				}
			}
			read, err := e.client.ReadLines(ctx, lines, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) == 0 || !reflect.DeepEqual(states, read) {
				t.Errorf("%d line states, want ReadLines' %d of the invoices read", len(states), len(read))
			}
		})
	}
}

// TestReadLinesFloor: many invoices are read by pages of 100 with their
// lines; a few by id. The floor is min(⌈N/100⌉, n) for n of N invoices;
// the client needs at most one more, the first page that tells N (and
// serves the ids on it).
func TestReadLinesFloor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		invoices  int // in the instance, besides the base seed's 4
		read      int // how many of them ReadLines asks for (spread out)
		wantReads int // GET /RecurringInvoice and /RecurringInvoice/{id}
	}{
		{"All", 300, 300, 4},         // ⌈304/100⌉ pages
		{"Tenth", 300, 30, 4},        // pages still fewer than 30 single reads
		{"Five", 300, 5, 1 + 5},      // one page shows record_count, then by id
		{"SmallInstance", 40, 40, 1}, // one short page
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := baseSeed()
			all := linesSeed(&seed, tc.invoices, 2)
			var refs []psa.LineRef
			step := tc.invoices / tc.read
			for i := 0; i < tc.read; i++ {
				refs = append(refs, all[2*i*step], all[2*i*step+1])
			}
			e := MustEnv(t, seed, nil)
			got, err := e.client.ReadLines(ctx, refs, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(refs) {
				t.Errorf("%d states, want %d", len(got), len(refs))
			}
			reads := e.haloCount("halopsa GET /RecurringInvoice") + e.haloCount("halopsa GET /RecurringInvoice/{id}")
			if reads > tc.wantReads {
				t.Errorf("%d reads, want at most %d", reads, tc.wantReads)
			}
			t.Logf("%d lines on %d invoices: %d requests", len(refs), tc.read, reads)
		})
	}
}

func TestSetLine(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	ref := psa.LineRef{ContractID: ctMain, LineID: lnSeats}
	if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: 12, UnitCost: 18.25, EffectiveDate: testNow}); err != nil {
		t.Fatal(err)
	}
	l, _ := e.sb.HaloPSA.Line(testClientID, lnSeats)
	if l.Quantity != 12 || l.UnitCost != 18.25 || l.UnitPrice != 22 || l.Description != "Microsoft 365 seats" {
		t.Fatalf("line after SetLine: %+v", l)
	}
	w := e.sb.HaloPSA.LineWrites(testClientID)
	if len(w) != 1 || w[0].Route != "POST /RecurringInvoice/updatelines" || w[0].InvoiceID != riMain || w[0].UnitPrice != nil || *w[0].Quantity != 12 {
		t.Fatalf("write log %+v", w)
	}
	for _, tc := range []struct {
		name string
		u    psa.LineUpdate
		want apperr.Code
	}{
		{"ErrGoneLine", psa.LineUpdate{Ref: psa.LineRef{ContractID: ctMain, LineID: 12345}, Quantity: 1}, apperr.NotFound},
		{"ErrOtherInvoice", psa.LineUpdate{Ref: psa.LineRef{ContractID: ctFabrikam, LineID: lnSeats}, Quantity: 1}, apperr.NotFound},
		{"ErrGoneInvoice", psa.LineUpdate{Ref: psa.LineRef{ContractID: 777, LineID: lnSeats}, Quantity: 1}, apperr.NotFound},
		{"ErrNegative", psa.LineUpdate{Ref: ref, Quantity: -1}, apperr.Invalid},
		{"ErrNoContract", psa.LineUpdate{Ref: psa.LineRef{LineID: lnSeats}, Quantity: 1}, apperr.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.client.SetLine(ctx, tc.u); !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("RetriedThroughFaults", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		e.sb.SetFaults(sandbox.Faults{Seed: 3, Rate500: 0.3, Rate429: 0.3, RetryAfter: time.Second})
		for q := int64(1); q <= 8; q++ {
			if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: q, UnitCost: 18}); err != nil && !apperr.Is(err, apperr.Transient) {
				t.Fatalf("quantity %d: %v", q, err)
			}
		}
		e.sb.SetFaults(sandbox.Faults{})
		if err := e.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Quantity: 9, UnitCost: 18}); err != nil {
			t.Fatal(err)
		}
		if l, _ := e.sb.HaloPSA.Line(testClientID, lnSeats); l.Quantity != 9 {
			t.Fatalf("quantity %v, want 9", l.Quantity)
		}
		if len(e.slept) == 0 {
			t.Error("no retry waited")
		}
	})
}

func TestCreateLine(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	l, err := e.client.CreateLine(ctx, ctFabrikam, itStorage, 7, 0.45, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID <= 0 || l.ContractID != ctFabrikam || l.ServiceID != itStorage || l.Name != "Storage GB" || l.UnitPrice != 1 || l.UnitCost != 0.45 {
		t.Fatalf("created %+v", l)
	}
	lines, _ := e.client.Lines(ctx, ctFabrikam)
	if len(lines) != 2 {
		t.Fatalf("%d lines after CreateLine, want 2", len(lines))
	}
	st, _ := e.client.ReadLines(ctx, []psa.LineRef{{ContractID: ctFabrikam, LineID: l.ID}}, testNow)
	if s := st[psa.LineRef{ContractID: ctFabrikam, LineID: l.ID}]; s.Quantity != 7 || s.Cancelled {
		t.Fatalf("state %+v", s)
	}
	for _, tc := range []struct {
		name                string
		contract, item, qty int64
		want                apperr.Code
		words               string
	}{
		{"ErrGoneInvoice", 777, itStorage, 1, apperr.NotFound, ""},
		{"ErrUnknownItem", ctFabrikam, 999, 1, apperr.Rejected, "does not exist"},
		{"ErrInactiveItem", ctFabrikam, itOld, 1, apperr.Rejected, "inactive"},
		{"ErrNegative", ctFabrikam, itStorage, -2, apperr.Invalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreateLine(ctx, tc.contract, tc.item, tc.qty, 1, testNow)
			if !apperr.Is(err, tc.want) || !strings.Contains(strings.Join(apperr.DetailsOf(err), " "), tc.words) {
				t.Fatalf("got %v %v, want %s with %q", err, apperr.DetailsOf(err), tc.want, tc.words)
			}
		})
	}
	t.Run("NotResentAfterLostAnswer", func(t *testing.T) {
		e := MustEnv(t, baseSeed(), nil)
		e.sb.SetFaults(sandbox.Faults{Seed: 1, RateLost: 1})
		if _, err := e.client.CreateLine(ctx, ctFabrikam, itStorage, 1, 1, testNow); !apperr.Is(err, apperr.Transient) {
			t.Fatalf("got %v, want transient", err)
		}
		if n := e.haloCount("halopsa POST /RecurringInvoice/updatelines"); n != 1 {
			t.Fatalf("%d posts, want 1 (a create is not resent)", n)
		}
	})
}

func TestCatalog(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	opts, err := e.client.CatalogOptions(ctx)
	if err != nil || len(opts.ProductTypes) != 2 || opts.ProductTypes[0].ID != grpCloud {
		t.Fatalf("CatalogOptions: %+v %v", opts, err)
	}
	items, err := e.client.CatalogItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]psa.CatalogItem{}
	for _, it := range items {
		byID[it.ID] = it
	}
	if len(items) != 4 || byID[itOld].Active || !byID[itM365].Active || byID[itM365].Period != psa.Monthly || byID[itBackup].Period != psa.Yearly ||
		byID[itM365].UnitPrice != 22 || byID[itM365].UnitCost != 18.5 || byID[itM365].Identifier != "M365-BP" || byID[itM365].ProductTypeID != grpCloud ||
		byID[itOld].UnitPrice != 9 || byID[itOld].Period != "" {
		t.Fatalf("items %+v", byID)
	}
	it, err := e.client.UpsertCatalogItem(ctx, psa.CatalogItem{Identifier: "PSAB-USERS", Name: "Acme Backup - User", Period: psa.Monthly,
		UnitCost: 2.5, UnitPrice: 4, ProductTypeID: grpCloud, Active: true})
	if err != nil || it.ID <= 0 {
		t.Fatalf("create: %+v %v", it, err)
	}
	it.Period, it.UnitPrice, it.Name = psa.Yearly, 40, "Acme Backup - User (yearly)"
	if _, err := e.client.UpsertCatalogItem(ctx, it); err != nil {
		t.Fatalf("update: %v", err)
	}
	items, _ = e.client.CatalogItems(ctx)
	found := false
	for _, got := range items {
		if got.ID == it.ID {
			found = true
			if got != it {
				t.Errorf("after update: %+v, want %+v", got, it)
			}
		}
	}
	if !found {
		t.Fatal("the upserted item is not listed")
	}
	for _, tc := range []struct {
		name string
		mut  func(*psa.CatalogItem)
		want apperr.Code
	}{
		{"ErrNoIdentifier", func(c *psa.CatalogItem) { c.Identifier = " " }, apperr.Invalid},
		{"ErrNoName", func(c *psa.CatalogItem) { c.Name = "" }, apperr.Invalid},
		{"ErrPeriod", func(c *psa.CatalogItem) { c.Period = "weekly" }, apperr.Invalid},
		{"ErrNegativePrice", func(c *psa.CatalogItem) { c.UnitPrice = -1 }, apperr.Invalid},
		{"ErrGoneItem", func(c *psa.CatalogItem) { c.ID = 999 }, apperr.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := psa.CatalogItem{Identifier: "X-1", Name: "X one", Period: psa.Monthly, UnitPrice: 1, UnitCost: 1, Active: true}
			tc.mut(&c)
			if _, err := e.client.UpsertCatalogItem(ctx, c); !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestTicketOptions(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	o, err := e.client.TicketOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closed := 0
	for _, s := range o.Statuses {
		if s.Closed {
			closed++
			if s.ID != stClosed {
				t.Errorf("status %+v marked closed", s)
			}
		}
	}
	if closed != 1 || len(o.Statuses) != len(sandbox.HaloDefaultStatuses) {
		t.Errorf("statuses %+v", o.Statuses)
	}
	if len(o.Priorities) != 2 || o.Priorities[0].ID != prHigh || len(o.IssueTypes) != 2 || o.IssueTypes[0].ID != ttAlert ||
		len(o.Queues) != 2 || o.Queues[1].Name != "Service Desk" || len(o.Resources) != 1 || o.Resources[0].ID != agJo || len(o.Boards) != 0 {
		t.Errorf("options %+v", o)
	}
}

func TestTickets(t *testing.T) {
	e := MustEnv(t, baseSeed(), nil)
	const key = "alert:org-7:seats"
	if _, err := e.client.FindOpenTicket(ctx, clContoso, key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("before creation: %v", err)
	}
	long := strings.Repeat("Seat overage ", 30)
	tk, err := e.client.CreateTicket(ctx, psa.TicketSpec{CompanyID: clContoso, Title: long, Description: "12 seats used, 10 billed",
		ExternalKey: key, StatusID: stNew, PriorityID: prHigh, IssueTypeID: ttAlert, QueueID: teamAlert, ResourceID: agJo, Due: testNow.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.sb.HaloPSA.Ticket(testClientID, tk.ID)
	if tk.CompanyID != clContoso || tk.ExternalKey != key || tk.StatusID != stNew || len([]rune(tk.Title)) != psa.HaloPSA.TitleLimit() ||
		stored.Team != "Alerts" || stored.AgentID != agJo || stored.TicketTypeID != ttAlert || stored.PriorityID != prHigh ||
		stored.Refs["third_party_id_string"] != key || !stored.DeadlineDate.Equal(testNow.Add(24*time.Hour)) {
		t.Fatalf("ticket %+v stored %+v", tk, stored)
	}
	found, err := e.client.FindOpenTicket(ctx, clContoso, key)
	if err != nil || found.ID != tk.ID {
		t.Fatalf("FindOpenTicket: %+v %v", found, err)
	}
	if _, err := e.client.FindOpenTicket(ctx, clFabrikam, key); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another client's key found: %v", err)
	}
	if _, err := e.client.FindOpenTicket(ctx, clContoso, key[:10]); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a prefix of the key found: %v", err)
	}
	if has, err := e.client.HasNote(ctx, tk.ID, "run-4f2a"); err != nil || has {
		t.Fatalf("HasNote before: %v %v", has, err)
	}
	if err := e.client.AddNote(ctx, tk.ID, psa.Note{Title: "Update", Text: "still over [run-4f2a]"}); err != nil {
		t.Fatal(err)
	}
	acts := e.sb.HaloPSA.Actions(testClientID)
	last := acts[len(acts)-1]
	if last.TicketID != tk.ID || !last.HiddenFromUser || last.Outcome != "Private Note" || last.Note != "Update\n\nstill over [run-4f2a]" {
		t.Fatalf("action %+v", last)
	}
	if has, err := e.client.HasNote(ctx, tk.ID, "run-4f2a"); err != nil || !has {
		t.Fatalf("HasNote after: %v %v", has, err)
	}
	if _, err := e.client.HasNote(ctx, 999999, "run-4f2a"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("HasNote on a gone ticket: %v", err)
	}
	for range 2 { // idempotent
		if err := e.client.CloseTicket(ctx, tk.ID, stClosed); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := e.sb.HaloPSA.Ticket(testClientID, tk.ID); st.StatusID != stClosed || !st.Closed {
		t.Fatalf("after close: %+v", st)
	}
	if _, err := e.client.FindOpenTicket(ctx, clContoso, key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("closed ticket found: %v", err)
	}
	for _, tc := range []struct {
		name string
		s    psa.TicketSpec
		want apperr.Code
	}{
		{"ErrNoTitle", psa.TicketSpec{CompanyID: clContoso}, apperr.Invalid},
		{"ErrLongKey", psa.TicketSpec{CompanyID: clContoso, Title: "x", ExternalKey: strings.Repeat("k", 256)}, apperr.Invalid},
		{"ErrUnknownTeam", psa.TicketSpec{CompanyID: clContoso, Title: "x", QueueID: 9999}, apperr.Invalid},
		{"ErrUnknownClient", psa.TicketSpec{CompanyID: 99999, Title: "x"}, apperr.Rejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.client.CreateTicket(ctx, tc.s); !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	if err := e.client.AddNote(ctx, tk.ID, psa.Note{}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("empty note: %v", err)
	}
	if err := e.client.CloseTicket(ctx, 999999, stClosed); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("closing a gone ticket: %v", err)
	}
}

// TestFanOutBound: reads by id go out in parallel, never more than
// maxParallel at a time (Halo sets no limit; the client bounds itself).
func TestFanOutBound(t *testing.T) {
	seed := baseSeed()
	linesSeed(&seed, 1000, 1)
	e := MustEnv(t, seed, nil)
	e.sb.HaloPSA.SetLatency(20 * time.Millisecond) // so the reads overlap
	// Eight invoices on the last page: eight single reads beat nine pages.
	var want []int64
	for i := range 8 {
		want = append(want, int64(50001+i))
	}
	got, err := e.client.ContractsByID(ctx, want)
	if err != nil || len(got) != 8 {
		t.Fatalf("got %d contracts, %v", len(got), err)
	}
	if n := e.haloCount("halopsa GET /RecurringInvoice/{id}"); n != 8 {
		t.Fatalf("%d single reads, want 8", n)
	}
	if m := e.sb.HaloPSA.MaxInFlight(); m > maxParallel || m < 2 {
		t.Errorf("%d requests in flight at most, want 2 to %d", m, maxParallel)
	}
}
