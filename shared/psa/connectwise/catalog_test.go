package connectwise

import (
	"slices"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// Catalog lookups and an MSP's own product, with ids unlike the usual ones.
const (
	ptService   = 731
	ptHardware  = 732
	subCloud    = 741
	subBackup   = 742
	itemForeign = 751
)

// catalogSeed adds product types, subcategories and one catalog item that
// psabridge did not create.
func catalogSeed(seed sandbox.ConnectWiseSeed) sandbox.ConnectWiseSeed {
	seed.ProductTypes = []sandbox.CWOption{{ID: ptService, Name: "Service"}, {ID: ptHardware, Name: "Hardware"}}
	seed.Subcategories = []sandbox.CWOption{{ID: subCloud, Name: "Cloud"}, {ID: subBackup, Name: "Backup"}}
	seed.CatalogItems = []sandbox.CWCatalogItem{{ID: itemForeign, Identifier: "BKP-USER", Description: "Cloud Backup per User",
		CustomerDescription: "Cloud Backup per User", TypeID: ptService, SubcategoryID: subBackup, Price: 6, Cost: 3, BillCycleID: 3}}
	return seed
}

func TestCatalogOptions(t *testing.T) {
	e := MustEnv(t, catalogSeed(baseSeed()), nil)
	o, err := e.client.CatalogOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []psa.Option{{ID: ptService, Name: "Service"}, {ID: ptHardware, Name: "Hardware"}}; !slices.Equal(o.ProductTypes, want) {
		t.Fatalf("types: got %+v, want %+v", o.ProductTypes, want)
	}
	if want := []psa.Option{{ID: subCloud, Name: "Cloud"}, {ID: subBackup, Name: "Backup"}}; !slices.Equal(o.Subcategories, want) {
		t.Fatalf("subcategories: got %+v, want %+v", o.Subcategories, want)
	}
}

func TestCatalogItems(t *testing.T) {
	e := MustEnv(t, catalogSeed(baseSeed()), nil)
	c := e.client
	want := psa.CatalogItem{Identifier: "PSAB-USERS", Name: "Acme Backup – User", Period: psa.Monthly, UnitCost: 2.5, UnitPrice: 4,
		ProductTypeID: ptService, SubcategoryID: subCloud, Active: true}
	created, err := c.UpsertCatalogItem(ctx, want)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.ID == 0 {
		t.Fatalf("got no id for the created item")
	}
	want.ID = created.ID
	items, err := c.CatalogItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	foreign := psa.CatalogItem{ID: itemForeign, Identifier: "BKP-USER", Name: "Cloud Backup per User", Period: psa.Monthly, UnitCost: 3, UnitPrice: 6,
		ProductTypeID: ptService, SubcategoryID: subBackup, Active: true}
	if wantAll := []psa.CatalogItem{foreign, want}; !slices.Equal(items, wantAll) {
		t.Fatalf("got %+v, want %+v", items, wantAll)
	}
	st := e.sb.ConnectWise.CatalogItems(testCompany)
	if got := st[len(st)-1]; got.CustomerDescription != want.Name || !got.RecurringFlag || got.RecurringRevenue != 4 || got.RecurringCost != 2.5 {
		t.Fatalf("stored %+v, want the name as customer description and recurring revenue 4, cost 2.5", got)
	}

	t.Run("Update", func(t *testing.T) {
		upd := want
		upd.Name, upd.Period, upd.UnitPrice, upd.SubcategoryID = "Acme Backup – User (annual)", psa.Yearly, 40, subBackup
		if _, err := c.UpsertCatalogItem(ctx, upd); err != nil {
			t.Fatalf("update: %v", err)
		}
		items, err := c.CatalogItems(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := items[len(items)-1]; got != upd {
			t.Fatalf("got %+v, want %+v", got, upd)
		}
		if p := e.sb.ConnectWise.Patches(testCompany); len(p) != 1 || p[0].Resource != "catalog" {
			t.Fatalf("got patches %+v, want one catalog patch", p)
		}
	})
	t.Run("ErrIdentifierInUseRejectedVerbatim", func(t *testing.T) {
		dup := want
		dup.ID, dup.Identifier, dup.Name = 0, "bkp-user", "Another name"
		_, err := c.UpsertCatalogItem(ctx, dup)
		if !apperr.Is(err, apperr.Rejected) || !slices.ContainsFunc(apperr.DetailsOf(err), func(s string) bool { return strings.Contains(s, "already in use") }) {
			t.Fatalf("got %v (%v), want rejected with ConnectWise's text", err, apperr.DetailsOf(err))
		}
	})
	for name, it := range map[string]psa.CatalogItem{
		"ErrNoIdentifier":   {Name: "X", Period: psa.Monthly, ProductTypeID: ptService, SubcategoryID: subCloud},
		"ErrLongName":       {Identifier: "X", Name: strings.Repeat("n", 61), Period: psa.Monthly, ProductTypeID: ptService, SubcategoryID: subCloud},
		"ErrNoType":         {Identifier: "X", Name: "X", Period: psa.Monthly, SubcategoryID: subCloud},
		"ErrNoSubcategory":  {Identifier: "X", Name: "X", Period: psa.Monthly, ProductTypeID: ptService},
		"ErrNoPeriod":       {Identifier: "X", Name: "X", ProductTypeID: ptService, SubcategoryID: subCloud},
		"ErrNegativePrice":  {Identifier: "X", Name: "X", Period: psa.Monthly, ProductTypeID: ptService, SubcategoryID: subCloud, UnitPrice: -1},
		"ErrLongIdentifier": {Identifier: strings.Repeat("i", 76), Name: "X", Period: psa.Monthly, ProductTypeID: ptService, SubcategoryID: subCloud},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.UpsertCatalogItem(ctx, it); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
	t.Run("ErrUnknownTypeRejected", func(t *testing.T) {
		_, err := c.UpsertCatalogItem(ctx, psa.CatalogItem{Identifier: "NEW", Name: "New", Period: psa.Monthly, ProductTypeID: 9, SubcategoryID: subCloud})
		if !apperr.Is(err, apperr.Rejected) {
			t.Fatalf("got %v, want rejected", err)
		}
	})
}
