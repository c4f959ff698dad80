package billing

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// CatalogProduct is a product the vendor bills, as a tenant's catalog holds
// it and pushes it to the PSA (Autotask Service, ConnectWise catalog item),
// so admins pick it there instead of typing it.
type CatalogProduct struct {
	// Key is the billed product ("users"); one catalog entry per key.
	Key Product `json:"key" dynamodbav:"Key"`
	// Identifier is the product's key in the PSA (ConnectWise identifier);
	// "" means Key.
	Identifier string `json:"identifier,omitempty" dynamodbav:"Identifier"`
	// Name is what invoices show; unique in the catalog and, after a push,
	// in the PSA.
	Name      string            `json:"name" dynamodbav:"Name"`
	Period    psa.CatalogPeriod `json:"period" dynamodbav:"Period"`
	UnitCost  float64           `json:"unitCost" dynamodbav:"UnitCost"`
	UnitPrice float64           `json:"unitPrice" dynamodbav:"UnitPrice"`
	// BillingCodeID (Autotask) and ProductTypeID and SubcategoryID
	// (ConnectWise) come from psa.Client.CatalogOptions.
	BillingCodeID int64 `json:"billingCodeId,omitempty" dynamodbav:"BillingCodeID"`
	ProductTypeID int64 `json:"productTypeId,omitempty" dynamodbav:"ProductTypeID"`
	SubcategoryID int64 `json:"subcategoryId,omitempty" dynamodbav:"SubcategoryID"`
	// Push is the outcome of the last push; the API's PUT never sets it.
	Push PushStatus `json:"push" dynamodbav:"Push"`
}

// PushState is where a catalog product stands with the PSA.
type PushState string

// The push states.
const (
	NotPushed PushState = "not_pushed"
	Pushed    PushState = "pushed"
	PushError PushState = "error"
)

// PushStatus is the outcome of a product's last push.
type PushStatus struct {
	State PushState `json:"state" dynamodbav:"State"`
	// ItemID is the PSA catalog item psabridge created or adopted for the
	// product; kept across errors so the next push finds it again.
	ItemID int64 `json:"itemId,omitempty" dynamodbav:"ItemID"`
	// Message says what went wrong; Details are the PSA's own words.
	Message  string    `json:"message,omitempty" dynamodbav:"Message"`
	Details  []string  `json:"details,omitempty" dynamodbav:"Details"`
	PushedAt time.Time `json:"pushedAt,omitzero" dynamodbav:"PushedAt"`
}

// PSAIdentifier returns the identifier the product has in the PSA.
func (p CatalogProduct) PSAIdentifier() string {
	if s := strings.TrimSpace(p.Identifier); s != "" {
		return s
	}
	return string(p.Key)
}

// Item returns the PSA catalog item the product should be: active, with
// the id of the item psabridge pushed before (0 if none).
func (p CatalogProduct) Item() psa.CatalogItem {
	return psa.CatalogItem{ID: p.Push.ItemID, Identifier: p.PSAIdentifier(), Name: strings.TrimSpace(p.Name), Period: p.Period,
		UnitCost: p.UnitCost, UnitPrice: p.UnitPrice, BillingCodeID: p.BillingCodeID, ProductTypeID: p.ProductTypeID,
		SubcategoryID: p.SubcategoryID, Active: true}
}

// Catalog is a tenant's product catalog.
type Catalog struct {
	Products []CatalogProduct `json:"products" dynamodbav:"Products"`
	// Version increases with every write; the API exposes it as the ETag.
	Version   int64     `json:"version" dynamodbav:"Version"`
	UpdatedAt time.Time `json:"updatedAt" dynamodbav:"UpdatedAt"`
}

// Limits of the PSAs' catalog fields (ConnectWise CatalogItem description
// and identifier; Autotask accepts longer).
const (
	maxCatalogName       = 60
	maxCatalogIdentifier = 75
	maxCatalogProducts   = 50
)

