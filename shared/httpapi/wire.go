package httpapi

import (
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// The API's wire types: what the JSON of a response looks like is decided
// here (and in openapi.json), mapped from the domain types, so a domain or
// storage struct can change without changing the API. Every response is
// checked against openapi.json by the tests.

// mappingView is an org's mapping (GET/PUT/PATCH/DELETE …/mapping, and the
// mapping of GET /v1/orgs).
type mappingView struct {
	CompanyID        int64             `json:"companyId"`
	ContractID       int64             `json:"contractId"`
	Lines            []lineMappingView `json:"lines"`
	NonBillableUsers int64             `json:"nonBillableUsers"`
	State            string            `json:"state"`
	// Seen is the company's and contract's names as the PSA had them when
	// the mapping was saved.
	Seen      mappedNamesView `json:"seen"`
	Version   int64           `json:"version"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// lineMappingView is one mapped line: the product it bills and the PSA line.
type lineMappingView struct {
	Product string `json:"product"`
	LineID  int64  `json:"lineId"`
}

// mappedNamesView is billing.MappedNames on the wire.
type mappedNamesView struct {
	Company  string `json:"company,omitempty"`
	Contract string `json:"contract,omitempty"`
}

func mappingViewOf(m billing.Mapping) mappingView {
	v := mappingView{CompanyID: m.CompanyID, ContractID: m.ContractID, NonBillableUsers: m.NonBillableUsers, State: string(m.State),
		Seen: mappedNamesView{Company: m.Seen.Company, Contract: m.Seen.Contract}, Version: m.Version, UpdatedAt: m.UpdatedAt}
	if m.Lines != nil {
		v.Lines = make([]lineMappingView, len(m.Lines))
		for i, l := range m.Lines {
			v.Lines[i] = lineMappingView{Product: string(l.Product), LineID: l.LineID}
		}
	}
	return v
}

// entryView is one run entry (GET …/entries, and lastSync in GET /v1/orgs).
type entryView struct {
	Org        string         `json:"org"`
	Product    string         `json:"product"`
	CompanyID  int64          `json:"companyId"`
	ContractID int64          `json:"contractId"`
	LineID     int64          `json:"lineId"`
	Code       string         `json:"code"`
	Level      string         `json:"level"`
	Message    string         `json:"message"`
	Before     *lineValueView `json:"before,omitempty"`
	After      *lineValueView `json:"after,omitempty"`
	At         time.Time      `json:"at"`
}

// lastEntryView is an org line's newest entry, with its run.
type lastEntryView struct {
	entryView
	RunID string `json:"runId"`
}

// lineValueView is what a line holds: quantity and unit cost.
type lineValueView struct {
	Quantity int64   `json:"quantity"`
	UnitCost float64 `json:"unitCost"`
}

func lineValueViewOf(v *billing.LineValue) *lineValueView {
	if v == nil {
		return nil
	}
	return &lineValueView{Quantity: v.Quantity, UnitCost: v.UnitCost}
}

func entryViewOf(e billing.Entry) entryView {
	return entryView{Org: e.Org, Product: string(e.Product), CompanyID: e.CompanyID, ContractID: e.ContractID, LineID: e.LineID,
		Code: string(e.Code), Level: string(e.Level), Message: e.Message, Before: lineValueViewOf(e.Before), After: lineValueViewOf(e.After), At: e.At}
}

// runSummary is a run as GET /v1/sync-runs lists it (and the base of
// runDetail).
type runSummary struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	DryRun     bool       `json:"dryRun"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Month      string     `json:"month"`
	Counts     runCounts  `json:"counts"`
	// ResumeAt: when the run's deferred orgs are tried again.
	ResumeAt *time.Time `json:"resumeAt,omitempty"`
}

// runCounts are a run's orgs by outcome.
type runCounts struct {
	Total     int64 `json:"total"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Skipped   int64 `json:"skipped"`
	Failed    int64 `json:"failed"`
	Deferred  int64 `json:"deferred"`
}

func runSummaryOf(r billing.Run) runSummary {
	k := r.Counts
	return runSummary{ID: r.ID, Kind: string(r.Kind), DryRun: r.DryRun, Status: string(r.Status), StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Month: string(r.Month), ResumeAt: r.ResumeAt,
		Counts: runCounts{Total: k.Total, Updated: k.Updated, Unchanged: k.Unchanged, Skipped: k.Skipped, Failed: k.Failed, Deferred: k.Deferred}}
}

// mapSlice maps every element of in with f; nil stays nil (null on the
// wire, as before the views existed).
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// catalogView is the product catalog (GET/PUT /v1/catalog, and the
// catalog of a push's answer).
type catalogView struct {
	Products  []catalogProductView `json:"products"`
	Version   int64                `json:"version"`
	UpdatedAt time.Time            `json:"updatedAt"`
}

// catalogProductView is one catalog product with its push record.
type catalogProductView struct {
	Key           string         `json:"key"`
	Identifier    string         `json:"identifier,omitempty"`
	Name          string         `json:"name"`
	Period        string         `json:"period"`
	UnitCost      float64        `json:"unitCost"`
	UnitPrice     float64        `json:"unitPrice"`
	BillingCodeID int64          `json:"billingCodeId,omitempty"`
	ProductTypeID int64          `json:"productTypeId,omitempty"`
	SubcategoryID int64          `json:"subcategoryId,omitempty"`
	Push          pushStatusView `json:"push"`
}

// pushStatusView is psabridge's record of a product's last push.
type pushStatusView struct {
	State    string    `json:"state"`
	ItemID   int64     `json:"itemId,omitempty"`
	Message  string    `json:"message,omitempty"`
	Details  []string  `json:"details,omitempty"`
	PushedAt time.Time `json:"pushedAt,omitzero"`
}

func catalogViewOf(c billing.Catalog) catalogView {
	return catalogView{Version: c.Version, UpdatedAt: c.UpdatedAt, Products: mapSlice(c.Products, func(p billing.CatalogProduct) catalogProductView {
		return catalogProductView{Key: string(p.Key), Identifier: p.Identifier, Name: p.Name, Period: string(p.Period), UnitCost: p.UnitCost,
			UnitPrice: p.UnitPrice, BillingCodeID: p.BillingCodeID, ProductTypeID: p.ProductTypeID, SubcategoryID: p.SubcategoryID,
			Push: pushStatusView{State: string(p.Push.State), ItemID: p.Push.ItemID, Message: p.Push.Message, Details: p.Push.Details, PushedAt: p.Push.PushedAt}}
	})}
}

// healthView is a mapping's health (GET …/mapping/health).
type healthView struct {
	Status    string        `json:"status"`
	Problems  []problemView `json:"problems"`
	CheckedAt time.Time     `json:"checkedAt"`
}

// problemView is one problem of a mapping: what is wrong, with PSA ids,
// and the fix.
type problemView struct {
	Code       string `json:"code"`
	Severity   string `json:"severity"`
	Product    string `json:"product,omitempty"`
	CompanyID  int64  `json:"companyId,omitempty"`
	ContractID int64  `json:"contractId,omitempty"`
	LineID     int64  `json:"lineId,omitempty"`
	Message    string `json:"message"`
	Fix        string `json:"fix"`
	Before     string `json:"before,omitempty"`
	After      string `json:"after,omitempty"`
}

func healthViewOf(h billing.Health) healthView {
	return healthView{Status: string(h.Status), CheckedAt: h.CheckedAt, Problems: mapSlice(h.Problems, func(p billing.Problem) problemView {
		return problemView{Code: string(p.Code), Severity: string(p.Severity), Product: string(p.Product), CompanyID: p.CompanyID,
			ContractID: p.ContractID, LineID: p.LineID, Message: p.Message, Fix: p.Fix, Before: p.Before, After: p.After}
	})}
}

// tenantView is a provisioned tenant (GET /v1/tenant).
type tenantView struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
}

// reconciliationRowView is one row of the month-end report: the
// platform's numbers, the PSA's, and where they disagree.
type reconciliationRowView struct {
	Org          string   `json:"org"`
	Product      string   `json:"product"`
	CompanyID    int64    `json:"companyId"`
	ContractID   int64    `json:"contractId"`
	LineID       int64    `json:"lineId"`
	HWM          int64    `json:"hwm"`
	NonBillable  int64    `json:"nonBillableUsers"`
	Target       int64    `json:"targetQuantity"`
	TargetCost   *float64 `json:"targetUnitCost,omitempty"`
	PSAQuantity  *int64   `json:"psaQuantity,omitempty"`
	PSAUnitCost  *float64 `json:"psaUnitCost,omitempty"`
	QuantityDiff int64    `json:"quantityDiff"`
	Flags        []string `json:"flags"`
	Agrees       bool     `json:"agrees"`
}

func reconciliationRowViewOf(r billing.ReconciliationRow) reconciliationRowView {
	return reconciliationRowView{Org: r.Org, Product: string(r.Product), CompanyID: r.CompanyID, ContractID: r.ContractID, LineID: r.LineID,
		HWM: r.HWM, NonBillable: r.NonBillable, Target: r.Target, TargetCost: r.TargetCost, PSAQuantity: r.PSAQuantity, PSAUnitCost: r.PSAUnitCost,
		QuantityDiff: r.QuantityDiff, Agrees: r.Agrees, Flags: mapSlice(r.Flags, func(f billing.ReconciliationFlag) string { return string(f) })}
}

// companyView is a PSA company (pickers and suggestions).
type companyView struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	TypeIDs []int64 `json:"typeIds"`
	Active  bool    `json:"active"`
}

func companyViewOf(c psa.Company) companyView {
	return companyView{ID: c.ID, Name: c.Name, TypeIDs: c.TypeIDs, Active: c.Active}
}

// companySuggestionView is a ranked company for an org.
type companySuggestionView struct {
	Company companyView `json:"company"`
	Score   float64     `json:"score"`
}

func companySuggestionViewOf(s billing.CompanySuggestion) companySuggestionView {
	return companySuggestionView{Company: companyViewOf(s.Company), Score: s.Score}
}

// ruleView is a ticket rule of one alert type (GET/PUT/PATCH
// /v1/alert-rules/{alertType}, and the rules of GET /v1/alert-rules).
type ruleView struct {
	Type             string `json:"alertType"`
	Enabled          bool   `json:"enabled"`
	PriorityID       int64  `json:"priorityId"`
	StatusID         int64  `json:"statusId"`
	SourceID         int64  `json:"sourceId,omitempty"`
	QueueID          int64  `json:"queueId,omitempty"`
	ResourceID       int64  `json:"resourceId,omitempty"`
	RoleID           int64  `json:"roleId,omitempty"`
	BoardID          int64  `json:"boardId,omitempty"`
	CategoryID       int64  `json:"categoryId,omitempty"`
	IssueTypeID      int64  `json:"issueTypeId,omitempty"`
	DueDays          int    `json:"dueDays"`
	TitlePrefix      string `json:"titlePrefix"`
	MinSeverity      string `json:"minSeverity"`
	CloseOnResolve   bool   `json:"closeOnResolve"`
	CompleteStatusID int64  `json:"completeStatusId,omitempty"`
	Version          int64  `json:"version"`
}

func ruleViewOf(r alerting.Rule) ruleView {
	return ruleView{Type: string(r.Type), Enabled: r.Enabled, PriorityID: r.PriorityID, StatusID: r.StatusID, SourceID: r.SourceID,
		QueueID: r.QueueID, ResourceID: r.ResourceID, RoleID: r.RoleID, BoardID: r.BoardID, CategoryID: r.CategoryID, IssueTypeID: r.IssueTypeID,
		DueDays: r.DueDays, TitlePrefix: r.TitlePrefix, MinSeverity: string(r.MinSeverity), CloseOnResolve: r.CloseOnResolve,
		CompleteStatusID: r.CompleteStatusID, Version: r.Version}
}

// optionView is one choice of a PSA picklist (ticket and catalog options).
type optionView struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault,omitempty"`
	Closed    bool   `json:"closed,omitempty"`
	ParentID  int64  `json:"parentId,omitempty"`
}

func optionViewOf(o psa.Option) optionView {
	return optionView{ID: o.ID, Name: o.Name, IsDefault: o.IsDefault, Closed: o.Closed, ParentID: o.ParentID}
}

// options maps a picklist; nil stays nil (an absent list).
func options(os []psa.Option) []optionView { return mapSlice(os, optionViewOf) }

// ticketOptionsView is what a ticket rule may pick from
// (GET /v1/psa/ticket-options): the three lists every PSA has are always
// arrays; the others only where the PSA has them.
type ticketOptionsView struct {
	Statuses   []optionView `json:"statuses"`
	Priorities []optionView `json:"priorities"`
	Sources    []optionView `json:"sources"`
	Queues     []optionView `json:"queues,omitempty"`
	Boards     []optionView `json:"boards,omitempty"`
	IssueTypes []optionView `json:"issueTypes,omitempty"`
	Categories []optionView `json:"categories,omitempty"`
	Resources  []optionView `json:"resources,omitempty"`
	Roles      []optionView `json:"roles,omitempty"`
}

func ticketOptionsViewOf(o psa.TicketOptions) ticketOptionsView {
	v := ticketOptionsView{Statuses: options(o.Statuses), Priorities: options(o.Priorities), Sources: options(o.Sources),
		Queues: options(o.Queues), Boards: options(o.Boards), IssueTypes: options(o.IssueTypes), Categories: options(o.Categories),
		Resources: options(o.Resources), Roles: options(o.Roles)}
	nonNilOptions(&v.Statuses, &v.Priorities, &v.Sources)
	return v
}

// contractView is a PSA contract (ConnectWise agreement) in the pickers.
type contractView struct {
	ID        int64     `json:"id"`
	CompanyID int64     `json:"companyId"`
	Name      string    `json:"name"`
	Recurring bool      `json:"recurring"`
	Active    bool      `json:"active"`
	StartDate time.Time `json:"startDate,omitzero"`
	EndDate   time.Time `json:"endDate,omitzero"`
}

func contractViewOf(c psa.Contract) contractView {
	return contractView{ID: c.ID, CompanyID: c.CompanyID, Name: c.Name, Recurring: c.Recurring, Active: c.Active, StartDate: c.StartDate, EndDate: c.EndDate}
}

// serviceLineView is a contract's service line in the pickers.
type serviceLineView struct {
	ID         int64   `json:"id"`
	ContractID int64   `json:"contractId"`
	ServiceID  int64   `json:"serviceId"`
	Name       string  `json:"name"`
	UnitPrice  float64 `json:"unitPrice"`
	UnitCost   float64 `json:"unitCost"`
	Cancelled  bool    `json:"cancelled,omitempty"`
}

func serviceLineViewOf(l psa.ServiceLine) serviceLineView {
	return serviceLineView{ID: l.ID, ContractID: l.ContractID, ServiceID: l.ServiceID, Name: l.Name, UnitPrice: l.UnitPrice, UnitCost: l.UnitCost, Cancelled: l.Cancelled}
}

// settingsView is the tenant's billing settings (GET/PUT/PATCH
// /v1/billing-settings): unitCost is always an object.
type settingsView struct {
	TimeZone           string                                 `json:"timeZone"`
	Period             billing.Period                         `json:"period"`
	EffectiveDate      billing.EffectiveDateRule              `json:"effectiveDate"`
	CreateMissingLines bool                                   `json:"createMissingLines"`
	ZeroDeprovisioned  bool                                   `json:"zeroDeprovisioned"`
	UnitCost           map[billing.Product]float64            `json:"unitCost"`
	OrgUnitCost        map[string]map[billing.Product]float64 `json:"orgUnitCost,omitempty"`
	BudgetPerHour      int                                    `json:"budgetPerHour"`
	RunAt              string                                 `json:"runAt"`
	Version            int64                                  `json:"version"`
}

func settingsViewOf(set billing.Settings) settingsView {
	v := settingsView{TimeZone: set.TimeZone, Period: set.Period, EffectiveDate: set.EffectiveDate, CreateMissingLines: set.CreateMissingLines,
		ZeroDeprovisioned: set.ZeroDeprovisioned, UnitCost: set.UnitCost, OrgUnitCost: set.OrgUnitCost, BudgetPerHour: set.BudgetPerHour,
		RunAt: set.RunAt, Version: set.Version}
	if v.UnitCost == nil {
		v.UnitCost = map[billing.Product]float64{}
	}
	return v
}

// endpointsView is where an integration finds its PSA, as PUT
// /v1/integration takes it (where custom endpoints are allowed) and GET
// shows it.
type endpointsView struct {
	AutotaskZoneURL     string `json:"autotaskZoneUrl,omitempty"`
	ConnectWiseLoginURL string `json:"connectwiseLoginUrl,omitempty"`
	ConnectWiseAPIURL   string `json:"connectwiseApiUrl,omitempty"`
	HaloPSAAuthURL      string `json:"halopsaAuthUrl,omitempty"`
	HaloPSAAPIURL       string `json:"halopsaApiUrl,omitempty"`
}

func endpointsViewOf(ep psa.Endpoints) endpointsView {
	return endpointsView{AutotaskZoneURL: ep.AutotaskZoneURL, ConnectWiseLoginURL: ep.ConnectWiseLoginURL, ConnectWiseAPIURL: ep.ConnectWiseAPIURL,
		HaloPSAAuthURL: ep.HaloPSAAuthURL, HaloPSAAPIURL: ep.HaloPSAAPIURL}
}

func (v endpointsView) endpoints() psa.Endpoints {
	return psa.Endpoints{AutotaskZoneURL: v.AutotaskZoneURL, ConnectWiseLoginURL: v.ConnectWiseLoginURL, ConnectWiseAPIURL: v.ConnectWiseAPIURL,
		HaloPSAAuthURL: v.HaloPSAAuthURL, HaloPSAAPIURL: v.HaloPSAAPIURL}
}
