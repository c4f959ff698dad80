package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Autotask hosts Autotask PSA instances speaking REST v1.0 under /autotask/.
//
// Each instance is keyed by its API username and lives in a zone; the zone
// lookup /autotask/atservicesrest/v1.0/zoneInformation?user= answers
// http://<request host>/autotask/<zone>/, and the instance's API is then
// /autotask/<zone>/V1.0/…. Rules enforced (PSA-API-NOTES.md §1): the three
// auth headers (401 otherwise, and 401 from a zone the instance is not in);
// MaxRecords 1–500; at most 3 concurrent requests per tracking identifier and
// endpoint; ContractServiceAdjustments create-only; ContractServices updates
// limited to unitPrice and invoiceDescription; a resource assigned to a
// ticket only with a role; picklist values checked. Validation failures are
// HTTP 500 with {"errors":[…]}, as Autotask answers them.
type Autotask struct {
	s *Server

	mu        sync.Mutex
	instances map[string]*atInstance // by lower-case username
	latency   time.Duration
	inflight  gauge
	threadErr int
}

// ThreadThresholdText is the sandbox's thread-threshold error text. The exact
// wording and status of Autotask's answer are not published; this follows
// reports from integrations that hit it (error code Itgenatr005).
const ThreadThresholdText = "Thread Threshold Exceeded — The Autotask API thread threshold of 3 threads has been exceeded. (Itgenatr005)"

// AutotaskThreadLimit is the number of concurrent requests Autotask allows
// per tracking identifier and object endpoint (since 2023.1).
const AutotaskThreadLimit = 3

// AutotaskSeed is one Autotask instance's initial state. Zero ids are
// assigned; picklists not given take the usual system values.
type AutotaskSeed struct {
	Username        string `json:"username"`
	Secret          string `json:"secret"`
	IntegrationCode string `json:"integrationCode"`
	// Zone names the instance's zone, default "webservices1".
	Zone string `json:"zone,omitempty"`
	// Picklists replace the default values of an entity field's picklist.
	Picklists        []AutotaskPicklist        `json:"picklists,omitempty"`
	Companies        []AutotaskCompany         `json:"companies,omitempty"`
	Contracts        []AutotaskContract        `json:"contracts,omitempty"`
	Services         []AutotaskService         `json:"services,omitempty"`
	BillingCodes     []AutotaskBillingCode     `json:"billingCodes,omitempty"`
	ContractServices []AutotaskContractService `json:"contractServices,omitempty"`
	Tickets          []AutotaskTicket          `json:"tickets,omitempty"`
	Resources        []AutotaskResource        `json:"resources,omitempty"`
	Roles            []AutotaskRole            `json:"roles,omitempty"`
}

// AutotaskPicklist is the picklist of one field, e.g. Tickets.status.
type AutotaskPicklist struct {
	Entity string                  `json:"entity"`
	Field  string                  `json:"field"`
	Values []AutotaskPicklistValue `json:"values"`
}

// AutotaskPicklistValue is one picklist entry.
type AutotaskPicklistValue struct {
	Value     int64  `json:"value"`
	Label     string `json:"label"`
	IsDefault bool   `json:"isDefaultValue,omitempty"`
	Inactive  bool   `json:"inactive,omitempty"`
}

// AutotaskCompany seeds a company.
type AutotaskCompany struct {
	ID       int64  `json:"id,omitempty"`
	Name     string `json:"companyName"`
	Type     int64  `json:"companyType"`
	Inactive bool   `json:"inactive,omitempty"`
}

// AutotaskContract seeds a contract. Type defaults to 7 (Recurring Service),
// Status to 1 (Active), dates to the years around the sandbox's clock
// (Server.Now).
type AutotaskContract struct {
	ID        int64     `json:"id,omitempty"`
	CompanyID int64     `json:"companyID"`
	Name      string    `json:"contractName"`
	Type      int64     `json:"contractType,omitempty"`
	Status    int64     `json:"status,omitempty"`
	StartDate time.Time `json:"startDate,omitzero"`
	EndDate   time.Time `json:"endDate,omitzero"`
}

// AutotaskService seeds a catalog service. PeriodType defaults to 1
// (Monthly); Description is the internal description.
type AutotaskService struct {
	ID            int64   `json:"id,omitempty"`
	Name          string  `json:"name"`
	Description   string  `json:"description,omitempty"`
	UnitPrice     float64 `json:"unitPrice"`
	UnitCost      float64 `json:"unitCost"`
	PeriodType    int64   `json:"periodType,omitempty"`
	BillingCodeID int64   `json:"billingCodeID,omitempty"`
	Inactive      bool    `json:"inactive,omitempty"`
}

// AutotaskBillingCode seeds a billing (allocation) code; UseType is a
// BillingCodes.useType picklist value.
type AutotaskBillingCode struct {
	ID       int64  `json:"id,omitempty"`
	Name     string `json:"name"`
	UseType  int64  `json:"useType"`
	Inactive bool   `json:"inactive,omitempty"`
}

// AutotaskContractService seeds a contract service; the sandbox generates
// one ContractServiceUnits row per month of the contract with Units units.
type AutotaskContractService struct {
	ID         int64   `json:"id,omitempty"`
	ContractID int64   `json:"contractID"`
	ServiceID  int64   `json:"serviceID"`
	UnitPrice  float64 `json:"unitPrice"`
	UnitCost   float64 `json:"unitCost"`
	Units      int64   `json:"units"`
}

// AutotaskTicket seeds a ticket.
type AutotaskTicket struct {
	ID         int64  `json:"id,omitempty"`
	CompanyID  int64  `json:"companyID"`
	Title      string `json:"title"`
	Status     int64  `json:"status"`
	Priority   int64  `json:"priority"`
	QueueID    int64  `json:"queueID,omitempty"`
	ExternalID string `json:"externalID,omitempty"`
}