// Validate checks a catalog for provider (psa.Autotask, psa.ConnectWise,
// psa.HaloPSA, or "" when no PSA is connected: only the provider-neutral
// rules). Keys, names (compared as the PSAs compare them: without case and
// surrounding space) and identifiers are unique; Autotask needs a billing
// code, ConnectWise a product type and a subcategory; HaloPSA nothing more
// (its item group, productTypeId, is optional). A zero push status becomes
// NotPushed. Invalid lists every problem as apperr field problems
// ("products[1].name", …), each product's fields checked on their own.
func (c *Catalog) Validate(provider psa.Provider) error {
	var probs apperr.Problems
	if len(c.Products) > maxCatalogProducts {
		probs.Add("products", "a catalog holds at most %d products", maxCatalogProducts)
	}
	keys, names, idents := map[Product]bool{}, map[string]bool{}, map[string]bool{}
	for i := range c.Products {
		p := &c.Products[i]
		at := fmt.Sprintf("products[%d]", i)
		p.Name = strings.TrimSpace(p.Name)
		p.Identifier = strings.TrimSpace(p.Identifier)
		if p.Push.State == "" {
			p.Push.State = NotPushed
		}
		name, ident := catalogNameKey(p.Name), catalogNameKey(p.PSAIdentifier())
		switch {
		case !p.Key.Valid():
			probs.Add(at+".key", "%s.key must be a product key such as \"users\"", at)
		case keys[p.Key]:
			probs.Add(at+".key", "product %q is in the catalog twice", p.Key)
		}
		switch {
		case p.Name == "" || utf8.RuneCountInString(p.Name) > maxCatalogName:
			probs.Add(at+".name", "%s.name must be 1 to %d characters", at, maxCatalogName)
		case names[name]:
			probs.Add(at+".name", "the name %q is used twice; names must be unique", p.Name)
		}
		switch {
		case utf8.RuneCountInString(p.PSAIdentifier()) > maxCatalogIdentifier:
			probs.Add(at+".identifier", "%s.identifier must be at most %d characters", at, maxCatalogIdentifier)
		case idents[ident]:
			probs.Add(at+".identifier", "the identifier %q is used twice", p.PSAIdentifier())
		}
		if !p.Period.Valid() {
			probs.Add(at+".period", "%s.period must be %q or %q", at, psa.Monthly, psa.Yearly)
		}
		if !(p.UnitCost >= 0 && p.UnitCost <= 1_000_000) {
			probs.Add(at+".unitCost", "%s.unitCost must be between 0 and 1000000", at)
		}
		if !(p.UnitPrice >= 0 && p.UnitPrice <= 1_000_000) {
			probs.Add(at+".unitPrice", "%s.unitPrice must be between 0 and 1000000", at)
		}
		switch provider {
		case psa.Autotask:
			if p.BillingCodeID <= 0 {
				probs.Add(at+".billingCodeId", "%s.billingCodeId is required for Autotask", at)
			}
		case psa.ConnectWise:
			if p.ProductTypeID <= 0 {
				probs.Add(at+".productTypeId", "%s.productTypeId is required for ConnectWise", at)
			}
			if p.SubcategoryID <= 0 {
				probs.Add(at+".subcategoryId", "%s.subcategoryId is required for ConnectWise", at)
			}
		}
		keys[p.Key], names[name], idents[ident] = true, true, true
	}
	return probs.Err()
}

// Product returns the catalog entry of key.
func (c Catalog) Product(key Product) (CatalogProduct, bool) {
	i := slices.IndexFunc(c.Products, func(p CatalogProduct) bool { return p.Key == key })
	if i < 0 {
		return CatalogProduct{}, false
	}
	return c.Products[i], true
}

// ServiceIDs returns the PSA catalog item of every pushed product: what a
// mapped line of that product must bill (see CheckMapping).
func (c Catalog) ServiceIDs() map[Product]int64 {
	out := map[Product]int64{}
	for _, p := range c.Products {
		if p.Push.ItemID != 0 && p.Push.State == Pushed {
			out[p.Key] = p.Push.ItemID
		}
	}
	return out
}

// catalogNameKey is how the PSAs compare catalog names for uniqueness:
// without case, surrounding space or repeated inner space.
func catalogNameKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// CatalogAction is what a push does with one product.
type CatalogAction string

// The catalog actions.
const (
	CatalogCreate    CatalogAction = "create"
	CatalogUpdate    CatalogAction = "update"
	CatalogUnchanged CatalogAction = "unchanged"
	// CatalogClash: the name (or identifier) belongs to a PSA item that is
	// not psabridge's. Nothing is written; the admin renames one of them.
	CatalogClash CatalogAction = "clash"
)

// CatalogStep is the plan for one product.
type CatalogStep struct {
	Product Product       `json:"product"`
	Action  CatalogAction `json:"action"`
	// Item is what to send (create: ID 0; update: the existing ID) or, when
	// unchanged, the PSA's item.
	Item psa.CatalogItem `json:"item"`
	// Current is the PSA item that is the product's (update, unchanged).
	Current *psa.CatalogItem `json:"current,omitempty"`
	// Changes names the fields an update changes.
	Changes []string `json:"changes,omitempty"`
	// Holder is the PSA item in the way (clash); Message says why.
	Holder  *psa.CatalogItem `json:"holder,omitempty"`
	Message string           `json:"message,omitempty"`
}

