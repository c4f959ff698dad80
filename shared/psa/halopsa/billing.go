package halopsa

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// haloTime is a Halo date: "2026-01-31T00:00:00" without a zone (UTC),
// with or without fractions or a zone. Halo's "no date" (null, "",
// 1899-12-30, 1900-01-01) is the zero time.
type haloTime struct{ time.Time }

func (t *haloTime) UnmarshalJSON(b []byte) error {
	var s string
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t.Time = time.Time{}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			if v.Year() > 1901 {
				t.Time = v.UTC()
			}
			return nil
		}
	}
	return &time.ParseError{Layout: "2006-01-02T15:04:05", Value: s}
}

// haloDate renders a day as Halo takes it.
func haloDate(t time.Time) string {
	return t.UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
}

// day is t's calendar day in UTC.
func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// ended reports whether end is set and a day before at's.
func ended(end, at time.Time) bool { return !end.IsZero() && day(end).Before(day(at)) }

// option is a lookup row (top level, ticket type, team, agent, item group).
type option struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Inactive   bool   `json:"inactive"`
	IsDisabled bool   `json:"isdisabled"`
}

func (o option) option() psa.Option { return psa.Option{ID: o.ID, Name: o.Name} }

// Verify takes a token and reads GET /Agent/me, the agent the API
// application logs in as, and checks that the answer is Halo's: an object
// with an id and a name (any server that answers 200, e.g. an unrelated
// service at a custom endpoint, must not pass). Unauthorized when the
// client id, secret or tenant are refused; Forbidden or Rejected with
// Halo's words otherwise; Transient when Halo fails.
func (c *Client) Verify(ctx context.Context) error {
	var me option
	if err := c.call(ctx, "GET", "Agent/me", nil, nil, true, &me); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return relabel(err, apperr.Rejected, "the host does not answer like HaloPSA (GET /api/Agent/me)")
		}
		return err
	}
	if me.ID <= 0 || me.Name == "" {
		return apperr.New(apperr.Rejected, "the host does not answer like HaloPSA (GET /api/Agent/me)")
	}
	return nil
}

// CompanyTypes lists Halo's top levels (GET /TopLevel), the grouping every
// client belongs to (docs/HALOPSA.md 5.1).
func (c *Client) CompanyTypes(ctx context.Context) ([]psa.CompanyType, error) {
	rows, _, err := list[option](ctx, c, "TopLevel", "tree", nil)
	if err != nil {
		return nil, err
	}
	out := make([]psa.CompanyType, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.option())
	}
	return out, nil
}

// areaRow is the part of Area (a client) we read.
type areaRow struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	TopLevelID int64  `json:"toplevel_id"`
	Inactive   bool   `json:"inactive"`
}

func (r areaRow) company() psa.Company {
	co := psa.Company{ID: r.ID, Name: r.Name, Active: !r.Inactive, TypeIDs: []int64{}}
	if r.TopLevelID != 0 {
		co.TypeIDs = append(co.TypeIDs, r.TopLevelID)
	}
	return co
}

func areaID(r areaRow) int64 { return r.ID }

// Companies lists active clients of any of f.TypeIDs (top levels) whose
// name contains f.NameContains, all pages. Halo filters by one top level
// (toplevel_id) and by a search string; several top levels are filtered
// here, and so is the name, since Halo's search may match other columns.
func (c *Client) Companies(ctx context.Context, f psa.CompanyFilter) ([]psa.Company, error) {
	q := url.Values{"includeactive": {"true"}, "includeinactive": {"false"}}
	if f.NameContains != "" {
		q.Set("search", f.NameContains)
	}
	if len(f.TypeIDs) == 1 {
		q.Set("toplevel_id", strconv.FormatInt(f.TypeIDs[0], 10))
	}
	rows, err := all[areaRow](ctx, c, "Client", "clients", q)
	if err != nil {
		return nil, err
	}
	want := map[int64]bool{}
	for _, id := range f.TypeIDs {
		want[id] = true
	}
	needle := strings.ToLower(f.NameContains)
	out := make([]psa.Company, 0, len(rows))
	for _, r := range rows {
		if r.Inactive || (len(want) > 0 && !want[r.TopLevelID]) || !strings.Contains(strings.ToLower(r.Name), needle) {
			continue
		}
		out = append(out, r.company())
	}
	return out, nil
}

// Company reads one client, active or not; NotFound when it does not exist.
func (c *Client) Company(ctx context.Context, id int64) (psa.Company, error) {
	r, err := get(ctx, c, "Client/"+strconv.FormatInt(id, 10), nil, areaID)
	if err != nil {
		return psa.Company{}, err
	}
	return r.company(), nil
}

