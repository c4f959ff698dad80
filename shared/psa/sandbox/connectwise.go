package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ConnectWise hosts ConnectWise Manage instances, keyed by the company id
// used at login. It speaks the REST 3.0 dialect under
// /connectwise/v4_6_release/apis/3.0/ and the login lookup under
// /connectwise/login/companyinfo/{company} (PSA-API-NOTES.md section 2).
//
// Rules enforced because they bite in production: Basic auth of
// "company+public:private" (401 otherwise); a clientId header on every API
// call (400 with an ErrorResponseMessage otherwise); pageSize capped at 1000
// with the next page only in the Link header; JSON Patch paths are
// case-sensitive and an unknown path is a 400; a ticket status is replaced
// only as a whole reference object (a "status/id" path answers 200 and
// changes nothing, as the real API is known to do); conditions on unknown
// fields are a 400.
type ConnectWise struct {
	s   *Server
	mux *http.ServeMux

	mu        sync.Mutex
	instances map[string]*cwInstance // by lower-case company id
}

// The API prefix under which the REST routes live.
const cwAPIPrefix = "/connectwise/v4_6_release/apis/3.0"

// ConnectWiseSeed is one ConnectWise instance's initial state. Ids are the
// caller's: pick non-default ones (not 1, 2, 3) so a client that hard-codes
// ids fails.
type ConnectWiseSeed struct {
	// CompanyID is the login company ("acme"), matched case-insensitively.
	CompanyID   string `json:"companyId"`
	CompanyName string `json:"companyName,omitempty"`
	PublicKey   string `json:"publicKey"`
	PrivateKey  string `json:"privateKey"`
	// ClientID, when set, is the only clientId accepted; otherwise any
	// non-empty clientId is.
	ClientID string `json:"clientId,omitempty"`

	CompanyTypes []CWOption    `json:"companyTypes,omitempty"`
	Companies    []CWCompany   `json:"companies,omitempty"`
	Agreements   []CWAgreement `json:"agreements,omitempty"`
	Additions    []CWAddition  `json:"additions,omitempty"`
	Boards       []CWOption    `json:"boards,omitempty"`
	// Statuses and BoardTypes belong to a board (BoardID).
	Statuses   []CWBoardItem `json:"statuses,omitempty"`
	BoardTypes []CWBoardItem `json:"boardTypes,omitempty"`
	Priorities []CWOption    `json:"priorities,omitempty"`
	Sources    []CWOption    `json:"sources,omitempty"`
	Tickets    []CWTicket    `json:"tickets,omitempty"`
	// ProductTypes, Subcategories and BillingCycles are the procurement
	// lookups a catalog item references; BillingCycles defaults to Monthly
	// and Annual.
	ProductTypes  []CWOption      `json:"productTypes,omitempty"`
	Subcategories []CWOption      `json:"subcategories,omitempty"`
	BillingCycles []CWOption      `json:"billingCycles,omitempty"`
	CatalogItems  []CWCatalogItem `json:"catalogItems,omitempty"`
}

// CWOption is a simple lookup row (company type, board, priority, source).
type CWOption struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Default bool   `json:"default,omitempty"`
}

// CWBoardItem is a board status or board type.
type CWBoardItem struct {
	ID      int64  `json:"id"`
	BoardID int64  `json:"boardId"`
	Name    string `json:"name"`
	Default bool   `json:"default,omitempty"`
	// Closed marks a status that closes the ticket (BoardStatus.closedStatus).
	Closed bool `json:"closed,omitempty"`
}

// CWCompany is a company.
type CWCompany struct {
	ID         int64   `json:"id"`
	Identifier string  `json:"identifier"`
	Name       string  `json:"name"`
	TypeIDs    []int64 `json:"typeIds,omitempty"`
	Deleted    bool    `json:"deleted,omitempty"`
}

// CWAgreement is an agreement of a company.
type CWAgreement struct {
	ID        int64     `json:"id"`
	CompanyID int64     `json:"companyId"`
	Name      string    `json:"name"`
	TypeName  string    `json:"typeName,omitempty"`
	Cancelled bool      `json:"cancelled,omitempty"`
	StartDate time.Time `json:"startDate,omitzero"`
	EndDate   time.Time `json:"endDate,omitzero"`
}

// CWAddition is an agreement addition: the billed line.
type CWAddition struct {
	ID                int64     `json:"id"`
	AgreementID       int64     `json:"agreementId"`
	ProductID         int64     `json:"productId"`
	ProductIdentifier string    `json:"productIdentifier,omitempty"`
	Description       string    `json:"description,omitempty"`
	Quantity          float64   `json:"quantity"`
	UnitPrice         float64   `json:"unitPrice"`
	UnitCost          float64   `json:"unitCost"`
	EffectiveDate     time.Time `json:"effectiveDate,omitzero"`
	CancelledDate     time.Time `json:"cancelledDate,omitzero"`
}

// CWTicket is a service ticket.
type CWTicket struct {
	ID                 int64     `json:"id"`
	CompanyID          int64     `json:"companyId"`
	Summary            string    `json:"summary"`
	ExternalXRef       string    `json:"externalXRef,omitempty"`
	BoardID            int64     `json:"boardId,omitempty"`
	StatusID           int64     `json:"statusId,omitempty"`
	PriorityID         int64     `json:"priorityId,omitempty"`
	SourceID           int64     `json:"sourceId,omitempty"`
	TypeID             int64     `json:"typeId,omitempty"`
	RequiredDate       time.Time `json:"requiredDate,omitzero"`
	InitialDescription string    `json:"initialDescription,omitempty"`
	Closed             bool      `json:"closed,omitempty"`
}

