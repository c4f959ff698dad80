package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HaloPSA hosts HaloPSA instances, keyed by the client_id of their API
// application. Paths (the sandbox's stand-ins for https://{host}/auth/ and
// https://{host}/api/):
//
//	/halopsa/auth/token[?tenant=…]   OAuth 2 client-credentials token
//	/halopsa/api/{Resource}[/{id}]   the Halo API v2 (Bearer token)
//
// Rules enforced because they bite in production (see docs/HALOPSA.md and
// ../shared/specs/halopsa-v2.swagger.json): a form-encoded
// client_credentials grant with the application's id and secret (and the
// tenant, for an instance that has one), answered with an expiring Bearer
// token holding the application's permissions (scopes); every API call
// carries an unexpired token (401 otherwise) whose scopes allow it (403
// otherwise, halopsa_scopes.go); writes
// are a POST of a JSON array to the collection, creating an element without
// an id and updating one with an id; an int or bool query parameter that
// does not parse is a 400 (ASP.NET model binding); unknown query parameters
// are ignored, as Halo ignores them; lists are unpaged unless
// pageinate=true, then page_size/page_no (at most HaloMaxPageSize); a write
// whose Content-Type is not JSON is a 415; a post is all or nothing.
// Business rule failures are HTTP 400 with Halo's serialised exception
// body. Faults, request counts ("halopsa GET /Client/{id}") and the write
// log of recurring invoice lines work as in the other dialects.
type HaloPSA struct {
	s *Server

	mu        sync.Mutex
	instances map[string]*haloInstance // by client_id
	tokens    map[string]haloToken
	latency   time.Duration
	inflight  gauge // API requests per application
}

// HaloDefaultTokenTTL is the lifetime of an access token when the seed does
// not say (Halo's default is an hour).
const HaloDefaultTokenTTL = time.Hour

// HaloDefaultPageSize is page_size when pageinate=true does not give one.
const HaloDefaultPageSize = 50

// HaloMaxPageSize is the largest page_size the sandbox honours; a larger
// one is silently cut to it. Unverified for Halo itself (docs/HALOPSA.md
// section 2.1): no source states a cap, public clients ask for 100.
const HaloMaxPageSize = 100

// HaloPSASeed is one HaloPSA instance's initial state. Ids are the
// caller's: pick non-default ones (not 1, 2, 3) so a client that hard-codes
// ids fails; zero ids are assigned above every seeded one.
type HaloPSASeed struct {
	// ClientID and ClientSecret are the API application's credentials.
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// Tenant, when set, must be sent as the token request's tenant query
	// parameter (hosted instances).
	Tenant string `json:"tenant,omitempty"`
	// TokenTTLSeconds is the access tokens' lifetime (default an hour).
	TokenTTLSeconds int `json:"tokenTtlSeconds,omitempty"`
	// Permissions are the API application's permissions (Halo scopes:
	// "all", or "read:x"/"edit:x" per area; edit includes read). Empty
	// means all. A token gets those asked for (all of them for
	// scope=all); a call outside them is a 403.
	Permissions []string `json:"permissions,omitempty"`
	// APIAgentID is the agent the API application logs in as (GET
	// /Agent/me); one of Agents, or a synthesised "API User" agent
	// (default 4471) when it is not among them.
	APIAgentID int64 `json:"apiAgentId,omitempty"`

	// TopLevels classify clients (Area.toplevel_id); ClientTypes are the
	// Area.customertype values.
	TopLevels         []HaloOption           `json:"topLevels,omitempty"`
	ClientTypes       []HaloOption           `json:"clientTypes,omitempty"`
	Clients           []HaloClient           `json:"clients,omitempty"`
	Contracts         []HaloContract         `json:"contracts,omitempty"`
	RecurringInvoices []HaloRecurringInvoice `json:"recurringInvoices,omitempty"`
	Items             []HaloItem             `json:"items,omitempty"`
	// ItemGroups are the item groups (assetgroup_id) items may belong to.
	ItemGroups  []HaloOption `json:"itemGroups,omitempty"`
	TicketTypes []HaloOption `json:"ticketTypes,omitempty"`
	// Statuses default to HaloDefaultStatuses, Outcomes to
	// HaloDefaultOutcomes.
	Statuses   []HaloStatus  `json:"statuses,omitempty"`
	Priorities []HaloOption  `json:"priorities,omitempty"`
	Teams      []HaloOption  `json:"teams,omitempty"`
	Agents     []HaloAgent   `json:"agents,omitempty"`
	Outcomes   []HaloOutcome `json:"outcomes,omitempty"`
	Tickets    []HaloTicket  `json:"tickets,omitempty"`
	Actions    []HaloAction  `json:"actions,omitempty"`
}

