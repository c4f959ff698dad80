package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// CWCatalogItem is a procurement catalog item (a product).
type CWCatalogItem struct {
	ID         int64  `json:"id"`
	Identifier string `json:"identifier"`
	// Description is the item's name (at most 60 characters);
	// CustomerDescription what the customer sees.
	Description         string  `json:"description"`
	CustomerDescription string  `json:"customerDescription,omitempty"`
	TypeID              int64   `json:"typeId"`
	SubcategoryID       int64   `json:"subcategoryId"`
	Price               float64 `json:"price"`
	Cost                float64 `json:"cost"`
	RecurringFlag       bool    `json:"recurringFlag,omitempty"`
	RecurringRevenue    float64 `json:"recurringRevenue,omitempty"`
	RecurringCost       float64 `json:"recurringCost,omitempty"`
	BillCycleID         int64   `json:"billCycleId,omitempty"`
	Inactive            bool    `json:"inactive,omitempty"`
}

// CatalogItems returns an instance's catalog items ordered by id.
func (c *ConnectWise) CatalogItems(company string) []CWCatalogItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.instances[strings.ToLower(company)]
	if in == nil {
		return nil
	}
	var out []CWCatalogItem
	for _, id := range cwSortedKeys(in.catalog) {
		out = append(out, *in.catalog[id])
	}
	return out
}

func (c *ConnectWise) catalogRecord(in *cwInstance, it *CWCatalogItem) cwRecord {
	typeName, _ := cwOptionName(in.seed.ProductTypes, it.TypeID)
	subName, _ := cwOptionName(in.seed.Subcategories, it.SubcategoryID)
	j := map[string]any{
		"id": it.ID, "identifier": it.Identifier, "description": it.Description, "customerDescription": it.CustomerDescription,
		"inactiveFlag": it.Inactive, "type": cwRef(it.TypeID, typeName), "subcategory": cwRef(it.SubcategoryID, subName),
		"productClass": "NonInventory", "price": it.Price, "cost": it.Cost, "recurringFlag": it.RecurringFlag,
		"recurringRevenue": it.RecurringRevenue, "recurringCost": it.RecurringCost, "recurringOneTimeFlag": false,
	}
	if name, ok := cwOptionName(in.seed.BillingCycles, it.BillCycleID); ok {
		j["recurringBillCycle"] = cwRef(it.BillCycleID, name)
	}
	return cwRecord{
		fields: map[string]any{"id": float64(it.ID), "identifier": it.Identifier, "description": it.Description,
			"inactiveFlag": it.Inactive, "type/id": float64(it.TypeID), "subcategory/id": float64(it.SubcategoryID)},
		json: j,
	}
}

func (c *ConnectWise) catalogItems(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwListAll(c, w, r, in, in.catalog, c.catalogRecord)
}

func (c *ConnectWise) catalogItem(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwGetByID(r, in, in.catalog, "CatalogItem", c.catalogRecord)
}

// cwRefBody is a reference as a request sends it: by id, or by name.
type cwRefBody struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// resolve finds a reference in a lookup list; ok is false when it names
// nothing there.
func (b *cwRefBody) resolve(opts []CWOption) (int64, bool) {
	if b == nil {
		return 0, false
	}
	for _, o := range opts {
		if (b.ID != 0 && o.ID == b.ID) || (b.ID == 0 && b.Name != "" && strings.EqualFold(o.Name, b.Name)) {
			return o.ID, true
		}
	}
	return 0, false
}

// catalogBody is a POST /procurement/catalog body.
type catalogBody struct {
	Identifier          string     `json:"identifier"`
	Description         string     `json:"description"`
	CustomerDescription string     `json:"customerDescription"`
	Type                *cwRefBody `json:"type"`
	Subcategory         *cwRefBody `json:"subcategory"`
	Price               float64    `json:"price"`
	Cost                float64    `json:"cost"`
	RecurringFlag       bool       `json:"recurringFlag"`
	RecurringRevenue    float64    `json:"recurringRevenue"`
	RecurringCost       float64    `json:"recurringCost"`
	RecurringBillCycle  *cwRefBody `json:"recurringBillCycle"`
	InactiveFlag        bool       `json:"inactiveFlag"`
}

// validateCatalog enforces the schema's required fields and limits, the
// references, and the identifier's uniqueness (ConnectWise keeps product
// identifiers unique; descriptions may repeat).
func (in *cwInstance) validateCatalog(it *CWCatalogItem) *cwFail {
	var errs []map[string]any
	bad := func(field, code, msg string) {
		errs = append(errs, map[string]any{"code": code, "message": msg, "resource": "catalogItem", "field": field})
	}
	switch n := utf8.RuneCountInString(it.Identifier); {
	case strings.TrimSpace(it.Identifier) == "":
		bad("identifier", "NullValue", "The identifier field is required.")
	case n > 75:
		bad("identifier", "InvalidField", "identifier must be at most 75 characters.")
	}
	switch n := utf8.RuneCountInString(it.Description); {
	case strings.TrimSpace(it.Description) == "":
		bad("description", "NullValue", "The description field is required.")
	case n > 60:
		bad("description", "InvalidField", "description must be at most 60 characters.")
	}
	if strings.TrimSpace(it.CustomerDescription) == "" {
		bad("customerDescription", "NullValue", "The customerDescription field is required.")
	}
	if _, ok := cwOptionName(in.seed.ProductTypes, it.TypeID); !ok {
		bad("type", "InvalidField", "The type field is required and must be a valid product type.")
	}
	if _, ok := cwOptionName(in.seed.Subcategories, it.SubcategoryID); !ok {
		bad("subcategory", "InvalidField", "The subcategory field is required and must be a valid subcategory.")
	}
	for _, id := range cwSortedKeys(in.catalog) {
		if o := in.catalog[id]; o.ID != it.ID && strings.EqualFold(o.Identifier, it.Identifier) {
			bad("identifier", "Duplicate", fmt.Sprintf("The identifier '%s' is already in use by another product.", it.Identifier))
		}
	}
	if errs == nil {
		return nil
	}
	return &cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "catalogItem object is invalid", errs: errs}
}