// CWNote is a ticket note.
type CWNote struct {
	ID                    int64  `json:"id"`
	TicketID              int64  `json:"ticketId"`
	Text                  string `json:"text"`
	DetailDescriptionFlag bool   `json:"detailDescriptionFlag,omitempty"`
	InternalAnalysisFlag  bool   `json:"internalAnalysisFlag,omitempty"`
	ResolutionFlag        bool   `json:"resolutionFlag,omitempty"`
}

// CWPatchOp is one JSON Patch operation as received.
type CWPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// CWPatch is one accepted PATCH request, kept in the write log.
type CWPatch struct {
	// Resource is "addition" or "ticket"; ID its id; ParentID the
	// agreement of an addition.
	Resource string      `json:"resource"`
	ParentID int64       `json:"parentId,omitempty"`
	ID       int64       `json:"id"`
	Ops      []CWPatchOp `json:"ops"`
}

// cwInstance is one ConnectWise database.
type cwInstance struct {
	seed       ConnectWiseSeed
	companies  map[int64]*CWCompany
	agreements map[int64]*CWAgreement
	additions  map[int64]*CWAddition
	tickets    map[int64]*CWTicket
	catalog    map[int64]*CWCatalogItem
	notes      []CWNote
	patches    []CWPatch
	nextID     int64
}

func newConnectWise(s *Server) *ConnectWise {
	c := &ConnectWise{s: s, instances: map[string]*cwInstance{}, mux: http.NewServeMux()}
	for _, r := range []struct {
		pattern string
		h       func(*cwInstance, http.ResponseWriter, *http.Request) (int, any)
	}{
		{"GET /system/info", c.systemInfo},
		{"GET /company/companies/types", c.companyTypes},
		{"GET /company/companies", c.companies},
		{"GET /company/companies/{id}", c.company},
		{"GET /finance/agreements", c.agreements},
		{"GET /finance/agreements/{id}", c.agreement},
		{"GET /finance/agreements/{id}/additions", c.additions},
		{"POST /finance/agreements/{id}/additions", c.createAddition},
		{"PATCH /finance/agreements/{id}/additions/{aid}", c.patchAddition},
		{"GET /service/tickets", c.tickets},
		{"POST /service/tickets", c.createTicket},
		{"GET /service/tickets/{id}", c.ticket},
		{"PATCH /service/tickets/{id}", c.patchTicket},
		{"POST /service/tickets/{id}/notes", c.createNote},
		{"GET /service/tickets/{id}/notes", c.listNotes},
		{"GET /service/boards", c.boards},
		{"GET /service/boards/{id}/statuses", c.boardStatuses},
		{"GET /service/boards/{id}/types", c.boardTypes},
		{"GET /service/priorities", c.priorities},
		{"GET /service/sources", c.sources},
		{"GET /procurement/catalog", c.catalogItems},
		{"GET /procurement/catalog/{id}", c.catalogItem},
		{"POST /procurement/catalog", c.createCatalogItem},
		{"PATCH /procurement/catalog/{id}", c.patchCatalogItem},
		{"GET /procurement/types", c.productTypes},
		{"GET /procurement/subcategories", c.subcategories},
	} {
		method, path, _ := strings.Cut(r.pattern, " ")
		c.mux.HandleFunc(method+" "+cwAPIPrefix+path, c.api(r.pattern, r.h))
	}
	c.mux.HandleFunc("GET /connectwise/login/companyinfo/{company}", c.companyInfo)
	return c
}

// AddInstance adds (or replaces) an instance.
func (c *ConnectWise) AddInstance(seed ConnectWiseSeed) {
	in := &cwInstance{
		seed:       seed,
		companies:  map[int64]*CWCompany{},
		agreements: map[int64]*CWAgreement{},
		additions:  map[int64]*CWAddition{},
		tickets:    map[int64]*CWTicket{},
		catalog:    map[int64]*CWCatalogItem{},
		nextID:     900000,
	}
	if len(in.seed.BillingCycles) == 0 {
		in.seed.BillingCycles = []CWOption{{ID: 3, Name: "Monthly", Default: true}, {ID: 6, Name: "Annual"}}
	}
	bump := func(id int64) {
		if id >= in.nextID {
			in.nextID = id + 1
		}
	}
	for i := range seed.Companies {
		v := seed.Companies[i]
		in.companies[v.ID] = &v
	}
	for i := range seed.Agreements {
		v := seed.Agreements[i]
		in.agreements[v.ID] = &v
	}
	for i := range seed.Additions {
		v := seed.Additions[i]
		in.additions[v.ID] = &v
		bump(v.ID)
	}
	for i := range seed.CatalogItems {
		v := seed.CatalogItems[i]
		in.catalog[v.ID] = &v
		bump(v.ID)
	}
	for i := range seed.Tickets {
		v := seed.Tickets[i]
		in.tickets[v.ID] = &v
		bump(v.ID)
	}
	c.mu.Lock()
	c.instances[strings.ToLower(seed.CompanyID)] = in
	c.mu.Unlock()
}

// Addition returns an addition's current state.
func (c *ConnectWise) Addition(company string, id int64) (CWAddition, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.instances[strings.ToLower(company)]
	if in == nil || in.additions[id] == nil {
		return CWAddition{}, false
	}
	return *in.additions[id], true
}

// Patches returns the accepted PATCH requests of an instance, in order.
func (c *ConnectWise) Patches(company string) []CWPatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in := c.instances[strings.ToLower(company)]; in != nil {
		return slices.Clone(in.patches)
	}
	return nil
}

// Tickets returns an instance's tickets ordered by id.
func (c *ConnectWise) Tickets(company string) []CWTicket {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.instances[strings.ToLower(company)]
	if in == nil {
		return nil
	}
	var out []CWTicket
	for _, id := range cwSortedKeys(in.tickets) {
		out = append(out, *in.tickets[id])
	}
	return out
}

