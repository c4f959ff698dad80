package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/integration"
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
	writeVersioned(w, http.StatusOK, c.Version, c)
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
	version, err := expectedVersionOr(r, req.versioned, anyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenant := tenantOf(r)
	var provider psa.Provider
	switch in, err := h.cfg.Store.Integration(r.Context(), tenant); {
	case err == nil:
		provider = in.Provider
	case !apperr.Is(err, apperr.NotFound):
		h.fail(w, r, err)
		return
	}
	stored, err := h.cfg.Store.Catalog(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c := billing.Catalog{Products: make([]billing.CatalogProduct, 0, len(req.Products))}
	for _, p := range req.Products {
		c.Products = append(c.Products, billing.CatalogProduct{Key: p.Key, Identifier: p.Identifier, Name: p.Name, Period: p.Period,
			UnitCost: p.UnitCost, UnitPrice: p.UnitPrice, BillingCodeID: p.BillingCodeID, ProductTypeID: p.ProductTypeID, SubcategoryID: p.SubcategoryID})
	}
	if err := c.Validate(provider); err != nil {
		h.fail(w, r, err)
		return
	}
	for i := range c.Products {
		p := &c.Products[i]
		old, ok := stored.Product(p.Key)
		if !ok {
			continue
		}
		p.Push = old.Push
		if old.Push.State == billing.Pushed && old.Item() != p.Item() {
			p.Push.State, p.Push.Message, p.Push.Details = billing.NotPushed, "changed since the last push", nil
		}
	}
	if version == anyVersion {
		version = stored.Version
	}
	saved, err := h.cfg.Store.PutCatalog(r.Context(), tenant, c, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, saved)
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
	Catalog billing.Catalog `json:"catalog"`
	Steps   []pushStep      `json:"steps"`
}

// pushCatalog creates or updates the catalog's products in the PSA: one
// read of the PSA's catalog, then one write per product that is missing or
// differs. A name or identifier held by an item psabridge did not create
// is reported as a clash and never overwritten; a second push writes
// nothing. Each product's status is stored with the catalog; a product the
// PSA refused carries the PSA's words.
func (h *Handler) pushCatalog(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	c, in, err := h.client(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cat, err := h.cfg.Store.Catalog(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(cat.Products) == 0 {
		h.fail(w, r, apperr.New(apperr.Invalid, "the catalog is empty: PUT /v1/catalog first"))
		return
	}
	if err := cat.Validate(in.Provider); err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := c.CatalogItems(r.Context())
	if err != nil {
		h.fail(w, r, app.PSAError(err))
		return
	}
	steps := billing.PlanCatalogPush(cat.Products, items)
	resp := pushResponse{Steps: make([]pushStep, len(steps))}
	now := h.now().UTC()
	for i, step := range steps {
		var result psa.CatalogItem
		var perr error
		if step.Action == billing.CatalogCreate || step.Action == billing.CatalogUpdate {
			result, perr = c.UpsertCatalogItem(r.Context(), step.Item)
			if apperr.Is(perr, apperr.Transient) || apperr.Is(perr, apperr.Unauthorized) {
				// Stop: the rest would fail alike. What was pushed so far is
				// recorded below.
				h.recordPush(r.Context(), tenant, cat, i)
				h.fail(w, r, app.PSAError(perr))
				return
			}
		}
		cat.Products[i].RecordPush(step, result, perr, now)
		resp.Steps[i] = stepView(step, cat.Products[i].Push)
	}
	h.pickers.forget(tenant)
	saved, err := h.cfg.Store.PutCatalog(r.Context(), tenant, cat, cat.Version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp.Catalog = saved
	w.Header().Set("ETag", etag(saved.Version))
	writeJSON(w, http.StatusOK, resp)
}

// recordPush stores the push status of the products pushed before a push
// stopped, so the items created are adopted by the next push (best effort:
// the next push finds them by identifier and name anyway).
func (h *Handler) recordPush(ctx context.Context, tenant string, cat billing.Catalog, done int) {
	if done == 0 {
		return
	}
	if _, err := h.cfg.Store.PutCatalog(ctx, tenant, cat, cat.Version); err != nil {
		h.log.WarnContext(ctx, "recording a partial catalog push failed", "err", err)
	}
}

func stepView(step billing.CatalogStep, st billing.PushStatus) pushStep {
	v := pushStep{Product: step.Product, Action: step.Action, Changes: step.Changes, State: st.State, ItemID: st.ItemID,
		Message: st.Message, Details: st.Details}
	if v.Changes == nil {
		v.Changes = []string{}
	}
	return v
}

func (h *Handler) catalogOptions(ctx context.Context, tenant string, in integration.Integration, c psa.Client) (psa.CatalogOptions, error) {
	v, err := cached(h.pickers, pickerKey(tenant, in, "catalog-options"), func() (psa.CatalogOptions, error) { return c.CatalogOptions(ctx) })
	return v, app.PSAError(err)
}

// getCatalogOptions lists what a catalog product may pick from: Autotask
// billing codes, ConnectWise product types and subcategories.
func (h *Handler) getCatalogOptions(w http.ResponseWriter, r *http.Request) {
	o, err := askPSA(h, r, h.catalogOptions)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Every list is always there (psa.CatalogOptions omits empty ones).
	view := struct {
		BillingCodes  []psa.Option `json:"billingCodes"`
		ProductTypes  []psa.Option `json:"productTypes"`
		Subcategories []psa.Option `json:"subcategories"`
	}{o.BillingCodes, o.ProductTypes, o.Subcategories}
	nonNilOptions(&view.BillingCodes, &view.ProductTypes, &view.Subcategories)
	writeJSON(w, http.StatusOK, view)
}
