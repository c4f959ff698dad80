package billing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// users is a catalog product as an admin enters it for Autotask.
func users() billing.CatalogProduct {
	return billing.CatalogProduct{Key: "users", Name: "Acme Backup – User", Period: psa.Monthly, UnitCost: 2.5, UnitPrice: 4, BillingCodeID: 7}
}

// pushedAs returns p as pushed to item id.
func pushedAs(p billing.CatalogProduct, id int64) billing.CatalogProduct {
	p.Push = billing.PushStatus{State: billing.Pushed, ItemID: id}
	return p
}

// itemOf returns the PSA item p would be with id.
func itemOf(p billing.CatalogProduct, id int64) psa.CatalogItem {
	it := p.Item()
	it.ID = id
	return it
}

var foreign = psa.CatalogItem{ID: 90, Identifier: "BKP", Name: "Cloud Backup per User", Period: psa.Monthly, UnitCost: 3, UnitPrice: 6, BillingCodeID: 7, Active: true}

func TestPlanCatalogPush(t *testing.T) {
	renamed := itemOf(users(), 100)
	renamed.Name = "Backup seat (renamed by a human)"
	cheaper := itemOf(users(), 100)
	cheaper.UnitPrice = 3.5
	inactive := itemOf(users(), 100)
	inactive.Active = false
	quarterly := itemOf(users(), 100)
	quarterly.Period = ""
	nameTaken := foreign
	nameTaken.Name = " acme backup –  USER "
	identTaken := foreign
	identTaken.Identifier = "USERS"
	sameAsUsers := itemOf(users(), 55)
	for _, tc := range []struct {
		name        string
		product     billing.CatalogProduct
		items       []psa.CatalogItem
		want        billing.CatalogAction
		wantID      int64 // of the step's item
		wantChanges []string
		wantHolder  int64
	}{
		{"CreateWhenEmpty", users(), nil, billing.CatalogCreate, 0, nil, 0},
		{"CreateBesideForeign", users(), []psa.CatalogItem{foreign}, billing.CatalogCreate, 0, nil, 0},
		{"UnchangedByRecordedID", pushedAs(users(), 100), []psa.CatalogItem{foreign, itemOf(users(), 100)}, billing.CatalogUnchanged, 100, nil, 0},
		{"UpdatePrice", pushedAs(users(), 100), []psa.CatalogItem{cheaper}, billing.CatalogUpdate, 100, []string{"unitPrice"}, 0},
		{"RestoreNameChangedInPSA", pushedAs(users(), 100), []psa.CatalogItem{renamed}, billing.CatalogUpdate, 100, []string{"name"}, 0},
		{"ReactivateInactive", pushedAs(users(), 100), []psa.CatalogItem{inactive}, billing.CatalogUpdate, 100, []string{"active"}, 0},
		{"PeriodNotPushedIsChanged", pushedAs(users(), 100), []psa.CatalogItem{quarterly}, billing.CatalogUpdate, 100, []string{"period"}, 0},
		{"AdoptAfterLostRecord", users(), []psa.CatalogItem{itemOf(users(), 55)}, billing.CatalogUnchanged, 55, nil, 0},
		{"RecordedItemGoneRecreates", pushedAs(users(), 999), []psa.CatalogItem{foreign}, billing.CatalogCreate, 0, nil, 0},
		{"RecordedItemGoneAdoptsTwin", pushedAs(users(), 999), []psa.CatalogItem{sameAsUsers}, billing.CatalogUnchanged, 55, nil, 0},
		{"ClashNameHeldByForeign", users(), []psa.CatalogItem{nameTaken}, billing.CatalogClash, 0, nil, 90},
		{"ClashIdentifierHeldByForeign", users(), []psa.CatalogItem{identTaken}, billing.CatalogClash, 0, nil, 90},
		{"ClashRestoringNameNowForeign", pushedAs(users(), 100), []psa.CatalogItem{renamed, nameTaken}, billing.CatalogClash, 100, nil, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := billing.PlanCatalogPush([]billing.CatalogProduct{tc.product}, tc.items)
			if len(steps) != 1 {
				t.Fatalf("got %d steps, want 1", len(steps))
			}
			s := steps[0]
			if s.Action != tc.want || s.Item.ID != tc.wantID || !slices.Equal(s.Changes, tc.wantChanges) {
				t.Fatalf("got %s of item %d changing %v, want %s of item %d changing %v", s.Action, s.Item.ID, s.Changes, tc.want, tc.wantID, tc.wantChanges)
			}
			if tc.wantHolder != 0 && (s.Holder == nil || s.Holder.ID != tc.wantHolder || !strings.Contains(s.Message, "did not create")) {
				t.Fatalf("got holder %+v, message %q, want item %d named", s.Holder, s.Message, tc.wantHolder)
			}
		})
	}
}

