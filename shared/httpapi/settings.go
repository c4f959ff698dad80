package httpapi

import (
	"net/http"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

func (h *Handler) getBillingSettings(w http.ResponseWriter, r *http.Request) {
	set, err := h.cfg.Store.BillingSettings(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, set.Version, withMaps(set))
}

// withMaps makes unitCost an object even when stored empty.
func withMaps(set billing.Settings) billing.Settings {
	if set.UnitCost == nil {
		set.UnitCost = map[billing.Product]float64{}
	}
	return set
}

// settingsRequest is billing.Settings without the version, which travels
// in If-Match.
type settingsRequest struct {
	TimeZone           string                                 `json:"timeZone"`
	Period             billing.Period                         `json:"period"`
	EffectiveDate      billing.EffectiveDateRule              `json:"effectiveDate"`
	CreateMissingLines bool                                   `json:"createMissingLines"`
	ZeroDeprovisioned  bool                                   `json:"zeroDeprovisioned"`
	UnitCost           map[billing.Product]float64            `json:"unitCost"`
	OrgUnitCost        map[string]map[billing.Product]float64 `json:"orgUnitCost"`
	BudgetPerHour      int                                    `json:"budgetPerHour"`
	RunAt              string                                 `json:"runAt"`
}

// maxOrgOverrides bounds per-org cost overrides so the settings item stays
// well under DynamoDB's 400 KB.
const maxOrgOverrides = 1000

// putBillingSettings replaces the billing settings (omitted fields take
// their defaults). If-Match guards against a concurrent edit.
func (h *Handler) putBillingSettings(w http.ResponseWriter, r *http.Request) {
	var req settingsRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	set := billing.Settings{TimeZone: req.TimeZone, Period: req.Period, EffectiveDate: req.EffectiveDate,
		CreateMissingLines: req.CreateMissingLines, ZeroDeprovisioned: req.ZeroDeprovisioned, UnitCost: req.UnitCost,
		OrgUnitCost: req.OrgUnitCost, BudgetPerHour: req.BudgetPerHour, RunAt: req.RunAt}
	if err := set.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(set.OrgUnitCost) > maxOrgOverrides {
		h.fail(w, r, apperr.New(apperr.Invalid, "at most %d per-org cost overrides", maxOrgOverrides))
		return
	}
	version, err := ifMatchOr(r, anyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.cfg.Store.PutBillingSettings(r.Context(), tenantOf(r), set, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, withMaps(saved))
}