// PlanCatalogPush compares the desired products with the PSA's catalog
// items and returns one step per product, in the products' order.
//
// A PSA item is the product's when its id is the one the last push
// recorded, or, when that id is gone from the PSA (or none was recorded,
// e.g. a crash between create and record), when both its identifier and
// its name are the product's. An identifier alone does not adopt an item:
// the MSP's own item might carry it. The product's item is updated when a
// pushed field differs; a name held by any other item is a clash, never
// overwritten, and so is the identifier. Applying the plan and planning
// again yields only unchanged steps.
func PlanCatalogPush(products []CatalogProduct, items []psa.CatalogItem) []CatalogStep {
	byID := map[int64]int{}
	for i, it := range items {
		byID[it.ID] = i
	}
	claimed := map[int64]Product{}
	ours := make([]int, len(products))
	for i, p := range products {
		ours[i] = -1
		if j, ok := byID[p.Push.ItemID]; ok && p.Push.ItemID != 0 {
			if _, taken := claimed[p.Push.ItemID]; !taken {
				ours[i] = j
				claimed[p.Push.ItemID] = p.Key
			}
		}
	}
	for i, p := range products {
		if ours[i] >= 0 {
			continue
		}
		want := p.Item()
		for j, it := range items {
			if _, taken := claimed[it.ID]; taken {
				continue
			}
			if catalogNameKey(it.Identifier) == catalogNameKey(want.Identifier) && catalogNameKey(it.Name) == catalogNameKey(want.Name) {
				ours[i] = j
				claimed[it.ID] = p.Key
				break
			}
		}
	}
	steps := make([]CatalogStep, len(products))
	for i, p := range products {
		want := p.Item()
		step := CatalogStep{Product: p.Key}
		var mine *psa.CatalogItem
		if ours[i] >= 0 {
			it := items[ours[i]]
			mine = &it
			want.ID = it.ID
		} else {
			want.ID = 0
		}
		if holder, what := catalogHolder(items, mine, want); holder != nil {
			h := *holder
			step.Action, step.Holder, step.Item, step.Current = CatalogClash, &h, want, mine
			step.Message = fmt.Sprintf("the %s %q is used by PSA item %d (%q), which psabridge did not create; rename one of them",
				what, catalogValue(want, what), h.ID, h.Name)
			steps[i] = step
			continue
		}
		switch {
		case mine == nil:
			step.Action, step.Item = CatalogCreate, want
		default:
			step.Current = mine
			step.Changes = catalogChanges(*mine, want)
			if len(step.Changes) == 0 {
				step.Action, step.Item = CatalogUnchanged, *mine
			} else {
				step.Action, step.Item = CatalogUpdate, want
			}
		}
		steps[i] = step
	}
	return steps
}

// catalogHolder returns an item other than mine that holds want's name or
// identifier, and which of the two.
func catalogHolder(items []psa.CatalogItem, mine *psa.CatalogItem, want psa.CatalogItem) (*psa.CatalogItem, string) {
	for _, what := range []string{"name", "identifier"} {
		for j := range items {
			it := &items[j]
			if mine != nil && it.ID == mine.ID {
				continue
			}
			if catalogNameKey(catalogValue(*it, what)) == catalogNameKey(catalogValue(want, what)) {
				return it, what
			}
		}
	}
	return nil, ""
}

func catalogValue(it psa.CatalogItem, what string) string {
	if what == "identifier" {
		return it.Identifier
	}
	return it.Name
}

// sameMoney compares amounts to the 4 decimals the PSAs store.
func sameMoney(a, b float64) bool { return math.Abs(a-b) < 0.00005 }

// catalogChanges lists the pushed fields in which have differs from want.
func catalogChanges(have, want psa.CatalogItem) []string {
	var out []string
	add := func(field string, differs bool) {
		if differs {
			out = append(out, field)
		}
	}
	add("name", have.Name != want.Name)
	add("identifier", have.Identifier != want.Identifier)
	add("period", have.Period != want.Period)
	add("unitCost", !sameMoney(have.UnitCost, want.UnitCost))
	add("unitPrice", !sameMoney(have.UnitPrice, want.UnitPrice))
	add("billingCodeId", want.BillingCodeID != 0 && have.BillingCodeID != want.BillingCodeID)
	add("productTypeId", want.ProductTypeID != 0 && have.ProductTypeID != want.ProductTypeID)
	add("subcategoryId", want.SubcategoryID != 0 && have.SubcategoryID != want.SubcategoryID)
	add("active", !have.Active)
	return out
}

// RecordPush sets the product's push status from its step and the PSA's
// answer to it (result and err of UpsertCatalogItem; zero and nil for
// unchanged and clash steps). The item id is kept through errors so the
// next push finds the item again.
func (p *CatalogProduct) RecordPush(step CatalogStep, result psa.CatalogItem, err error, now time.Time) {
	st := PushStatus{ItemID: p.Push.ItemID, PushedAt: now}
	if step.Current != nil {
		st.ItemID = step.Current.ID
	}
	switch {
	case err != nil:
		st.State, st.Message, st.Details = PushError, apperr.MessageOf(err), apperr.DetailsOf(err)
	case step.Action == CatalogClash:
		st.State, st.Message = PushError, step.Message
	case step.Action == CatalogUnchanged:
		st.State = Pushed
	default:
		st.State, st.ItemID = Pushed, result.ID
	}
	p.Push = st
}