// fakeCatalog applies upserts the way a PSA does.
type fakeCatalog struct {
	items  []psa.CatalogItem
	writes int
}

func (f *fakeCatalog) upsert(it psa.CatalogItem) psa.CatalogItem {
	f.writes++
	if it.ID == 0 {
		it.ID = int64(1000 + len(f.items))
		f.items = append(f.items, it)
		return it
	}
	i := slices.IndexFunc(f.items, func(x psa.CatalogItem) bool { return x.ID == it.ID })
	f.items[i] = it
	return it
}

// push plans, applies and records, as the push route will.
func push(f *fakeCatalog, c *billing.Catalog, now time.Time) []billing.CatalogStep {
	steps := billing.PlanCatalogPush(c.Products, f.items)
	for i, s := range steps {
		var res psa.CatalogItem
		if s.Action == billing.CatalogCreate || s.Action == billing.CatalogUpdate {
			res = f.upsert(s.Item)
		}
		c.Products[i].RecordPush(s, res, nil, now)
	}
	return steps
}

func TestCatalogPushTwiceChangesNothing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	storage := billing.CatalogProduct{Key: "storage_gb", Name: "Acme Backup – GB", Period: psa.Monthly, UnitCost: 0.02, UnitPrice: 0.05, BillingCodeID: 7}
	clashing := billing.CatalogProduct{Key: "devices", Name: "cloud backup per user", Period: psa.Yearly, UnitPrice: 30, BillingCodeID: 7}
	c := &billing.Catalog{Products: []billing.CatalogProduct{users(), storage, clashing}}
	if err := c.Validate(psa.Autotask); err != nil {
		t.Fatal(err)
	}
	f := &fakeCatalog{items: []psa.CatalogItem{foreign}}
	first := push(f, c, now)
	if got := []billing.CatalogAction{first[0].Action, first[1].Action, first[2].Action}; !slices.Equal(got, []billing.CatalogAction{billing.CatalogCreate, billing.CatalogCreate, billing.CatalogClash}) {
		t.Fatalf("first push: got %v, want create, create, clash", got)
	}
	if st := c.Products[2].Push; st.State != billing.PushError || !strings.Contains(st.Message, "did not create") {
		t.Fatalf("clash status: got %+v, want an error naming the holder", st)
	}
	if f.items[0] != foreign {
		t.Fatalf("the foreign item was changed: %+v", f.items[0])
	}
	writes := f.writes
	second := push(f, c, now.Add(time.Hour))
	for i, s := range second[:2] {
		if s.Action != billing.CatalogUnchanged {
			t.Fatalf("second push of %s: got %s, want unchanged", c.Products[i].Key, s.Action)
		}
		if c.Products[i].Push.State != billing.Pushed || c.Products[i].Push.ItemID == 0 {
			t.Fatalf("status of %s: got %+v, want pushed with an item id", c.Products[i].Key, c.Products[i].Push)
		}
	}
	if f.writes != writes {
		t.Fatalf("second push wrote %d times, want 0", f.writes-writes)
	}
}

