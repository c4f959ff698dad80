package billing

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// MappingState is where an org stands with its PSA mapping.
type MappingState string

// The mapping states.
const (
	Unmapped MappingState = "unmapped"
	Mapped   MappingState = "mapped"
	Disabled MappingState = "disabled"
)

// LineMapping ties one product of an org to one PSA service line.
type LineMapping struct {
	Product Product `json:"product" dynamodbav:"Product"`
	LineID  int64   `json:"lineId" dynamodbav:"LineID"`
}

// Mapping ties an org to a PSA company, contract and service lines.
type Mapping struct {
	CompanyID        int64         `json:"companyId" dynamodbav:"CompanyID"`
	ContractID       int64         `json:"contractId" dynamodbav:"ContractID"`
	Lines            []LineMapping `json:"lines" dynamodbav:"Lines"`
	NonBillableUsers int64         `json:"nonBillableUsers" dynamodbav:"NonBillableUsers"`
	State            MappingState  `json:"state" dynamodbav:"State"`
	// Seen are the PSA's names of the company and contract when the
	// mapping was saved: display only, kept to show a rename (old → new).
	Seen MappedNames `json:"seen" dynamodbav:"Seen"`
	// Version increases with every write; the API exposes it as the ETag.
	Version   int64     `json:"version" dynamodbav:"Version"`
	UpdatedAt time.Time `json:"updatedAt" dynamodbav:"UpdatedAt"`
}

// NonBillableFor returns what is subtracted from product p's HWM: the
// non-billable users for the users product, nothing for any other product
// (storage is not reduced by a user count).
func (m Mapping) NonBillableFor(p Product) int64 {
	if p == Users {
		return m.NonBillableUsers
	}
	return 0
}

// Validate checks a mapping's shape (not its existence in the PSA).
// Invalid lists every problem, one apperr.FieldError per field.
func (m *Mapping) Validate() error {
	var p apperr.Problems
	if m.CompanyID <= 0 {
		p.Add("companyId", "companyId is required")
	}
	if m.ContractID <= 0 {
		p.Add("contractId", "contractId is required")
	}
	if len(m.Lines) == 0 {
		p.Add("lines", "at least one line is required")
	}
	if m.NonBillableUsers < 0 || m.NonBillableUsers > MaxValue {
		p.Add("nonBillableUsers", "nonBillableUsers must be between 0 and %d", MaxValue)
	}
	seen := map[Product]bool{}
	for i := range m.Lines {
		l := &m.Lines[i]
		if l.Product == "" {
			l.Product = Users
		}
		field := fmt.Sprintf("lines[%d]", i)
		switch {
		case !l.Product.Valid():
			p.Add(field+".product", "%s.product is not a valid product key", field)
		case seen[l.Product]:
			p.Add(field+".product", "product %q is mapped twice", l.Product)
		}
		if l.LineID <= 0 {
			p.Add(field+".lineId", "%s.lineId is required", field)
		}
		seen[l.Product] = true
	}
	return p.Err()
}

// Org is a client organization of a tenant, as the platform registered it,
// with its mapping (nil while unmapped).
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Mapping   *Mapping  `json:"mapping,omitempty"`
}

// State returns the org's mapping state.
func (o Org) State() MappingState {
	if o.Mapping == nil || o.Mapping.State == "" {
		return Unmapped
	}
	return o.Mapping.State
}

// Period selects which month's HWM a run bills.
type Period string

// The billing periods.
const (
	CurrentPeriod  Period = "current"
	PreviousPeriod Period = "previous"
)

// EffectiveDateRule selects the effective date of a PSA change.
type EffectiveDateRule string

// The effective date rules.
const (
	PeriodStart EffectiveDateRule = "period-start"
	Today       EffectiveDateRule = "today"
)

// DefaultBudgetPerHour is a tenant's PSA request budget unless set. Autotask
// allows 10,000 an hour for the whole database, shared with other integrations.
const DefaultBudgetPerHour = 5000

// DefaultRunAt is the local time of day of the daily sync.
const DefaultRunAt = "12:00"

// Settings are a tenant's billing settings.
type Settings struct {
	TimeZone           string                         `json:"timeZone" dynamodbav:"TimeZone"`
	Period             Period                         `json:"period" dynamodbav:"Period"`
	EffectiveDate      EffectiveDateRule              `json:"effectiveDate" dynamodbav:"EffectiveDate"`
	CreateMissingLines bool                           `json:"createMissingLines" dynamodbav:"CreateMissingLines"`
	ZeroDeprovisioned  bool                           `json:"zeroDeprovisioned" dynamodbav:"ZeroDeprovisioned"`
	UnitCost           map[Product]float64            `json:"unitCost" dynamodbav:"UnitCost"`
	OrgUnitCost        map[string]map[Product]float64 `json:"orgUnitCost,omitempty" dynamodbav:"OrgUnitCost"`
	BudgetPerHour      int                            `json:"budgetPerHour" dynamodbav:"BudgetPerHour"`
	RunAt              string                         `json:"runAt" dynamodbav:"RunAt"`
	Version            int64                          `json:"version" dynamodbav:"Version"`
}