// AutotaskResource seeds a resource (a PSA user).
type AutotaskResource struct {
	ID        int64  `json:"id,omitempty"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Inactive  bool   `json:"inactive,omitempty"`
}

// AutotaskRole seeds a role.
type AutotaskRole struct {
	ID       int64  `json:"id,omitempty"`
	Name     string `json:"name"`
	Inactive bool   `json:"inactive,omitempty"`
}

// AutotaskAdjustment is one ContractServiceAdjustment the sandbox applied.
type AutotaskAdjustment struct {
	ID                int64
	ContractID        int64
	ContractServiceID int64
	ServiceID         int64
	EffectiveDate     time.Time
	UnitChange        int64
	AdjustedUnitPrice *float64
	AdjustedUnitCost  *float64
}

// AutotaskNote is one ticket note the sandbox stored.
type AutotaskNote struct {
	ID          int64
	TicketID    int64
	Title       string
	Description string
	NoteType    int64
	Publish     int64
}

// AutotaskTicketState is a ticket as stored.
type AutotaskTicketState struct {
	ID                     int64
	CompanyID              int64
	Title                  string
	Description            string
	Status                 int64
	Priority               int64
	QueueID                int64
	Source                 int64 // picklist Tickets.source
	ExternalID             string
	AssignedResourceID     int64
	AssignedResourceRoleID int64
	// DueDateTime is the ticket's dueDateTime as stored (RFC 3339, UTC).
	DueDateTime string
}

// atFieldDef describes one field of an entity for entityInformation/fields
// and for query validation.
type atFieldDef struct {
	Name     string
	Type     string // long, integer, string, boolean, datetime, double
	ReadOnly bool
	Required bool
}

func findField(fields []atFieldDef, name string) (atFieldDef, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return atFieldDef{}, false
}

// atSchemas are the fields the sandbox models, named as in the swagger.
var atSchemas = map[string][]atFieldDef{
	"Companies": {{"id", "long", true, false}, {"companyName", "string", false, true}, {"companyType", "integer", false, true},
		{"isActive", "boolean", false, false}, {"phone", "string", false, false}},
	"Contracts": {{"id", "long", true, false}, {"companyID", "integer", false, true}, {"contractName", "string", false, true},
		{"contractNumber", "string", false, false}, {"contractType", "integer", false, true}, {"status", "integer", false, true},
		{"startDate", "datetime", false, true}, {"endDate", "datetime", false, true}},
	"Services": {{"id", "long", true, false}, {"name", "string", false, true}, {"description", "string", false, false},
		{"invoiceDescription", "string", false, false}, {"periodType", "integer", false, true}, {"unitPrice", "double", false, false},
		{"unitCost", "double", false, false}, {"billingCodeID", "integer", false, true}, {"isActive", "boolean", false, false}},
	"BillingCodes": {{"id", "long", true, false}, {"name", "string", true, false}, {"description", "string", true, false},
		{"useType", "integer", true, false}, {"isActive", "boolean", true, false}},
	"ContractServices": {{"id", "long", true, false}, {"contractID", "integer", true, true}, {"serviceID", "integer", true, true},
		{"unitPrice", "double", false, false}, {"unitCost", "double", true, false}, {"invoiceDescription", "string", false, false},
		{"internalDescription", "string", true, false}, {"quoteItemID", "long", true, false}},
	"ContractServiceUnits": {{"id", "long", true, false}, {"contractID", "integer", true, false}, {"contractServiceID", "integer", true, false},
		{"serviceID", "integer", true, false}, {"startDate", "datetime", true, false}, {"endDate", "datetime", true, false},
		{"units", "integer", true, false}, {"price", "double", true, false}, {"cost", "double", true, false},
		{"approveAndPostDate", "datetime", true, false}},
	"ContractServiceAdjustments": {{"id", "long", true, false}, {"contractID", "integer", false, false}, {"contractServiceID", "integer", false, false},
		{"serviceID", "integer", false, false}, {"effectiveDate", "datetime", false, true}, {"unitChange", "integer", false, false},
		{"adjustedUnitPrice", "double", false, false}, {"adjustedUnitCost", "double", false, false},
		{"allowRepeatService", "boolean", false, false}, {"quoteItemID", "integer", false, false}},
	"Tickets": {{"id", "long", true, false}, {"ticketNumber", "string", true, false}, {"companyID", "integer", false, true},
		{"title", "string", false, true}, {"description", "string", false, false}, {"status", "integer", false, true},
		{"priority", "integer", false, true}, {"queueID", "integer", false, false}, {"source", "integer", false, false},
		{"issueType", "integer", false, false}, {"subIssueType", "integer", false, false}, {"ticketCategory", "integer", false, false},
		{"ticketType", "integer", false, false}, {"externalID", "string", false, false}, {"assignedResourceID", "integer", false, false},
		{"assignedResourceRoleID", "integer", false, false}, {"dueDateTime", "datetime", false, false},
		{"createDate", "datetime", true, false}, {"contractID", "integer", false, false}},
	"TicketNotes": {{"id", "long", true, false}, {"ticketID", "integer", true, true}, {"title", "string", false, false},
		{"description", "string", false, true}, {"noteType", "integer", false, true}, {"publish", "integer", false, true},
		{"createDateTime", "datetime", true, false}},
	"Resources": {{"id", "long", true, false}, {"firstName", "string", false, true}, {"lastName", "string", false, true},
		{"email", "string", false, false}, {"isActive", "boolean", false, false}},
	"Roles": {{"id", "long", true, false}, {"name", "string", false, true}, {"description", "string", false, false},
		{"isActive", "boolean", false, false}},
}

// atQueryable lists the entities that answer query; ContractServiceAdjustments
// is create-only and cannot be queried.
var atQueryable = []string{"Companies", "Contracts", "Services", "BillingCodes", "ContractServices", "ContractServiceUnits", "Tickets", "TicketNotes", "Resources", "Roles"}

// defaultATPicklists are the usual system values (PSA-API-NOTES.md §1.4).
func defaultATPicklists() map[string][]AutotaskPicklistValue {
	v := func(value int64, label string, def bool) AutotaskPicklistValue {
		return AutotaskPicklistValue{Value: value, Label: label, IsDefault: def}
	}
	return map[string][]AutotaskPicklistValue{
		"Companies.companyType": {v(1, "Customer", true), v(2, "Lead", false), v(3, "Prospect", false), v(4, "Dead", false),
			v(6, "Cancellation", false), v(7, "Vendor", false), v(8, "Partner", false)},
		"Contracts.contractType": {v(1, "Time and Materials", false), v(3, "Fixed Price", false), v(4, "Block Hours", false),
			v(6, "Retainer", false), v(7, "Recurring Service", true), v(8, "Per Ticket", false)},
		"Contracts.status":    {v(0, "Inactive", false), v(1, "Active", true)},
		"Services.periodType": {v(1, "Monthly", true), v(2, "Quarterly", false), v(3, "Semi-Annual", false), v(4, "Yearly", false)},
		"BillingCodes.useType": {v(1, "Work Type", false), v(2, "Material", false), v(3, "General Expense", false),
			v(4, "Recurring Contract Service", false)},
		"Tickets.status":         {v(1, "New", true), v(5, "Complete", false), v(7, "Waiting Customer", false), v(8, "In Progress", false)},
		"Tickets.priority":       {v(1, "High", false), v(2, "Medium", true), v(3, "Low", false), v(4, "Critical", false)},
		"Tickets.queueID":        {v(5, "Client Portal", false), v(6, "Post Sale", false), v(8, "Monitoring Alert", true)},
		"Tickets.source":         {v(1, "Other", false), v(2, "Phone", true), v(4, "Email", false), v(8, "Monitoring Alert", false)},
		"Tickets.issueType":      {v(1, "Hardware", false), v(2, "Software", false), v(11, "Licensing", false)},
		"Tickets.ticketCategory": {v(3, "Standard", true), v(4, "RMM Alert", false)},
		"TicketNotes.noteType":   {v(1, "Task Detail", true), v(2, "Task Notes", false), v(3, "Task Summary", false)},
		"TicketNotes.publish":    {v(1, "All Autotask Users", true), v(2, "Internal Only", false)},
	}
}

// atInstance is one Autotask database.
type atInstance struct {
	s                            *Server // for its clock
	username, secret, code, zone string
	picklists                    map[string][]AutotaskPicklistValue
	tables                       map[string]*atTable
	unitsByCS                    map[int64][]atRow
	nextID                       int64
	adjustments                  []AutotaskAdjustment
	notes                        []AutotaskNote
	ticketsCreated               int
	requests                     int
}

// atTable keeps rows in id order, which is Autotask's paging order.
type atTable struct {
	rows []atRow
	byID map[int64]atRow
}

func (t *atTable) insert(r atRow) {
	id := r["id"].(int64)
	i, _ := slices.BinarySearchFunc(t.rows, id, func(x atRow, id int64) int { return cmpInt(x["id"].(int64), id) })
	t.rows = slices.Insert(t.rows, i, r)
	t.byID[id] = r
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func newAutotask(s *Server) *Autotask {
	return &Autotask{s: s, instances: map[string]*atInstance{}}
}

// AddInstance adds (or replaces) the instance of seed.Username.
func (a *Autotask) AddInstance(seed AutotaskSeed) {
	in := &atInstance{s: a.s, username: seed.Username, secret: seed.Secret, code: seed.IntegrationCode, zone: seed.Zone,
		picklists: defaultATPicklists(), tables: map[string]*atTable{}, unitsByCS: map[int64][]atRow{}, nextID: 1000}
	if in.zone == "" {
		in.zone = "webservices1"
	}
	for name := range atSchemas {
		in.tables[name] = &atTable{byID: map[int64]atRow{}}
	}
	for _, p := range seed.Picklists {
		in.picklists[p.Entity+"."+p.Field] = p.Values
	}
	// Seeded ids may be anything; generated ids start above all of them.
	for _, id := range seedIDs(seed) {
		in.nextID = max(in.nextID, id+1)
	}
	for _, c := range seed.Companies {
		in.tables["Companies"].insert(atRow{"id": in.id(c.ID), "companyName": c.Name, "companyType": c.Type, "isActive": !c.Inactive, "phone": nil})
	}
	for _, c := range seed.Contracts {
		typ, status := c.Type, c.Status
		if typ == 0 {
			typ = 7
		}
		if status == 0 {
			status = 1
		}
		start, end := c.StartDate, c.EndDate
		defStart, defEnd := a.s.defaultContractDates()
		if start.IsZero() {
			start = defStart
		}
		if end.IsZero() {
			end = defEnd
		}
		id := in.id(c.ID)
		in.tables["Contracts"].insert(atRow{"id": id, "companyID": c.CompanyID, "contractName": c.Name,
			"contractNumber": "C" + strconv.FormatInt(id, 10), "contractType": typ, "status": status,
			"startDate": atTime(start), "endDate": atTime(end)})
	}
	for _, b := range seed.BillingCodes {
		in.tables["BillingCodes"].insert(atRow{"id": in.id(b.ID), "name": b.Name, "description": nil, "useType": b.UseType, "isActive": !b.Inactive})
	}
	for _, s := range seed.Services {
		period := s.PeriodType
		if period == 0 {
			period = 1
		}
		row := atRow{"id": in.id(s.ID), "name": s.Name, "description": nil, "invoiceDescription": nil, "periodType": period,
			"unitPrice": s.UnitPrice, "unitCost": s.UnitCost, "billingCodeID": nil, "isActive": !s.Inactive}
		if s.Description != "" {
			row["description"] = s.Description
		}
		if s.BillingCodeID != 0 {
			row["billingCodeID"] = s.BillingCodeID
		}
		in.tables["Services"].insert(row)
	}
	for _, cs := range seed.ContractServices {
		in.addContractService(in.id(cs.ID), cs.ContractID, cs.ServiceID, cs.UnitPrice, cs.UnitCost, cs.Units)
	}
	for _, t := range seed.Tickets {
		row := in.newTicketRow(in.id(t.ID))
		row["companyID"], row["title"], row["status"], row["priority"] = t.CompanyID, t.Title, t.Status, t.Priority
		if t.QueueID != 0 {
			row["queueID"] = t.QueueID
		}
		if t.ExternalID != "" {
			row["externalID"] = t.ExternalID
		}
		in.tables["Tickets"].insert(row)
	}
	for _, r := range seed.Resources {
		id := in.id(r.ID)
		in.tables["Resources"].insert(atRow{"id": id, "firstName": r.FirstName, "lastName": r.LastName,
			"email": strings.ToLower(r.FirstName) + "@example.test", "isActive": !r.Inactive})
	}
	for _, r := range seed.Roles {
		in.tables["Roles"].insert(atRow{"id": in.id(r.ID), "name": r.Name, "description": nil, "isActive": !r.Inactive})
	}
	a.mu.Lock()
	a.instances[strings.ToLower(seed.Username)] = in
	a.mu.Unlock()
}

func seedIDs(s AutotaskSeed) []int64 {
	var ids []int64
	for _, c := range s.Companies {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Contracts {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Services {
		ids = append(ids, c.ID)
	}
	for _, c := range s.BillingCodes {
		ids = append(ids, c.ID)
	}
	for _, c := range s.ContractServices {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Tickets {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Resources {
		ids = append(ids, c.ID)
	}
	for _, c := range s.Roles {
		ids = append(ids, c.ID)
	}
	return ids
}

// id returns want, or a fresh id when want is zero.
func (in *atInstance) id(want int64) int64 {
	if want != 0 {
		return want
	}
	in.nextID++
	return in.nextID
}

func atTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (in *atInstance) newTicketRow(id int64) atRow {
	row := atRow{}
	for _, f := range atSchemas["Tickets"] {
		row[f.Name] = nil
	}
	row["id"] = id
	row["ticketNumber"] = fmt.Sprintf("T20250101.%04d", id%10000)
	row["createDate"] = atTime(in.s.now())
	return row
}

// addContractService creates a contract service and its monthly unit rows
// over the contract's dates.
func (in *atInstance) addContractService(id, contractID, serviceID int64, price, cost float64, units int64) atRow {
	row := atRow{"id": id, "contractID": contractID, "serviceID": serviceID, "unitPrice": price, "unitCost": cost,
		"invoiceDescription": nil, "internalDescription": nil, "quoteItemID": nil}
	in.tables["ContractServices"].insert(row)
	start, end := in.s.defaultContractDates()
	if c, ok := in.tables["Contracts"].byID[contractID]; ok {
		start, _ = parseATTime(c["startDate"].(string))
		end, _ = parseATTime(c["endDate"].(string))
	}
	for p := start; !p.After(end); p = p.AddDate(0, 1, 0) {
		pEnd := p.AddDate(0, 1, -1)
		if pEnd.After(end) {
			pEnd = end
		}
		u := atRow{"id": in.id(0), "contractID": contractID, "contractServiceID": id, "serviceID": serviceID,
			"startDate": atTime(p), "endDate": atTime(pEnd), "units": units, "price": price, "cost": cost, "approveAndPostDate": nil}
		in.tables["ContractServiceUnits"].insert(u)
		in.unitsByCS[id] = append(in.unitsByCS[id], u)
	}
	return row
}

// MoveInstance moves an instance to another zone, as Autotask does when a
// database is migrated: the old zone then answers 401.
func (a *Autotask) MoveInstance(username, zone string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if in := a.instances[strings.ToLower(username)]; in != nil {
		in.zone = zone
	}
}

// SetLatency makes every API request (not the zone lookup) take at least d,
// so concurrent callers overlap as they do against the real service.
func (a *Autotask) SetLatency(d time.Duration) {
	a.mu.Lock()
	a.latency = d
	a.mu.Unlock()
}

// MaxInFlight returns the highest number of concurrent requests seen on any
// one (tracking identifier, endpoint), counting those refused for the limit.
func (a *Autotask) MaxInFlight() int { return a.inflight.max() }

// ThreadLimitErrors returns how many requests were refused for the thread limit
// (injected faults excluded).
func (a *Autotask) ThreadLimitErrors() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.threadErr
}

// Adjustments returns the ContractServiceAdjustments applied for username, in order.
func (a *Autotask) Adjustments(username string) []AutotaskAdjustment {
	return withInstance(a, username, func(in *atInstance) []AutotaskAdjustment { return slices.Clone(in.adjustments) })
}

// Notes returns the ticket notes created for username, in order.
func (a *Autotask) Notes(username string) []AutotaskNote {
	return withInstance(a, username, func(in *atInstance) []AutotaskNote { return slices.Clone(in.notes) })
}

// TicketsCreated returns how many tickets were created through the API.
func (a *Autotask) TicketsCreated(username string) int {
	return withInstance(a, username, func(in *atInstance) int { return in.ticketsCreated })
}

// Ticket returns a stored ticket.
func (a *Autotask) Ticket(username string, id int64) (AutotaskTicketState, bool) {
	type res struct {
		t  AutotaskTicketState
		ok bool
	}
	r := withInstance(a, username, func(in *atInstance) res {
		row, ok := in.tables["Tickets"].byID[id]
		if !ok {
			return res{}
		}
		return res{AutotaskTicketState{ID: id, CompanyID: rowInt(row, "companyID"), Title: rowStr(row, "title"),
			Description: rowStr(row, "description"), Status: rowInt(row, "status"), Priority: rowInt(row, "priority"),
			QueueID: rowInt(row, "queueID"), Source: rowInt(row, "source"), ExternalID: rowStr(row, "externalID"),
			AssignedResourceID: rowInt(row, "assignedResourceID"), AssignedResourceRoleID: rowInt(row, "assignedResourceRoleID"),
			DueDateTime: rowStr(row, "dueDateTime")}, true}
	})
	return r.t, r.ok
}

// Units returns a contract service's units in the period containing at
// (0, false when there is no such line or period).
func (a *Autotask) Units(username string, contractServiceID int64, at time.Time) (int64, bool) {
	type res struct {
		n  int64
		ok bool
	}
	r := withInstance(a, username, func(in *atInstance) res {
		if u := in.unitRowAt(contractServiceID, at); u != nil {
			return res{rowInt(u, "units"), true}
		}
		return res{}
	})
	return r.n, r.ok
}

// PostAdjustment applies a ContractServiceAdjustment as someone else posts
// it (a technician in the UI, another integration): it splits the unit row
// at its effective date like one psabridge posts, and joins the write log.
// The error carries Autotask's refusal.
func (a *Autotask) PostAdjustment(username string, adj AutotaskAdjustment) error {
	body, err := json.Marshal(map[string]any{"contractID": adj.ContractID, "contractServiceID": adj.ContractServiceID,
		"serviceID": adj.ServiceID, "effectiveDate": atTime(adj.EffectiveDate), "unitChange": adj.UnitChange,
		"adjustedUnitPrice": adj.AdjustedUnitPrice, "adjustedUnitCost": adj.AdjustedUnitCost})
	if err != nil {
		return err
	}
	r := withInstance(a, username, func(in *atInstance) *atResponse {
		res := in.createAdjustment(body, 0)
		return &res
	})
	if r == nil {
		return fmt.Errorf("sandbox: no Autotask instance for %s", username)
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("sandbox: adjustment refused: %v", r.body)
	}
	return nil
}

// AutotaskUnitRow is one ContractServiceUnits row as the sandbox holds it.
type AutotaskUnitRow struct {
	Start, End time.Time
	Units      int64
	Price      float64
	Cost       float64
}

// UnitRows returns a contract service's unit rows that overlap [from, to]
// (days), in date order: the write log's result, row by row.
func (a *Autotask) UnitRows(username string, contractServiceID int64, from, to time.Time) []AutotaskUnitRow {
	return withInstance(a, username, func(in *atInstance) []AutotaskUnitRow {
		var out []AutotaskUnitRow
		for _, u := range in.unitsByCS[contractServiceID] {
			s, _ := parseATTime(u["startDate"].(string))
			e, _ := parseATTime(u["endDate"].(string))
			if s.After(to) || e.Before(from) {
				continue
			}
			out = append(out, AutotaskUnitRow{Start: s, End: e, Units: rowInt(u, "units"), Price: rowFloat(u, "price"), Cost: rowFloat(u, "cost")})
		}
		slices.SortFunc(out, func(a, b AutotaskUnitRow) int { return a.Start.Compare(b.Start) })
		return out
	})
}

func withInstance[T any](a *Autotask, username string, f func(*atInstance) T) T {
	a.mu.Lock()
	defer a.mu.Unlock()
	var zero T
	in := a.instances[strings.ToLower(username)]
	if in == nil {
		return zero
	}
	return f(in)
}

func rowInt(r atRow, k string) int64 {
	n, _ := atNumber(r[k])
	return int64(n)
}

func rowStr(r atRow, k string) string {
	s, _ := r[k].(string)
	return s
}

func (in *atInstance) unitRowAt(csID int64, at time.Time) atRow {
	for _, u := range in.unitsByCS[csID] {
		s, _ := parseATTime(u["startDate"].(string))
		e, _ := parseATTime(u["endDate"].(string))
		if !at.Before(s) && !at.After(e.Add(24*time.Hour-time.Nanosecond)) {
			return u
		}
	}
	return nil
}

// atResponse is what a handler decided to answer.
type atResponse struct {
	status int
	body   any
	header map[string]string
}

func atOK(body any) atResponse { return atResponse{status: http.StatusOK, body: body} }

func atFail(status int, msgs ...string) atResponse {
	return atResponse{status: status, body: map[string]any{"errors": msgs}}
}

// ServeHTTP serves the zone lookup and the REST API of every instance.
func (a *Autotask) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/autotask/")
	zone, apiPath, ok := strings.Cut(rest, "/")
	if !ok || len(apiPath) < 5 || !strings.EqualFold(apiPath[:5], "v1.0/") {
		a.s.count("autotask " + r.Method + " unknown")
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{"No HTTP resource was found that matches the request URI."}})
		return
	}
	segs := strings.Split(strings.Trim(apiPath[5:], "/"), "/")
	if strings.EqualFold(zone, "atservicesrest") && len(segs) == 1 && strings.EqualFold(segs[0], "zoneInformation") {
		a.s.count("autotask GET zoneInformation")
		a.zoneInformation(w, r)
		return
	}
	route, endpoint := atRouteName(segs)
	a.s.count("autotask " + r.Method + " " + route)

	a.mu.Lock()
	in := a.instances[strings.ToLower(r.Header.Get("UserName"))]
	authOK := in != nil && r.Header.Get("Secret") == in.secret && r.Header.Get("ApiIntegrationCode") == in.code &&
		in.secret != "" && strings.EqualFold(in.zone, zone)
	if !authOK {
		a.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []string{"Unauthorized"}})
		return
	}
	// Thread limit: Autotask counts concurrent requests per tracking
	// identifier and object endpoint; the 4th is refused.
	key := strings.ToLower(in.code + "|" + endpoint)
	over := a.inflight.enter(key) > AutotaskThreadLimit
	defer a.inflight.leave(key)
	if over {
		a.threadErr++
	}
	latency := a.latency
	a.mu.Unlock()
	if over {
		writeThreadThreshold(w)
		return
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	f, cfg := a.s.draw()
	switch f {
	case fault500:
		// What ASP.NET Web API answers for an unhandled exception: no
		// "errors" array, so it is not a validation failure.
		writeJSON(w, http.StatusInternalServerError, map[string]any{"Message": "An error has occurred."})
		return
	case fault429:
		w.Header().Set("Retry-After", retryAfterSeconds(cfg.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []string{"The request was throttled: the API request threshold has been exceeded."}})
		return
	case faultThread:
		writeThreadThreshold(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"could not read the request"}})
		return
	}
	a.mu.Lock()
	in.requests++
	resp := a.dispatch(in, r, segs, body, zoneBase(r, in.zone))
	a.mu.Unlock()
	a.s.settle(r, f, cfg, r.Method != http.MethodGet && !slices.ContainsFunc(segs, func(s string) bool { return strings.EqualFold(s, "query") }))
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, resp.status, resp.body)
}

func writeThreadThreshold(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []string{ThreadThresholdText}})
}

// atRouteName names a request for counting ("Tickets/{id}/Notes") and gives
// its object endpoint for the thread limit ("Tickets").
func atRouteName(segs []string) (route, endpoint string) {
	parts := make([]string, len(segs))
	for i, s := range segs {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			parts[i] = "{id}"
			continue
		}
		parts[i] = canonicalSeg(s)
	}
	return strings.Join(parts, "/"), parts[0]
}

var atSegments = []string{"Companies", "Contracts", "Services", "BillingCodes", "ContractServices", "ContractServiceUnits",
	"ContractServiceAdjustments", "Tickets", "TicketNotes", "Resources", "Roles", "ThresholdInformation",
	"query", "next", "count", "entityInformation", "fields", "Notes", "ServiceAdjustments", "ServiceUnits"}

func canonicalSeg(s string) string {
	for _, c := range atSegments {
		if strings.EqualFold(c, s) {
			return c
		}
	}
	return s
}

// zoneBase is the instance's API base URL as seen from the caller, so the
// sandbox works on whatever port it is served.
func zoneBase(r *http.Request, zone string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/autotask/" + zone + "/"
}

func (a *Autotask) zoneInformation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"Message": "The requested resource does not support http method '" + r.Method + "'."})
		return
	}
	a.mu.Lock()
	in := a.instances[strings.ToLower(r.URL.Query().Get("user"))]
	zone := ""
	if in != nil {
		zone = in.zone
	}
	a.mu.Unlock()
	if in == nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"errors": []string{"Zone information could not be determined"}})
		return
	}
	base := zoneBase(r, zone)
	writeJSON(w, http.StatusOK, map[string]any{"zoneName": "Sandbox " + zone, "url": base,
		"webUrl": strings.Replace(base, "/autotask/", "/autotask-web/", 1), "ci": 1})
}

// dispatch answers one authenticated API request; a.mu is held.
func (a *Autotask) dispatch(in *atInstance, r *http.Request, segs []string, body []byte, base string) atResponse {
	entity := canonicalSeg(segs[0])
	m := r.Method
	n := len(segs)
	switch {
	case entity == "ThresholdInformation" && n == 1 && m == http.MethodGet:
		return atOK(map[string]any{"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": in.requests})
	case n == 3 && strings.EqualFold(segs[1], "entityInformation") && strings.EqualFold(segs[2], "fields") && m == http.MethodGet:
		if _, ok := atSchemas[entity]; !ok {
			return atFail(http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
		}
		return atOK(map[string]any{"fields": in.fieldInfo(entity)})
	case entity == "ContractServiceAdjustments":
		if n == 1 && m == http.MethodPost {
			return in.createAdjustment(body, 0)
		}
		return atResponse{status: http.StatusMethodNotAllowed, body: map[string]any{"errors": []string{"ContractServiceAdjustments can only be created."}}}
	}
	if !slices.Contains(atQueryable, entity) {
		return atFail(http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
	}
	switch {
	case n >= 2 && strings.EqualFold(segs[1], "query"):
		return in.query(r, entity, segs[2:], body, base)
	case n == 2 && m == http.MethodGet:
		id, err := strconv.ParseInt(segs[1], 10, 64)
		if err != nil {
			return atFail(http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
		}
		row, ok := in.tables[entity].byID[id]
		if !ok {
			return atOK(map[string]any{"item": nil})
		}
		return atOK(map[string]any{"item": row})
	case n == 1 && entity == "Tickets" && m == http.MethodPost:
		return in.createTicket(body)
	case n == 1 && entity == "Services" && m == http.MethodPost:
		return in.createService(body)
	case n == 1 && entity == "Services" && m == http.MethodPatch:
		return in.patchService(body)
	case n == 1 && entity == "Tickets" && m == http.MethodPatch:
		return in.patchTicket(body)
	case n == 3 && entity == "Tickets" && strings.EqualFold(segs[2], "Notes") && m == http.MethodPost:
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		return in.createNote(id, body)
	case n == 3 && entity == "Contracts" && strings.EqualFold(segs[2], "ServiceAdjustments") && m == http.MethodPost:
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		return in.createAdjustment(body, id)
	case n == 3 && entity == "Contracts" && strings.EqualFold(segs[2], "Services") && m == http.MethodPatch:
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		return in.patchContractService(id, body)
	case n == 3 && entity == "Contracts" && strings.EqualFold(segs[2], "Services") && m == http.MethodPost:
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		return in.createContractService(id, body)
	}
	return atResponse{status: http.StatusMethodNotAllowed, body: map[string]any{"Message": "The requested resource does not support http method '" + m + "'."}}
}

// fieldInfo renders entityInformation/fields.
func (in *atInstance) fieldInfo(entity string) []map[string]any {
	out := []map[string]any{}
	for _, f := range atSchemas[entity] {
		pl, isPick := in.picklists[entity+"."+f.Name]
		values := []map[string]any{}
		for i, v := range pl {
			values = append(values, map[string]any{"value": strconv.FormatInt(v.Value, 10), "label": v.Label,
				"isDefaultValue": v.IsDefault, "sortOrder": i, "parentValue": "", "isActive": !v.Inactive, "isSystem": v.Value < 100})
		}
		out = append(out, map[string]any{"name": f.Name, "dataType": f.Type, "length": 0, "isRequired": f.Required,
			"isReadOnly": f.ReadOnly, "isQueryable": true, "isReference": strings.HasSuffix(f.Name, "ID") && f.Name != "externalID",
			"referenceEntityType": "", "isPickList": isPick, "picklistValues": values, "picklistParentValueField": ""})
	}
	return out
}

// atPaging is the opaque cursor of a nextPageUrl.
type atPaging struct {
	After int64 `json:"after"`
}

// query runs …/query, …/query/next and …/query/count. A POSTed query pages
// through POST …/query/next?paging=… with the same body (a GET on that URL
// is refused, as Autotask does); a GET query's next URL carries its search.
func (in *atInstance) query(r *http.Request, entity string, tail []string, body []byte, base string) atResponse {
	isNext := len(tail) == 1 && strings.EqualFold(tail[0], "next")
	isCount := len(tail) == 1 && strings.EqualFold(tail[0], "count")
	if len(tail) > 1 || (len(tail) == 1 && !isNext && !isCount) {
		return atFail(http.StatusNotFound, "No HTTP resource was found that matches the request URI.")
	}
	search := r.URL.Query().Get("search")
	switch r.Method {
	case http.MethodGet:
		if isNext && search == "" {
			return atResponse{status: http.StatusMethodNotAllowed, body: map[string]any{"Message": "The requested resource does not support http method 'GET'."}}
		}
		body = []byte(search)
		if search == "" {
			return atFail(http.StatusInternalServerError, "The search parameter is required.")
		}
	case http.MethodPost:
	default:
		return atResponse{status: http.StatusMethodNotAllowed, body: map[string]any{"Message": "The requested resource does not support http method '" + r.Method + "'."}}
	}
	q, err := parseATQuery(body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	pred, err := compileFilter(entity, atSchemas[entity], q.Filter)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	var after int64
	if isNext {
		var p atPaging
		raw, err := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("paging"))
		if err != nil || json.Unmarshal(raw, &p) != nil {
			return atFail(http.StatusInternalServerError, "The paging parameter is invalid.")
		}
		after = p.After
	}
	if isCount {
		n := 0
		for _, row := range in.tables[entity].rows {
			if pred(row) {
				n++
			}
		}
		return atOK(map[string]any{"queryCount": n})
	}
	items := []atRow{}
	var next any
	for _, row := range in.tables[entity].rows {
		if row["id"].(int64) <= after || !pred(row) {
			continue
		}
		if len(items) == q.MaxRecords {
			cursor, _ := json.Marshal(atPaging{After: items[len(items)-1]["id"].(int64)})
			u := base + "V1.0/" + entity + "/query/next?paging=" + base64.RawURLEncoding.EncodeToString(cursor)
			if r.Method == http.MethodGet {
				u += "&search=" + url.QueryEscape(search)
			}
			next = u
			break
		}
		items = append(items, row)
	}
	out := make([]atRow, len(items))
	for i, row := range items {
		out[i] = project(row, atSchemas[entity], q.IncludeFields)
	}
	return atOK(map[string]any{"items": out, "pageDetails": map[string]any{"count": len(out), "requestCount": q.MaxRecords,
		"prevPageUrl": nil, "nextPageUrl": next}})
}

// decodeEntity reads a create/update body into canonical field names,
// ignoring unknown fields and converting values to the fields' types.
func decodeEntity(entity string, body []byte) (atRow, error) {
	var raw map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, atErrorf("The request body could not be read: %v", err)
	}
	out := atRow{}
	for k, v := range raw {
		def, ok := findField(atSchemas[entity], k)
		if !ok {
			continue
		}
		cv, err := coerce(def, v)
		if err != nil {
			return nil, err
		}
		out[def.Name] = cv
	}
	return out, nil
}

func coerce(def atFieldDef, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := atErrorf("Value %v is not valid for field %s.", v, def.Name)
	switch def.Type {
	case "long", "integer":
		switch x := v.(type) {
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return nil, bad
			}
			return n, nil
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, bad
			}
			return n, nil
		}
	case "double":
		if x, ok := v.(json.Number); ok {
			f, err := x.Float64()
			if err != nil {
				return nil, bad
			}
			return f, nil
		}
	case "boolean":
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case "datetime":
		if x, ok := v.(string); ok {
			t, err := parseATTime(x)
			if err != nil {
				return nil, bad
			}
			return atTime(t), nil
		}
	default:
		if x, ok := v.(string); ok {
			return x, nil
		}
	}
	return nil, bad
}

// checkPick verifies a picklist value (absent values pass).
func (in *atInstance) checkPick(entity, field string, v any) error {
	if v == nil {
		return nil
	}
	n, _ := atNumber(v)
	for _, p := range in.picklists[entity+"."+field] {
		if float64(p.Value) == n && !p.Inactive {
			return nil
		}
	}
	return atErrorf("Value %v is not a valid %s.", v, field)
}

func (in *atInstance) validateTicket(t atRow) error {
	if _, ok := in.tables["Companies"].byID[rowInt(t, "companyID")]; !ok {
		return atErrorf("Reference value on field: companyID of type: Account does not exist or is invalid.")
	}
	title := rowStr(t, "title")
	if strings.TrimSpace(title) == "" {
		return atErrorf("Missing Required Field: title")
	}
	if len([]rune(title)) > 255 {
		return atErrorf("Value of field title exceeds the maximum length of 255.")
	}
	for _, f := range []string{"status", "priority"} {
		if t[f] == nil {
			return atErrorf("Missing Required Field: %s", f)
		}
	}
	for _, f := range []string{"status", "priority", "queueID", "source", "issueType", "ticketCategory"} {
		if err := in.checkPick("Tickets", f, t[f]); err != nil {
			return err
		}
	}
	if t["assignedResourceID"] != nil && t["assignedResourceRoleID"] == nil ||
		t["assignedResourceID"] == nil && t["assignedResourceRoleID"] != nil {
		return atErrorf("Data violation: When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID.")
	}
	if id := rowInt(t, "assignedResourceID"); id != 0 {
		if _, ok := in.tables["Resources"].byID[id]; !ok {
			return atErrorf("Reference value on field: assignedResourceID of type: Resource does not exist or is invalid.")
		}
		if _, ok := in.tables["Roles"].byID[rowInt(t, "assignedResourceRoleID")]; !ok {
			return atErrorf("Reference value on field: assignedResourceRoleID of type: Role does not exist or is invalid.")
		}
	}
	return nil
}

func (in *atInstance) createTicket(body []byte) atResponse {
	fields, err := decodeEntity("Tickets", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	row := in.newTicketRow(in.id(0))
	for k, v := range fields {
		if def, _ := findField(atSchemas["Tickets"], k); !def.ReadOnly {
			row[k] = v
		}
	}
	if err := in.validateTicket(row); err != nil {
		in.nextID-- // nothing was created
		return atFail(http.StatusInternalServerError, err.Error())
	}
	in.tables["Tickets"].insert(row)
	in.ticketsCreated++
	return atOK(map[string]any{"itemId": row["id"]})
}

func (in *atInstance) patchTicket(body []byte) atResponse {
	fields, err := decodeEntity("Tickets", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	id := rowInt(fields, "id")
	row, ok := in.tables["Tickets"].byID[id]
	if !ok {
		return atFail(http.StatusNotFound, fmt.Sprintf("Ticket %d was not found.", id))
	}
	upd := atRow{}
	for k, v := range row {
		upd[k] = v
	}
	for k, v := range fields {
		if def, _ := findField(atSchemas["Tickets"], k); !def.ReadOnly {
			upd[k] = v
		}
	}
	if err := in.validateTicket(upd); err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	for k, v := range upd {
		row[k] = v
	}
	return atOK(map[string]any{"itemId": id})
}

func (in *atInstance) createNote(ticketID int64, body []byte) atResponse {
	if _, ok := in.tables["Tickets"].byID[ticketID]; !ok {
		return atFail(http.StatusNotFound, fmt.Sprintf("Ticket %d was not found.", ticketID))
	}
	f, err := decodeEntity("TicketNotes", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	if strings.TrimSpace(rowStr(f, "description")) == "" {
		return atFail(http.StatusInternalServerError, "Missing Required Field: description")
	}
	for _, k := range []string{"noteType", "publish"} {
		if f[k] == nil {
			return atFail(http.StatusInternalServerError, "Missing Required Field: "+k)
		}
		if err := in.checkPick("TicketNotes", k, f[k]); err != nil {
			return atFail(http.StatusInternalServerError, err.Error())
		}
	}
	id := in.id(0)
	row := atRow{"id": id, "ticketID": ticketID, "title": f["title"], "description": f["description"],
		"noteType": f["noteType"], "publish": f["publish"], "createDateTime": atTime(in.s.now())}
	in.tables["TicketNotes"].insert(row)
	in.notes = append(in.notes, AutotaskNote{ID: id, TicketID: ticketID, Title: rowStr(row, "title"),
		Description: rowStr(row, "description"), NoteType: rowInt(row, "noteType"), Publish: rowInt(row, "publish")})
	return atOK(map[string]any{"itemId": id})
}

// createContractService is POST Contracts/{id}/Services: the contract must be
// a recurring-service contract.
func (in *atInstance) createContractService(contractID int64, body []byte) atResponse {
	f, err := decodeEntity("ContractServices", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	c, ok := in.tables["Contracts"].byID[contractID]
	if !ok {
		return atFail(http.StatusNotFound, fmt.Sprintf("Contract %d was not found.", contractID))
	}
	if rowInt(c, "contractType") != 7 {
		return atFail(http.StatusInternalServerError, "Services can only be added to Recurring Service contracts.")
	}
	svc, ok := in.tables["Services"].byID[rowInt(f, "serviceID")]
	if !ok {
		return atFail(http.StatusInternalServerError, "Reference value on field: serviceID of type: Service does not exist or is invalid.")
	}
	price := rowFloat(svc, "unitPrice")
	if f["unitPrice"] != nil {
		price = rowFloat(f, "unitPrice")
	}
	row := in.addContractService(in.id(0), contractID, rowInt(svc, "id"), price, rowFloat(svc, "unitCost"), 0)
	return atOK(map[string]any{"itemId": row["id"]})
}

func rowFloat(r atRow, k string) float64 {
	f, _ := atNumber(r[k])
	return f
}

// patchContractService is PATCH Contracts/{id}/Services. Autotask: "On
// Update(), all fields are Read-Only except for adjustedPrice and
// invoiceDescription" (REST: unitPrice).
func (in *atInstance) patchContractService(contractID int64, body []byte) atResponse {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return atFail(http.StatusInternalServerError, "The request body could not be read.")
	}
	for k := range raw {
		switch strings.ToLower(k) {
		case "id", "unitprice", "invoicedescription", "contractid":
		default:
			return atFail(http.StatusInternalServerError, fmt.Sprintf("The field %s is read-only and cannot be updated.", k))
		}
	}
	f, err := decodeEntity("ContractServices", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	row, ok := in.tables["ContractServices"].byID[rowInt(f, "id")]
	if !ok || rowInt(row, "contractID") != contractID {
		return atFail(http.StatusNotFound, fmt.Sprintf("ContractService %d was not found.", rowInt(f, "id")))
	}
	if v, ok := f["unitPrice"]; ok {
		row["unitPrice"] = v
	}
	if v, ok := f["invoiceDescription"]; ok {
		row["invoiceDescription"] = v
	}
	return atOK(map[string]any{"itemId": row["id"]})
}

// createAdjustment applies a ContractServiceAdjustment: unitChange is a
// delta added to every unit period from effectiveDate on (the period holding
// the date is split there), and the adjusted price and cost apply from then.
func (in *atInstance) createAdjustment(body []byte, parentContract int64) atResponse {
	f, err := decodeEntity("ContractServiceAdjustments", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	if f["effectiveDate"] == nil {
		return atFail(http.StatusInternalServerError, "Missing Required Field: effectiveDate")
	}
	contractID := rowInt(f, "contractID")
	if parentContract != 0 {
		contractID = parentContract
	}
	if _, ok := in.tables["Contracts"].byID[contractID]; !ok {
		return atFail(http.StatusInternalServerError, "Reference value on field: contractID of type: Contract does not exist or is invalid.")
	}
	var cs atRow
	if id := rowInt(f, "contractServiceID"); id != 0 {
		cs = in.tables["ContractServices"].byID[id]
		if cs == nil || rowInt(cs, "contractID") != contractID {
			return atFail(http.StatusInternalServerError, "Reference value on field: contractServiceID of type: ContractService does not exist or is invalid.")
		}
	} else {
		for _, row := range in.tables["ContractServices"].rows {
			if rowInt(row, "contractID") == contractID && rowInt(row, "serviceID") == rowInt(f, "serviceID") {
				cs = row
				break
			}
		}
		if cs == nil {
			// Autotask creates the contract service when it does not exist yet.
			svc, ok := in.tables["Services"].byID[rowInt(f, "serviceID")]
			if !ok {
				return atFail(http.StatusInternalServerError, "Reference value on field: serviceID of type: Service does not exist or is invalid.")
			}
			cs = in.addContractService(in.id(0), contractID, rowInt(svc, "id"), rowFloat(svc, "unitPrice"), rowFloat(svc, "unitCost"), 0)
		}
	}
	csID := rowInt(cs, "id")
	eff, _ := parseATTime(f["effectiveDate"].(string))
	cur := in.unitRowAt(csID, eff)
	if cur == nil {
		return atFail(http.StatusInternalServerError, "The effective date must fall within the dates of the contract.")
	}
	delta := rowInt(f, "unitChange")
	if rowInt(cur, "units")+delta < 0 {
		return atFail(http.StatusInternalServerError, "The adjustment would make the number of units negative.")
	}
	if start, _ := parseATTime(cur["startDate"].(string)); eff.After(start) {
		// A new unit row starts at the effective date.
		split := atRow{}
		for k, v := range cur {
			split[k] = v
		}
		split["id"] = in.id(0)
		split["startDate"] = atTime(eff)
		cur["endDate"] = atTime(eff.AddDate(0, 0, -1))
		in.tables["ContractServiceUnits"].insert(split)
		in.unitsByCS[csID] = append(in.unitsByCS[csID], split)
	}
	adj := AutotaskAdjustment{ID: in.id(0), ContractID: contractID, ContractServiceID: csID, ServiceID: rowInt(cs, "serviceID"),
		EffectiveDate: eff, UnitChange: delta}
	if f["adjustedUnitPrice"] != nil {
		p := rowFloat(f, "adjustedUnitPrice")
		adj.AdjustedUnitPrice = &p
	}
	if f["adjustedUnitCost"] != nil {
		c := rowFloat(f, "adjustedUnitCost")
		adj.AdjustedUnitCost = &c
	}
	for _, u := range in.unitsByCS[csID] {
		if start, _ := parseATTime(u["startDate"].(string)); start.Before(eff) {
			continue
		}
		u["units"] = rowInt(u, "units") + delta
		if adj.AdjustedUnitPrice != nil {
			u["price"] = *adj.AdjustedUnitPrice
		}
		if adj.AdjustedUnitCost != nil {
			u["cost"] = *adj.AdjustedUnitCost
		}
	}
	in.adjustments = append(in.adjustments, adj)
	return atOK(map[string]any{"itemId": adj.ID})
}