func TestRecordPushError(t *testing.T) {
	p := pushedAs(users(), 100)
	cur := itemOf(users(), 100)
	step := billing.CatalogStep{Product: "users", Action: billing.CatalogUpdate, Current: &cur, Item: cur}
	err := &apperr.Error{Code: apperr.Rejected, Message: "Autotask rejected the request", Details: []string{"billing code inactive"}}
	p.RecordPush(step, psa.CatalogItem{}, err, time.Unix(0, 0))
	if p.Push.State != billing.PushError || p.Push.ItemID != 100 || !slices.Equal(p.Push.Details, []string{"billing code inactive"}) {
		t.Fatalf("got %+v, want an error keeping item 100 and the PSA's words", p.Push)
	}
}

func TestCatalogValidate(t *testing.T) {
	with := func(f func(*billing.CatalogProduct)) []billing.CatalogProduct {
		p := users()
		f(&p)
		return []billing.CatalogProduct{p}
	}
	cw := func(p *billing.CatalogProduct) { p.ProductTypeID, p.SubcategoryID = 3, 4 }
	for _, tc := range []struct {
		name     string
		provider psa.Provider
		products []billing.CatalogProduct
		ok       bool
	}{
		{"OK", psa.Autotask, with(func(*billing.CatalogProduct) {}), true},
		{"OKConnectWise", psa.ConnectWise, with(cw), true},
		{"OKNoPSAYet", "", with(func(p *billing.CatalogProduct) { p.BillingCodeID = 0 }), true},
		{"OKHaloPSAWithoutItemGroup", psa.HaloPSA, with(func(p *billing.CatalogProduct) { p.BillingCodeID = 0 }), true},
		{"OKHaloPSAItemGroup", psa.HaloPSA, with(func(p *billing.CatalogProduct) { p.BillingCodeID, p.ProductTypeID = 0, 12 }), true},
		{"ErrHaloPSALongName", psa.HaloPSA, with(func(p *billing.CatalogProduct) { p.Name = strings.Repeat("x", 61) }), false},
		{"ErrBadKey", psa.Autotask, with(func(p *billing.CatalogProduct) { p.Key = "Users!" }), false},
		{"ErrNoName", psa.Autotask, with(func(p *billing.CatalogProduct) { p.Name = "  " }), false},
		{"ErrLongName", psa.Autotask, with(func(p *billing.CatalogProduct) { p.Name = strings.Repeat("x", 61) }), false},
		{"ErrQuarterly", psa.Autotask, with(func(p *billing.CatalogProduct) { p.Period = "quarterly" }), false},
		{"ErrNegativePrice", psa.Autotask, with(func(p *billing.CatalogProduct) { p.UnitPrice = -1 }), false},
		{"ErrAutotaskNoBillingCode", psa.Autotask, with(func(p *billing.CatalogProduct) { p.BillingCodeID = 0 }), false},
		{"ErrConnectWiseNoType", psa.ConnectWise, with(func(p *billing.CatalogProduct) { p.SubcategoryID = 4 }), false},
		{"ErrDuplicateKey", psa.Autotask, append(with(func(*billing.CatalogProduct) {}), with(func(p *billing.CatalogProduct) { p.Name = "Other" })...), false},
		{"ErrDuplicateNameIgnoringCase", psa.Autotask, append(with(func(*billing.CatalogProduct) {}), with(func(p *billing.CatalogProduct) {
			p.Key, p.Name = "storage_gb", " ACME backup – user"
		})...), false},
		{"ErrDuplicateIdentifier", psa.Autotask, append(with(func(*billing.CatalogProduct) {}), with(func(p *billing.CatalogProduct) {
			p.Key, p.Name, p.Identifier = "storage_gb", "Other", "USERS"
		})...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := billing.Catalog{Products: tc.products}
			err := c.Validate(tc.provider)
			if tc.ok && err != nil || !tc.ok && !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && c.Products[0].Push.State != billing.NotPushed {
				t.Fatalf("got push state %q, want not_pushed", c.Products[0].Push.State)
			}
		})
	}
}

func TestCatalogServiceIDs(t *testing.T) {
	c := billing.Catalog{Products: []billing.CatalogProduct{pushedAs(users(), 100), {Key: "storage_gb", Push: billing.PushStatus{State: billing.PushError}}}}
	if got := c.ServiceIDs(); len(got) != 1 || got["users"] != 100 {
		t.Fatalf("got %v, want users → 100 only", got)
	}
}
