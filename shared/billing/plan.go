package billing

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// The sync plan: for each mapped line, what the PSA should hold (the
// target), whether psabridge must read the PSA first, and after that what to
// write and which entry to record. Pure functions of their inputs, so every
// rule is table-tested without AWS or a PSA.

// DriftInterval is the longest time a line goes without being read from the
// PSA, so a human edit in the PSA is found and corrected within a week.
const DriftInterval = 7 * 24 * time.Hour

// LineMemory is what psabridge knows about a line from its own past work:
// the value it last wrote or read, for which month, and when it last read the
// line (verified) or wrote it.
type LineMemory struct {
	ContractID int64     `json:"contractId" dynamodbav:"ContractID"`
	LineID     int64     `json:"lineId" dynamodbav:"LineID"`
	Month      Month     `json:"month" dynamodbav:"Month"`
	Value      LineValue `json:"value" dynamodbav:"Value"`
	WrittenAt  time.Time `json:"writtenAt,omitzero" dynamodbav:"WrittenAt"`
	VerifiedAt time.Time `json:"verifiedAt,omitzero" dynamodbav:"VerifiedAt"`
}

// Traits are the PSA rules that change the plan.
type Traits struct {
	// DeltaWrites: a write is a difference from the current value, so a
	// changed line is read first (Autotask's ContractServiceAdjustment
	// unitChange). Without it a write sets absolute values (ConnectWise PATCH).
	DeltaWrites bool
	// MonthlyPeriods: the quantity is held per month (Autotask
	// ContractServiceUnits), so what psabridge remembers of one month says
	// nothing about the next.
	MonthlyPeriods bool
	// CancelledTakesWrites: the PSA accepts a write to a cancelled line or
	// a line of a cancelled agreement (ConnectWise answers a PATCH of such
	// an addition with 200), so a changed line is read first and never
	// written unless it still bills.
	CancelledTakesWrites bool
}

// LineInput is everything the plan of one line depends on.
type LineInput struct {
	Tenant     string
	Org        string
	Product    Product
	ContractID int64
	LineID     int64
	Month      Month
	// HWM is the high-water mark of the billed month; HasUsage is false when
	// none was observed.
	HWM      int64
	HasUsage bool
	// NonBillable users are subtracted from the HWM.
	NonBillable int64
	// UnitCost is the tenant's (or org's) cost; HasCost false leaves the
	// PSA's cost alone.
	UnitCost float64
	HasCost  bool
	// ZeroDeprovisioned bills 0 for an org without usage in the month.
	ZeroDeprovisioned bool
	// Memory is nil when psabridge never wrote or read the line.
	Memory *LineMemory
	Traits Traits
	Now    time.Time
}

// LinePlan is the first half of the decision, made before any PSA request.
type LinePlan struct {
	// Skip is set (CodeNoUsage) when there is nothing to bill.
	Skip Code
	// Target is the value the line should hold; KeepCost says the unit cost
	// is not psabridge's to set (the PSA's stays).
	Target   LineValue
	KeepCost bool
	// Zeroed: no usage, and the tenant bills 0 for that.
	Zeroed bool
	// Known says the memory is about this line and month.
	Known bool
	// Changed: the target differs from what psabridge knows the line holds.
	Changed bool
	// DriftDue: the line's weekly check against the PSA is due.
	DriftDue bool
	// Read: read the line's PSA state before deciding.
	Read bool
}

// PlanLine makes the first half of the decision for one line.
func PlanLine(in LineInput) LinePlan {
	var p LinePlan
	// The cost is planned even for a line skipped for want of usage: the
	// reconciliation shows what the sync would set.
	p.KeepCost = !in.HasCost
	if in.HasCost {
		p.Target.UnitCost = in.UnitCost
	}
	switch {
	case in.HasUsage:
		p.Target.Quantity = Quantity(in.HWM, in.NonBillable)
	case in.ZeroDeprovisioned:
		p.Target.Quantity, p.Zeroed = 0, true
	default:
		p.Skip = CodeNoUsage
		return p
	}
	m := in.Memory
	p.Known = m != nil && m.LineID == in.LineID && m.ContractID == in.ContractID &&
		(!in.Traits.MonthlyPeriods || m.Month == in.Month)
	if p.Known && p.KeepCost {
		p.Target.UnitCost = m.Value.UnitCost
	}
	p.Changed = !p.Known || m.Value != p.Target
	var verified time.Time
	if p.Known {
		verified = m.VerifiedAt
	}
	p.DriftDue = DriftDue(in.Now, verified, DriftKey(in.Tenant, in.Org, in.Product, in.LineID))
	p.Read = p.DriftDue ||
		(p.Changed && (in.Traits.DeltaWrites || in.Traits.CancelledTakesWrites)) ||
		(p.KeepCost && !p.Known) // the cost to keep is unknown
	return p
}

