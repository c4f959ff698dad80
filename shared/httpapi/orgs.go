package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// orgView is one org in GET /v1/orgs.
type orgView struct {
	ID      string                    `json:"id"`
	Name    string                    `json:"name"`
	State   billing.MappingState      `json:"state"`
	Mapping *billing.Mapping          `json:"mapping,omitempty"`
	Usage   map[billing.Product]int64 `json:"usage"`
	// Health is a mapped org's mapping health as the sync last recorded it
	// (no PSA request on list); see GET /v1/orgs/{org}/mapping/health.
	Health *orgHealth `json:"health,omitempty"`
	// LastSync is the org's entries of the newest run that recorded one
	// (one per line, or one for the whole org when the run skipped it), by
	// product; empty when no run recorded any.
	LastSync []billing.LastEntry `json:"lastSync"`
}

// orgHealth is the health column of GET /v1/orgs.
type orgHealth struct {
	// Status is ok, warning or broken, or unchecked when no run checked
	// the mapping since it was saved.
	Status    string                `json:"status"`
	Codes     []billing.ProblemCode `json:"codes"`
	CheckedAt *time.Time            `json:"checkedAt,omitempty"`
}

// healthColumn renders the recorded health of an org's mapping.
func healthColumn(o billing.Org, m billedMonth) *orgHealth {
	if o.State() != billing.Mapped {
		return nil
	}
	if hl, ok := m.healthOf(o); ok {
		at := hl.CheckedAt
		return &orgHealth{Status: string(hl.Status), Codes: hl.Codes(), CheckedAt: &at}
	}
	return &orgHealth{Status: "unchecked", Codes: []billing.ProblemCode{}}
}

// billedMonth is what the orgs list and the reconciliation read from the
// store for one billing month: the tenant's billing settings, the month,
// its orgs, the month's HWMs and the mapping health the newest run
// recorded.
type billedMonth struct {
	settings billing.Settings
	month    billing.Month
	orgs     []billing.Org
	usage    []billing.HighWaterMark
	recorded billing.RunHealth
	// found is false when no run recorded health yet.
	found bool
}

