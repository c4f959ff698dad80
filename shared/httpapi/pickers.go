package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// The pickers (company types, companies, contracts, lines, ticket options)
// read the tenant's PSA. An admin clicking through the screens asks for
// the same lists again and again, and every PSA request counts against the
// tenant's hourly budget (Autotask's 10,000 are shared with the MSP's other
// integrations), so answers are cached briefly per tenant.

// DefaultPickerTTL is how long a picker answer is reused.
const DefaultPickerTTL = time.Minute

// maxPickerEntries bounds the cache of one process.
const maxPickerEntries = 2000

type pickerEntry struct {
	value   any
	expires time.Time
}

// pickerCache is a small TTL cache keyed by tenant and question.
type pickerCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]pickerEntry
}

func newPickerCache(ttl time.Duration, now func() time.Time) *pickerCache {
	if ttl == 0 {
		ttl = DefaultPickerTTL
	}
	return &pickerCache{ttl: ttl, now: now, entries: map[string]pickerEntry{}}
}

// pickerKey scopes a question to a tenant and to the integration item's
// version (which every write of the item changes, a credential write
// included), so no process answers from before an integration change,
// whichever process made it.
func pickerKey(tenant string, in integration.Integration, question string) string {
	return tenant + "\x00" + strconv.FormatInt(in.Version, 10) + "\x00" + question
}

// cached returns the cached answer to key, or asks and caches it.
func cached[T any](c *pickerCache, key string, ask func() (T, error)) (T, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && c.now().Before(e.expires) {
			return e.value.(T), nil
		}
	}
	v, err := ask()
	if err != nil || c.ttl <= 0 {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxPickerEntries {
		now := c.now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxPickerEntries {
			c.entries = map[string]pickerEntry{}
		}
	}
	c.entries[key] = pickerEntry{value: v, expires: c.now().Add(c.ttl)}
	return v, nil
}

// forget drops a tenant's cached answers.
func (c *pickerCache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, tenant+"\x00") {
			delete(c.entries, k)
		}
	}
}

// askPSA connects to the caller's tenant's PSA and asks it one question
// (one of the cached picker reads). NotFound without an integration; PSA
// errors as psaError.
func askPSA[T any](h *Handler, r *http.Request, ask func(ctx context.Context, tenant string, in integration.Integration, c psa.Client) (T, error)) (T, error) {
	tenant := tenantOf(r)
	c, in, err := h.client(r.Context(), tenant)
	if err != nil {
		var zero T
		return zero, err
	}
	return ask(r.Context(), tenant, in, c)
}

// nonNilOptions makes each list an empty array instead of null: the lists
// a response always has.
func nonNilOptions(lists ...*[]optionView) {
	for _, l := range lists {
		if *l == nil {
			*l = []optionView{}
		}
	}
}

func (h *Handler) companyTypes(ctx context.Context, tenant string, in integration.Integration, c psa.Client) ([]psa.CompanyType, error) {
	v, err := cached(h.pickers, pickerKey(tenant, in, "company-types"), func() ([]psa.CompanyType, error) { return c.CompanyTypes(ctx) })
	return v, app.PSAError(err)
}

func (h *Handler) ticketOptions(ctx context.Context, tenant string, in integration.Integration, c psa.Client) (psa.TicketOptions, error) {
	v, err := cached(h.pickers, pickerKey(tenant, in, "ticket-options"), func() (psa.TicketOptions, error) { return c.TicketOptions(ctx) })
	return v, app.PSAError(err)
}

// defaultTypeNames are chosen while the admin has chosen none: the types
// MSPs bill (ConnectWise "Client", Autotask "Customer").
var defaultTypeNames = []string{"customer", "client"}

