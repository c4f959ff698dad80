package httpapi

import (
	"net/http"

	"github.com/psabridge/psabridge/shared/billing"
)

func (h *Handler) getBillingSettings(w http.ResponseWriter, r *http.Request) {
	set, version, err := h.billingSettings(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, version, set)
}

// billingSettings is the representation of the billing settings (GET's
// body, PATCH's base).
func (h *Handler) billingSettings(r *http.Request) (any, int64, error) {
	set, err := h.settings.Get(r.Context(), tenantOf(r))
	return settingsViewOf(set), set.Version, err
}

// settingsRequest is the settings as GET returns them (settingsView); every member but
// orgUnitCost and version is required (settingsRequired).
type settingsRequest struct {
	versioned
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

// settingsRequired are the members a PUT of the billing settings must
// carry: all of GET's but orgUnitCost (absent: no per-org override).
var settingsRequired = []string{"timeZone", "period", "effectiveDate", "createMissingLines", "zeroDeprovisioned", "unitCost", "budgetPerHour", "runAt"}

// putBillingSettings replaces the billing settings (app.Settings.Put):
// every member is required, so a partial body is refused rather than resetting the rest
// (PATCH changes some). If-Match or version guards against a concurrent
// edit.
func (h *Handler) putBillingSettings(w http.ResponseWriter, r *http.Request) {
	var req settingsRequest
	if err := readFull(r, &req, settingsRequired...); err != nil {
		h.fail(w, r, err)
		return
	}
	set := billing.Settings{TimeZone: req.TimeZone, Period: req.Period, EffectiveDate: req.EffectiveDate,
		CreateMissingLines: req.CreateMissingLines, ZeroDeprovisioned: req.ZeroDeprovisioned, UnitCost: req.UnitCost,
		OrgUnitCost: req.OrgUnitCost, BudgetPerHour: req.BudgetPerHour, RunAt: req.RunAt}
	version, err := expectedVersionOr(r, req.versioned, anyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.settings.Put(r.Context(), tenantOf(r), set, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, settingsViewOf(saved))
}
