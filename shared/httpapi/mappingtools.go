package httpapi

import (
	"encoding/csv"
	"net/http"
	"strings"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/billing"
)

// Tools that help admins get mappings right and keep them right: a live
// health check of a mapping, suggested mappings (never applied without an
// explicit PUT), and the month-end reconciliation report.

// getMappingHealth checks an org's mapping against the PSA now: company
// gone, inactive or renamed; contract gone, of another company, cancelled,
// ended or not recurring; lines missing, cancelled or billing another
// product than the pushed catalog's. Everything is identified by PSA ids.
func (h *Handler) getMappingHealth(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	health, err := h.mappings.Health(r.Context(), tenantOf(r), org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, healthViewOf(health))
}

// proposal is a complete mapping a suggestion proposes: the body of a
// PUT /v1/orgs/{org}/mapping the admin may send.
type proposal struct {
	CompanyID  int64             `json:"companyId"`
	ContractID int64             `json:"contractId"`
	Lines      []lineMappingView `json:"lines"`
}

type suggestionView struct {
	Org       string                  `json:"org"`
	Name      string                  `json:"name"`
	Companies []companySuggestionView `json:"companies"`
	Proposal  *proposal               `json:"proposal,omitempty"`
}

func suggestionViewOf(s app.Suggestion) suggestionView {
	v := suggestionView{Org: s.Org, Name: s.Name, Companies: mapSlice(s.Companies, companySuggestionViewOf)}
	if p := s.Proposal; p != nil {
		v.Proposal = &proposal{CompanyID: p.CompanyID, ContractID: p.ContractID, Lines: make([]lineMappingView, len(p.Lines))}
		for i, l := range p.Lines {
			v.Proposal.Lines[i] = lineMappingView{Product: string(l.Product), LineID: l.LineID}
		}
	}
	return v
}

// getMappingSuggestions ranks the PSA companies of the chosen types for an
// org and proposes a mapping for the best (app.Suggestions.ForOrg).
// Nothing is saved: the admin applies a proposal with PUT …/mapping.
func (h *Handler) getMappingSuggestions(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.suggestions.ForOrg(r.Context(), tenantOf(r), org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, suggestionViewOf(s))
}

// getBulkSuggestions ranks companies for every unmapped org in one call
// (app.Suggestions.Unmapped): two cached PSA reads, whatever the number of
// orgs. Contracts and lines are proposed per org by
// GET /v1/orgs/{org}/mapping/suggestions.
func (h *Handler) getBulkSuggestions(w http.ResponseWriter, r *http.Request) {
	all, err := h.suggestions.Unmapped(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"suggestions": mapSlice(all, suggestionViewOf)})
}

// getReconciliation is the month-end check before invoicing
// (app.Reconciliation.Report). With Accept: text/csv it is a CSV file.
func (h *Handler) getReconciliation(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	month, rows, err := h.recon.Report(r.Context(), tenant, r.URL.Query().Get("period"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if acceptsCSV(r) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="reconciliation-`+string(month)+`.csv"`)
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		_ = cw.Write(billing.ReconciliationCSVHeader)
		for _, row := range rows {
			rec := row.CSVRecord()
			rec[0], rec[1] = cell(rec[0]), cell(rec[1]) // the text columns
			_ = cw.Write(rec)
		}
		cw.Flush()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"period": month, "rows": mapSlice(rows, reconciliationRowViewOf)})
}

// acceptsCSV reports whether the caller asked for CSV.
func acceptsCSV(r *http.Request) bool {
	return strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Accept"), ",")), "text/csv")
}