// headerRow is the part of InvoiceHeader (a recurring invoice) we read.
type headerRow struct {
	ID          int64     `json:"id"`
	ClientID    int64     `json:"client_id"`
	Reference   string    `json:"reference"`
	ContractRef string    `json:"contract_ref"`
	Disabled    bool      `json:"disabled"`
	StartDate   haloTime  `json:"startdate"`
	EndDate     haloTime  `json:"enddate"`
	Lines       []lineRow `json:"lines"`
}

func headerID(r headerRow) int64 { return r.ID }

// contractID is psabridge's id of a recurring invoice: Halo numbers them
// below zero, psabridge's ids are positive (docs/HALOPSA.md 5.2).
func contractID(headerID int64) int64 { return -headerID }

// headerPath addresses the recurring invoice of a psabridge contract id.
func headerPath(contractID int64) string {
	return "RecurringInvoice/" + strconv.FormatInt(-contractID, 10)
}

func (r headerRow) contract() psa.Contract {
	name := r.Reference
	if name == "" {
		name = r.ContractRef
	}
	if name == "" {
		name = "Recurring invoice " + strconv.FormatInt(contractID(r.ID), 10)
	}
	return psa.Contract{ID: contractID(r.ID), CompanyID: r.ClientID, Name: name, Recurring: true,
		Active: !r.Disabled, StartDate: r.StartDate.Time, EndDate: r.EndDate.Time}
}

// Contracts lists a client's recurring invoices that are not disabled: the
// headers its billed lines hang from.
func (c *Client) Contracts(ctx context.Context, companyID int64) ([]psa.Contract, error) {
	rows, err := all[headerRow](ctx, c, "RecurringInvoice", "invoices",
		url.Values{"client_id": {strconv.FormatInt(companyID, 10)}})
	if err != nil {
		return nil, err
	}
	out := make([]psa.Contract, 0, len(rows))
	for _, r := range rows {
		if !r.Disabled && r.ClientID == companyID {
			out = append(out, r.contract())
		}
	}
	return out, nil
}

// Contract reads one recurring invoice; NotFound when it does not exist.
func (c *Client) Contract(ctx context.Context, id int64) (psa.Contract, error) {
	r, err := get(ctx, c, headerPath(id), nil, headerID)
	if err != nil {
		return psa.Contract{}, err
	}
	return r.contract(), nil
}

// lineRow is the part of InvoiceDetail (a recurring invoice line) we read.
type lineRow struct {
	ID          int64    `json:"id"`
	HeaderID    int64    `json:"ihid"`
	ItemID      int64    `json:"_itemid"`
	Description string   `json:"item_shortdescription"`
	Quantity    float64  `json:"qty_order"`
	UnitPrice   float64  `json:"unit_price"`
	UnitCost    float64  `json:"unit_cost"`
	Inactive    bool     `json:"isinactive"`
	StartDate   haloTime `json:"startdate"`
	EndDate     haloTime `json:"enddate"`
}

// cancelled reports whether the line no longer bills at at.
func (l lineRow) cancelled(at time.Time) bool { return l.Inactive || ended(l.EndDate.Time, at) }

func (l lineRow) serviceLine(contract int64, at time.Time) psa.ServiceLine {
	return psa.ServiceLine{ID: l.ID, ContractID: contract, ServiceID: l.ItemID, Name: l.Description,
		UnitPrice: l.UnitPrice, UnitCost: l.UnitCost, Cancelled: l.cancelled(at)}
}

// state is the line's billed state at at. A Halo line holds one quantity
// until it is changed (the recurring invoice bills what it holds when Halo
// generates the invoice), so there are no later rows.
func (l lineRow) state(h headerRow, at time.Time) psa.LineState {
	st := psa.LineState{Ref: psa.LineRef{ContractID: contractID(h.ID), LineID: l.ID}, ServiceID: l.ItemID,
		Quantity: int64(math.Round(l.Quantity)), UnitCost: l.UnitCost, UnitPrice: l.UnitPrice,
		Cancelled: l.cancelled(at), ContractCancelled: h.Disabled, ContractEnded: ended(h.EndDate.Time, at)}
	if s := l.StartDate.Time; !s.IsZero() && day(s).After(day(at)) {
		st.Starts = s
	}
	return st
}

// Lines lists a recurring invoice's lines (GET /RecurringInvoice/{id},
// which answers the header with them), those that no longer bill marked
// Cancelled.
func (c *Client) Lines(ctx context.Context, contractID int64) ([]psa.ServiceLine, error) {
	h, err := get(ctx, c, headerPath(contractID), nil, headerID)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	out := make([]psa.ServiceLine, 0, len(h.Lines))
	for _, l := range h.Lines {
		out = append(out, l.serviceLine(contractID, now))
	}
	return out, nil
}

