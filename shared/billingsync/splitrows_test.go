package billingsync_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// TestSplitUnitPeriods runs the sync on Autotask lines whose month has
// several ContractServiceUnits rows (PSA-API-NOTES §1.6), under both
// effective-date settings: a technician's edit before, on and after
// psabridge's effective date; the next day, a higher HWM (a second write
// the day after a prorated one); then an edit after the effective date that
// the weekly drift check must find. After every run the sandbox's rows
// from the run's effective date to the month's end all hold the target,
// and rows before it are left alone.
func TestSplitUnitPeriods(t *testing.T) {
	for _, rule := range []billing.EffectiveDateRule{billing.PeriodStart, billing.Today} {
		t.Run(string(rule), func(t *testing.T) {
			e := MustEnv(t)
			tf := e.MustTenant("at-split", psa.Autotask, 3, 21, func(s *billing.Settings) { s.EffectiveDate = rule })
			eff := e.effectiveDay(t, tf)
			// org-1 is edited before the effective date, org-2 on it, org-3 after it.
			e.MustTechnicianEdit(t, tf, tf.orgs[0], eff.AddDate(0, 0, -3), 3)
			e.MustTechnicianEdit(t, tf, tf.orgs[1], eff, 3)
			e.MustTechnicianEdit(t, tf, tf.orgs[2], eff.AddDate(0, 0, 2), 3)
			before := e.rowsBefore(tf, eff)

			mustNoneFailed(t, e.MustRun(t, tf))
			e.MustRowsAtTarget(t, tf, eff)
			if got := e.rowsBefore(tf, eff); !maps.EqualFunc(got, before, slices.Equal[[]sandbox.AutotaskUnitRow]) {
				t.Errorf("rows before %s: got %+v, want them untouched: %+v", eff.Format(time.DateOnly), got, before)
			}

			// The next day org-1 grows: under "today" a write the day after
			// a prorated one. Then org-3 is edited again after the date.
			e.clock.Add(24 * time.Hour)
			eff = e.effectiveDay(t, tf)
			tf.orgs[0].hwm += 4
			e.MustObserve(tf, tf.orgs[:1])
			mustNoneFailed(t, e.MustRun(t, tf))
			e.MustRowsAtTarget(t, tf, eff)
			e.MustTechnicianEdit(t, tf, tf.orgs[2], eff.AddDate(0, 0, 3), 2)

			// A week on, the drift check reads every line and finds the
			// edit in org-3's later row.
			e.clock.Add(7 * 24 * time.Hour)
			eff = e.effectiveDay(t, tf)
			run := e.MustRun(t, tf)
			mustNoneFailed(t, run)
			e.MustRowsAtTarget(t, tf, eff)
			drift, err := e.store.Entries(context.Background(), tf.name, run.ID, billing.EntryFilter{Code: billing.CodeDriftCorrected})
			if err != nil {
				t.Fatal(err)
			}
			if len(drift) != 1 || drift[0].Org != tf.orgs[2].id {
				t.Errorf("drift_corrected entries: got %+v, want one for %s", drift, tf.orgs[2].id)
			}
		})
	}
}

// effectiveDay is the day the tenant's next run writes from, as Autotask
// dates it (midnight UTC of the tenant's local date).
func (e *env) effectiveDay(tb testing.TB, tf *tenantFixture) time.Time {
	tb.Helper()
	set, err := e.store.BillingSettings(context.Background(), tf.name)
	if err != nil {
		tb.Fatal(err)
	}
	loc, _ := billing.LoadLocation(set.TimeZone)
	now := e.clock.Now()
	d := set.EffectiveDateOf(now, billing.MonthOf(now, loc))
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

func monthEnd(d time.Time) time.Time { return d.AddDate(0, 1, -d.Day()) }

// MustTechnicianEdit posts change units effective at on an org's line, as
// a technician does in Autotask, at the line's cost and price.
func (e *env) MustTechnicianEdit(tb testing.TB, tf *tenantFixture, o *orgFixture, at time.Time, change int64) {
	tb.Helper()
	rows := e.sb.Autotask.UnitRows(tf.login, o.lineID, at, at)
	if len(rows) != 1 {
		tb.Fatalf("%s has %d unit rows on %s, want 1", o.id, len(rows), at.Format(time.DateOnly))
	}
	err := e.sb.Autotask.PostAdjustment(tf.login, sandbox.AutotaskAdjustment{ContractID: o.contractID, ContractServiceID: o.lineID,
		ServiceID: 900, EffectiveDate: at, UnitChange: change, AdjustedUnitPrice: &rows[0].Price, AdjustedUnitCost: &rows[0].Cost})
	if err != nil {
		tb.Fatal(err)
	}
}

// MustRun starts a manual run of the tenant, drains the queue and returns
// the run as stored then.
func (e *env) MustRun(tb testing.TB, tf *tenantFixture) billing.Run {
	tb.Helper()
	id, err := e.StartRun(context.Background(), tf.name, false)
	if err != nil {
		tb.Fatal(err)
	}
	e.MustDrain(1, nil, nil)
	r, err := e.store.Run(context.Background(), tf.name, id)
	if err != nil {
		tb.Fatal(err)
	}
	MustCountsAddUp(tb, r)
	return r
}

func mustNoneFailed(tb testing.TB, r billing.Run) {
	tb.Helper()
	if r.Counts.Failed != 0 {
		tb.Fatalf("run %s: %d orgs failed", r.ID, r.Counts.Failed)
	}
}

// MustRowsAtTarget fails for each row of an org's line, from day from to
// the month's end, that does not hold the org's target at the tenant's
// cost.
func (e *env) MustRowsAtTarget(tb testing.TB, tf *tenantFixture, from time.Time) {
	tb.Helper()
	for _, o := range tf.orgs {
		for _, r := range e.sb.Autotask.UnitRows(tf.login, o.lineID, from, monthEnd(from)) {
			if r.Units != o.target() || r.Cost != unitCost {
				tb.Errorf("%s: the row from %s holds %d at %v, want %d at %v", o.id, r.Start.Format(time.DateOnly), r.Units, r.Cost, o.target(), unitCost)
			}
		}
	}
}

// rowsBefore returns what each org's line bills in its month before day d:
// the rows that start before d, cut at d.
func (e *env) rowsBefore(tf *tenantFixture, d time.Time) map[string][]sandbox.AutotaskUnitRow {
	out := map[string][]sandbox.AutotaskUnitRow{}
	first := d.AddDate(0, 0, 1-d.Day())
	for _, o := range tf.orgs {
		for _, r := range e.sb.Autotask.UnitRows(tf.login, o.lineID, first, d) {
			if r.Start.Before(d) {
				if !r.End.Before(d) {
					r.End = d.AddDate(0, 0, -1)
				}
				out[o.id] = append(out[o.id], r)
			}
		}
	}
	return out
}
