package billing

import (
	"testing"
	"time"
)

var (
	autotask    = Traits{DeltaWrites: true, MonthlyPeriods: true}
	connectwise = Traits{CancelledTakesWrites: true}
)

func TestPlanLine(t *testing.T) {
	// A day that is not the fixture line's drift slot, and a last check the
	// day before: no drift check is due unless a case says so.
	now := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	for DriftSlot(DriftKey("t", "o", Users, 7)) == (now.Unix()/86400)%7 {
		now = now.Add(24 * time.Hour)
	}
	notDue := now.Add(-24 * time.Hour)
	mem := func(q int64, cost float64, month Month, verified time.Time) *LineMemory {
		return &LineMemory{ContractID: 5, LineID: 7, Month: month, Value: LineValue{q, cost}, VerifiedAt: verified}
	}
	base := LineInput{Tenant: "t", Org: "o", Product: Users, ContractID: 5, LineID: 7, Month: "2026-11",
		HWM: 12, HasUsage: true, NonBillable: 2, UnitCost: 4, HasCost: true, Now: now}
	for _, tc := range []struct {
		name string
		in   func(LineInput) LineInput
		want LinePlan
	}{
		{"NoUsage", func(in LineInput) LineInput { in.HasUsage = false; return in },
			LinePlan{Skip: CodeNoUsage, Target: LineValue{0, 4}}},
		{"NoUsageZeroed", func(in LineInput) LineInput {
			in.HasUsage, in.ZeroDeprovisioned, in.Memory, in.Traits = false, true, mem(3, 4, "2026-11", notDue), autotask
			return in
		}, LinePlan{Target: LineValue{0, 4}, Zeroed: true, Known: true, Changed: true, Read: true}},
		{"UnchangedAutotaskNoRead", func(in LineInput) LineInput {
			in.Memory, in.Traits = mem(10, 4, "2026-11", notDue), autotask
			return in
		}, LinePlan{Target: LineValue{10, 4}, Known: true}},
		{"ChangedAutotaskReads", func(in LineInput) LineInput {
			in.Memory, in.Traits = mem(9, 4, "2026-11", notDue), autotask
			return in
		}, LinePlan{Target: LineValue{10, 4}, Known: true, Changed: true, Read: true}},
		{"ChangedConnectWiseReads", func(in LineInput) LineInput {
			in.Memory, in.Traits = mem(9, 4, "2026-11", notDue), connectwise
			return in
		}, LinePlan{Target: LineValue{10, 4}, Known: true, Changed: true, Read: true}},
		{"ChangedAbsoluteWritesNoRead", func(in LineInput) LineInput { in.Memory = mem(9, 4, "2026-11", notDue); return in },
			LinePlan{Target: LineValue{10, 4}, Known: true, Changed: true}},
		{"CostChanged", func(in LineInput) LineInput { in.Memory = mem(10, 3.5, "2026-11", notDue); return in },
			LinePlan{Target: LineValue{10, 4}, Known: true, Changed: true}},
		{"NewMonthAutotaskUnknown", func(in LineInput) LineInput {
			in.Memory, in.Traits = mem(10, 4, "2026-10", notDue), autotask
			return in
		}, LinePlan{Target: LineValue{10, 4}, Changed: true, DriftDue: true, Read: true}},
		{"NewMonthConnectWiseKnown", func(in LineInput) LineInput {
			in.Memory, in.Traits = mem(10, 4, "2026-10", notDue), connectwise
			return in
		},
			LinePlan{Target: LineValue{10, 4}, Known: true}},
		{"OtherLineUnknown", func(in LineInput) LineInput {
			m := mem(10, 4, "2026-11", notDue)
			m.LineID = 8
			in.Memory = m
			return in
		},
			LinePlan{Target: LineValue{10, 4}, Changed: true, DriftDue: true, Read: true}},
		{"NonBillableAboveHWM", func(in LineInput) LineInput { in.NonBillable = 20; in.Memory = mem(0, 4, "2026-11", notDue); return in },
			LinePlan{Target: LineValue{0, 4}, Known: true}},
		{"KeepCostKnown", func(in LineInput) LineInput {
			in.HasCost = false
			in.Memory = mem(10, 2.5, "2026-11", notDue)
			return in
		},
			LinePlan{Target: LineValue{10, 2.5}, KeepCost: true, Known: true}},
		{"KeepCostUnknownReads", func(in LineInput) LineInput { in.HasCost = false; return in },
			LinePlan{Target: LineValue{10, 0}, KeepCost: true, Changed: true, DriftDue: true, Read: true}},
		{"DriftOverdue", func(in LineInput) LineInput { in.Memory = mem(10, 4, "2026-11", now.Add(-8*24*time.Hour)); return in },
			LinePlan{Target: LineValue{10, 4}, Known: true, DriftDue: true, Read: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanLine(tc.in(base))
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDriftDue(t *testing.T) {
	key := DriftKey("t", "o", Users, 7)
	slot := DriftSlot(key)
	// slotDay is a day (17:00 UTC) that is the line's slot.
	slotDay := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	for (slotDay.Unix()/86400)%7 != slot {
		slotDay = slotDay.Add(24 * time.Hour)
	}
	for _, tc := range []struct {
		name     string
		now      time.Time
		verified time.Time
		want     bool
	}{
		{"NeverRead", slotDay.Add(24 * time.Hour), time.Time{}, true},
		{"SlotDayReadBefore", slotDay, slotDay.Add(-3 * 24 * time.Hour), true},
		{"SlotDayAlreadyReadToday", slotDay, slotDay.Add(-time.Hour), false},
		{"OtherDay", slotDay.Add(24 * time.Hour), slotDay.Add(-24 * time.Hour), false},
		{"MissedSlotOverAWeek", slotDay.Add(2 * 24 * time.Hour), slotDay.Add(-6 * 24 * time.Hour), true},
		{"ExactlyAWeekIsNotOver", slotDay.Add(3 * 24 * time.Hour), slotDay.Add(-4 * 24 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DriftDue(tc.now, tc.verified, key); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDriftSlotsSpreadOverTheWeek(t *testing.T) {
	var perSlot [7]int
	for i := 0; i < 7000; i++ {
		perSlot[DriftSlot(DriftKey("t", "org", Users, int64(i)))]++
	}
	for s, n := range perSlot {
		if n < 850 || n > 1150 {
			t.Errorf("slot %d: got %d lines of 7000, want about 1000", s, n)
		}
	}
}

func TestDecide(t *testing.T) {
	target := LinePlan{Target: LineValue{10, 4}, Known: true, Changed: true}
	mem := &LineMemory{ContractID: 5, LineID: 7, Month: "2026-11", Value: LineValue{9, 4}}
	v := func(q int64, c float64) *LineValue { return &LineValue{q, c} }
	for _, tc := range []struct {
		name      string
		plan      LinePlan
		mem       *LineMemory
		current   *LineValue
		dry       bool
		wantCode  Code
		wantWrite bool
		wantFrom  *LineValue
	}{
		{"Skip", LinePlan{Skip: CodeNoUsage}, nil, nil, false, CodeNoUsage, false, nil},
		{"UpdatedAfterRead", target, mem, v(9, 4), false, CodeUpdated, true, v(9, 4)},
		{"UpdatedWithoutRead", target, mem, nil, false, CodeUpdated, true, v(9, 4)},
		{"DryRun", target, mem, v(9, 4), true, CodeWouldUpdate, false, v(9, 4)},
		{"AlreadyAtTargetAfterRedelivery", target, mem, v(10, 4), false, CodeUnchanged, false, v(10, 4)},
		{"UnchangedNoRead", LinePlan{Target: LineValue{9, 4}, Known: true}, mem, nil, false, CodeUnchanged, false, v(9, 4)},
		{"DriftCorrected", LinePlan{Target: LineValue{9, 4}, Known: true, DriftDue: true, Read: true}, mem, v(14, 4), false, CodeDriftCorrected, true, v(14, 4)},
		{"DriftDryRun", LinePlan{Target: LineValue{9, 4}, Known: true, DriftDue: true, Read: true}, mem, v(14, 4), true, CodeWouldCorrect, false, v(14, 4)},
		{"KeepCostTakesPSACost", LinePlan{Target: LineValue{10, 0}, KeepCost: true, Changed: true, Read: true}, nil, v(8, 2.5), false, CodeUpdated, true, v(8, 2.5)},
		{"ZeroedForNoUsage", LinePlan{Target: LineValue{0, 4}, Zeroed: true, Known: true, Changed: true}, mem, nil, false, CodeNoUsageZeroed, true, v(9, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.plan, tc.mem, tc.current, Users, tc.dry)
			if d.Code != tc.wantCode || d.Write != tc.wantWrite {
				t.Errorf("got %s write=%v, want %s write=%v (%s)", d.Code, d.Write, tc.wantCode, tc.wantWrite, d.Message)
			}
			if (d.Before == nil) != (tc.wantFrom == nil) || (d.Before != nil && *d.Before != *tc.wantFrom) {
				t.Errorf("before: got %v, want %v", d.Before, tc.wantFrom)
			}
			if d.Outcome != InfoOf(d.Code).Outcome {
				t.Errorf("outcome %s does not match the code's documented %s", d.Outcome, InfoOf(d.Code).Outcome)
			}
		})
	}
}

func TestOrgOutcomeAndFinalStatus(t *testing.T) {
	if got := OrgOutcome([]Outcome{OutcomeUnchanged, OutcomeUpdated, OutcomeSkipped}); got != OutcomeUpdated {
		t.Errorf("got %s, want updated", got)
	}
	if got := OrgOutcome([]Outcome{OutcomeUpdated, OutcomeFailed}); got != OutcomeFailed {
		t.Errorf("got %s, want failed", got)
	}
	if got := OrgOutcome(nil); got != OutcomeSkipped {
		t.Errorf("got %s, want skipped", got)
	}
	for _, tc := range []struct {
		c    Counts
		want RunStatus
	}{
		{Counts{Total: 3, Updated: 2, Unchanged: 1}, Succeeded},
		{Counts{Total: 3, Updated: 2, Failed: 1}, Partial},
		{Counts{Total: 3, Updated: 2, Deferred: 1}, Partial},
		{Counts{Total: 2, Failed: 1, Deferred: 1}, Failed},
		{Counts{}, Succeeded},
	} {
		if got := tc.c.FinalStatus(); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.c, got, tc.want)
		}
	}
}