// readBilledMonth reads a tenant's billedMonth: the month is period
// ("YYYY-MM") or, when period is empty, the month the next sync bills.
// Invalid when period is malformed; store errors as they are.
func (h *Handler) readBilledMonth(ctx context.Context, tenant, period string) (billedMonth, error) {
	var m billedMonth
	var err error
	if m.settings, err = h.cfg.Store.BillingSettings(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	m.month = m.settings.BilledMonth(h.now())
	if period != "" {
		if m.month, err = billing.ParseMonth(period); err != nil {
			return billedMonth{}, err
		}
	}
	if m.orgs, err = h.cfg.Store.Orgs(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	if m.usage, err = h.cfg.Store.MonthUsage(ctx, tenant, m.month); err != nil {
		return billedMonth{}, err
	}
	if m.recorded, m.found, err = h.cfg.Store.LatestRunHealth(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	return m, nil
}

// healthOf is the recorded health of a mapped org's mapping, false when no
// run checked the mapping since it was saved.
func (m billedMonth) healthOf(o billing.Org) (billing.Health, bool) {
	if !m.found {
		return billing.Health{}, false
	}
	return m.recorded.Covers(o.ID, o.Mapping.UpdatedAt)
}

type orgsResponse struct {
	// Month is the billing month whose HWMs Usage shows.
	Month billing.Month `json:"month"`
	Orgs  []orgView     `json:"orgs"`
}

// getOrgs lists the tenant's orgs, registered or known from usage, with
// their mapping state and the HWMs of the month the next sync bills.
func (h *Handler) getOrgs(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	m, err := h.readBilledMonth(r.Context(), tenant, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	last, err := h.cfg.Store.LastEntries(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	byID := map[string]*orgView{}
	resp := orgsResponse{Month: m.month, Orgs: make([]orgView, 0, len(m.orgs))}
	for _, o := range m.orgs {
		resp.Orgs = append(resp.Orgs, orgView{ID: o.ID, Name: o.Name, State: o.State(), Mapping: o.Mapping, Usage: map[billing.Product]int64{},
			Health: healthColumn(o, m), LastSync: []billing.LastEntry{}})
	}
	for _, u := range m.usage {
		if !slices.ContainsFunc(resp.Orgs, func(v orgView) bool { return v.ID == u.Org }) {
			resp.Orgs = append(resp.Orgs, orgView{ID: u.Org, State: billing.Unmapped, Usage: map[billing.Product]int64{}, LastSync: []billing.LastEntry{}})
		}
	}
	for i := range resp.Orgs {
		byID[resp.Orgs[i].ID] = &resp.Orgs[i]
	}
	for _, u := range m.usage {
		byID[u.Org].Usage[u.Product] = u.Value
	}
	for org, entries := range lastSyncs(last) {
		if v, ok := byID[org]; ok {
			v.LastSync = entries
		}
	}
	slices.SortFunc(resp.Orgs, func(a, b orgView) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, resp)
}

// lastSyncs groups the stored last entries by org and keeps, per org, only
// those of its newest run: a line dropped from the mapping, or an org-level
// entry (not mapped, no integration) a later run superseded, keeps its old
// item until Retention, and would otherwise show as current.
func lastSyncs(last []billing.LastEntry) map[string][]billing.LastEntry {
	newest := map[string]billing.LastEntry{}
	for _, e := range last {
		if n, ok := newest[e.Org]; !ok || e.At.After(n.At) || (e.At.Equal(n.At) && e.RunID > n.RunID) {
			newest[e.Org] = e
		}
	}
	out := map[string][]billing.LastEntry{}
	for _, e := range last {
		if e.RunID == newest[e.Org].RunID {
			out[e.Org] = append(out[e.Org], e)
		}
	}
	return out
}

// orgParam returns the {org} path value. NotFound when malformed: no org
// has such an id.
func orgParam(r *http.Request) (string, error) {
	org := r.PathValue("org")
	if !billing.ValidOrgID(org) {
		return "", apperr.New(apperr.NotFound, "org %q not found", org)
	}
	return org, nil
}

// storedMapping returns an org's mapping. NotFound when the org has none.
func (h *Handler) storedMapping(ctx context.Context, tenant, org string) (billing.Mapping, error) {
	o, err := h.cfg.Store.Org(ctx, tenant, org)
	if err != nil {
		return billing.Mapping{}, err
	}
	if o.Mapping == nil {
		return billing.Mapping{}, apperr.New(apperr.NotFound, "org %q has no mapping", org)
	}
	return *o.Mapping, nil
}

func (h *Handler) getMapping(w http.ResponseWriter, r *http.Request) {
	m, version, err := h.mapping(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, version, m)
}

// mapping is the representation of an org's mapping (GET's body, PATCH's
// base). NotFound when the org has none.
func (h *Handler) mapping(r *http.Request) (any, int64, error) {
	org, err := orgParam(r)
	if err != nil {
		return nil, 0, err
	}
	m, err := h.storedMapping(r.Context(), tenantOf(r), org)
	return m, m.Version, err
}

// mappingRequest is billing.Mapping as GET returns it; state, seen and
// updatedAt are read-only, accepted so a GET body can be PUT back.
type mappingRequest struct {
	versioned
	State            json.RawMessage       `json:"state"`
	Seen             json.RawMessage       `json:"seen"`
	UpdatedAt        json.RawMessage       `json:"updatedAt"`
	CompanyID        int64                 `json:"companyId"`
	ContractID       int64                 `json:"contractId"`
	Lines            []billing.LineMapping `json:"lines"`
	NonBillableUsers int64                 `json:"nonBillableUsers"`
}

// putMapping maps an org to a PSA company, contract and lines, checked
// against the PSA. Changing an existing mapping needs its ETag in If-Match,
// so two admins editing at once cannot overwrite each other.
func (h *Handler) putMapping(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req mappingRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	m := billing.Mapping{CompanyID: req.CompanyID, ContractID: req.ContractID, Lines: req.Lines, NonBillableUsers: req.NonBillableUsers, State: billing.Mapped}
	if err := m.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	version, guarded, err := expectedVersion(r, req.versioned)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenant := tenantOf(r)
	c, _, err := h.client(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cur, err := h.storedMapping(r.Context(), tenant, org)
	switch {
	case err == nil && !guarded:
		h.fail(w, r, apperr.New(apperr.PreconditionFailed, "the org is mapped already: send its ETag in If-Match (or its version in the body) to change the mapping"))
		return
	case err != nil && !apperr.Is(err, apperr.NotFound):
		h.fail(w, r, err)
		return
	case !guarded:
		version = 0
	case version == anyVersion:
		version = cur.Version
	}
	seen, err := app.CheckNewMapping(r.Context(), c, m, h.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m.Seen = seen
	saved, err := h.cfg.Store.PutMapping(r.Context(), tenant, org, m, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, saved)
}

// deleteMapping disables an org's mapping: the org leaves the daily sync,
// its mapping is kept for re-enabling. If-Match is optional.
func (h *Handler) deleteMapping(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenant := tenantOf(r)
	version, guarded, err := ifMatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m, err := h.storedMapping(r.Context(), tenant, org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !guarded || version == anyVersion {
		version = m.Version
	}
	m.State = billing.Disabled
	saved, err := h.cfg.Store.PutMapping(r.Context(), tenant, org, m, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, saved)
}