// HaloOption is a lookup row: top level, client type, ticket type,
// priority, team.
type HaloOption struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Default  bool   `json:"default,omitempty"`
	Inactive bool   `json:"inactive,omitempty"`
}

// HaloStatus is a ticket status; Closed marks one that closes the ticket.
type HaloStatus struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Default bool   `json:"default,omitempty"`
	Closed  bool   `json:"closed,omitempty"`
}

// HaloAgent is an agent (a Halo user who works tickets), member of Team.
type HaloAgent struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Team     string `json:"team,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// HaloOutcome is an action outcome ("Note", "Private Note", "Close");
// NewStatus, when set, is the status an action with it gives the ticket.
type HaloOutcome struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	NewStatus int64  `json:"newStatus,omitempty"`
	Hidden    bool   `json:"hidden,omitempty"`
}

// HaloClient is a client (Halo's Area).
type HaloClient struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	TopLevelID int64  `json:"toplevelId,omitempty"`
	// ClientType is the Area.customertype value.
	ClientType int64 `json:"clientType,omitempty"`
	Inactive   bool  `json:"inactive,omitempty"`
}

// HaloContract is a client contract (ContractHeader). Dates default to the
// years around the sandbox's clock.
type HaloContract struct {
	ID        int64     `json:"id"`
	ClientID  int64     `json:"clientId"`
	Ref       string    `json:"ref"`
	StartDate time.Time `json:"startDate,omitzero"`
	EndDate   time.Time `json:"endDate,omitzero"`
	Inactive  bool      `json:"inactive,omitempty"`
}

// HaloRecurringInvoice is a recurring invoice (InvoiceHeader) of a client,
// optionally tied to a contract, with its lines. Halo numbers recurring
// invoices below zero (docs/HALOPSA.md section 5.2): seed negative ids;
// zero ids are assigned below every seeded one. StartDate defaults to
// January 1 of the year before the sandbox's clock; EndDate stays open. A
// line's Description defaults to its item's name.
type HaloRecurringInvoice struct {
	ID         int64             `json:"id"`
	ClientID   int64             `json:"clientId"`
	ContractID int64             `json:"contractId,omitempty"`
	Reference  string            `json:"reference,omitempty"`
	Disabled   bool              `json:"disabled,omitempty"`
	StartDate  time.Time         `json:"startDate,omitzero"`
	EndDate    time.Time         `json:"endDate,omitzero"`
	Lines      []HaloInvoiceLine `json:"lines,omitempty"`
}

// HaloInvoiceLine is a recurring invoice line (InvoiceDetail): qty_order
// units of item ItemID at unit_price, costing unit_cost.
type HaloInvoiceLine struct {
	ID          int64     `json:"id"`
	InvoiceID   int64     `json:"invoiceId,omitempty"`
	ItemID      int64     `json:"itemId"`
	Description string    `json:"description,omitempty"`
	Quantity    float64   `json:"quantity"`
	UnitPrice   float64   `json:"unitPrice"`
	UnitCost    float64   `json:"unitCost"`
	Inactive    bool      `json:"inactive,omitempty"`
	StartDate   time.Time `json:"startDate,omitzero"`
	EndDate     time.Time `json:"endDate,omitzero"`
}

// HaloItem is a catalog item. Recurring items carry recurringprice and
// recurringcost; BillingPeriod is item_default_billing_period (2 monthly,
// 3 yearly); GroupID is assetgroup_id. Inactive items are listed only
// with includeinactive=true (Item has no inactive field).
type HaloItem struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Description       string  `json:"description,omitempty"`
	InternalReference string  `json:"internalReference,omitempty"`
	BasePrice         float64 `json:"basePrice,omitempty"`
	CostPrice         float64 `json:"costPrice,omitempty"`
	Recurring         bool    `json:"recurring,omitempty"`
	RecurringPrice    float64 `json:"recurringPrice,omitempty"`
	RecurringCost     float64 `json:"recurringCost,omitempty"`
	BillingPeriod     int64   `json:"billingPeriod,omitempty"`
	GroupID           int64   `json:"groupId,omitempty"`
	Inactive          bool    `json:"inactive,omitempty"`
}

// HaloTicket is a ticket (Faults) as seeded and as stored.
type HaloTicket struct {
	ID           int64  `json:"id"`
	ClientID     int64  `json:"clientId"`
	Summary      string `json:"summary"`
	Details      string `json:"details,omitempty"`
	StatusID     int64  `json:"statusId,omitempty"`
	PriorityID   int64  `json:"priorityId,omitempty"`
	TicketTypeID int64  `json:"ticketTypeId,omitempty"`
	Team         string `json:"team,omitempty"`
	AgentID      int64  `json:"agentId,omitempty"`
	// Refs are the free reference fields a ticket carries (keys are Halo's
	// field names, haloTicketRefs), e.g. supplier_reference.
	Refs         map[string]string `json:"refs,omitempty"`
	DeadlineDate time.Time         `json:"deadlineDate,omitzero"`
	Closed       bool              `json:"closed,omitempty"`
}

// HaloAction is a ticket action (a note) as seeded and as stored.
type HaloAction struct {
	ID             int64  `json:"id"`
	TicketID       int64  `json:"ticketId"`
	OutcomeID      int64  `json:"outcomeId,omitempty"`
	Outcome        string `json:"outcome,omitempty"`
	Note           string `json:"note"`
	HiddenFromUser bool   `json:"hiddenFromUser,omitempty"`
	// NewStatus is the status the action gave the ticket (0: none).
	NewStatus int64 `json:"newStatus,omitempty"`
	// SystemID marks an action Halo logs itself (action_systemid): the
	// ticket's logging (HaloSystemLogged, its note the details) and each
	// status change made by updating the ticket (HaloSystemStatus). GET
	// /Actions answers them unless excludesys=true.
	SystemID int64 `json:"systemId,omitempty"`
}

// The action_systemid values of the system actions the sandbox logs.
const (
	HaloSystemLogged = 1
	HaloSystemStatus = 2
)

// HaloLineWrite is one accepted write of a recurring invoice line's
// quantity, price or cost, kept in the write log. Nil fields were not
// written.
type HaloLineWrite struct {
	// Route is the route that wrote it ("POST /RecurringInvoice/updatelines").
	Route     string
	InvoiceID int64
	LineID    int64
	Created   bool
	Quantity  *float64
	UnitPrice *float64
	UnitCost  *float64
}

// haloTicketRefs are the ticket fields that hold a caller's reference and
// the GET /Tickets parameter that searches each ("": none, so a caller
// lists tickets and compares; psabridge's key is third_party_id_string,
// docs/HALOPSA.md section 5.7).
var haloTicketRefs = map[string]string{
	"supplier_reference":    "search_supplier_reference",
	"third_party_id_string": "",
	"reference":             "",
	"userdef1":              "",
	"userdef2":              "",
	"userdef3":              "",
	"userdef4":              "",
	"userdef5":              "",
}

// haloInstance is one Halo database.
type haloInstance struct {
	seed      HaloPSASeed
	ttl       time.Duration
	clients   map[int64]*HaloClient
	contracts map[int64]*HaloContract
	invoices  map[int64]*HaloRecurringInvoice
	lines     map[int64]*HaloInvoiceLine
	items     map[int64]*HaloItem
	tickets   map[int64]*HaloTicket
	actions   []*HaloAction
	writes    []HaloLineWrite
	created   int // tickets created through the API
	issued    int // tokens issued
	nextID    int64
	// nextInvoiceID counts recurring invoice ids down from below zero.
	nextInvoiceID int64
}

// HaloDefaultStatuses are an instance's ticket statuses when its seed has
// none: Halo's usual set, at non-default ids.
var HaloDefaultStatuses = []HaloStatus{
	{ID: 4101, Name: "New", Default: true}, {ID: 4102, Name: "In Progress"},
	{ID: 4103, Name: "Waiting on Customer"}, {ID: 4109, Name: "Closed", Closed: true},
}

// HaloDefaultOutcomes are an instance's action outcomes when its seed has
// none, among them Halo's "Private Note".
var HaloDefaultOutcomes = []HaloOutcome{
	{ID: 5201, Name: "Note"}, {ID: 5202, Name: "Private Note"}, {ID: 5209, Name: "Close", NewStatus: 4109},
}

type haloToken struct {
	in      *haloInstance
	expires time.Time
	scopes  []string
}

func newHaloPSA(s *Server) *HaloPSA {
	return &HaloPSA{s: s, instances: map[string]*haloInstance{}, tokens: map[string]haloToken{}}
}

// AddInstance adds (or replaces) the instance of seed.ClientID. Tokens the
// replaced instance issued stay valid until they expire, as Halo's access
// tokens (JWTs) do when an application's secret is rotated; a new token
// needs the new secret. ExpireTokens revokes them.
func (h *HaloPSA) AddInstance(seed HaloPSASeed) {
	in := &haloInstance{
		seed: seed, ttl: HaloDefaultTokenTTL,
		clients: map[int64]*HaloClient{}, contracts: map[int64]*HaloContract{}, invoices: map[int64]*HaloRecurringInvoice{},
		lines: map[int64]*HaloInvoiceLine{}, items: map[int64]*HaloItem{}, tickets: map[int64]*HaloTicket{},
		nextID: 70000, nextInvoiceID: -70000,
	}
	if seed.TokenTTLSeconds > 0 {
		in.ttl = time.Duration(seed.TokenTTLSeconds) * time.Second
	}
	if len(in.seed.Statuses) == 0 {
		in.seed.Statuses = HaloDefaultStatuses
	}
	if len(in.seed.Outcomes) == 0 {
		in.seed.Outcomes = HaloDefaultOutcomes
	}
	if in.seed.APIAgentID == 0 {
		in.seed.APIAgentID = 4471
	}
	for _, id := range haloSeedIDs(seed) {
		in.nextID = max(in.nextID, id+1)
		in.nextInvoiceID = min(in.nextInvoiceID, id-1)
	}
	pick := func(id int64) int64 {
		if id != 0 {
			return id
		}
		id = in.nextID
		in.nextID++
		return id
	}
	for _, c := range seed.Clients {
		c.ID = pick(c.ID)
		in.clients[c.ID] = &c
	}
	defStart, defEnd := h.s.defaultContractDates()
	for _, c := range seed.Contracts {
		c.ID = pick(c.ID)
		if c.StartDate.IsZero() {
			c.StartDate = defStart
		}
		if c.EndDate.IsZero() {
			c.EndDate = defEnd
		}
		in.contracts[c.ID] = &c
	}
	for _, it := range seed.Items {
		it.ID = pick(it.ID)
		in.items[it.ID] = &it
	}
	for _, inv := range seed.RecurringInvoices {
		if inv.ID == 0 {
			inv.ID = in.newInvoiceID()
		}
		if inv.StartDate.IsZero() {
			inv.StartDate = defStart // Halo's recurring invoices have a first date; the end is open
		}
		lines := inv.Lines
		inv.Lines = nil
		in.invoices[inv.ID] = &inv
		for _, l := range lines {
			l.ID = pick(l.ID)
			l.InvoiceID = inv.ID
			if it := in.items[l.ItemID]; it != nil && l.Description == "" {
				l.Description = it.Name
			}
			in.lines[l.ID] = &l
		}
	}
	for _, t := range seed.Tickets {
		t.ID = pick(t.ID)
		t.Refs = cloneRefs(t.Refs)
		in.tickets[t.ID] = &t
	}
	for _, a := range seed.Actions {
		a.ID = pick(a.ID)
		in.actions = append(in.actions, &a)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.instances[seed.ClientID]; old != nil {
		in.issued = old.issued
		for k, t := range h.tokens {
			if t.in == old {
				t.in = in
				h.tokens[k] = t
			}
		}
	}
	h.instances[seed.ClientID] = in
}

func haloSeedIDs(s HaloPSASeed) []int64 {
	var ids []int64
	for _, c := range s.Clients {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Contracts {
		ids = append(ids, c.ID)
	}
	for _, it := range s.Items {
		ids = append(ids, it.ID)
	}
	for _, inv := range s.RecurringInvoices {
		ids = append(ids, inv.ID)
		for _, l := range inv.Lines {
			ids = append(ids, l.ID)
		}
	}
	for _, t := range s.Tickets {
		ids = append(ids, t.ID)
	}
	for _, a := range s.Actions {
		ids = append(ids, a.ID)
	}
	return ids
}

func cloneRefs(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// withHalo runs f on an instance under the lock; the zero T when there is
// no such instance.
func withHalo[T any](h *HaloPSA, clientID string, f func(*haloInstance) T) T {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.instances[clientID]
	if in == nil {
		var zero T
		return zero
	}
	return f(in)
}

// SetLatency makes every API request take at least d, so concurrent
// callers overlap as they do against the real service.
func (h *HaloPSA) SetLatency(d time.Duration) {
	h.mu.Lock()
	h.latency = d
	h.mu.Unlock()
}

// MaxInFlight returns the highest number of concurrent API requests seen
// from one application (Halo sets no such limit; a client bounds its own
// fan-out, and a test checks it here).
func (h *HaloPSA) MaxInFlight() int { return h.inflight.max() }

// ExpireTokens makes every token issued for an instance expired, so its
// next API call is a 401 and the client must fetch a new one.
func (h *HaloPSA) ExpireTokens(clientID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, t := range h.tokens {
		if t.in == h.instances[clientID] {
			delete(h.tokens, k)
		}
	}
}

// TokensIssued returns how many tokens an instance issued.
func (h *HaloPSA) TokensIssued(clientID string) int {
	return withHalo(h, clientID, func(in *haloInstance) int { return in.issued })
}

// Tickets returns an instance's tickets in id order.
func (h *HaloPSA) Tickets(clientID string) []HaloTicket {
	return withHalo(h, clientID, func(in *haloInstance) []HaloTicket {
		var out []HaloTicket
		for _, id := range cwSortedKeys(in.tickets) {
			t := *in.tickets[id]
			t.Refs = cloneRefs(t.Refs)
			out = append(out, t)
		}
		return out
	})
}

// Ticket returns one ticket as stored.
func (h *HaloPSA) Ticket(clientID string, id int64) (HaloTicket, bool) {
	for _, t := range h.Tickets(clientID) {
		if t.ID == id {
			return t, true
		}
	}
	return HaloTicket{}, false
}

// TicketsCreated returns how many tickets the API created in an instance.
func (h *HaloPSA) TicketsCreated(clientID string) int {
	return withHalo(h, clientID, func(in *haloInstance) int { return in.created })
}

// Actions returns an instance's ticket actions that are not system ones
// (the notes posted to /Actions and seeded), in creation order.
func (h *HaloPSA) Actions(clientID string) []HaloAction {
	return withHalo(h, clientID, func(in *haloInstance) []HaloAction {
		out := make([]HaloAction, 0, len(in.actions))
		for _, a := range in.actions {
			if a.SystemID == 0 {
				out = append(out, *a)
			}
		}
		return out
	})
}

// Line returns a recurring invoice line as stored.
func (h *HaloPSA) Line(clientID string, id int64) (HaloInvoiceLine, bool) {
	type res struct {
		l  HaloInvoiceLine
		ok bool
	}
	r := withHalo(h, clientID, func(in *haloInstance) res {
		if l := in.lines[id]; l != nil {
			return res{*l, true}
		}
		return res{}
	})
	return r.l, r.ok
}

// LineWrites returns the write log of an instance's recurring invoice
// lines (quantity, price and cost writes), in order.
func (h *HaloPSA) LineWrites(clientID string) []HaloLineWrite {
	return withHalo(h, clientID, func(in *haloInstance) []HaloLineWrite { return slices.Clone(in.writes) })
}

// Items returns an instance's catalog items in id order.
func (h *HaloPSA) Items(clientID string) []HaloItem {
	return withHalo(h, clientID, func(in *haloInstance) []HaloItem {
		var out []HaloItem
		for _, id := range cwSortedKeys(in.items) {
			out = append(out, *in.items[id])
		}
		return out
	})
}

// ServeHTTP serves the token endpoint and the API.
func (h *HaloPSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/halopsa")
	switch {
	case strings.EqualFold(strings.TrimSuffix(p, "/"), "/auth/token"):
		h.s.count("halopsa POST /auth/token")
		h.token(w, r)
	case len(p) > 5 && strings.EqualFold(p[:5], "/api/"):
		h.api(w, r, strings.Trim(p[5:], "/"))
	default:
		h.s.count("halopsa " + r.Method + " (unknown)")
		w.WriteHeader(http.StatusNotFound)
	}
}

// oauthError writes an OAuth 2 error body (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token answers the client-credentials grant of the authorisation server.
// Refused credentials are a 401 with {"error":"invalid_client"}
// (unverified: RFC 6749 allows 400 too; docs/HALOPSA.md section 1.2).
func (h *HaloPSA) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint takes POST.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request must be form-encoded (application/x-www-form-urlencoded).")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be read.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Grant type %q is not supported.", gt))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.instances[r.PostForm.Get("client_id")]
	if in == nil || in.seed.ClientSecret == "" || r.PostForm.Get("client_secret") != in.seed.ClientSecret ||
		(in.seed.Tenant != "" && !strings.EqualFold(r.URL.Query().Get("tenant"), in.seed.Tenant)) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The client credentials are invalid.")
		return
	}
	scopes, code, bad := grantScopes(r.PostForm.Get("scope"), in.seed.Permissions)
	if code != "" {
		oauthError(w, http.StatusBadRequest, code, fmt.Sprintf("Scope %q is not known or not granted to this application.", bad))
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	h.tokens[tok] = haloToken{in: in, expires: h.s.now().Add(in.ttl), scopes: scopes}
	in.issued++
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(in.ttl / time.Second), "scope": strings.Join(scopes, " "),
	})
}

// authenticate returns the request's Bearer token, or nil and why not.
func (h *HaloPSA) authenticate(r *http.Request) (*haloToken, string) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tokens[strings.TrimSpace(tok)]
	if !ok || h.instances[t.in.seed.ClientID] != t.in {
		return nil, `error="invalid_token"`
	}
	if !h.s.now().Before(t.expires) {
		return nil, `error="invalid_token", error_description="The token expired at '` + t.expires.UTC().Format("01/02/2006 15:04:05") + `'"`
	}
	return &t, ""
}

// haloResp is what a handler decided to answer.
type haloResp struct {
	status int
	body   any
}

// haloOK answers 200 with body.
func haloOK(body any) haloResp { return haloResp{status: http.StatusOK, body: body} }

// haloBad is a business-rule failure: 400 with a serialised .NET
// exception whose Message says what is wrong (unverified: one of the
// shapes the HaloAPI module's New-HaloError parses, docs/HALOPSA.md
// section 4; the sandbox's messages are its own words). The 500 and 429
// faults answer the same shape.
func haloBad(format string, args ...any) haloResp {
	return haloResp{status: http.StatusBadRequest, body: haloException(fmt.Sprintf(format, args...))}
}

// haloNotFound is a 404 for a record that does not exist (unverified:
// docs/HALOPSA.md section 2.2 notes reports of 200 with an empty object).
func haloNotFound(what string, id int64) haloResp {
	return haloResp{status: http.StatusNotFound, body: haloException(fmt.Sprintf("%s %d not found.", what, id))}
}

func haloException(msg string) map[string]any {
	return map[string]any{"ClassName": "System.Exception", "Message": msg, "Data": nil, "InnerException": nil,
		"HelpURL": nil, "StackTraceString": nil, "HResult": -2146233088, "Source": "HaloAPI"}
}

// haloProblem is ASP.NET's answer to a request it cannot bind (a
// malformed parameter or body): 400 with RFC 7807 problem details.
func haloProblem(errs map[string][]string) haloResp {
	return haloResp{status: http.StatusBadRequest, body: map[string]any{
		"type": "https://tools.ietf.org/html/rfc7231#section-6.5.1", "title": "One or more validation errors occurred.",
		"status": http.StatusBadRequest, "errors": errs,
	}}
}

// haloReq is one authenticated API request as handlers see it.
type haloReq struct {
	q     haloQuery
	id    int64 // the {id} path segment
	body  []byte
	route string
}

// haloHandler acts on one request with the instance locked.
type haloHandler func(h *HaloPSA, in *haloInstance, r *haloReq) haloResp

// haloRoutes maps "METHOD /Resource[/{id}|/sub]" (canonical case) to handlers.
var haloRoutes = map[string]haloHandler{}

// haloResources are the canonical resource names, matched without case.
var haloResources = []string{"Client", "ClientContract", "RecurringInvoice", "Item", "ItemGroup", "Tickets", "Actions",
	"TopLevel", "Status", "Priority", "TicketType", "Team", "Agent", "Outcome"}

// haloRouteName canonicalises a path below /api/ ("client/12" → "/Client/{id}").
func haloRouteName(rest string) (route string, id int64, ok bool) {
	segs := strings.Split(rest, "/")
	if len(segs) > 2 {
		return "", 0, false
	}
	i := slices.IndexFunc(haloResources, func(s string) bool { return strings.EqualFold(s, segs[0]) })
	if i < 0 {
		return "", 0, false
	}
	route = "/" + haloResources[i]
	if len(segs) == 2 {
		if n, err := strconv.ParseInt(segs[1], 10, 32); err == nil {
			return route + "/{id}", n, true
		}
		return route + "/" + strings.ToLower(segs[1]), 0, true
	}
	return route, 0, true
}

// api serves one API request: route, authenticate, count, draw a fault,
// act, settle the fault, answer.
func (h *HaloPSA) api(w http.ResponseWriter, r *http.Request, rest string) {
	route, id, ok := haloRouteName(rest)
	handler := haloRoutes[r.Method+" "+route]
	if !ok || handler == nil {
		h.s.count("halopsa " + r.Method + " (unknown)")
		// A known path with another method is ASP.NET's 405.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if ok && haloRoutes[m+" "+route] != nil {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		return
	}
	h.s.count("halopsa " + r.Method + " " + route)
	tok, why := h.authenticate(r)
	if tok == nil {
		w.Header().Set("WWW-Authenticate", strings.TrimSpace("Bearer "+why))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	in := tok.in
	h.inflight.enter(in.seed.ClientID)
	defer h.inflight.leave(in.seed.ClientID)
	h.mu.Lock()
	latency := h.latency
	h.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if need := scopeFor(r.Method, route); need != "" && !scopeAllows(tok.scopes, need) {
		writeJSON(w, http.StatusForbidden, haloException("The API application does not have the permission "+need+"."))
		return
	}
	kind, f := h.s.draw()
	switch kind {
	case fault500:
		writeJSON(w, http.StatusInternalServerError, haloException("An unexpected error occurred. Please try again."))
		return
	case fault429:
		w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, haloException("API rate limit exceeded. Please try again later."))
		return
	}
	req := &haloReq{q: haloQuery{v: r.URL.Query()}, id: id, route: r.Method + " " + route}
	if r.Method == http.MethodPost {
		if !haloJSONMedia(r.Header.Get("Content-Type")) {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
				"type": "https://tools.ietf.org/html/rfc7231#section-6.5.13", "title": "Unsupported Media Type", "status": http.StatusUnsupportedMediaType})
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, haloException("The request body could not be read."))
			return
		}
		req.body = b
	}
	h.mu.Lock()
	resp := handler(h, in, req)
	h.mu.Unlock()
	h.s.settle(r, kind, f, r.Method != http.MethodGet && resp.status < 300)
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	writeJSON(w, resp.status, resp.body)
}

// haloJSONMedia reports whether a request body's Content-Type is one the
// definition lists for writes (application/json, text/json,
// application/json-patch+json, application/*+json); ASP.NET answers 415
// to any other.
func haloJSONMedia(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "text/json" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")))
}

// haloQuery reads query parameters the way ASP.NET binds them: names
// without case, an int or bool that does not parse is an error.
type haloQuery struct {
	v    map[string][]string
	errs map[string][]string
}

func (q *haloQuery) raw(name string) (string, bool) {
	for k, vs := range q.v {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func (q *haloQuery) fail(name, value string) {
	if q.errs == nil {
		q.errs = map[string][]string{}
	}
	q.errs[name] = append(q.errs[name], fmt.Sprintf("The value '%s' is not valid.", value))
}

// Str returns a string parameter ("" when absent).
func (q *haloQuery) Str(name string) string {
	s, _ := q.raw(name)
	return s
}

// Int returns an int parameter and whether it was given.
func (q *haloQuery) Int(name string) (int64, bool) {
	s, ok := q.raw(name)
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		q.fail(name, s)
		return 0, false
	}
	return n, true
}

// Bool returns a bool parameter (false when absent).
func (q *haloQuery) Bool(name string) bool {
	s, ok := q.raw(name)
	if !ok || s == "" {
		return false
	}
	// ASP.NET binds "true" and "false" in any case, nothing else.
	if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
		q.fail(name, s)
		return false
	}
	return strings.EqualFold(s, "true")
}

// haloList answers a list of items in Halo's envelope: {record_count,
// <key>: […]}, with page_no and page_size when pageinate=true; count
// limits an unpaged list. Only the answered items are rendered. Malformed
// parameters read before (q.errs) answer a 400.
func haloList[T any](q *haloQuery, key string, items []T, render func(T) map[string]any) haloResp {
	paged := q.Bool("pageinate")
	size, sizeOK := q.Int("page_size")
	page, pageOK := q.Int("page_no")
	count, countOK := q.Int("count")
	if q.errs != nil {
		return haloProblem(q.errs)
	}
	out := map[string]any{"record_count": len(items)}
	if paged {
		if !sizeOK || size < 1 {
			size = HaloDefaultPageSize
		}
		size = min(size, HaloMaxPageSize)
		if !pageOK || page < 1 {
			page = 1
		}
		from := min(len(items), int((page-1)*size))
		to := min(len(items), from+int(size))
		items = items[from:to]
		out["page_no"], out["page_size"] = page, size
	} else if countOK && count >= 0 && int(count) < len(items) {
		items = items[:count]
	}
	recs := make([]map[string]any, 0, len(items))
	for _, it := range items {
		recs = append(recs, render(it))
	}
	out[key] = recs
	return haloOK(out)
}

// haloDecodeArray decodes a write body, which must be a JSON array of
// objects, with numbers kept exact.
func haloDecodeArray(body []byte, schema string) ([]haloObj, *haloResp) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var arr []map[string]any
	if err := dec.Decode(&arr); err != nil {
		p := haloProblem(map[string][]string{"$": {fmt.Sprintf("The JSON value could not be converted to System.Collections.Generic.List`1[%s].", schema)}})
		return nil, &p
	}
	if len(arr) == 0 {
		b := haloBad("No %s records were posted.", schema)
		return nil, &b
	}
	out := make([]haloObj, len(arr))
	for i, m := range arr {
		out[i] = haloObj{m: m}
	}
	return out, nil
}