// PlanOf plans one mapped line of an org from stored facts: the month's
// HWMs and the lines' memories by line (absent: no usage, never read or
// written), the tenant's settings (costs, zeroing) and the PSA's traits.
// The one line planning of psabridge: the sync worker and the fan-out's
// ordering plan with it, and the reconciliation takes its target from it.
func PlanOf(tenant, org string, m Mapping, l LineMapping, month Month, set Settings,
	traits Traits, hwms map[LineKey]int64, mems map[LineKey]LineMemory, now time.Time) LinePlan {
	k := LineKey{Org: org, Product: l.Product}
	hwm, has := hwms[k]
	cost, hasCost := set.CostOf(org, l.Product)
	var mem *LineMemory
	if v, ok := mems[k]; ok {
		mem = &v
	}
	return PlanLine(LineInput{
		Tenant: tenant, Org: org, Product: l.Product, ContractID: m.ContractID, LineID: l.LineID, Month: month,
		HWM: hwm, HasUsage: has, NonBillable: m.NonBillableFor(l.Product), UnitCost: cost, HasCost: hasCost,
		ZeroDeprovisioned: set.ZeroDeprovisioned, Memory: mem, Traits: traits, Now: now,
	})
}

// DriftKey identifies a line for spreading drift checks over the week.
func DriftKey(tenant, org string, p Product, lineID int64) string {
	return tenant + "\x00" + org + "\x00" + string(p) + "\x00" + strconv.FormatInt(lineID, 10)
}

// DriftSlot is the weekday slot (0–6, counted in UTC days since the epoch)
// on which a line is checked, spread by a hash so a seventh of the lines is
// checked each day.
func DriftSlot(key string) int64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int64(h.Sum32() % 7)
}

// DriftDue reports whether a line last read at verified is to be read at now:
// on its slot day if not yet read that day, and whenever the last read is
// more than DriftInterval ago (a missed slot, or never read).
func DriftDue(now, verified time.Time, key string) bool {
	if verified.IsZero() || now.Sub(verified) > DriftInterval {
		return true
	}
	day := now.Unix() / 86400
	if day%7 != DriftSlot(key) {
		return false
	}
	return verified.Before(time.Unix(day*86400, 0))
}

// LineDecision is the second half: what to write and what to record.
type LineDecision struct {
	Write   bool
	Code    Code
	Outcome Outcome
	Before  *LineValue
	After   LineValue
	Message string
}

// Decide finishes the decision for a planned line. current is the line's
// PSA state when it was read (nil otherwise); dryRun turns writes into
// "would" entries.
func Decide(p LinePlan, mem *LineMemory, current *LineValue, product Product, dryRun bool) LineDecision {
	if p.Skip != "" {
		return LineDecision{Code: p.Skip, Outcome: InfoOf(p.Skip).Outcome,
			Message: fmt.Sprintf("no %s usage reported in the billed period; line left as it is", product)}
	}
	target := p.Target
	var before *LineValue
	drift := false
	switch {
	case current != nil:
		if p.KeepCost {
			target.UnitCost = current.UnitCost
		}
		b := *current
		before = &b
		drift = p.Known && *current != mem.Value
	case p.Known:
		b := mem.Value
		before = &b
	}
	if before != nil && *before == target {
		return LineDecision{Code: CodeUnchanged, Outcome: OutcomeUnchanged, Before: before, After: target,
			Message: fmt.Sprintf("%s already at %s", product, describe(target))}
	}
	d := LineDecision{Write: !dryRun, Outcome: OutcomeUpdated, Before: before, After: target}
	from := "unknown"
	if before != nil {
		from = describe(*before)
	}
	switch {
	case drift && dryRun:
		d.Code = CodeWouldCorrect
		d.Message = fmt.Sprintf("the PSA holds %s but psabridge last set %s (edited in the PSA?); would set %s to %s", from, describe(mem.Value), product, describe(target))
	case drift:
		d.Code = CodeDriftCorrected
		d.Message = fmt.Sprintf("the PSA held %s but psabridge last set %s (edited in the PSA?); set %s back to %s", from, describe(mem.Value), product, describe(target))
	case dryRun:
		d.Code = CodeWouldUpdate
		d.Message = fmt.Sprintf("would change %s from %s to %s", product, from, describe(target))
	default:
		d.Code = CodeUpdated
		d.Message = fmt.Sprintf("%s changed from %s to %s", product, from, describe(target))
	}
	if p.Zeroed && d.Code == CodeUpdated {
		d.Code = CodeNoUsageZeroed
		d.Message = fmt.Sprintf("no %s usage in the billed period; %s", product, d.Message)
	}
	return d
}

// String renders v as entries show it: "12 at 18.5".
func (v LineValue) String() string { return describe(v) }

func describe(v LineValue) string {
	return fmt.Sprintf("%d at %s", v.Quantity, strconv.FormatFloat(v.UnitCost, 'f', -1, 64))
}

// LineKey addresses one org line (an org has at most one line per product).
type LineKey struct {
	Org     string
	Product Product
}
