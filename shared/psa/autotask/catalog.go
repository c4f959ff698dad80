package autotask

import (
	"context"
	"net/http"
	"strings"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// Labels of the Services.periodType values psabridge pushes, and of the
// BillingCodes.useType value of codes meant for recurring contract services.
const (
	labelMonthly                  = "Monthly"
	labelYearly                   = "Yearly"
	labelRecurringContractService = "Recurring Contract Service"
)

// serviceRow is the part of a Service the catalog reads.
type serviceRow struct {
	ID                 int64   `json:"id"`
	Name               string  `json:"name"`
	Description        string  `json:"description"`
	InvoiceDescription string  `json:"invoiceDescription"`
	PeriodType         *int64  `json:"periodType"`
	UnitCost           float64 `json:"unitCost"`
	UnitPrice          float64 `json:"unitPrice"`
	BillingCodeID      *int64  `json:"billingCodeID"`
	IsActive           bool    `json:"isActive"`
}

var serviceFields = []string{"id", "name", "description", "invoiceDescription", "periodType", "unitCost", "unitPrice", "billingCodeID", "isActive"}

// periodIDs returns the Services.periodType ids of monthly and yearly,
// looked up by label (picklist ids differ between databases).
func (c *Client) periodIDs(ctx context.Context) (map[psa.CatalogPeriod]int64, error) {
	monthly, err := c.pickByLabel(ctx, "Services", "periodType", labelMonthly)
	if err != nil {
		return nil, err
	}
	yearly, err := c.pickByLabel(ctx, "Services", "periodType", labelYearly)
	if err != nil {
		return nil, err
	}
	return map[psa.CatalogPeriod]int64{psa.Monthly: monthly, psa.Yearly: yearly}, nil
}

// CatalogItems returns every Service, active or not (a name stays taken
// while its Service is inactive), all pages. Identifier is the Service's
// internal description: Autotask Services have no SKU field.
func (c *Client) CatalogItems(ctx context.Context) ([]psa.CatalogItem, error) {
	periods, err := c.periodIDs(ctx)
	if err != nil {
		return nil, err
	}
	// Autotask refuses a query without a filter; id ≥ 0 selects all.
	rows, err := query[serviceRow](ctx, c, "Services", serviceFields, filter{Op: "gte", Field: "id", Value: 0})
	if err != nil {
		return nil, err
	}
	out := make([]psa.CatalogItem, len(rows))
	for i, r := range rows {
		it := psa.CatalogItem{ID: r.ID, Identifier: r.Description, Name: r.Name, UnitCost: r.UnitCost, UnitPrice: r.UnitPrice, Active: r.IsActive}
		if r.BillingCodeID != nil {
			it.BillingCodeID = *r.BillingCodeID
		}
		if r.PeriodType != nil {
			for p, id := range periods {
				if id == *r.PeriodType {
					it.Period = p
				}
			}
		}
		out[i] = it
	}
	return out, nil
}

// UpsertCatalogItem creates the Service (it.ID == 0: POST Services) or
// updates it (PATCH Services with the id in the body) and returns it with
// its id. The name goes to name and invoiceDescription, the identifier to
// the internal description. A create is not resent after an ambiguous
// failure: read CatalogItems and match the identifier before trying again.
// Invalid without a name, a period or a billing code (Autotask requires
// one); Rejected with Autotask's words otherwise (a duplicate name).
func (c *Client) UpsertCatalogItem(ctx context.Context, it psa.CatalogItem) (psa.CatalogItem, error) {
	if strings.TrimSpace(it.Name) == "" || !it.Period.Valid() {
		return it, apperr.New(apperr.Invalid, "an Autotask service needs a name and a monthly or yearly period")
	}
	if it.BillingCodeID == 0 {
		return it, apperr.New(apperr.Invalid, "an Autotask service needs a billing code")
	}
	if it.UnitCost < 0 || it.UnitPrice < 0 {
		return it, apperr.New(apperr.Invalid, "unit cost and unit price must not be negative")
	}
	periods, err := c.periodIDs(ctx)
	if err != nil {
		return it, err
	}
	body := map[string]any{"name": it.Name, "invoiceDescription": it.Name, "description": it.Identifier,
		"periodType": periods[it.Period], "unitCost": it.UnitCost, "unitPrice": it.UnitPrice,
		"billingCodeID": it.BillingCodeID, "isActive": it.Active}
	var r itemID
	if it.ID == 0 {
		if err := c.call(ctx, http.MethodPost, "V1.0/Services", body, false, &r); err != nil {
			return it, err
		}
		it.ID = r.ItemID
		return it, nil
	}
	body["id"] = it.ID
	if err := c.call(ctx, http.MethodPatch, "V1.0/Services", body, true, &r); err != nil {
		return it, err
	}
	return it, nil
}

// billingCode is the part of a BillingCode the catalog reads.
type billingCode struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// CatalogOptions returns the active billing codes a Service may use: those
// whose useType is "Recurring Contract Service", or every active code when
// the database has no such use type (the label is not documented).
func (c *Client) CatalogOptions(ctx context.Context) (psa.CatalogOptions, error) {
	fs := []filter{eq("isActive", true)}
	use, err := c.pickByLabel(ctx, "BillingCodes", "useType", labelRecurringContractService)
	switch {
	case err == nil:
		fs = append(fs, eq("useType", use))
	case !apperr.Is(err, apperr.Rejected):
		return psa.CatalogOptions{}, err
	}
	rows, err := query[billingCode](ctx, c, "BillingCodes", []string{"id", "name"}, fs...)
	if err != nil {
		return psa.CatalogOptions{}, err
	}
	o := psa.CatalogOptions{BillingCodes: make([]psa.Option, len(rows))}
	for i, r := range rows {
		o.BillingCodes[i] = psa.Option{ID: r.ID, Name: r.Name}
	}
	return o, nil
}