// Notes returns an instance's ticket notes in creation order.
func (c *ConnectWise) Notes(company string) []CWNote {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in := c.instances[strings.ToLower(company)]; in != nil {
		return slices.Clone(in.notes)
	}
	return nil
}

// ServeHTTP serves the ConnectWise dialect.
func (c *ConnectWise) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.s.count("connectwise " + r.Method + " (unknown)")
		// The real server answers unknown routes with a 404 in its own shape.
		cwError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", r.URL.Path), nil)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// companyInfo answers the login lookup, without authentication.
func (c *ConnectWise) companyInfo(w http.ResponseWriter, r *http.Request) {
	c.s.count("connectwise GET /login/companyinfo/{company}")
	company := r.PathValue("company")
	c.mu.Lock()
	in := c.instances[strings.ToLower(company)]
	c.mu.Unlock()
	if in == nil {
		// The real lookup answers an unknown company with an empty body.
		w.WriteHeader(http.StatusOK)
		return
	}
	name := in.seed.CompanyName
	if name == "" {
		name = in.seed.CompanyID
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"CompanyName":   name,
		"Codebase":      "v4_6_release/",
		"VersionCode":   "v2025.1",
		"VersionNumber": "v4.6",
		"CompanyID":     in.seed.CompanyID,
		"IsCloud":       false,
		"SiteUrl":       r.Host + "/connectwise",
	})
}

// cwError writes an ErrorResponseMessage.
func cwError(w http.ResponseWriter, status int, code, message string, errs []map[string]any) {
	body := map[string]any{"code": code, "message": message, "errors": nil}
	if errs != nil {
		body["errors"] = errs
	}
	writeJSON(w, status, body)
}

// cwFail is a handler outcome that is an error response.
type cwFail struct {
	status  int
	code    string
	message string
	errs    []map[string]any
}

func cwBad(message string, args ...any) cwFail {
	return cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: fmt.Sprintf(message, args...)}
}

func cwNotFound(what string, id any) cwFail {
	return cwFail{status: http.StatusNotFound, code: "NotFound", message: fmt.Sprintf("%s recId %v not found.", what, id)}
}

// cwBuffer holds a response so a slow fault can delay it after acting.
type cwBuffer struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (b *cwBuffer) Header() http.Header { return b.h }
func (b *cwBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *cwBuffer) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}

