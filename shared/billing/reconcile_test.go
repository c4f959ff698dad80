package billing_test

import (
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

func TestReconcile(t *testing.T) {
	m := billing.Mapping{CompanyID: 10, ContractID: 20, NonBillableUsers: 2}
	state := func(q int64, cost float64) *psa.LineState { return &psa.LineState{Quantity: q, UnitCost: cost} }
	split := func(q int64, cost float64, laterQ int64, laterCost float64) *psa.LineState {
		return &psa.LineState{Quantity: q, UnitCost: cost, Later: []psa.LineRow{{Start: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC), Quantity: laterQ, UnitCost: laterCost}}}
	}
	// plan is the sync's plan of a line with usage hwm, as the report
	// takes it (billing.PlanOf with no memory).
	plan := func(hwm int64, cost float64, hasCost bool) billing.LinePlan {
		return billing.PlanLine(billing.LineInput{HWM: hwm, HasUsage: true, NonBillable: m.NonBillableFor(billing.Users), UnitCost: cost, HasCost: hasCost})
	}
	broken := &billing.Health{Status: billing.HealthBroken, Problems: []billing.Problem{{Code: billing.ContractCancelled, Severity: billing.SeverityError}}}
	for _, tc := range []struct {
		name     string
		line     billing.ReconciliationLine
		target   int64
		diff     int64
		flags    []billing.ReconciliationFlag
		wantCSV9 string // psa_quantity cell
	}{
		{"Agrees", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 18.5, true), PSA: state(10, 18.5)}, 10, 0, nil, "10"},
		{"QuantityLow", billing.ReconciliationLine{HWM: 15, Plan: plan(15, 18.5, true), PSA: state(10, 18.5)}, 13, 3, []billing.ReconciliationFlag{billing.FlagQuantity}, "10"},
		{"CostDiffers", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 18.5, true), PSA: state(10, 17)}, 10, 0, []billing.ReconciliationFlag{billing.FlagUnitCost}, "10"},
		{"NoCostSetNotCompared", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 0, false), PSA: state(10, 17)}, 10, 0, nil, "10"},
		{"LaterRowOff", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 18.5, true), PSA: split(10, 18.5, 13, 18.5)}, 10, -3, []billing.ReconciliationFlag{billing.FlagQuantity}, "13"},
		{"LaterRowCostOff", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 18.5, true), PSA: split(10, 18.5, 10, 17)}, 10, 0, []billing.ReconciliationFlag{billing.FlagUnitCost}, "10"},
		{"LaterRowAtTarget", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 0, false), PSA: split(10, 17, 10, 16)}, 10, 0, nil, "10"},
		{"NonBillableFloorAtZero", billing.ReconciliationLine{HWM: 1, Plan: plan(1, 0, false), PSA: state(0, 0)}, 0, 0, nil, "0"},
		{"LineMissing", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 0, false)}, 10, 0, []billing.ReconciliationFlag{billing.FlagLineMissing}, ""},
		// Without usage the sync skips the line, yet its cost is planned
		// and compared.
		{"NoUsageCostCompared", billing.ReconciliationLine{Plan: billing.PlanLine(billing.LineInput{UnitCost: 18.5, HasCost: true}), PSA: state(0, 17)}, 0, 0, []billing.ReconciliationFlag{billing.FlagUnitCost}, "0"},
		{"MappingBroken", billing.ReconciliationLine{HWM: 12, Plan: plan(12, 0, false), PSA: state(10, 0), Health: broken}, 10, 0, []billing.ReconciliationFlag{billing.FlagMappingBroken}, "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.line
			l.Org, l.Product, l.Mapping, l.LineID = "o1", billing.Users, m, 30
			r := billing.Reconcile(l)
			if r.Target != tc.target || r.QuantityDiff != tc.diff || !slices.Equal(r.Flags, tc.flags) && len(tc.flags)+len(r.Flags) > 0 {
				t.Fatalf("got target %d diff %d flags %v, want %d %d %v", r.Target, r.QuantityDiff, r.Flags, tc.target, tc.diff, tc.flags)
			}
			if r.Agrees != (len(tc.flags) == 0) {
				t.Fatalf("got agrees %v, want %v", r.Agrees, len(tc.flags) == 0)
			}
			rec := r.CSVRecord()
			if len(rec) != len(billing.ReconciliationCSVHeader) || rec[0] != "o1" || rec[8] != tc.wantCSV9 {
				t.Fatalf("got CSV %q, want %d cells, org o1, psa quantity %q", rec, len(billing.ReconciliationCSVHeader), tc.wantCSV9)
			}
		})
	}
}
