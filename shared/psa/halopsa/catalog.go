package halopsa

import (
	"context"
	"math"
	"net/url"
	"strings"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// Item.item_default_billing_period values of the periods psabridge pushes
// (docs/HALOPSA.md 5.6).
var billingPeriods = map[psa.CatalogPeriod]int64{psa.Monthly: 2, psa.Yearly: 3}

func periodOf(v int64) psa.CatalogPeriod {
	for p, n := range billingPeriods {
		if n == v {
			return p
		}
	}
	return ""
}

// itemRow is the part of Item we read.
type itemRow struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	InternalReference string  `json:"internalreference"`
	BasePrice         float64 `json:"baseprice"`
	CostPrice         float64 `json:"costprice"`
	RecurringPrice    float64 `json:"recurringprice"`
	RecurringCost     float64 `json:"recurringcost"`
	Recurring         bool    `json:"isrecurringitem"`
	BillingPeriod     int64   `json:"item_default_billing_period"`
	GroupID           int64   `json:"assetgroup_id"`
}

func (r itemRow) item(active bool) psa.CatalogItem {
	it := psa.CatalogItem{ID: r.ID, Identifier: r.InternalReference, Name: r.Name, Period: periodOf(r.BillingPeriod),
		UnitPrice: r.BasePrice, UnitCost: r.CostPrice, ProductTypeID: r.GroupID, Active: active}
	if r.Recurring {
		it.UnitPrice, it.UnitCost = r.RecurringPrice, r.RecurringCost
	}
	return it
}

// CatalogItems lists every item, active or not. The definition has no
// inactive flag on Item, only the list filters, so it reads the active
// items and the inactive ones (two paged lists).
func (c *Client) CatalogItems(ctx context.Context) ([]psa.CatalogItem, error) {
	var out []psa.CatalogItem
	for _, active := range []bool{true, false} {
		q := url.Values{"includeactive": {boolString(active)}, "includeinactive": {boolString(!active)}}
		rows, err := all[itemRow](ctx, c, "Item", "items", q)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, r.item(active))
		}
	}
	return out, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// itemWrite is an Item posted to /Item.
type itemWrite struct {
	ID                int64   `json:"id,omitempty"`
	Name              string  `json:"name"`
	Description       string  `json:"description"`
	InternalReference string  `json:"internalreference"`
	BasePrice         float64 `json:"baseprice"`
	CostPrice         float64 `json:"costprice"`
	Recurring         bool    `json:"isrecurringitem"`
	RecurringPrice    float64 `json:"recurringprice"`
	RecurringCost     float64 `json:"recurringcost"`
	BillingPeriod     int64   `json:"item_default_billing_period"`
	GroupID           int64   `json:"assetgroup_id,omitempty"`
}

// UpsertCatalogItem creates the item (it.ID == 0) or updates its pushed
// fields (POST /Item with its id), and returns it with its id: the name as
// name and description, the identifier as the internal reference, price
// and cost as the item's and as its recurring price and cost, the billing
// period, the item group (ProductTypeID) when given. A create is not
// resent after an ambiguous failure: read CatalogItems and match the
// identifier before trying again. Invalid without an identifier, a name or
// a period; Rejected with Halo's words otherwise. The definition has no
// field that reactivates an inactive item: that is done in Halo.
func (c *Client) UpsertCatalogItem(ctx context.Context, it psa.CatalogItem) (psa.CatalogItem, error) {
	switch {
	case strings.TrimSpace(it.Identifier) == "" || len(it.Identifier) > 255:
		return it, apperr.New(apperr.Invalid, "a HaloPSA item identifier (internal reference) must be 1 to 255 characters")
	case strings.TrimSpace(it.Name) == "" || len(it.Name) > 255:
		return it, apperr.New(apperr.Invalid, "a HaloPSA item name must be 1 to 255 characters")
	case !it.Period.Valid():
		return it, apperr.New(apperr.Invalid, "the period must be monthly or yearly")
	case !(it.UnitCost >= 0) || !(it.UnitPrice >= 0) || math.IsInf(it.UnitCost, 0) || math.IsInf(it.UnitPrice, 0):
		return it, apperr.New(apperr.Invalid, "unit cost and unit price must be non-negative numbers")
	}
	body := itemWrite{ID: it.ID, Name: it.Name, Description: it.Name, InternalReference: it.Identifier,
		BasePrice: it.UnitPrice, CostPrice: it.UnitCost, Recurring: true, RecurringPrice: it.UnitPrice, RecurringCost: it.UnitCost,
		BillingPeriod: billingPeriods[it.Period], GroupID: it.ProductTypeID}
	var saved itemRow
	if err := post(ctx, c, "Item", body, it.ID != 0, &saved); err != nil {
		return it, err
	}
	if it.ID == 0 {
		if saved.ID <= 0 {
			return it, apperr.New(apperr.Rejected, "HaloPSA's answer to the new item does not hold it")
		}
		it.ID = saved.ID
	}
	return it, nil
}

// CatalogOptions lists the item groups an item may belong to
// (ProductTypes; GET /ItemGroup). Halo has no billing codes or
// subcategories on items.
func (c *Client) CatalogOptions(ctx context.Context) (psa.CatalogOptions, error) {
	rows, _, err := list[option](ctx, c, "ItemGroup", "itemgroups", nil)
	if err != nil {
		return psa.CatalogOptions{}, err
	}
	o := psa.CatalogOptions{ProductTypes: []psa.Option{}}
	for _, r := range rows {
		o.ProductTypes = append(o.ProductTypes, r.option())
	}
	return o, nil
}
