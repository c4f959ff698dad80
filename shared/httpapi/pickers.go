package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
)

// The pickers' routes: what the admin screens pick from in the tenant's
// PSA (app.Pickers reads and caches it).

// DefaultPickerTTL is how long a picker answer is reused
// (app.DefaultPickerTTL).
const DefaultPickerTTL = app.DefaultPickerTTL

// nonNilOptions makes each list an empty array instead of null: the lists
// a response always has.
func nonNilOptions(lists ...*[]optionView) {
	for _, l := range lists {
		if *l == nil {
			*l = []optionView{}
		}
	}
}

type companyTypeView struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	Selected  bool   `json:"selected"`
}

func (h *Handler) getCompanyTypes(w http.ResponseWriter, r *http.Request) {
	cc, err := h.pickers.CompanyTypes(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]companyTypeView, len(cc.Types))
	for i, t := range cc.Types {
		out[i] = companyTypeView{ID: t.ID, Name: t.Name, IsDefault: t.IsDefault, Selected: slices.Contains(cc.Chosen, t.ID)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"companyTypes": out})
}

// Companies are paged for the picker.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

type companiesPage struct {
	Companies  []companyView `json:"companies"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// getCompanies lists the PSA's active companies of the chosen types,
// filtered by ?q= (name contains, case-insensitive) and paged by
// ?cursor=&limit=. One cached PSA read serves every query and page.
func (h *Handler) getCompanies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset := defaultPageSize, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			h.fail(w, r, apperr.New(apperr.Invalid, "limit must be between 1 and %d", maxPageSize))
			return
		}
		limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.fail(w, r, apperr.New(apperr.Invalid, "cursor is not one this API returned"))
			return
		}
		offset = n
	}
	needle := strings.ToLower(strings.TrimSpace(q.Get("q")))
	if len(needle) > 200 {
		h.fail(w, r, apperr.New(apperr.Invalid, "q is longer than 200 characters"))
		return
	}
	cc, err := h.pickers.Companies(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var match []companyView
	for _, co := range cc.Companies {
		if needle == "" || strings.Contains(strings.ToLower(co.Name), needle) {
			match = append(match, companyViewOf(co))
		}
	}
	page := companiesPage{Companies: []companyView{}}
	if offset < len(match) {
		end := min(offset+limit, len(match))
		page.Companies = append(page.Companies, match[offset:end]...)
		if end < len(match) {
			page.NextCursor = strconv.Itoa(end)
		}
	}
	for i := range page.Companies {
		if page.Companies[i].TypeIDs == nil {
			page.Companies[i].TypeIDs = []int64{}
		}
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *Handler) getContracts(w http.ResponseWriter, r *http.Request) {
	servePickerOf(h, w, r, "contracts", h.pickers.Contracts, contractViewOf)
}

func (h *Handler) getLines(w http.ResponseWriter, r *http.Request) {
	servePickerOf(h, w, r, "lines", h.pickers.Lines, serviceLineViewOf)
}

// servePickerOf answers a picker of the thing whose id is the {id} path
// value (a company's contracts, a contract's lines) with {name: list},
// each item in its wire view. NotFound for a malformed id or without an
// integration; PSA errors as app.PSAError gives them.
func servePickerOf[T, V any](h *Handler, w http.ResponseWriter, r *http.Request, name string,
	list func(ctx context.Context, tenant string, id int64) ([]T, error), view func(T) V) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := list(r.Context(), tenantOf(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]V, len(items))
	for i, it := range items {
		views[i] = view(it)
	}
	writeJSON(w, http.StatusOK, map[string]any{name: views})
}

func (h *Handler) getTicketOptions(w http.ResponseWriter, r *http.Request) {
	o, err := h.pickers.TicketOptions(r.Context(), tenantOf(r), nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ticketOptionsViewOf(o))
}