// haloObj is one posted object. Getters accept what Halo's JSON binder
// (Newtonsoft) accepts: numbers, strings holding numbers, and "true" or
// "false" for booleans; fields the definition does not have are ignored,
// as Halo ignores them.
type haloObj struct {
	m   map[string]any
	bad []string
}

func (o *haloObj) has(k string) bool { v, ok := o.m[k]; return ok && v != nil }

func (o *haloObj) Int(k string) int64 {
	switch v := o.m[k].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case nil:
		return 0
	}
	o.bad = append(o.bad, k)
	return 0
}

func (o *haloObj) Float(k string) float64 {
	switch v := o.m[k].(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case nil:
		return 0
	}
	o.bad = append(o.bad, k)
	return 0
}

func (o *haloObj) Str(k string) string {
	switch v := o.m[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	}
	o.bad = append(o.bad, k)
	return ""
}

func (o *haloObj) Bool(k string) bool {
	switch v := o.m[k].(type) {
	case bool:
		return v
	case string:
		if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
			return strings.EqualFold(v, "true")
		}
	case nil:
		return false
	}
	o.bad = append(o.bad, k)
	return false
}

// Time parses a Halo date ("2026-01-31T00:00:00", with or without a zone).
func (o *haloObj) Time(k string) time.Time {
	s := o.Str(k)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	o.bad = append(o.bad, k)
	return time.Time{}
}

// badFields answers a 400 when a getter met a value of the wrong type.
func (o *haloObj) badFields(schema string) *haloResp {
	if len(o.bad) == 0 {
		return nil
	}
	errs := map[string][]string{}
	for _, k := range o.bad {
		errs["[0]."+k] = append(errs["[0]."+k], fmt.Sprintf("The JSON value could not be converted to %s.%s.", schema, k))
	}
	p := haloProblem(errs)
	return &p
}

// haloTime renders a date as Halo does (no zone; UTC).
func haloTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// haloAnswer renders write results as Halo does: the object itself for a
// one-element post, an array otherwise. Status 201 when every element was
// created, else 200 (unverified: the definition documents 200 only; a
// client accepts any 2xx).
func haloAnswer(objs []map[string]any, allCreated bool) haloResp {
	status := http.StatusOK
	if allCreated {
		status = http.StatusCreated
	}
	if len(objs) == 1 {
		return haloResp{status: status, body: objs[0]}
	}
	return haloResp{status: status, body: objs}
}

func (in *haloInstance) newID() int64 {
	id := in.nextID
	in.nextID++
	return id
}

func (in *haloInstance) newInvoiceID() int64 {
	id := in.nextInvoiceID
	in.nextInvoiceID--
	return id
}
