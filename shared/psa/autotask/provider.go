package autotask

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// Labels of the system picklist values the client looks up by name (their
// ids differ between databases).
const (
	labelRecurringService = "Recurring Service"
	labelActive           = "Active"
	labelComplete         = "Complete"
)

// company, contract… are the fields the client reads of each entity.
type company struct {
	ID          int64  `json:"id"`
	CompanyName string `json:"companyName"`
	CompanyType *int64 `json:"companyType"`
	IsActive    bool   `json:"isActive"`
}

type contract struct {
	ID           int64    `json:"id"`
	CompanyID    int64    `json:"companyID"`
	ContractName string   `json:"contractName"`
	ContractType int64    `json:"contractType"`
	Status       int64    `json:"status"`
	StartDate    dateTime `json:"startDate"`
	EndDate      dateTime `json:"endDate"`
}

type contractService struct {
	ID         int64   `json:"id"`
	ContractID int64   `json:"contractID"`
	ServiceID  int64   `json:"serviceID"`
	UnitPrice  float64 `json:"unitPrice"`
	UnitCost   float64 `json:"unitCost"`
}

type serviceUnit struct {
	ID                int64    `json:"id"`
	ContractServiceID int64    `json:"contractServiceID"`
	ContractID        int64    `json:"contractID"`
	ServiceID         int64    `json:"serviceID"`
	StartDate         dateTime `json:"startDate"`
	Units             int64    `json:"units"`
	Price             float64  `json:"price"`
	Cost              float64  `json:"cost"`
}

type service struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type ticket struct {
	ID         int64  `json:"id"`
	CompanyID  int64  `json:"companyID"`
	Title      string `json:"title"`
	ExternalID string `json:"externalID"`
	Status     int64  `json:"status"`
}

