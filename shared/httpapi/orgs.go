package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// orgView is one org in GET /v1/orgs (app.OrgSummary on the wire).
type orgView struct {
	ID      string                    `json:"id"`
	Name    string                    `json:"name"`
	State   billing.MappingState      `json:"state"`
	Mapping *mappingView              `json:"mapping,omitempty"`
	Usage   map[billing.Product]int64 `json:"usage"`
	// Health is a mapped org's mapping health as the sync last recorded it
	// (no PSA request on list); see GET /v1/orgs/{org}/mapping/health.
	Health *orgHealth `json:"health,omitempty"`
	// LastSync is the org's entries of the newest run that recorded one
	// (one per line, or one for the whole org when the run skipped it), by
	// product; empty when no run recorded any.
	LastSync []lastEntryView `json:"lastSync"`
}

// orgHealth is the health column of GET /v1/orgs.
type orgHealth struct {
	// Status is ok, warning or broken, or unchecked when no run checked
	// the mapping since it was saved.
	Status    string                `json:"status"`
	Codes     []billing.ProblemCode `json:"codes"`
	CheckedAt *time.Time            `json:"checkedAt,omitempty"`
}

type orgsResponse struct {
	// Month is the billing month whose HWMs Usage shows.
	Month billing.Month `json:"month"`
	Orgs  []orgView     `json:"orgs"`
}

// getOrgs lists the tenant's orgs (app.Orgs.List): registered or known
// from usage, with their mapping state and the HWMs of the month the next
// sync bills.
func (h *Handler) getOrgs(w http.ResponseWriter, r *http.Request) {
	month, orgs, err := h.orgs.List(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := orgsResponse{Month: month, Orgs: make([]orgView, len(orgs))}
	for i, o := range orgs {
		v := orgView{ID: o.ID, Name: o.Name, State: o.State, Usage: o.Usage, LastSync: make([]lastEntryView, len(o.LastSync))}
		if o.Mapping != nil {
			m := mappingViewOf(*o.Mapping)
			v.Mapping = &m
		}
		if hl := o.Health; hl != nil {
			v.Health = &orgHealth{Status: hl.Status, Codes: hl.Codes, CheckedAt: hl.CheckedAt}
		}
		for j, e := range o.LastSync {
			v.LastSync[j] = lastEntryView{entryView: entryViewOf(e.Entry), RunID: e.RunID}
		}
		resp.Orgs[i] = v
	}
	writeJSON(w, http.StatusOK, resp)
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
	m, err := h.mappings.Mapping(r.Context(), tenantOf(r), org)
	if err != nil {
		return nil, 0, err
	}
	return mappingViewOf(m), m.Version, nil
}

// mappingRequest is a mapping as GET returns it (mappingView); state, seen and
// updatedAt are read-only, accepted so a GET body can be PUT back.
type mappingRequest struct {
	versioned
	State            json.RawMessage   `json:"state"`
	Seen             json.RawMessage   `json:"seen"`
	UpdatedAt        json.RawMessage   `json:"updatedAt"`
	CompanyID        int64             `json:"companyId"`
	ContractID       int64             `json:"contractId"`
	Lines            []lineMappingView `json:"lines"`
	NonBillableUsers int64             `json:"nonBillableUsers"`
}

// mapping maps the request to the domain's mapping.
func (req mappingRequest) mapping() billing.Mapping {
	m := billing.Mapping{CompanyID: req.CompanyID, ContractID: req.ContractID, NonBillableUsers: req.NonBillableUsers}
	if req.Lines != nil {
		m.Lines = make([]billing.LineMapping, len(req.Lines))
		for i, l := range req.Lines {
			m.Lines[i] = billing.LineMapping{Product: billing.Product(l.Product), LineID: l.LineID}
		}
	}
	return m
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
	version, guarded, err := expectedVersion(r, req.versioned)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.mappings.Put(r.Context(), tenantOf(r), org, req.mapping(), version, guarded)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, mappingViewOf(saved))
}

// deleteMapping disables an org's mapping: the org leaves the daily sync,
// its mapping is kept for re-enabling. If-Match is optional.
func (h *Handler) deleteMapping(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	version, guarded, err := ifMatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !guarded {
		version = app.AnyVersion
	}
	saved, err := h.mappings.Disable(r.Context(), tenantOf(r), org, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, mappingViewOf(saved))
}
