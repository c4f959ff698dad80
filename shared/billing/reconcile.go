package billing

import (
	"strconv"

	"github.com/psabridge/psabridge/shared/psa"
)

// ReconciliationFlag names one way the platform and the PSA disagree on a
// mapped line.
type ReconciliationFlag string

// The reconciliation flags.
const (
	FlagQuantity      ReconciliationFlag = "quantity"
	FlagUnitCost      ReconciliationFlag = "unit_cost"
	FlagLineMissing   ReconciliationFlag = "line_missing"
	FlagMappingBroken ReconciliationFlag = "mapping_broken"
)

// ReconciliationLine is what the report knows of one mapped org line.
type ReconciliationLine struct {
	Org     string
	Product Product
	Mapping Mapping
	LineID  int64
	// HWM is the platform's high-water mark of the period (0 without usage).
	HWM int64
	// Plan is the sync's plan of the line (PlanOf, with no memory: the
	// report reads the PSA afresh): its target quantity and, unless
	// KeepCost (the settings have no cost for the product, so the PSA's is
	// not compared), its unit cost.
	Plan LinePlan
	// PSA is the line's state in the period (psa.Client.ReadLines); nil
	// when the PSA has no such line.
	PSA *psa.LineState
	// Health is the mapping's health, when it was checked.
	Health *Health
}

// ReconciliationRow is one row of the month-end report: the platform's
// numbers, the PSA's, and where they disagree.
type ReconciliationRow struct {
	Org         string   `json:"org"`
	Product     Product  `json:"product"`
	CompanyID   int64    `json:"companyId"`
	ContractID  int64    `json:"contractId"`
	LineID      int64    `json:"lineId"`
	HWM         int64    `json:"hwm"`
	NonBillable int64    `json:"nonBillableUsers"`
	Target      int64    `json:"targetQuantity"`
	TargetCost  *float64 `json:"targetUnitCost,omitempty"`
	PSAQuantity *int64   `json:"psaQuantity,omitempty"`
	PSAUnitCost *float64 `json:"psaUnitCost,omitempty"`
	// QuantityDiff is Target − PSAQuantity (0 when the line is missing).
	QuantityDiff int64                `json:"quantityDiff"`
	Flags        []ReconciliationFlag `json:"flags"`
	Agrees       bool                 `json:"agrees"`
}

// Reconcile computes a line's row: the target is the sync's plan's
// (quantity, and the unit cost unless the plan keeps the PSA's), compared
// with the PSA's quantity and unit cost.
func Reconcile(l ReconciliationLine) ReconciliationRow {
	r := ReconciliationRow{Org: l.Org, Product: l.Product, CompanyID: l.Mapping.CompanyID, ContractID: l.Mapping.ContractID,
		LineID: l.LineID, HWM: l.HWM, NonBillable: l.Mapping.NonBillableFor(l.Product), Flags: []ReconciliationFlag{}}
	r.Target = l.Plan.Target.Quantity
	hasCost, unitCost := !l.Plan.KeepCost, l.Plan.Target.UnitCost
	if hasCost {
		c := unitCost
		r.TargetCost = &c
	}
	if l.Health != nil && l.Health.Blocks(l.Product) {
		r.Flags = append(r.Flags, FlagMappingBroken)
	}
	if l.PSA == nil {
		r.Flags = append(r.Flags, FlagLineMissing)
	} else {
		// Every row of the period from the effective date counts: the
		// first that is off the target stands for the line.
		cost := l.PSA.UnitCost
		if hasCost {
			cost = unitCost
		}
		row, _ := l.PSA.FirstOff(r.Target, cost)
		q, c := row.Quantity, row.UnitCost
		r.PSAQuantity, r.PSAUnitCost = &q, &c
		r.QuantityDiff = r.Target - q
		if r.QuantityDiff != 0 {
			r.Flags = append(r.Flags, FlagQuantity)
		}
		if hasCost && !sameMoney(c, unitCost) {
			r.Flags = append(r.Flags, FlagUnitCost)
		}
	}
	r.Agrees = len(r.Flags) == 0
	return r
}

// ReconciliationCSVHeader is the header row of the report's CSV form.
var ReconciliationCSVHeader = []string{"org", "product", "company_id", "contract_id", "line_id", "hwm", "non_billable_users",
	"target_quantity", "psa_quantity", "quantity_diff", "target_unit_cost", "psa_unit_cost", "agrees", "flags"}

// CSVRecord renders the row in ReconciliationCSVHeader's order; unknown
// values are empty cells, flags are joined with "|".
func (r ReconciliationRow) CSVRecord() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	optF := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	psaQ := ""
	if r.PSAQuantity != nil {
		psaQ = i(*r.PSAQuantity)
	}
	flags := ""
	for k, f := range r.Flags {
		if k > 0 {
			flags += "|"
		}
		flags += string(f)
	}
	return []string{r.Org, string(r.Product), i(r.CompanyID), i(r.ContractID), i(r.LineID), i(r.HWM), i(r.NonBillable),
		i(r.Target), psaQ, i(r.QuantityDiff), optF(r.TargetCost), optF(r.PSAUnitCost), strconv.FormatBool(r.Agrees), flags}
}
