package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/psa"
)

// Reconciliation is the month-end check before invoicing.
type Reconciliation struct {
	Store BilledMonthStore
	PSA   Connector
	Now   func() time.Time
}

// Report is the reconciliation of the month period ("YYYY-MM"; empty: the
// month the next sync bills), which it returns with the rows: for every
// line of every mapped org, the platform's HWM of the period, the
// non-billable users, the target quantity and cost the sync plans
// (billing.PlanOf, the worker's line planning), the PSA's quantity and unit
// cost (one batched PSA read for all lines), the difference and flags;
// sorted by org, then product.
//
// Errors: Invalid for a malformed period; NotFound without an
// integration; Rejected when the PSA refuses the stored credentials
// (PSAError); Transient; the store's.
func (s *Reconciliation) Report(ctx context.Context, tenant, period string) (billing.Month, []billing.ReconciliationRow, error) {
	now := clock.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	bm, err := readBilledMonth(ctx, s.Store, tenant, period, at)
	if err != nil {
		return "", nil, err
	}
	set, month := bm.settings, bm.month
	c, _, err := client(ctx, s.PSA, tenant)
	if err != nil {
		return "", nil, err
	}
	hwm := map[billing.LineKey]int64{}
	for _, u := range bm.usage {
		hwm[billing.LineKey{Org: u.Org, Product: u.Product}] = u.Value
	}
	var lines []billing.ReconciliationLine
	var refs []psa.LineRef
	for _, o := range bm.orgs {
		if o.State() != billing.Mapped {
			continue
		}
		var health *billing.Health
		if hl, ok := bm.healthOf(o); ok {
			health = &hl
		}
		for _, l := range o.Mapping.Lines {
			// The sync's own plan of the line, from no memory: the report
			// reads the PSA afresh (the PSA's traits only decide reads).
			plan := billing.PlanOf(tenant, o.ID, *o.Mapping, l, month, set, billing.Traits{}, hwm, nil, at)
			lines = append(lines, billing.ReconciliationLine{Org: o.ID, Product: l.Product, Mapping: *o.Mapping, LineID: l.LineID,
				HWM: hwm[billing.LineKey{Org: o.ID, Product: l.Product}], Plan: plan, Health: health})
			refs = append(refs, psa.LineRef{ContractID: o.Mapping.ContractID, LineID: l.LineID})
		}
	}
	states := map[psa.LineRef]psa.LineState{}
	if len(refs) > 0 {
		if states, err = c.ReadLines(ctx, refs, set.EffectiveDateOf(at, month)); err != nil {
			return "", nil, PSAError(err)
		}
	}
	rows := make([]billing.ReconciliationRow, 0, len(lines))
	for i := range lines {
		if st, ok := states[refs[i]]; ok {
			lines[i].PSA = &st
		}
		rows = append(rows, billing.Reconcile(lines[i]))
	}
	slices.SortStableFunc(rows, func(a, b billing.ReconciliationRow) int {
		if a.Org != b.Org {
			return strings.Compare(a.Org, b.Org)
		}
		return strings.Compare(string(a.Product), string(b.Product))
	})
	return month, rows, nil
}