type resource struct {
	ID        int64  `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

type role struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Verify reads ThresholdInformation, the cheapest authenticated call, and
// checks the answer is Autotask's. Unauthorized when the credentials (or
// the zone) are refused; Rejected without details when the host does not
// answer like Autotask.
func (c *Client) Verify(ctx context.Context) error {
	var r struct {
		ExternalRequestThreshold  *int `json:"externalRequestThreshold"`
		RequestThresholdTimeframe *int `json:"requestThresholdTimeframe"`
	}
	if err := c.call(ctx, http.MethodGet, "V1.0/ThresholdInformation", nil, true, &r); err != nil {
		return err
	}
	// Any server that answers 200 must not pass for Autotask: the answer
	// must carry the threshold fields.
	if r.ExternalRequestThreshold == nil || *r.ExternalRequestThreshold <= 0 || r.RequestThresholdTimeframe == nil {
		return apperr.New(apperr.Rejected, "the host does not answer like Autotask (GET ThresholdInformation)")
	}
	return nil
}

// CompanyTypes returns the active values of the Companies.companyType picklist.
func (c *Client) CompanyTypes(ctx context.Context) ([]psa.CompanyType, error) {
	return c.options(ctx, "Companies", "companyType")
}

var companyFields = []string{"id", "companyName", "companyType", "isActive"}

// Companies returns the active companies of f's types whose name contains
// f.NameContains, all pages.
func (c *Client) Companies(ctx context.Context, f psa.CompanyFilter) ([]psa.Company, error) {
	fs := []filter{eq("isActive", true)}
	if len(f.TypeIDs) > 0 {
		fs = append(fs, in("companyType", f.TypeIDs))
	}
	if s := strings.TrimSpace(f.NameContains); s != "" {
		fs = append(fs, filter{Op: "contains", Field: "companyName", Value: s})
	}
	rows, err := query[company](ctx, c, "Companies", companyFields, fs...)
	if err != nil {
		return nil, err
	}
	out := make([]psa.Company, len(rows))
	for i, r := range rows {
		out[i] = r.toPSA()
	}
	return out, nil
}

func (r company) toPSA() psa.Company {
	co := psa.Company{ID: r.ID, Name: r.CompanyName, Active: r.IsActive, TypeIDs: []int64{}}
	if r.CompanyType != nil {
		co.TypeIDs = []int64{*r.CompanyType}
	}
	return co
}

// Company returns one company; NotFound when Autotask has none with id.
func (c *Client) Company(ctx context.Context, id int64) (psa.Company, error) {
	r, err := get[company](ctx, c, "Companies", id, "company")
	if err != nil {
		return psa.Company{}, err
	}
	return r.toPSA(), nil
}

// Contracts returns a company's recurring-service contracts (the only
// contract type that carries contract services).
func (c *Client) Contracts(ctx context.Context, companyID int64) ([]psa.Contract, error) {
	recurring, err := c.pickByLabel(ctx, "Contracts", "contractType", labelRecurringService)
	if err != nil {
		return nil, err
	}
	active, err := c.pickByLabel(ctx, "Contracts", "status", labelActive)
	if err != nil {
		return nil, err
	}
	rows, err := query[contract](ctx, c, "Contracts", nil, eq("companyID", companyID), eq("contractType", recurring))
	if err != nil {
		return nil, err
	}
	out := make([]psa.Contract, len(rows))
	for i, r := range rows {
		out[i] = r.toPSA(recurring, active)
	}
	return out, nil
}

func (r contract) toPSA(recurring, active int64) psa.Contract {
	return psa.Contract{ID: r.ID, CompanyID: r.CompanyID, Name: r.ContractName, Recurring: r.ContractType == recurring,
		Active: r.Status == active, StartDate: time.Time(r.StartDate), EndDate: time.Time(r.EndDate)}
}

// Contract returns one contract; NotFound when Autotask has none with id.
func (c *Client) Contract(ctx context.Context, id int64) (psa.Contract, error) {
	recurring, err := c.pickByLabel(ctx, "Contracts", "contractType", labelRecurringService)
	if err != nil {
		return psa.Contract{}, err
	}
	active, err := c.pickByLabel(ctx, "Contracts", "status", labelActive)
	if err != nil {
		return psa.Contract{}, err
	}
	r, err := get[contract](ctx, c, "Contracts", id, "contract")
	if err != nil {
		return psa.Contract{}, err
	}
	return r.toPSA(recurring, active), nil
}

// Lines returns a contract's services, named after their catalog services.
func (c *Client) Lines(ctx context.Context, contractID int64) ([]psa.ServiceLine, error) {
	rows, err := query[contractService](ctx, c, "ContractServices", nil, eq("contractID", contractID))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, r := range rows {
		if !slices.Contains(ids, r.ServiceID) {
			ids = append(ids, r.ServiceID)
		}
	}
	names := map[int64]string{}
	for chunk := range slices.Chunk(ids, MaxRecords) {
		svcs, err := query[service](ctx, c, "Services", []string{"id", "name"}, in("id", chunk))
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			names[s.ID] = s.Name
		}
	}
	out := make([]psa.ServiceLine, len(rows))
	for i, r := range rows {
		out[i] = psa.ServiceLine{ID: r.ID, ContractID: r.ContractID, ServiceID: r.ServiceID, Name: names[r.ServiceID],
			UnitPrice: r.UnitPrice, UnitCost: r.UnitCost}
	}
	return out, nil
}

// day is the calendar day of t at midnight UTC, how Autotask dates periods
// and adjustments.
func day(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }

// ReadLines returns, for each line, the units, price and cost on at's day
// and every later row of that calendar month. Autotask starts a new
// ContractServiceUnits row at each adjustment's effective date (§1.6 of the
// API notes), so a month can hold several rows; reading only the one
// covering at would under-read what the month bills. Rows carry the
// contract, service, units, price and cost, so it costs ⌈lines/500⌉
// ContractServiceUnits queries (contractServiceID in […], endDate ≥ the
// day, startDate ≤ the month's last day; more pages only past 500 rows),
// whatever the number of contracts, plus one ContractServices query (id in
// […]) per 500 lines that have no unit row on the day, which tells a line
// that exists without units then (quantity 0 at the line's own price and
// cost) from one that does not. A line whose contract differs from its ref
// is treated as absent.
func (c *Client) ReadLines(ctx context.Context, refs []psa.LineRef, at time.Time) (map[psa.LineRef]psa.LineState, error) {
	ids := psa.DistinctIDs(lineIDs(refs))
	d := day(at)
	last := d.AddDate(0, 1, -d.Day())
	rows := map[int64][]serviceUnit{}
	for chunk := range slices.Chunk(ids, MaxRecords) {
		us, err := query[serviceUnit](ctx, c, "ContractServiceUnits",
			[]string{"id", "contractServiceID", "contractID", "serviceID", "startDate", "units", "price", "cost"},
			in("contractServiceID", chunk), filter{Op: "gte", Field: "endDate", Value: d.Format(time.RFC3339)},
			filter{Op: "lte", Field: "startDate", Value: last.Format(time.RFC3339)})
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			rows[u.ContractServiceID] = append(rows[u.ContractServiceID], u)
		}
	}
	var rest []int64
	for _, id := range ids {
		rs := rows[id]
		slices.SortFunc(rs, func(a, b serviceUnit) int { return time.Time(a.StartDate).Compare(time.Time(b.StartDate)) })
		if len(rs) == 0 || time.Time(rs[0].StartDate).After(d) {
			rest = append(rest, id)
		}
	}
	lines := map[int64]contractService{}
	for chunk := range slices.Chunk(rest, MaxRecords) {
		css, err := query[contractService](ctx, c, "ContractServices",
			[]string{"id", "contractID", "serviceID", "unitPrice", "unitCost"}, in("id", chunk))
		if err != nil {
			return nil, err
		}
		for _, cs := range css {
			lines[cs.ID] = cs
		}
	}
	out := make(map[psa.LineRef]psa.LineState, len(refs))
	for _, r := range refs {
		rs := rows[r.LineID]
		var st psa.LineState
		switch cs, ok := lines[r.LineID]; {
		case len(rs) > 0 && !time.Time(rs[0].StartDate).After(d):
			u := rs[0]
			st = psa.LineState{Ref: r, ServiceID: u.ServiceID, Quantity: u.Units, UnitCost: u.Cost, UnitPrice: u.Price}
			rs = rs[1:]
			if u.ContractID != r.ContractID {
				continue
			}
		case ok && cs.ContractID == r.ContractID:
			st = psa.LineState{Ref: r, ServiceID: cs.ServiceID, UnitCost: cs.UnitCost, UnitPrice: cs.UnitPrice}
		default:
			continue
		}
		for _, u := range rs {
			st.Later = append(st.Later, psa.LineRow{Start: time.Time(u.StartDate), Quantity: u.Units, UnitCost: u.Cost, UnitPrice: u.Price})
		}
		out[r] = st
	}
	return out, nil
}

func lineIDs(refs []psa.LineRef) []int64 {
	ids := make([]int64, len(refs))
	for i, r := range refs {
		ids[i] = r.LineID
	}
	return ids
}

// adjustment is a ContractServiceAdjustments create body.
type adjustment struct {
	ContractID         int64   `json:"contractID"`
	ContractServiceID  int64   `json:"contractServiceID"`
	ServiceID          int64   `json:"serviceID"`
	EffectiveDate      string  `json:"effectiveDate"`
	UnitChange         int64   `json:"unitChange"`
	AdjustedUnitCost   float64 `json:"adjustedUnitCost"`
	AdjustedUnitPrice  float64 `json:"adjustedUnitPrice"`
	AllowRepeatService bool    `json:"allowRepeatService"`
}

// SetLine brings every row of the line from u.EffectiveDate's day to the
// end of that month to u.Quantity at u.UnitCost (each row keeps its own
// price). Autotask changes units only through ContractServiceAdjustments,
// create-only deltas that apply from their effective date on and start a
// new row there (§1.6 of the API notes), so it posts one adjustment at the
// effective date for the row covering it, then a correcting one at the
// start of each later row that would still differ (a technician's edit
// after the effective date, an earlier prorated write of psabridge's own).
// Nothing is resent after an ambiguous failure: on Transient, read the
// line again before retrying. When u.Current is not this line's state it
// is read first; NotFound when the line does not exist. Nothing is sent
// when every row holds the target.
func (c *Client) SetLine(ctx context.Context, u psa.LineUpdate) error {
	if u.Quantity < 0 || u.EffectiveDate.IsZero() {
		return apperr.New(apperr.Invalid, "a line needs a quantity of at least 0 and an effective date")
	}
	cur := u.Current
	if cur.Ref != u.Ref {
		states, err := c.ReadLines(ctx, []psa.LineRef{u.Ref}, u.EffectiveDate)
		if err != nil {
			return err
		}
		st, ok := states[u.Ref]
		if !ok {
			return apperr.New(apperr.NotFound, "Autotask has no contract service %d on contract %d", u.Ref.LineID, u.Ref.ContractID)
		}
		cur = st
	}
	for _, a := range adjustmentsFor(cur, u) {
		if err := c.call(ctx, http.MethodPost, "V1.0/ContractServiceAdjustments", a, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// adjustmentsFor plans the adjustments that bring every row of cur to u:
// a row's units are its own plus the deltas posted before it, and after a
// post its cost is the post's (an adjustment's units and cost apply from
// its effective date on), so a later row needs a correction only when it
// still differs, or when its own price would otherwise be lost.
func adjustmentsFor(cur psa.LineState, u psa.LineUpdate) []adjustment {
	var out []adjustment
	var carried int64
	for i, r := range cur.Rows() {
		q, cost, price := r.Quantity+carried, r.UnitCost, r.UnitPrice
		if n := len(out); n > 0 {
			cost, price = out[n-1].AdjustedUnitCost, out[n-1].AdjustedUnitPrice
		}
		if q == u.Quantity && cost == u.UnitCost && price == r.UnitPrice {
			continue
		}
		eff := day(u.EffectiveDate)
		if i > 0 {
			eff = day(r.Start)
		}
		out = append(out, adjustment{ContractID: u.Ref.ContractID, ContractServiceID: u.Ref.LineID, ServiceID: cur.ServiceID,
			EffectiveDate: eff.Format(time.RFC3339), UnitChange: u.Quantity - q,
			AdjustedUnitCost: u.UnitCost, AdjustedUnitPrice: r.UnitPrice})
		carried += u.Quantity - q
	}
	return out
}

// CreateLine adds serviceID to a recurring-service contract and sets its
// units and cost: GET Services/{id} (the catalog price and name), POST
// Contracts/{id}/Services (the contract service, at the service's price),
// then, unless the line already holds quantity and unitCost, one
// ContractServiceAdjustment of +quantity at unitCost effective on
// effective's day. Neither create is resent after an ambiguous failure
// (Lines shows whether the service was added). NotFound when the contract
// or the service is gone; Rejected with Autotask's words otherwise (e.g.
// not a Recurring Service contract, a date outside the contract).
func (c *Client) CreateLine(ctx context.Context, contractID, serviceID, quantity int64, unitCost float64, effective time.Time) (psa.ServiceLine, error) {
	if contractID <= 0 || serviceID <= 0 || quantity < 0 || effective.IsZero() {
		return psa.ServiceLine{}, apperr.New(apperr.Invalid, "a line needs a contract, a service, a quantity of at least 0 and an effective date")
	}
	svc, err := get[serviceRow](ctx, c, "Services", serviceID, "service")
	if err != nil {
		return psa.ServiceLine{}, err
	}
	var r itemID
	body := map[string]any{"contractID": contractID, "serviceID": serviceID, "unitPrice": svc.UnitPrice}
	if err := c.call(ctx, http.MethodPost, fmt.Sprintf("V1.0/Contracts/%d/Services", contractID), body, false, &r); err != nil {
		return psa.ServiceLine{}, err
	}
	line := psa.ServiceLine{ID: r.ItemID, ContractID: contractID, ServiceID: serviceID, Name: svc.Name,
		UnitPrice: svc.UnitPrice, UnitCost: unitCost}
	if quantity == 0 && unitCost == svc.UnitCost {
		return line, nil // a new contract service starts at 0 units and the service's cost
	}
	adj := adjustment{ContractID: contractID, ContractServiceID: r.ItemID, ServiceID: serviceID,
		EffectiveDate: day(effective).Format(time.RFC3339), UnitChange: quantity,
		AdjustedUnitCost: unitCost, AdjustedUnitPrice: svc.UnitPrice}
	if err := c.call(ctx, http.MethodPost, "V1.0/ContractServiceAdjustments", adj, false, nil); err != nil {
		return psa.ServiceLine{}, err
	}
	return line, nil
}

// TicketOptions returns the Tickets picklists (status, priority, source,
// queue, issue type, category) and the active resources and roles.
func (c *Client) TicketOptions(ctx context.Context) (psa.TicketOptions, error) {
	var o psa.TicketOptions
	complete, err := c.pickByLabel(ctx, "Tickets", "status", labelComplete)
	if err != nil {
		return o, err
	}
	for _, p := range []struct {
		field string
		dst   *[]psa.Option
	}{{"status", &o.Statuses}, {"priority", &o.Priorities}, {"source", &o.Sources}, {"queueID", &o.Queues},
		{"issueType", &o.IssueTypes}, {"ticketCategory", &o.Categories}} {
		if *p.dst, err = c.options(ctx, "Tickets", p.field); err != nil {
			return o, err
		}
	}
	for i := range o.Statuses {
		o.Statuses[i].Closed = o.Statuses[i].ID == complete
	}
	res, err := query[resource](ctx, c, "Resources", []string{"id", "firstName", "lastName"}, eq("isActive", true))
	if err != nil {
		return o, err
	}
	o.Resources = make([]psa.Option, len(res))
	for i, r := range res {
		o.Resources[i] = psa.Option{ID: r.ID, Name: strings.TrimSpace(r.FirstName + " " + r.LastName)}
	}
	roles, err := query[role](ctx, c, "Roles", []string{"id", "name"}, eq("isActive", true))
	if err != nil {
		return o, err
	}
	o.Roles = make([]psa.Option, len(roles))
	for i, r := range roles {
		o.Roles[i] = psa.Option{ID: r.ID, Name: r.Name}
	}
	return o, nil
}

// FindOpenTicket returns the company's oldest ticket with externalID
// externalKey whose status is not Complete; NotFound when there is none.
func (c *Client) FindOpenTicket(ctx context.Context, companyID int64, externalKey string) (psa.Ticket, error) {
	if externalKey == "" {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "an external key is needed to find a ticket")
	}
	complete, err := c.pickByLabel(ctx, "Tickets", "status", labelComplete)
	if err != nil {
		return psa.Ticket{}, err
	}
	rows, err := query[ticket](ctx, c, "Tickets", []string{"id", "companyID", "title", "externalID", "status"},
		eq("externalID", externalKey), eq("companyID", companyID), noteq("status", complete))
	if err != nil {
		return psa.Ticket{}, err
	}
	if len(rows) == 0 {
		return psa.Ticket{}, apperr.New(apperr.NotFound, "no open Autotask ticket has this external key")
	}
	t := slices.MinFunc(rows, func(a, b ticket) int { return int(a.ID - b.ID) })
	return psa.Ticket{ID: t.ID, CompanyID: t.CompanyID, Title: t.Title, ExternalKey: t.ExternalID, StatusID: t.Status}, nil
}

// CreateTicket opens a ticket. Status and priority, which Autotask
// requires, default to the picklists' default values; a resource is sent
// only with its role (Autotask refuses one without the other). The create
// is not resent after an ambiguous failure: look the key up with
// FindOpenTicket first. Invalid for a missing company or title, or a title
// over 255 characters; Rejected with Autotask's words otherwise.
func (c *Client) CreateTicket(ctx context.Context, s psa.TicketSpec) (psa.Ticket, error) {
	if s.CompanyID == 0 || strings.TrimSpace(s.Title) == "" {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "a ticket needs a company and a title")
	}
	if n := len([]rune(s.Title)); n > psa.Autotask.TitleLimit() {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "the ticket title has %d characters; Autotask takes %d", n, psa.Autotask.TitleLimit())
	}
	status, priority := s.StatusID, s.PriorityID
	var err error
	if status == 0 {
		if status, err = c.pickDefault(ctx, "Tickets", "status"); err != nil {
			return psa.Ticket{}, err
		}
	}
	if priority == 0 {
		if priority, err = c.pickDefault(ctx, "Tickets", "priority"); err != nil {
			return psa.Ticket{}, err
		}
	}
	body := map[string]any{"companyID": s.CompanyID, "title": s.Title}
	set := func(k string, v int64) {
		if v != 0 {
			body[k] = v
		}
	}
	set("status", status)
	set("priority", priority)
	set("source", s.SourceID)
	set("queueID", s.QueueID)
	set("ticketCategory", s.CategoryID)
	set("issueType", s.IssueTypeID)
	set("assignedResourceID", s.ResourceID)
	set("assignedResourceRoleID", s.RoleID)
	if s.Description != "" {
		body["description"] = s.Description
	}
	if s.ExternalKey != "" {
		body["externalID"] = s.ExternalKey
	}
	if !s.Due.IsZero() {
		body["dueDateTime"] = s.Due.UTC().Format(time.RFC3339)
	}
	var r itemID
	if err := c.call(ctx, http.MethodPost, "V1.0/Tickets", body, false, &r); err != nil {
		return psa.Ticket{}, err
	}
	return psa.Ticket{ID: r.ItemID, CompanyID: s.CompanyID, Title: s.Title, ExternalKey: s.ExternalKey, StatusID: status}, nil
}

// AddNote adds a note to a ticket with the TicketNotes picklists' default
// note type and publish values. Not resent after an ambiguous failure.
// NotFound when the ticket does not exist.
func (c *Client) AddNote(ctx context.Context, ticketID int64, n psa.Note) error {
	if strings.TrimSpace(n.Text) == "" {
		return apperr.New(apperr.Invalid, "a note needs text")
	}
	noteType, err := c.pickDefault(ctx, "TicketNotes", "noteType")
	if err != nil {
		return err
	}
	publish, err := c.pickDefault(ctx, "TicketNotes", "publish")
	if err != nil {
		return err
	}
	title := n.Title
	if title == "" {
		title = firstLine(n.Text, 250)
	}
	body := map[string]any{"ticketID": ticketID, "title": title, "description": n.Text, "noteType": noteType, "publish": publish}
	return c.call(ctx, http.MethodPost, fmt.Sprintf("V1.0/Tickets/%d/Notes", ticketID), body, false, nil)
}

// HasNote looks for a note of the ticket whose description contains
// marker (one TicketNotes query).
func (c *Client) HasNote(ctx context.Context, ticketID int64, marker string) (bool, error) {
	if marker == "" {
		return false, apperr.New(apperr.Invalid, "a note marker is needed")
	}
	rows, err := query[struct {
		ID int64 `json:"id"`
	}](ctx, c, "TicketNotes", []string{"id"}, eq("ticketID", ticketID), contains("description", marker))
	return len(rows) > 0, err
}

func firstLine(s string, limit int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > limit {
		return string(r[:limit])
	}
	return s
}

// CloseTicket sets a ticket's status (PATCH with the id in the body).
// Setting a status twice is harmless, so transient failures are retried.
// NotFound when the ticket does not exist; Rejected when a workflow rule
// demands more (the text says which).
func (c *Client) CloseTicket(ctx context.Context, ticketID int64, statusID int64) error {
	if statusID == 0 {
		return apperr.New(apperr.Invalid, "a closing status is needed")
	}
	body := map[string]any{"id": ticketID, "status": statusID}
	return c.call(ctx, http.MethodPatch, "V1.0/Tickets", body, true, &itemID{})
}

// dateTime reads Autotask datetimes, which are UTC and come with or without
// a zone designator ("2025-06-01T00:00:00Z", "2025-06-01T00:00:00").
type dateTime time.Time

// UnmarshalJSON accepts RFC 3339, the zone-less form (read as UTC) and null.
func (d *dateTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*d = dateTime{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			*d = dateTime(t.UTC())
			return nil
		}
	}
	return fmt.Errorf("autotask: unreadable datetime %q", s)
}