// ReadLines reads the headers of the distinct recurring invoices in refs
// with their lines, at the API's floor (docs/HALOPSA.md 5.4): the list
// GET /RecurringInvoice?includelines=true, 100 headers a page, or one
// GET /RecurringInvoice/{id} per header, whichever takes fewer requests
// once the first page has told how many there are. Halo lines hold one
// value each, so a state has no later rows; it says whether the line no
// longer bills at at, starts after at, and whether its recurring invoice
// is disabled or has ended. Lines and invoices that do not exist are
// absent.
func (c *Client) ReadLines(ctx context.Context, refs []psa.LineRef, at time.Time) (map[psa.LineRef]psa.LineState, error) {
	ids := make([]int64, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.ContractID)
	}
	headers, err := c.headersByID(ctx, ids, true)
	if err != nil {
		return nil, err
	}
	out := make(map[psa.LineRef]psa.LineState, len(refs))
	for _, r := range refs {
		h, ok := headers[-r.ContractID]
		if !ok {
			continue
		}
		for _, l := range h.Lines {
			if l.ID == r.LineID {
				out[r] = l.state(h, at)
			}
		}
	}
	return out, nil
}

// validAmounts reports whether a quantity and a unit cost can be sent.
func validAmounts(quantity int64, unitCost float64) bool {
	return quantity >= 0 && unitCost >= 0 && !math.IsNaN(unitCost) && !math.IsInf(unitCost, 0)
}

// lineUpdate is an InvoiceDetail sent to /RecurringInvoice/updatelines.
type lineUpdate struct {
	ID        int64   `json:"id,omitempty"`
	HeaderID  int64   `json:"ihid"`
	ItemID    int64   `json:"_itemid,omitempty"`
	Quantity  float64 `json:"qty_order"`
	UnitCost  float64 `json:"unit_cost"`
	StartDate string  `json:"startdate,omitempty"`
}

// SetLine sets the line's qty_order and unit_cost (POST
// /RecurringInvoice/updatelines with the line's id and header). The values
// are absolute, so a resend after a timeout cannot double count: the call
// is idempotent and retried as such. The effective date is not sent: a Halo
// line has no dated history; the recurring invoice bills what the line
// holds when it is generated. NotFound when the line or its invoice is
// gone; Rejected with Halo's words otherwise.
func (c *Client) SetLine(ctx context.Context, u psa.LineUpdate) error {
	if !validAmounts(u.Quantity, u.UnitCost) {
		return apperr.New(apperr.Invalid, "quantity and unit cost must be non-negative numbers")
	}
	if u.Ref.ContractID <= 0 || u.Ref.LineID <= 0 {
		return apperr.New(apperr.Invalid, "a HaloPSA line is addressed by its recurring invoice and line ids")
	}
	return post(ctx, c, "RecurringInvoice/updatelines", lineUpdate{ID: u.Ref.LineID, HeaderID: -u.Ref.ContractID,
		Quantity: float64(u.Quantity), UnitCost: u.UnitCost}, true, nil)
}

// CreateLine adds a line billing item serviceID to recurring invoice
// contractID (POST /RecurringInvoice/updatelines without a line id):
// qty_order, unit_cost and the start date; Halo takes the description and
// unit price from the item. One request, never resent after an ambiguous
// failure: Lines shows whether it was added. NotFound when the invoice is
// gone; Rejected with Halo's words (e.g. an unknown item).
func (c *Client) CreateLine(ctx context.Context, contractID, serviceID, quantity int64, unitCost float64, effective time.Time) (psa.ServiceLine, error) {
	if contractID <= 0 || serviceID <= 0 || !validAmounts(quantity, unitCost) || effective.IsZero() {
		return psa.ServiceLine{}, apperr.New(apperr.Invalid, "a line needs a recurring invoice, an item, non-negative quantity and unit cost, and a start date")
	}
	var ans savedLine
	err := post(ctx, c, "RecurringInvoice/updatelines", lineUpdate{HeaderID: -contractID, ItemID: serviceID,
		Quantity: float64(quantity), UnitCost: unitCost, StartDate: haloDate(effective)}, false, &ans)
	if err != nil {
		return psa.ServiceLine{}, err
	}
	saved, ok := ans.line(serviceID)
	if !ok {
		return psa.ServiceLine{}, apperr.New(apperr.Rejected, "HaloPSA's answer to the new line does not hold it")
	}
	return saved.serviceLine(contractID, c.cfg.Now()), nil
}

// savedLine is the answer to a line write: the saved InvoiceDetail, or
// (the shape is unverified, docs/HALOPSA.md 5.5) the InvoiceHeader with
// its lines.
type savedLine struct {
	lineRow
	Lines []lineRow `json:"lines"`
}

// line returns the saved line of item: the answer itself, or among the
// header's lines the newest (highest id) of that item.
func (a savedLine) line(item int64) (lineRow, bool) {
	if a.Lines == nil {
		ok := a.ID > 0 && (a.ItemID == 0 || a.ItemID == item)
		a.lineRow.ItemID = item
		return a.lineRow, ok
	}
	var best lineRow
	for _, l := range a.Lines {
		if l.ItemID == item && l.ID > best.ID {
			best = l
		}
	}
	return best, best.ID > 0
}
