package httpapi

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"

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

// suggestionLimit is how many companies a suggestion ranks.
const suggestionLimit = 5

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

// rank ranks the chosen companies for one org.
func (sc companyChoice) rank(org billing.Org) suggestionView {
	name := org.Name
	if name == "" {
		name = org.ID
	}
	ranked := billing.RankCompanies(name, sc.companies, sc.chosen, billing.MinSuggestionScore, suggestionLimit)
	for i := range ranked {
		if ranked[i].Company.TypeIDs == nil {
			ranked[i].Company.TypeIDs = []int64{}
		}
	}
	return suggestionView{Org: org.ID, Name: name, Companies: mapSlice(ranked, companySuggestionViewOf)}
}

// getMappingSuggestions ranks the PSA companies of the chosen types for an
// org by name and, for the best one, proposes its current recurring
// contract and the contract's line of each pushed catalog product. Nothing
// is saved: the admin applies a proposal with PUT …/mapping.
func (h *Handler) getMappingSuggestions(w http.ResponseWriter, r *http.Request) {
	org, err := orgParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenant := tenantOf(r)
	o, err := h.cfg.Store.Org(r.Context(), tenant, org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.chosenCompanies(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cat, err := h.cfg.Store.Catalog(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	view := sc.rank(o)
	if len(view.Companies) > 0 {
		p, err := h.propose(r.Context(), tenant, sc, view.Companies[0].Company.ID, cat)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		view.Proposal = p
	}
	writeJSON(w, http.StatusOK, view)
}

// propose picks the company's contract and a line per pushed catalog
// product (the users product by its line name when nothing is pushed yet
// is not guessed: no line then). nil when the company has no fitting
// contract.
func (h *Handler) propose(ctx context.Context, tenant string, sc companyChoice, companyID int64, cat billing.Catalog) (*proposal, error) {
	contracts, err := h.contracts(ctx, tenant, sc.in, sc.client, companyID)
	if err != nil {
		return nil, err
	}
	ct, ok := billing.ChooseContract(contracts, h.now())
	if !ok {
		return nil, nil
	}
	p := &proposal{CompanyID: companyID, ContractID: ct.ID, Lines: []lineMappingView{}}
	ids := cat.ServiceIDs()
	if len(ids) == 0 {
		return p, nil
	}
	lines, err := h.lines(ctx, tenant, sc.in, sc.client, ct.ID)
	if err != nil {
		return nil, err
	}
	for _, prod := range cat.Products {
		if l, ok := billing.ChooseLine(lines, ids[prod.Key]); ok {
			p.Lines = append(p.Lines, lineMappingView{Product: string(prod.Key), LineID: l.ID})
		}
	}
	return p, nil
}

// getBulkSuggestions ranks companies for every unmapped org in one call:
// the company types and the companies of the chosen types are the only PSA
// reads (two requests, cached), whatever the number of orgs. Contracts and
// lines are proposed per org by GET /v1/orgs/{org}/mapping/suggestions.
func (h *Handler) getBulkSuggestions(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	orgs, err := h.cfg.Store.Orgs(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.chosenCompanies(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []suggestionView{}
	for _, o := range orgs {
		if o.State() == billing.Unmapped {
			out = append(out, sc.rank(o))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"suggestions": out})
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