func (c *ConnectWise) createCatalogItem(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	var b catalogBody
	if fail := cwDecode(r, &b); fail != nil {
		return 0, *fail
	}
	it := &CWCatalogItem{ID: in.nextID, Identifier: b.Identifier, Description: b.Description, CustomerDescription: b.CustomerDescription,
		Price: b.Price, Cost: b.Cost, RecurringFlag: b.RecurringFlag, RecurringRevenue: b.RecurringRevenue, RecurringCost: b.RecurringCost,
		Inactive: b.InactiveFlag}
	it.TypeID, _ = b.Type.resolve(in.seed.ProductTypes)
	it.SubcategoryID, _ = b.Subcategory.resolve(in.seed.Subcategories)
	if b.RecurringBillCycle != nil {
		var ok bool
		if it.BillCycleID, ok = b.RecurringBillCycle.resolve(in.seed.BillingCycles); !ok {
			return 0, cwBad("recurringBillCycle does not name a billing cycle.")
		}
	}
	if fail := in.validateCatalog(it); fail != nil {
		return 0, *fail
	}
	in.nextID++
	in.catalog[it.ID] = it
	return http.StatusCreated, c.catalogRecord(in, it).json
}

// patchCatalogItem applies a JSON Patch to a catalog item. Paths are
// case-sensitive; references are replaced whole.
func (c *ConnectWise) patchCatalogItem(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, it, fail := cwLookup(r, "id", in.catalog, "CatalogItem")
	if fail != nil {
		return 0, *fail
	}
	ops, fail := cwReadPatch(r)
	if fail != nil {
		return 0, *fail
	}
	next := *it
	for _, op := range ops {
		var err error
		str := func(dst *string) { err = json.Unmarshal(op.Value, dst) }
		num := func(dst *float64) { err = json.Unmarshal(op.Value, dst) }
		flag := func(dst *bool) { err = json.Unmarshal(op.Value, dst) }
		ref := func(dst *int64, opts []CWOption) {
			var b cwRefBody
			if err = json.Unmarshal(op.Value, &b); err == nil {
				var ok bool
				if *dst, ok = b.resolve(opts); !ok {
					err = fmt.Errorf("no such reference")
				}
			}
		}
		switch op.Path {
		case "identifier":
			str(&next.Identifier)
		case "description":
			str(&next.Description)
		case "customerDescription":
			str(&next.CustomerDescription)
		case "price":
			num(&next.Price)
		case "cost":
			num(&next.Cost)
		case "recurringRevenue":
			num(&next.RecurringRevenue)
		case "recurringCost":
			num(&next.RecurringCost)
		case "recurringFlag":
			flag(&next.RecurringFlag)
		case "inactiveFlag":
			flag(&next.Inactive)
		case "type":
			ref(&next.TypeID, in.seed.ProductTypes)
		case "subcategory":
			ref(&next.SubcategoryID, in.seed.Subcategories)
		case "recurringBillCycle":
			ref(&next.BillCycleID, in.seed.BillingCycles)
		default:
			return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "catalogItem object is invalid",
				errs: []map[string]any{{"code": "InvalidField", "message": fmt.Sprintf("The path '%s' is not a valid field of CatalogItem.", op.Path), "resource": "catalogItem", "field": op.Path}}}
		}
		if err != nil {
			return 0, cwBad("The value for path '%s' is not valid.", op.Path)
		}
	}
	if fail := in.validateCatalog(&next); fail != nil {
		return 0, *fail
	}
	*it = next
	in.patches = append(in.patches, CWPatch{Resource: "catalog", ID: id, Ops: slices.Clone(ops)})
	return http.StatusOK, c.catalogRecord(in, it).json
}

// procurementLookup lists product types or subcategories; the sandbox's
// are all active.
func (c *ConnectWise) procurementLookup(w http.ResponseWriter, r *http.Request, opts []CWOption) (int, any) {
	recs := cwOptionRecords(opts, func(_ CWOption, j map[string]any) { j["inactiveFlag"] = false })
	for _, rec := range recs {
		rec.fields["inactiveFlag"] = false
	}
	return c.list(w, r, recs)
}

func (c *ConnectWise) productTypes(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.procurementLookup(w, r, in.seed.ProductTypes)
}

func (c *ConnectWise) subcategories(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.procurementLookup(w, r, in.seed.Subcategories)
}
