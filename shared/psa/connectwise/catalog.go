package connectwise

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// CatalogItem limits (the schema's "Max length").
const (
	maxIdentifier  = 75
	maxDescription = 60
)

// Billing cycle names of the periods psabridge pushes. A catalog item's
// recurringBillCycle is sent as a reference by name: ConnectWise resolves
// references by id or name, and cycle ids differ per company. That it
// accepts a name here is unverified; the cycle is only the product's
// default, an agreement addition bills on its agreement's cycle.
var billCycles = map[psa.CatalogPeriod]string{psa.Monthly: "Monthly", psa.Yearly: "Annual"}

// catalogRow is the part of CatalogItem the catalog reads. The fields=
// list keeps the schema's required properties.
type catalogRow struct {
	ID                 int64     `json:"id"`
	Identifier         string    `json:"identifier"`
	Description        string    `json:"description"`
	InactiveFlag       bool      `json:"inactiveFlag"`
	Type               reference `json:"type"`
	Subcategory        reference `json:"subcategory"`
	Price              float64   `json:"price"`
	Cost               float64   `json:"cost"`
	RecurringBillCycle reference `json:"recurringBillCycle"`
}

const catalogFields = "id,identifier,description,customerDescription,inactiveFlag,type,subcategory,price,cost,recurringBillCycle"

func periodOf(cycle string) psa.CatalogPeriod {
	switch strings.ToLower(strings.TrimSpace(cycle)) {
	case "monthly":
		return psa.Monthly
	case "annual", "annually", "yearly":
		return psa.Yearly
	}
	return ""
}

// CatalogItems lists every procurement catalog item, active or not, all
// pages.
func (c *Client) CatalogItems(ctx context.Context) ([]psa.CatalogItem, error) {
	rows, err := getAll[catalogRow](ctx, c, "procurement/catalog", url.Values{"fields": {catalogFields}})
	if err != nil {
		return nil, err
	}
	out := make([]psa.CatalogItem, 0, len(rows))
	for _, r := range rows {
		out = append(out, psa.CatalogItem{ID: r.ID, Identifier: r.Identifier, Name: r.Description, Period: periodOf(r.RecurringBillCycle.Name),
			UnitCost: r.Cost, UnitPrice: r.Price, ProductTypeID: r.Type.ID, SubcategoryID: r.Subcategory.ID, Active: !r.InactiveFlag})
	}
	return out, nil
}

// catalogCreate is the POST /procurement/catalog body.
type catalogCreate struct {
	Identifier          string    `json:"identifier"`
	Description         string    `json:"description"`
	CustomerDescription string    `json:"customerDescription"`
	Type                idRef     `json:"type"`
	Subcategory         idRef     `json:"subcategory"`
	Price               float64   `json:"price"`
	Cost                float64   `json:"cost"`
	RecurringFlag       bool      `json:"recurringFlag"`
	RecurringRevenue    float64   `json:"recurringRevenue"`
	RecurringCost       float64   `json:"recurringCost"`
	RecurringBillCycle  reference `json:"recurringBillCycle"`
	InactiveFlag        bool      `json:"inactiveFlag"`
}

// UpsertCatalogItem creates the catalog item (it.ID == 0: POST
// /procurement/catalog) or replaces its pushed fields with a JSON Patch of
// whole values (PATCH /procurement/catalog/{id}), and returns it with its
// id. The name is the description and the customer description; price and
// cost are set both as the item's and as its recurring revenue and cost.
// A create is not resent after an ambiguous failure: read CatalogItems and
// match the identifier before trying again. Invalid without an identifier
// (≤ 75), a name (≤ 60), a period, a product type and a subcategory;
// Rejected with ConnectWise's words otherwise (an identifier in use).
func (c *Client) UpsertCatalogItem(ctx context.Context, it psa.CatalogItem) (psa.CatalogItem, error) {
	switch {
	case strings.TrimSpace(it.Identifier) == "" || utf8.RuneCountInString(it.Identifier) > maxIdentifier:
		return it, apperr.New(apperr.Invalid, "a ConnectWise product identifier must be 1 to %d characters", maxIdentifier)
	case strings.TrimSpace(it.Name) == "" || utf8.RuneCountInString(it.Name) > maxDescription:
		return it, apperr.New(apperr.Invalid, "a ConnectWise product name must be 1 to %d characters", maxDescription)
	case !it.Period.Valid():
		return it, apperr.New(apperr.Invalid, "the period must be monthly or yearly")
	case it.ProductTypeID == 0 || it.SubcategoryID == 0:
		return it, apperr.New(apperr.Invalid, "a ConnectWise product needs a product type and a subcategory")
	case !(it.UnitCost >= 0) || !(it.UnitPrice >= 0) || math.IsInf(it.UnitCost, 0) || math.IsInf(it.UnitPrice, 0):
		return it, apperr.New(apperr.Invalid, "unit cost and unit price must be non-negative numbers")
	}
	cycle := reference{Name: billCycles[it.Period]}
	if it.ID == 0 {
		body := catalogCreate{Identifier: it.Identifier, Description: it.Name, CustomerDescription: it.Name,
			Type: idRef{ID: it.ProductTypeID}, Subcategory: idRef{ID: it.SubcategoryID}, Price: it.UnitPrice, Cost: it.UnitCost,
			RecurringFlag: true, RecurringRevenue: it.UnitPrice, RecurringCost: it.UnitCost, RecurringBillCycle: cycle, InactiveFlag: !it.Active}
		var r catalogRow
		if _, err := c.call(ctx, http.MethodPost, "procurement/catalog", nil, body, false, &r); err != nil {
			return it, err
		}
		it.ID = r.ID
		return it, nil
	}
	ops := []patchOp{
		{Op: "replace", Path: "identifier", Value: it.Identifier},
		{Op: "replace", Path: "description", Value: it.Name},
		{Op: "replace", Path: "customerDescription", Value: it.Name},
		{Op: "replace", Path: "type", Value: idRef{ID: it.ProductTypeID}},
		{Op: "replace", Path: "subcategory", Value: idRef{ID: it.SubcategoryID}},
		{Op: "replace", Path: "price", Value: it.UnitPrice},
		{Op: "replace", Path: "cost", Value: it.UnitCost},
		{Op: "replace", Path: "recurringFlag", Value: true},
		{Op: "replace", Path: "recurringRevenue", Value: it.UnitPrice},
		{Op: "replace", Path: "recurringCost", Value: it.UnitCost},
		{Op: "replace", Path: "recurringBillCycle", Value: cycle},
		{Op: "replace", Path: "inactiveFlag", Value: !it.Active},
	}
	if _, err := c.call(ctx, http.MethodPatch, "procurement/catalog/"+strconv.FormatInt(it.ID, 10), nil, ops, true, nil); err != nil {
		return it, err
	}
	return it, nil
}

// CatalogOptions lists the active product types and subcategories a
// catalog item may reference (GET /procurement/types and
// /procurement/subcategories; neither is in the vendor files in specs/).
func (c *Client) CatalogOptions(ctx context.Context) (psa.CatalogOptions, error) {
	var o psa.CatalogOptions
	for _, l := range []struct {
		path string
		dst  *[]psa.Option
	}{{"procurement/types", &o.ProductTypes}, {"procurement/subcategories", &o.Subcategories}} {
		rows, err := getAll[lookup](ctx, c, l.path, url.Values{"conditions": {"inactiveFlag=false"}})
		if err != nil {
			return o, err
		}
		*l.dst = []psa.Option{}
		for _, r := range rows {
			*l.dst = append(*l.dst, r.option(0))
		}
	}
	return o, nil
}