// chosenTypes returns the company types the pickers use.
func chosenTypes(in integration.Integration, types []psa.CompanyType) []int64 {
	if len(in.CompanyTypeIDs) > 0 {
		return in.CompanyTypeIDs
	}
	var ids []int64
	for _, t := range types {
		if slices.Contains(defaultTypeNames, strings.ToLower(strings.TrimSpace(t.Name))) {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// companyChoice is a tenant's PSA with its company types, the types the
// pickers use and (from chosenCompanies) the companies of those types.
type companyChoice struct {
	client    psa.Client
	in        integration.Integration
	types     []psa.CompanyType
	chosen    []int64
	companies []psa.Company
}

// companyTypeChoice reads the tenant's client and company types (one
// cached PSA read). NotFound without an integration; PSA errors as
// psaError.
func (h *Handler) companyTypeChoice(ctx context.Context, tenant string) (companyChoice, error) {
	c, in, err := h.client(ctx, tenant)
	if err != nil {
		return companyChoice{}, err
	}
	types, err := h.companyTypes(ctx, tenant, in, c)
	if err != nil {
		return companyChoice{}, err
	}
	return companyChoice{client: c, in: in, types: types, chosen: chosenTypes(in, types)}, nil
}

// chosenCompanies is companyTypeChoice with the companies of the chosen
// types (one more cached PSA read, shared by the pickers and the mapping
// suggestions).
func (h *Handler) chosenCompanies(ctx context.Context, tenant string) (companyChoice, error) {
	cc, err := h.companyTypeChoice(ctx, tenant)
	if err != nil {
		return cc, err
	}
	cc.companies, err = cached(h.pickers, pickerKey(tenant, cc.in, "companies "+joinIDs(cc.chosen)), func() ([]psa.Company, error) {
		if len(cc.chosen) == 0 {
			return []psa.Company{}, nil
		}
		return cc.client.Companies(ctx, psa.CompanyFilter{TypeIDs: cc.chosen})
	})
	if err != nil {
		return companyChoice{}, app.PSAError(err)
	}
	return cc, nil
}

type companyTypeView struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	Selected  bool   `json:"selected"`
}

func (h *Handler) getCompanyTypes(w http.ResponseWriter, r *http.Request) {
	cc, err := h.companyTypeChoice(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]companyTypeView, len(cc.types))
	for i, t := range cc.types {
		out[i] = companyTypeView{ID: t.ID, Name: t.Name, IsDefault: t.IsDefault, Selected: slices.Contains(cc.chosen, t.ID)}
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
	cc, err := h.chosenCompanies(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var match []psa.Company
	for _, co := range cc.companies {
		if needle == "" || strings.Contains(strings.ToLower(co.Name), needle) {
			match = append(match, co)
		}
	}
	page := companiesPage{Companies: []companyView{}}
	if offset < len(match) {
		end := min(offset+limit, len(match))
		for _, co := range match[offset:end] {
			page.Companies = append(page.Companies, companyViewOf(co))
		}
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

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

func (h *Handler) getContracts(w http.ResponseWriter, r *http.Request) {
	servePickerOf(h, w, r, "contracts", h.contracts, contractViewOf)
}

func (h *Handler) contracts(ctx context.Context, tenant string, in integration.Integration, c psa.Client, companyID int64) ([]psa.Contract, error) {
	return cachedList(h, tenant, in, "contracts "+strconv.FormatInt(companyID, 10), func() ([]psa.Contract, error) {
		return c.Contracts(ctx, companyID)
	})
}

func (h *Handler) getLines(w http.ResponseWriter, r *http.Request) {
	servePickerOf(h, w, r, "lines", h.lines, serviceLineViewOf)
}

func (h *Handler) lines(ctx context.Context, tenant string, in integration.Integration, c psa.Client, contractID int64) ([]psa.ServiceLine, error) {
	return cachedList(h, tenant, in, "lines "+strconv.FormatInt(contractID, 10), func() ([]psa.ServiceLine, error) {
		return c.Lines(ctx, contractID)
	})
}

// servePickerOf answers a picker of the thing whose id is the {id} path
// value (a company's contracts, a contract's lines) with {name: list},
// each item in its wire view.
// NotFound for a malformed id or without an integration; PSA errors as
// psaError.
func servePickerOf[T, V any](h *Handler, w http.ResponseWriter, r *http.Request, name string,
	list func(ctx context.Context, tenant string, in integration.Integration, c psa.Client, id int64) ([]T, error), view func(T) V) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := askPSA(h, r, func(ctx context.Context, tenant string, in integration.Integration, c psa.Client) ([]T, error) {
		return list(ctx, tenant, in, c, id)
	})
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

// cachedList is the cached answer to a list question, an empty list (a
// JSON array, never null) when there is none; PSA errors as psaError.
func cachedList[T any](h *Handler, tenant string, in integration.Integration, question string, ask func() ([]T, error)) ([]T, error) {
	list, err := cached(h.pickers, pickerKey(tenant, in, question), ask)
	if list == nil {
		list = []T{}
	}
	return list, app.PSAError(err)
}

func (h *Handler) getTicketOptions(w http.ResponseWriter, r *http.Request) {
	o, err := askPSA(h, r, h.ticketOptions)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ticketOptionsViewOf(o))
}
