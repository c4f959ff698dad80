package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// The product catalog: the products the vendor bills, pushed to the PSA
// (Autotask Services, ConnectWise catalog items) so admins pick them there
// instead of typing them, and so mapping health can tell a line that bills
// the wrong product.

func (h *Handler) getCatalog(w http.ResponseWriter, r *http.Request) {
	c, err := h.cfg.Store.Catalog(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, c.Version, catalogViewOf(c))
}

// catalogProductRequest is a catalog product as an admin sends it: the
// push status is psabridge's record of the PSA and never comes from a body.
type catalogProductRequest struct {
	Key           billing.Product   `json:"key"`
	Identifier    string            `json:"identifier"`
	Name          string            `json:"name"`
	Period        psa.CatalogPeriod `json:"period"`
	UnitCost      float64           `json:"unitCost"`
	UnitPrice     float64           `json:"unitPrice"`
	BillingCodeID int64             `json:"billingCodeId"`
	ProductTypeID int64             `json:"productTypeId"`
	SubcategoryID int64             `json:"subcategoryId"`
	Push          json.RawMessage   `json:"push"`
}

// catalogRequest is billing.Catalog as GET returns it; updatedAt and each
// product's push record are read-only, accepted so a GET body can be PUT
// back.
type catalogRequest struct {
	versioned
	Products  []catalogProductRequest `json:"products"`
	UpdatedAt json.RawMessage         `json:"updatedAt"`
}

// putCatalog replaces the catalog. Validation follows the connected PSA's
// rules (billing code for Autotask, product type and subcategory for
// ConnectWise). A product keeps its push record (the PSA item it owns);
// one whose pushed fields changed is "not pushed" until the next push.
// If-Match guards against a concurrent edit.
func (h *Handler) putCatalog(w http.ResponseWriter, r *http.Request) {
	var req catalogRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	version, err := expectedVersionOr(r, req.versioned, app.AnyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c := billing.Catalog{Products: make([]billing.CatalogProduct, 0, len(req.Products))}
	for _, p := range req.Products {
		c.Products = append(c.Products, billing.CatalogProduct{Key: p.Key, Identifier: p.Identifier, Name: p.Name, Period: p.Period,
			UnitCost: p.UnitCost, UnitPrice: p.UnitPrice, BillingCodeID: p.BillingCodeID, ProductTypeID: p.ProductTypeID, SubcategoryID: p.SubcategoryID})
	}
	saved, err := h.catalogs.Put(r.Context(), tenantOf(r), c, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, catalogViewOf(saved))
}

// pushStep is one product's outcome of a push, as the API reports it.
type pushStep struct {
	Product billing.Product       `json:"product"`
	Action  billing.CatalogAction `json:"action"`
	Changes []string              `json:"changes"`
	State   billing.PushState     `json:"state"`
	ItemID  int64                 `json:"itemId,omitempty"`
	Message string                `json:"message,omitempty"`
	Details []string              `json:"details,omitempty"`
}

type pushResponse struct {
	Catalog catalogView `json:"catalog"`
	Steps   []pushStep  `json:"steps"`
}

// pushCatalog pushes the catalog to the PSA (app.Catalogs.Push) and
// answers with the stored catalog and each product's step.
func (h *Handler) pushCatalog(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	saved, steps, err := h.catalogs.Push(r.Context(), tenant)
	// The catalog options the pickers cached may name pushed items.
	h.pickers.Forget(tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := pushResponse{Catalog: catalogViewOf(saved), Steps: make([]pushStep, len(steps))}
	for i, s := range steps {
		resp.Steps[i] = stepView(s.Step, s.Status)
	}
	w.Header().Set("ETag", etag(saved.Version))
	writeJSON(w, http.StatusOK, resp)
}

func stepView(step billing.CatalogStep, st billing.PushStatus) pushStep {
	v := pushStep{Product: step.Product, Action: step.Action, Changes: step.Changes, State: st.State, ItemID: st.ItemID,
		Message: st.Message, Details: st.Details}
	if v.Changes == nil {
		v.Changes = []string{}
	}
	return v
}

// getCatalogOptions lists what a catalog product may pick from: Autotask
// billing codes, ConnectWise product types and subcategories.
func (h *Handler) getCatalogOptions(w http.ResponseWriter, r *http.Request) {
	o, err := h.pickers.CatalogOptions(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Every list is always there (psa.CatalogOptions omits empty ones).
	view := struct {
		BillingCodes  []optionView `json:"billingCodes"`
		ProductTypes  []optionView `json:"productTypes"`
		Subcategories []optionView `json:"subcategories"`
	}{options(o.BillingCodes), options(o.ProductTypes), options(o.Subcategories)}
	nonNilOptions(&view.BillingCodes, &view.ProductTypes, &view.Subcategories)
	writeJSON(w, http.StatusOK, view)
}