// DefaultSettings returns the settings of a tenant that set none.
func DefaultSettings() Settings {
	return Settings{
		TimeZone:      DefaultTimeZone,
		Period:        CurrentPeriod,
		EffectiveDate: PeriodStart,
		UnitCost:      map[Product]float64{},
		BudgetPerHour: DefaultBudgetPerHour,
		RunAt:         DefaultRunAt,
	}
}

// Validate fills defaults and checks the settings. Invalid lists every
// problem, one apperr.FieldError per field.
func (s *Settings) Validate() error {
	d := DefaultSettings()
	if s.TimeZone == "" {
		s.TimeZone = d.TimeZone
	}
	if s.Period == "" {
		s.Period = d.Period
	}
	if s.EffectiveDate == "" {
		s.EffectiveDate = d.EffectiveDate
	}
	if s.BudgetPerHour == 0 {
		s.BudgetPerHour = d.BudgetPerHour
	}
	if s.RunAt == "" {
		s.RunAt = d.RunAt
	}
	if s.UnitCost == nil {
		s.UnitCost = map[Product]float64{}
	}
	var p apperr.Problems
	if _, err := LoadLocation(s.TimeZone); err != nil {
		p.AddErr("timeZone", err)
	}
	if s.Period != CurrentPeriod && s.Period != PreviousPeriod {
		p.Add("period", "period must be %q or %q", CurrentPeriod, PreviousPeriod)
	}
	if s.EffectiveDate != PeriodStart && s.EffectiveDate != Today {
		p.Add("effectiveDate", "effectiveDate must be %q or %q", PeriodStart, Today)
	}
	if s.BudgetPerHour < 10 || s.BudgetPerHour > 10000 {
		p.Add("budgetPerHour", "budgetPerHour must be between 10 and 10000")
	}
	if _, err := time.Parse("15:04", s.RunAt); err != nil {
		p.Add("runAt", "runAt must be HH:MM (24-hour)")
	}
	check := func(costs map[Product]float64, where string) {
		for _, prod := range slices.Sorted(maps.Keys(costs)) {
			switch c := costs[prod]; {
			case !prod.Valid():
				p.Add(where, "%s: %q is not a valid product key", where, prod)
			case c < 0 || c > 1_000_000:
				p.Add(where+"."+string(prod), "%s: cost of %q must be between 0 and 1000000", where, prod)
			}
		}
	}
	check(s.UnitCost, "unitCost")
	for _, org := range slices.Sorted(maps.Keys(s.OrgUnitCost)) {
		if !ValidOrgID(org) {
			p.Add("orgUnitCost", "orgUnitCost: %q is not a valid org id", org)
			continue
		}
		check(s.OrgUnitCost[org], "orgUnitCost."+org)
	}
	return p.Err()
}

// CostOf returns the unit cost of a product for an org: the org's override
// if any, else the tenant's cost, and whether one is set at all.
func (s Settings) CostOf(org string, p Product) (float64, bool) {
	if c, ok := s.OrgUnitCost[org][p]; ok {
		return c, true
	}
	c, ok := s.UnitCost[p]
	return c, ok
}

// BilledMonth returns the month a run at now bills under these settings.
func (s Settings) BilledMonth(now time.Time) Month {
	loc, err := LoadLocation(s.TimeZone)
	if err != nil {
		loc, _ = LoadLocation(DefaultTimeZone)
	}
	m := MonthOf(now, loc)
	if s.Period == PreviousPeriod {
		return m.Prev()
	}
	return m
}

// EffectiveDateOf returns the effective date of a change made at now for
// month m: the first instant of m, or the start of today, in the tenant's zone.
func (s Settings) EffectiveDateOf(now time.Time, m Month) time.Time {
	loc, err := LoadLocation(s.TimeZone)
	if err != nil {
		loc, _ = LoadLocation(DefaultTimeZone)
	}
	if s.EffectiveDate == Today && MonthOf(now, loc) == m {
		y, mo, d := now.In(loc).Date()
		return time.Date(y, mo, d, 0, 0, 0, 0, loc)
	}
	return m.Start(loc)
}
