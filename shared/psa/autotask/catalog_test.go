package autotask

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// Catalog picklist ids deliberately unlike the usual ones, so a client that
// hard-codes them fails.
const (
	periodMonthly = 29
	periodYearly  = 31
	useRecurring  = 77
	codeSeats     = 29684001 // a recurring contract service code
	codeLabour    = 29684002 // a work type: not for services
	codeOld       = 29684003 // inactive
	svcForeign    = 960      // an MSP's own service
)

// catalogSeed adds billing codes, the catalog picklists and one service
// that psabridge did not create.
func catalogSeed(seed sandbox.AutotaskSeed) sandbox.AutotaskSeed {
	seed.Picklists = append(seed.Picklists,
		sandbox.AutotaskPicklist{Entity: "Services", Field: "periodType", Values: []sandbox.AutotaskPicklistValue{
			{Value: periodMonthly, Label: "Monthly", IsDefault: true}, {Value: 30, Label: "Quarterly"}, {Value: periodYearly, Label: "Yearly"}}},
		sandbox.AutotaskPicklist{Entity: "BillingCodes", Field: "useType", Values: []sandbox.AutotaskPicklistValue{
			{Value: 75, Label: "Work Type"}, {Value: useRecurring, Label: "Recurring Contract Service"}}})
	seed.BillingCodes = []sandbox.AutotaskBillingCode{{ID: codeSeats, Name: "Managed seats", UseType: useRecurring},
		{ID: codeLabour, Name: "Remote labour", UseType: 75}, {ID: codeOld, Name: "Old seats", UseType: useRecurring, Inactive: true}}
	seed.Services = append(seed.Services, sandbox.AutotaskService{ID: svcForeign, Name: "Cloud Backup per User", UnitPrice: 6, UnitCost: 3,
		PeriodType: periodMonthly, BillingCodeID: codeSeats})
	return seed
}

func TestCatalogOptions(t *testing.T) {
	f := MustFixture(t, catalogSeed(baseSeed()), time.Second)
	o, err := f.client.CatalogOptions(context.Background())
	MustNoErr(t, "CatalogOptions", err)
	if want := []psa.Option{{ID: codeSeats, Name: "Managed seats"}}; !slices.Equal(o.BillingCodes, want) {
		t.Fatalf("got %+v, want %+v (active recurring-service codes only)", o.BillingCodes, want)
	}
	t.Run("NoRecurringUseType", func(t *testing.T) {
		seed := catalogSeed(baseSeed())
		seed.Picklists[len(seed.Picklists)-1].Values = []sandbox.AutotaskPicklistValue{{Value: 75, Label: "Work Type"}, {Value: useRecurring, Label: "Services"}}
		f := MustFixture(t, seed, time.Second)
		o, err := f.client.CatalogOptions(context.Background())
		MustNoErr(t, "CatalogOptions", err)
		if got := len(o.BillingCodes); got != 2 {
			t.Fatalf("got %d codes, want the 2 active ones", got)
		}
	})
}

func TestCatalogItems(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t, catalogSeed(baseSeed()), time.Second)
	c := f.client
	want := psa.CatalogItem{Identifier: "users", Name: "Acme Backup – User", Period: psa.Monthly, UnitCost: 2.5, UnitPrice: 4, BillingCodeID: codeSeats, Active: true}
	created, err := c.UpsertCatalogItem(ctx, want)
	MustNoErr(t, "create", err)
	if created.ID == 0 {
		t.Fatalf("got no id for the created service")
	}
	want.ID = created.ID
	items, err := c.CatalogItems(ctx)
	MustNoErr(t, "CatalogItems", err)
	i := slices.IndexFunc(items, func(it psa.CatalogItem) bool { return it.ID == created.ID })
	if i < 0 || items[i] != want {
		t.Fatalf("got %+v, want %+v among %+v", items[i], want, items)
	}
	st := f.sb.Autotask.Services(testUser)
	got := st[slices.IndexFunc(st, func(s sandbox.AutotaskServiceState) bool { return s.ID == created.ID })]
	if got.PeriodType != periodMonthly || got.InvoiceDescription != want.Name || got.Description != "users" {
		t.Fatalf("stored %+v, want period %d, invoice description %q and the key in the description", got, periodMonthly, want.Name)
	}
	if !slices.ContainsFunc(items, func(it psa.CatalogItem) bool { return it.ID == svcForeign && it.Identifier == "" }) {
		t.Fatalf("the MSP's own service is missing or has an identifier: %+v", items)
	}

	t.Run("Update", func(t *testing.T) {
		upd := want
		upd.Name, upd.Period, upd.UnitPrice = "Acme Backup – User (annual)", psa.Yearly, 40
		_, err := c.UpsertCatalogItem(ctx, upd)
		MustNoErr(t, "update", err)
		items, err := c.CatalogItems(ctx)
		MustNoErr(t, "CatalogItems", err)
		if i := slices.IndexFunc(items, func(it psa.CatalogItem) bool { return it.ID == upd.ID }); items[i] != upd {
			t.Fatalf("got %+v, want %+v", items[i], upd)
		}
		if got := f.sb.Counts()["autotask PATCH Services"]; got != 1 {
			t.Fatalf("got %d PATCH Services, want 1", got)
		}
	})
	t.Run("ErrDuplicateNameRejectedVerbatim", func(t *testing.T) {
		dup := psa.CatalogItem{Identifier: "storage_gb", Name: "cloud backup per user", Period: psa.Monthly, BillingCodeID: codeSeats, Active: true}
		_, err := c.UpsertCatalogItem(ctx, dup)
		if !apperr.Is(err, apperr.Rejected) || !slices.ContainsFunc(apperr.DetailsOf(err), func(s string) bool { return strings.Contains(s, "must be unique") }) {
			t.Fatalf("got %v (%v), want rejected with Autotask's text", err, apperr.DetailsOf(err))
		}
	})
	for name, it := range map[string]psa.CatalogItem{
		"ErrNoBillingCode": {Name: "X", Period: psa.Monthly},
		"ErrNoName":        {Period: psa.Monthly, BillingCodeID: codeSeats},
		"ErrQuarterly":     {Name: "X", Period: "quarterly", BillingCodeID: codeSeats},
		"ErrNegativeCost":  {Name: "X", Period: psa.Monthly, BillingCodeID: codeSeats, UnitCost: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.UpsertCatalogItem(ctx, it); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
	t.Run("ErrInactiveBillingCode", func(t *testing.T) {
		_, err := c.UpsertCatalogItem(ctx, psa.CatalogItem{Name: "Old seats", Period: psa.Monthly, BillingCodeID: codeOld})
		if !apperr.Is(err, apperr.Rejected) {
			t.Fatalf("got %v, want rejected", err)
		}
	})
}