// api wraps a REST handler with the checks every call goes through, in the
// real server's order: authentication, clientId, throttling; then counts it
// and acts.
func (c *ConnectWise) api(pattern string, h func(*cwInstance, http.ResponseWriter, *http.Request) (int, any)) http.HandlerFunc {
	route := "connectwise " + pattern
	return func(w http.ResponseWriter, r *http.Request) {
		c.s.count(route)
		in := c.authenticate(r)
		if in == nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="ConnectWise"`)
			cwError(w, http.StatusUnauthorized, "Unauthorized", "Authentication failed.", nil)
			return
		}
		cid := r.Header.Get("clientId")
		if cid == "" || (in.seed.ClientID != "" && cid != in.seed.ClientID) {
			cwError(w, http.StatusBadRequest, "InvalidClientId", "A valid clientId header is required. See https://developer.connectwise.com/ClientID.",
				[]map[string]any{{"code": "InvalidClientId", "message": "clientId header is missing or not recognised", "resource": "clientId", "field": "clientId"}})
			return
		}
		kind, f := c.s.draw()
		switch kind {
		case fault500:
			cwError(w, http.StatusInternalServerError, "UnexpectedError", "An unexpected error occurred; please try again.", nil)
			return
		case fault429:
			w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{
				"error":   "ConnectWiseAPI",
				"message": "Too many requests. Please try again in " + retryAfterSeconds(f.RetryAfter) + " seconds.",
			})
			return
		}
		buf := &cwBuffer{h: http.Header{}}
		c.mu.Lock()
		status, body := h(in, buf, r)
		c.mu.Unlock()
		c.s.settle(r, kind, f, r.Method != http.MethodGet)
		for k, v := range buf.h {
			w.Header()[k] = v
		}
		if fail, ok := body.(cwFail); ok {
			cwError(w, fail.status, fail.code, fail.message, fail.errs)
			return
		}
		writeJSON(w, status, body)
	}
}

// authenticate returns the instance the Basic credentials open, or nil.
func (c *ConnectWise) authenticate(r *http.Request) *cwInstance {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	company, public, ok := strings.Cut(user, "+")
	if !ok {
		return nil
	}
	c.mu.Lock()
	in := c.instances[strings.ToLower(company)]
	c.mu.Unlock()
	if in == nil || public != in.seed.PublicKey || pass != in.seed.PrivateKey {
		return nil
	}
	return in
}

// cwQuery is a parsed list query.
type cwQuery struct {
	cond, child cwCond
	fields      []string
	page, size  int
}

// parseCWQuery reads conditions, childConditions, fields, page and pageSize.
func parseCWQuery(r *http.Request) (cwQuery, *cwFail) {
	q := r.URL.Query()
	var out cwQuery
	var err error
	if out.cond, err = parseCWConditions(q.Get("conditions")); err != nil {
		f := cwBad("conditions: %v", err)
		return out, &f
	}
	if out.child, err = parseCWConditions(q.Get("childConditions")); err != nil {
		f := cwBad("childConditions: %v", err)
		return out, &f
	}
	if fs := q.Get("fields"); fs != "" {
		out.fields = strings.Split(fs, ",")
	}
	out.page, out.size = 1, 25
	if v := q.Get("page"); v != "" {
		if out.page, err = strconv.Atoi(v); err != nil || out.page < 1 {
			f := cwBad("page must be a positive integer")
			return out, &f
		}
	}
	if v := q.Get("pageSize"); v != "" {
		if out.size, err = strconv.Atoi(v); err != nil || out.size < 1 {
			f := cwBad("pageSize must be a positive integer")
			return out, &f
		}
	}
	// The server silently caps pageSize at 1000; a client that asks for
	// more and does not follow Link loses rows.
	out.size = min(out.size, 1000)
	return out, nil
}

// cwRecord is one entity: its filterable fields and its JSON form.
type cwRecord struct {
	fields map[string]any
	json   map[string]any
}

// list filters, pages and projects records, setting the Link header.
func (c *ConnectWise) list(w http.ResponseWriter, r *http.Request, recs []cwRecord) (int, any) {
	q, fail := parseCWQuery(r)
	if fail != nil {
		return 0, *fail
	}
	var hit []map[string]any
	for _, rec := range recs {
		for _, cond := range []cwCond{q.cond, q.child} {
			if cond == nil {
				continue
			}
			ok, err := cond.eval(rec.fields)
			if err != nil {
				return 0, cwBad("%v", err)
			}
			if !ok {
				goto next
			}
		}
		hit = append(hit, rec.json)
	next:
	}
	last := max(1, (len(hit)+q.size-1)/q.size)
	from := min(len(hit), (q.page-1)*q.size)
	to := min(len(hit), from+q.size)
	out := make([]map[string]any, 0, to-from)
	for _, m := range hit[from:to] {
		out = append(out, cwProject(m, q.fields))
	}
	var links []string
	link := func(page int, rel string) {
		u := *r.URL
		v := u.Query()
		v.Set("page", strconv.Itoa(page))
		v.Set("pageSize", strconv.Itoa(q.size))
		u.RawQuery = v.Encode()
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		links = append(links, fmt.Sprintf("<%s://%s%s>; rel=%q", scheme, r.Host, u.RequestURI(), rel))
	}
	if q.page > 1 {
		link(1, "first")
		link(q.page-1, "prev")
	}
	if q.page < last {
		link(q.page+1, "next")
		link(last, "last")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return http.StatusOK, out
}

// cwProject keeps the top-level keys named in fields ("company/id" keeps
// company); all keys when fields is empty.
func cwProject(m map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return m
	}
	out := map[string]any{}
	for _, f := range fields {
		top, _, _ := strings.Cut(strings.TrimSpace(f), "/")
		if v, ok := m[top]; ok {
			out[top] = v
		}
	}
	return out
}

func cwSortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cwPathID(r *http.Request, name string) (int64, *cwFail) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 32)
	if err != nil {
		f := cwBad("%s must be an integer", name)
		return 0, &f
	}
	return id, nil
}

// cwLookup finds the entity the path value name holds the id of: a 400 when
// it is not an integer, the vendor's "recId not found" 404 (what names the
// entity) when m has no such id.
func cwLookup[V any](r *http.Request, name string, m map[int64]*V, what string) (int64, *V, *cwFail) {
	id, fail := cwPathID(r, name)
	if fail != nil {
		return 0, nil, fail
	}
	v := m[id]
	if v == nil {
		f := cwNotFound(what, id)
		return id, nil, &f
	}
	return id, v, nil
}

// cwGetByID answers GET …/{id}: the JSON form of the entity, or cwLookup's
// failure.
func cwGetByID[V any](r *http.Request, in *cwInstance, m map[int64]*V, what string, record func(*cwInstance, *V) cwRecord) (int, any) {
	_, v, fail := cwLookup(r, "id", m, what)
	if fail != nil {
		return 0, *fail
	}
	return http.StatusOK, record(in, v).json
}

// cwListAll answers a list route over every entity of m, in id order.
func cwListAll[V any](c *ConnectWise, w http.ResponseWriter, r *http.Request, in *cwInstance, m map[int64]*V, record func(*cwInstance, *V) cwRecord) (int, any) {
	recs := make([]cwRecord, 0, len(m))
	for _, id := range cwSortedKeys(m) {
		recs = append(recs, record(in, m[id]))
	}
	return c.list(w, r, recs)
}

func cwRef(id int64, name string) map[string]any {
	if name == "" {
		return map[string]any{"id": id}
	}
	return map[string]any{"id": id, "name": name}
}

func cwTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// cwOptionName finds a name in a lookup list.
func cwOptionName(opts []CWOption, id int64) (string, bool) {
	for _, o := range opts {
		if o.ID == id {
			return o.Name, true
		}
	}
	return "", false
}

func cwItem(items []CWBoardItem, id int64) (CWBoardItem, bool) {
	for _, o := range items {
		if o.ID == id {
			return o, true
		}
	}
	return CWBoardItem{}, false
}

func (c *ConnectWise) systemInfo(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return http.StatusOK, map[string]any{
		"version": "v2025.1.0.0", "isCloud": false, "serverTimeZone": "Eastern Standard Time",
		"licenseBits": []any{}, "cloudRegion": "NA",
	}
}

func (c *ConnectWise) companyTypes(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	recs := make([]cwRecord, 0, len(in.seed.CompanyTypes))
	for _, t := range in.seed.CompanyTypes {
		recs = append(recs, cwRecord{
			fields: map[string]any{"id": float64(t.ID), "name": t.Name, "defaultFlag": t.Default},
			json:   map[string]any{"id": t.ID, "name": t.Name, "defaultFlag": t.Default, "vendorFlag": false, "serviceAlertFlag": false},
		})
	}
	return c.list(w, r, recs)
}

func (c *ConnectWise) companyRecord(in *cwInstance, co *CWCompany) cwRecord {
	typeIDs := make([]any, 0, len(co.TypeIDs))
	typeNames := make([]any, 0, len(co.TypeIDs))
	types := make([]map[string]any, 0, len(co.TypeIDs))
	for _, id := range co.TypeIDs {
		name, _ := cwOptionName(in.seed.CompanyTypes, id)
		typeIDs = append(typeIDs, float64(id))
		typeNames = append(typeNames, name)
		types = append(types, cwRef(id, name))
	}
	status := cwRef(1, "Active")
	if co.Deleted {
		status = cwRef(2, "Inactive")
	}
	return cwRecord{
		fields: map[string]any{
			"id": float64(co.ID), "identifier": co.Identifier, "name": co.Name, "deletedFlag": co.Deleted,
			"types/id": typeIDs, "types/name": typeNames, "status/name": status["name"],
		},
		json: map[string]any{
			"id": co.ID, "identifier": co.Identifier, "name": co.Name, "status": status,
			"types": types, "deletedFlag": co.Deleted,
		},
	}
}

func (c *ConnectWise) companies(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwListAll(c, w, r, in, in.companies, c.companyRecord)
}

func (c *ConnectWise) company(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwGetByID(r, in, in.companies, "Company", c.companyRecord)
}

// agreementStatus is an agreement's agreementStatus: Cancelled, Expired
// once its end date has passed, else Active.
func (c *ConnectWise) agreementStatus(a *CWAgreement) string {
	switch {
	case a.Cancelled:
		return "Cancelled"
	case !a.EndDate.IsZero() && !c.s.now().Before(a.EndDate.AddDate(0, 0, 1)):
		return "Expired"
	}
	return "Active"
}

func (c *ConnectWise) agreementRecord(in *cwInstance, a *CWAgreement) cwRecord {
	status := c.agreementStatus(a)
	var coName, coIdent string
	if co := in.companies[a.CompanyID]; co != nil {
		coName, coIdent = co.Name, co.Identifier
	}
	typeName := a.TypeName
	if typeName == "" {
		typeName = "Managed Services"
	}
	j := map[string]any{
		"id": a.ID, "name": a.Name,
		"type":             cwRef(7, typeName),
		"company":          map[string]any{"id": a.CompanyID, "identifier": coIdent, "name": coName},
		"contact":          map[string]any{"name": "Primary Contact"},
		"cancelledFlag":    a.Cancelled,
		"agreementStatus":  status,
		"noEndingDateFlag": a.EndDate.IsZero(),
		"oneTimeFlag":      false,
	}
	if !a.StartDate.IsZero() {
		j["startDate"] = cwTime(a.StartDate)
	}
	if !a.EndDate.IsZero() {
		j["endDate"] = cwTime(a.EndDate)
	}
	return cwRecord{
		fields: map[string]any{
			"id": float64(a.ID), "name": a.Name, "company/id": float64(a.CompanyID), "cancelledFlag": a.Cancelled,
			"agreementStatus": status, "type/name": typeName,
		},
		json: j,
	}
}

func (c *ConnectWise) agreements(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwListAll(c, w, r, in, in.agreements, c.agreementRecord)
}

func (c *ConnectWise) agreement(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwGetByID(r, in, in.agreements, "Agreement", c.agreementRecord)
}

// additionRecord renders an addition; its read-only agreementStatus is its
// agreement's.
func (c *ConnectWise) additionRecord(in *cwInstance, ad *CWAddition) cwRecord {
	status := "Active"
	if a := in.agreements[ad.AgreementID]; a != nil {
		status = c.agreementStatus(a)
	}
	ident := ad.ProductIdentifier
	if ident == "" {
		ident = "PROD-" + strconv.FormatInt(ad.ProductID, 10)
	}
	j := map[string]any{
		"id": ad.ID, "agreementId": ad.AgreementID,
		"product":  map[string]any{"id": ad.ProductID, "identifier": ident},
		"quantity": ad.Quantity, "unitPrice": ad.UnitPrice, "unitCost": ad.UnitCost,
		"billCustomer": "Billable", "description": ad.Description,
		"extPrice": ad.Quantity * ad.UnitPrice, "extCost": ad.Quantity * ad.UnitCost,
		"agreementStatus": status,
	}
	var cancelled any
	if !ad.EffectiveDate.IsZero() {
		j["effectiveDate"] = cwTime(ad.EffectiveDate)
	}
	if !ad.CancelledDate.IsZero() {
		j["cancelledDate"] = cwTime(ad.CancelledDate)
		cancelled = ad.CancelledDate
	}
	return cwRecord{
		fields: map[string]any{
			"id": float64(ad.ID), "agreementId": float64(ad.AgreementID), "product/id": float64(ad.ProductID),
			"quantity": ad.Quantity, "cancelledDate": cancelled,
		},
		json: j,
	}
}

func (c *ConnectWise) additions(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, _, fail := cwLookup(r, "id", in.agreements, "Agreement")
	if fail != nil {
		return 0, *fail
	}
	var recs []cwRecord
	for _, aid := range cwSortedKeys(in.additions) {
		if ad := in.additions[aid]; ad.AgreementID == id {
			recs = append(recs, c.additionRecord(in, ad))
		}
	}
	return c.list(w, r, recs)
}

// cwDecode reads a JSON request body.
func cwDecode(r *http.Request, v any) *cwFail {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f := cwFail{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType", message: "The request entity's media type '" + ct + "' is not supported for this resource."}
		return &f
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		f := cwBad("The request body is not valid JSON: %v", err)
		return &f
	}
	return nil
}

func (c *ConnectWise) createAddition(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, _, fail := cwLookup(r, "id", in.agreements, "Agreement")
	if fail != nil {
		return 0, *fail
	}
	var body struct {
		Product *struct {
			ID         int64  `json:"id"`
			Identifier string `json:"identifier"`
		} `json:"product"`
		BillCustomer  string   `json:"billCustomer"`
		Quantity      float64  `json:"quantity"`
		UnitPrice     *float64 `json:"unitPrice"`
		UnitCost      *float64 `json:"unitCost"`
		EffectiveDate string   `json:"effectiveDate"`
		Description   string   `json:"description"`
	}
	if fail := cwDecode(r, &body); fail != nil {
		return 0, *fail
	}
	var errs []map[string]any
	if body.Product == nil || (body.Product.ID == 0 && body.Product.Identifier == "") {
		errs = append(errs, map[string]any{"code": "NullValue", "message": "The product field is required.", "resource": "addition", "field": "product"})
	}
	if body.BillCustomer == "" {
		errs = append(errs, map[string]any{"code": "NullValue", "message": "The billCustomer field is required.", "resource": "addition", "field": "billCustomer"})
	}
	if errs != nil {
		return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "addition object is invalid", errs: errs}
	}
	ad := &CWAddition{ID: in.nextID, AgreementID: id, ProductID: body.Product.ID, ProductIdentifier: body.Product.Identifier,
		Quantity: body.Quantity, Description: body.Description}
	in.nextID++
	if body.UnitPrice != nil {
		ad.UnitPrice = *body.UnitPrice
	}
	if body.UnitCost != nil {
		ad.UnitCost = *body.UnitCost
	}
	if body.EffectiveDate != "" {
		t, err := time.Parse(time.RFC3339, body.EffectiveDate)
		if err != nil {
			return 0, cwBad("effectiveDate is not a valid date")
		}
		ad.EffectiveDate = t
	}
	in.additions[ad.ID] = ad
	return http.StatusCreated, c.additionRecord(in, ad).json
}

// cwReadPatch decodes a JSON Patch array, rejecting anything else.
func cwReadPatch(r *http.Request) ([]CWPatchOp, *cwFail) {
	var ops []CWPatchOp
	if fail := cwDecode(r, &ops); fail != nil {
		return nil, fail
	}
	if len(ops) == 0 {
		f := cwBad("The patch operations list is empty.")
		return nil, &f
	}
	for _, op := range ops {
		if op.Op != "replace" && op.Op != "add" && op.Op != "remove" {
			f := cwBad("Unsupported patch operation '%s'.", op.Op)
			return nil, &f
		}
	}
	return ops, nil
}

func (c *ConnectWise) patchAddition(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, fail := cwPathID(r, "id")
	if fail != nil {
		return 0, *fail
	}
	aid, fail := cwPathID(r, "aid")
	if fail != nil {
		return 0, *fail
	}
	ad := in.additions[aid]
	if ad == nil || ad.AgreementID != id {
		return 0, cwNotFound("Addition", aid)
	}
	ops, fail := cwReadPatch(r)
	if fail != nil {
		return 0, *fail
	}
	next := *ad
	for _, op := range ops {
		// Paths are case-sensitive: "Quantity" is not "quantity".
		var target *float64
		switch op.Path {
		case "quantity":
			target = &next.Quantity
		case "unitCost":
			target = &next.UnitCost
		case "unitPrice":
			target = &next.UnitPrice
		case "description", "invoiceDescription":
			var s string
			if json.Unmarshal(op.Value, &s) != nil {
				return 0, cwBad("The value for path '%s' is not a string.", op.Path)
			}
			next.Description = s
			continue
		case "cancelledDate", "effectiveDate":
			var s string
			if json.Unmarshal(op.Value, &s) != nil {
				return 0, cwBad("The value for path '%s' is not a date.", op.Path)
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return 0, cwBad("The value for path '%s' is not a date.", op.Path)
			}
			if op.Path == "cancelledDate" {
				next.CancelledDate = t
			} else {
				next.EffectiveDate = t
			}
			continue
		default:
			return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "addition object is invalid",
				errs: []map[string]any{{"code": "InvalidField", "message": fmt.Sprintf("The path '%s' is not a valid field of Addition.", op.Path), "resource": "addition", "field": op.Path}}}
		}
		if json.Unmarshal(op.Value, target) != nil {
			return 0, cwBad("The value for path '%s' is not a number.", op.Path)
		}
	}
	*ad = next
	in.patches = append(in.patches, CWPatch{Resource: "addition", ParentID: id, ID: aid, Ops: ops})
	return http.StatusOK, c.additionRecord(in, ad).json
}

func (c *ConnectWise) ticketRecord(in *cwInstance, t *CWTicket) cwRecord {
	var coName, coIdent string
	if co := in.companies[t.CompanyID]; co != nil {
		coName, coIdent = co.Name, co.Identifier
	}
	j := map[string]any{
		"id": t.ID, "summary": t.Summary, "recordType": "ServiceTicket",
		"company":    map[string]any{"id": t.CompanyID, "identifier": coIdent, "name": coName},
		"closedFlag": t.Closed,
	}
	if t.ExternalXRef != "" {
		j["externalXRef"] = t.ExternalXRef
	}
	if t.BoardID != 0 {
		name, _ := cwOptionName(in.seed.Boards, t.BoardID)
		j["board"] = cwRef(t.BoardID, name)
	}
	if t.StatusID != 0 {
		st, _ := cwItem(in.seed.Statuses, t.StatusID)
		j["status"] = cwRef(t.StatusID, st.Name)
	}
	if t.PriorityID != 0 {
		name, _ := cwOptionName(in.seed.Priorities, t.PriorityID)
		j["priority"] = cwRef(t.PriorityID, name)
	}
	if t.SourceID != 0 {
		name, _ := cwOptionName(in.seed.Sources, t.SourceID)
		j["source"] = cwRef(t.SourceID, name)
	}
	if t.TypeID != 0 {
		ty, _ := cwItem(in.seed.BoardTypes, t.TypeID)
		j["type"] = cwRef(t.TypeID, ty.Name)
	}
	if !t.RequiredDate.IsZero() {
		j["requiredDate"] = cwTime(t.RequiredDate)
	}
	return cwRecord{
		fields: map[string]any{
			"id": float64(t.ID), "summary": t.Summary, "externalXRef": t.ExternalXRef, "closedFlag": t.Closed,
			"company/id": float64(t.CompanyID), "board/id": float64(t.BoardID), "status/id": float64(t.StatusID),
		},
		json: j,
	}
}

func (c *ConnectWise) tickets(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwListAll(c, w, r, in, in.tickets, c.ticketRecord)
}

func (c *ConnectWise) ticket(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return cwGetByID(r, in, in.tickets, "Ticket", c.ticketRecord)
}

// cwIDRef is a reference object in a request body.
type cwIDRef struct {
	ID int64 `json:"id"`
}

func (c *ConnectWise) createTicket(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	var body struct {
		Summary            string   `json:"summary"`
		Company            *cwIDRef `json:"company"`
		Board              *cwIDRef `json:"board"`
		Status             *cwIDRef `json:"status"`
		Priority           *cwIDRef `json:"priority"`
		Source             *cwIDRef `json:"source"`
		Type               *cwIDRef `json:"type"`
		RequiredDate       string   `json:"requiredDate"`
		ExternalXRef       string   `json:"externalXRef"`
		InitialDescription string   `json:"initialDescription"`
	}
	if fail := cwDecode(r, &body); fail != nil {
		return 0, *fail
	}
	var errs []map[string]any
	bad := func(field, msg string) {
		errs = append(errs, map[string]any{"code": "InvalidField", "message": msg, "resource": "ticket", "field": field})
	}
	switch {
	case body.Summary == "":
		bad("summary", "The summary field is required.")
	case utf8.RuneCountInString(body.Summary) > 100:
		bad("summary", "The field summary must be a string with a maximum length of 100.")
	}
	if utf8.RuneCountInString(body.ExternalXRef) > 100 {
		bad("externalXRef", "The field externalXRef must be a string with a maximum length of 100.")
	}
	t := &CWTicket{Summary: body.Summary, ExternalXRef: body.ExternalXRef, InitialDescription: body.InitialDescription}
	if body.Company == nil || in.companies[body.Company.ID] == nil {
		bad("company", "A valid company is required.")
	} else {
		t.CompanyID = body.Company.ID
	}
	// Board, status and priority default where the server can, as the real
	// one does; an explicit id must exist (and a status must be on the board).
	t.BoardID = cwPickOption(in.seed.Boards, body.Board, "board", bad)
	t.PriorityID = cwPickOption(in.seed.Priorities, body.Priority, "priority", bad)
	if body.Source != nil {
		t.SourceID = cwPickOption(in.seed.Sources, body.Source, "source", bad)
	}
	if body.Status != nil {
		if st, ok := cwItem(in.seed.Statuses, body.Status.ID); !ok || st.BoardID != t.BoardID {
			bad("status", fmt.Sprintf("Status %d is not a status of board %d.", body.Status.ID, t.BoardID))
		} else {
			t.StatusID, t.Closed = st.ID, st.Closed
		}
	} else {
		for _, st := range in.seed.Statuses {
			if st.BoardID == t.BoardID && (st.Default || t.StatusID == 0) {
				t.StatusID = st.ID
			}
		}
	}
	if body.Type != nil {
		if ty, ok := cwItem(in.seed.BoardTypes, body.Type.ID); !ok || ty.BoardID != t.BoardID {
			bad("type", fmt.Sprintf("Type %d is not a type of board %d.", body.Type.ID, t.BoardID))
		} else {
			t.TypeID = ty.ID
		}
	}
	if body.RequiredDate != "" {
		d, err := time.Parse(time.RFC3339, body.RequiredDate)
		if err != nil {
			bad("requiredDate", "The requiredDate is not a valid date.")
		}
		t.RequiredDate = d
	}
	if errs != nil {
		return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "ticket object is invalid", errs: errs}
	}
	t.ID = in.nextID
	in.nextID++
	in.tickets[t.ID] = t
	return http.StatusCreated, c.ticketRecord(in, t).json
}

// cwPickOption validates a reference against a lookup list; nil picks the
// default (or the first).
func cwPickOption(opts []CWOption, ref *cwIDRef, field string, bad func(string, string)) int64 {
	if ref == nil {
		var pick int64
		for _, o := range opts {
			if o.Default || pick == 0 {
				pick = o.ID
			}
		}
		return pick
	}
	if _, ok := cwOptionName(opts, ref.ID); !ok {
		bad(field, fmt.Sprintf("%s id %d was not found.", field, ref.ID))
	}
	return ref.ID
}

func (c *ConnectWise) patchTicket(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, t, fail := cwLookup(r, "id", in.tickets, "Ticket")
	if fail != nil {
		return 0, *fail
	}
	ops, fail := cwReadPatch(r)
	if fail != nil {
		return 0, *fail
	}
	next := *t
	for _, op := range ops {
		switch op.Path {
		case "status":
			var ref cwIDRef
			if json.Unmarshal(op.Value, &ref) != nil || ref.ID == 0 {
				return 0, cwBad("The value for path 'status' must be a status reference object.")
			}
			st, ok := cwItem(in.seed.Statuses, ref.ID)
			if !ok || st.BoardID != next.BoardID {
				return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "ticket object is invalid",
					errs: []map[string]any{{"code": "InvalidField", "message": fmt.Sprintf("Status %d is not a status of board %d.", ref.ID, next.BoardID), "resource": "ticket", "field": "status"}}}
			}
			next.StatusID, next.Closed = st.ID, st.Closed
		case "status/id", "status/name":
			// Known vendor pitfall: a sub-path answers 200 and changes nothing.
		case "summary":
			if json.Unmarshal(op.Value, &next.Summary) != nil || utf8.RuneCountInString(next.Summary) > 100 {
				return 0, cwBad("The value for path 'summary' is invalid.")
			}
		case "requiredDate":
			var s string
			_ = json.Unmarshal(op.Value, &s)
			d, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return 0, cwBad("The value for path 'requiredDate' is not a date.")
			}
			next.RequiredDate = d
		default:
			return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "ticket object is invalid",
				errs: []map[string]any{{"code": "InvalidField", "message": fmt.Sprintf("The path '%s' is not a valid field of Ticket.", op.Path), "resource": "ticket", "field": op.Path}}}
		}
	}
	*t = next
	in.patches = append(in.patches, CWPatch{Resource: "ticket", ID: id, Ops: ops})
	return http.StatusOK, c.ticketRecord(in, t).json
}

func (c *ConnectWise) createNote(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, _, fail := cwLookup(r, "id", in.tickets, "Ticket")
	if fail != nil {
		return 0, *fail
	}
	var body struct {
		Text                  string `json:"text"`
		DetailDescriptionFlag bool   `json:"detailDescriptionFlag"`
		InternalAnalysisFlag  bool   `json:"internalAnalysisFlag"`
		ResolutionFlag        bool   `json:"resolutionFlag"`
	}
	if fail := cwDecode(r, &body); fail != nil {
		return 0, *fail
	}
	if body.Text == "" {
		return 0, cwFail{status: http.StatusBadRequest, code: "InvalidObject", message: "note object is invalid",
			errs: []map[string]any{{"code": "NullValue", "message": "The text field is required.", "resource": "ticketNote", "field": "text"}}}
	}
	if !body.DetailDescriptionFlag && !body.InternalAnalysisFlag && !body.ResolutionFlag {
		return 0, cwBad("A note must be flagged as detail description, internal analysis or resolution.")
	}
	n := CWNote{ID: in.nextID, TicketID: id, Text: body.Text, DetailDescriptionFlag: body.DetailDescriptionFlag,
		InternalAnalysisFlag: body.InternalAnalysisFlag, ResolutionFlag: body.ResolutionFlag}
	in.nextID++
	in.notes = append(in.notes, n)
	return http.StatusCreated, map[string]any{
		"id": n.ID, "ticketId": n.TicketID, "text": n.Text, "detailDescriptionFlag": n.DetailDescriptionFlag,
		"internalAnalysisFlag": n.InternalAnalysisFlag, "resolutionFlag": n.ResolutionFlag,
	}
}

// listNotes lists a ticket's notes (conditions, fields and paging as every
// list).
func (c *ConnectWise) listNotes(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	id, _, fail := cwLookup(r, "id", in.tickets, "Ticket")
	if fail != nil {
		return 0, *fail
	}
	var recs []cwRecord
	for _, n := range in.notes {
		if n.TicketID != id {
			continue
		}
		j := map[string]any{"id": n.ID, "ticketId": n.TicketID, "text": n.Text, "detailDescriptionFlag": n.DetailDescriptionFlag,
			"internalAnalysisFlag": n.InternalAnalysisFlag, "resolutionFlag": n.ResolutionFlag}
		recs = append(recs, cwRecord{fields: map[string]any{"id": float64(n.ID), "ticketId": float64(n.TicketID), "text": n.Text,
			"detailDescriptionFlag": n.DetailDescriptionFlag, "internalAnalysisFlag": n.InternalAnalysisFlag, "resolutionFlag": n.ResolutionFlag}, json: j})
	}
	return c.list(w, r, recs)
}

// cwOptionRecords renders a plain lookup list.
func cwOptionRecords(opts []CWOption, extra func(CWOption, map[string]any)) []cwRecord {
	recs := make([]cwRecord, 0, len(opts))
	for _, o := range opts {
		j := map[string]any{"id": o.ID, "name": o.Name, "defaultFlag": o.Default}
		if extra != nil {
			extra(o, j)
		}
		recs = append(recs, cwRecord{fields: map[string]any{"id": float64(o.ID), "name": o.Name, "defaultFlag": o.Default}, json: j})
	}
	return recs
}

func (c *ConnectWise) boards(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	recs := cwOptionRecords(in.seed.Boards, func(o CWOption, j map[string]any) {
		delete(j, "defaultFlag")
		j["location"] = cwRef(2, "Main")
		j["department"] = cwRef(3, "Services")
		j["inactiveFlag"] = false
	})
	for _, rec := range recs {
		rec.fields["inactiveFlag"] = false
	}
	return c.list(w, r, recs)
}

// boardItems serves the statuses or types of a board.
func (c *ConnectWise) boardItems(in *cwInstance, w http.ResponseWriter, r *http.Request, items []CWBoardItem, statuses bool) (int, any) {
	id, fail := cwPathID(r, "id")
	if fail != nil {
		return 0, *fail
	}
	if _, ok := cwOptionName(in.seed.Boards, id); !ok {
		return 0, cwNotFound("Board", id)
	}
	var recs []cwRecord
	for _, it := range items {
		if it.BoardID != id {
			continue
		}
		j := map[string]any{"id": it.ID, "name": it.Name, "board": cwRef(id, ""), "defaultFlag": it.Default, "inactiveFlag": false}
		if statuses {
			delete(j, "inactiveFlag")
			j["closedStatus"] = it.Closed
			j["inactive"] = false
		}
		recs = append(recs, cwRecord{fields: map[string]any{"id": float64(it.ID), "name": it.Name, "closedStatus": it.Closed}, json: j})
	}
	return c.list(w, r, recs)
}

func (c *ConnectWise) boardStatuses(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.boardItems(in, w, r, in.seed.Statuses, true)
}

func (c *ConnectWise) boardTypes(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.boardItems(in, w, r, in.seed.BoardTypes, false)
}

func (c *ConnectWise) priorities(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.list(w, r, cwOptionRecords(in.seed.Priorities, func(o CWOption, j map[string]any) { j["color"] = "Red" }))
}

func (c *ConnectWise) sources(in *cwInstance, w http.ResponseWriter, r *http.Request) (int, any) {
	return c.list(w, r, cwOptionRecords(in.seed.Sources, nil))
}
