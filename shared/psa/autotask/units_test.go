package autotask

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// TestSplitPeriods brings lines whose June has several ContractServiceUnits
// rows to a target: Autotask starts a row at every adjustment's effective
// date, whoever posts it (PSA-API-NOTES §1.6). Each case edits the line
// before, on or after psabridge's effective date (the first of the month
// for the period-start setting, the 15th for "today"), then SetLine brings
// it to 25 at 19; the sandbox's rows say what the month bills.
func TestSplitPeriods(t *testing.T) {
	ctx := context.Background()
	jun := func(d int) time.Time { return time.Date(2025, 6, d, 0, 0, 0, 0, time.UTC) }
	periodStart, today := jun(1), jun(15)
	type edit struct {
		at     time.Time
		change int64
		cost   float64
		price  float64
	}
	tech := func(at time.Time, change int64) edit { return edit{at: at, change: change, cost: 18.5, price: 22} }
	for _, tc := range []struct {
		name  string
		eff   time.Time
		edits []edit
		// wantPosts is the adjustments SetLine posts: effective day → unitChange.
		wantPosts [][2]int64
		// wantKept are the rows before eff, untouched: start day → units.
		wantKept [][2]int64
	}{
		{name: "PeriodStart/EditAfter", eff: periodStart, edits: []edit{tech(jun(2), 3)},
			wantPosts: [][2]int64{{1, 4}, {2, -3}}},
		{name: "PeriodStart/EditOn", eff: periodStart, edits: []edit{tech(jun(1), 3)},
			wantPosts: [][2]int64{{1, 1}}},
		{name: "PeriodStart/EditBefore", eff: periodStart, edits: []edit{tech(time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC), 3)},
			wantPosts: [][2]int64{{1, 1}}},
		{name: "PeriodStart/TwoEditsAfter", eff: periodStart, edits: []edit{tech(jun(2), 3), tech(jun(20), -5)},
			wantPosts: [][2]int64{{1, 4}, {2, -3}, {20, 5}}},
		{name: "PeriodStart/DayAfterProratedWrite", eff: periodStart, edits: []edit{{at: jun(14), change: 2, cost: 19, price: 22}},
			wantPosts: [][2]int64{{1, 4}, {14, -2}}},
		{name: "Today/EditBefore", eff: today, edits: []edit{tech(jun(10), 3)},
			wantPosts: [][2]int64{{15, 1}}, wantKept: [][2]int64{{1, 21}, {10, 24}}},
		{name: "Today/EditOn", eff: today, edits: []edit{tech(jun(15), 3)},
			wantPosts: [][2]int64{{15, 1}}, wantKept: [][2]int64{{1, 21}}},
		{name: "Today/EditAfter", eff: today, edits: []edit{tech(jun(20), 3)},
			wantPosts: [][2]int64{{15, 4}, {20, -3}}, wantKept: [][2]int64{{1, 21}}},
		{name: "Today/DayAfterProratedWrite", eff: today, edits: []edit{{at: jun(14), change: 2, cost: 19, price: 22}},
			wantPosts: [][2]int64{{15, 2}}, wantKept: [][2]int64{{1, 21}, {14, 23}}},
		{name: "LaterRowKeepsItsPrice", eff: periodStart, edits: []edit{{at: jun(20), change: 0, cost: 18.5, price: 30}},
			wantPosts: [][2]int64{{1, 4}, {20, 0}}},
		{name: "EveryRowAtTarget", eff: periodStart, edits: []edit{{at: jun(1), change: 4, cost: 19, price: 22}, {at: jun(9), change: 0, cost: 19, price: 22}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed, refs := lineSeed(baseSeed(), 1, 1)
			seed.ContractServices[0].Units = 21
			f := MustFixture(t, seed, 5*time.Second)
			ref := refs[0]
			for _, e := range tc.edits {
				MustNoErr(t, "technician's adjustment", f.client.call(ctx, http.MethodPost, "V1.0/ContractServiceAdjustments",
					adjustment{ContractID: ref.ContractID, ContractServiceID: ref.LineID, ServiceID: 900, EffectiveDate: e.at.Format(time.RFC3339),
						UnitChange: e.change, AdjustedUnitCost: e.cost, AdjustedUnitPrice: e.price}, false, nil))
			}
			before := f.sb.Autotask.UnitRows(testUser, ref.LineID, jun(1), jun(30))
			n := len(f.sb.Autotask.Adjustments(testUser))
			states, err := f.client.ReadLines(ctx, refs, tc.eff)
			MustNoErr(t, "ReadLines", err)
			st := states[ref]
			if got := len(st.Rows()); got != countFrom(before, tc.eff) {
				t.Fatalf("read %d rows from %s, want %d (the sandbox holds %+v)", got, tc.eff.Format(time.DateOnly), countFrom(before, tc.eff), before)
			}
			if _, off := st.FirstOff(25, 19); off != (len(tc.wantPosts) > 0) {
				t.Fatalf("FirstOff(25, 19) of %+v: got off %v, want %v", st, off, len(tc.wantPosts) > 0)
			}
			MustNoErr(t, "SetLine", f.client.SetLine(ctx, psa.LineUpdate{Ref: ref, Current: st, Quantity: 25, UnitCost: 19, EffectiveDate: tc.eff}))

			var posts [][2]int64
			for _, a := range f.sb.Autotask.Adjustments(testUser)[n:] {
				posts = append(posts, [2]int64{int64(a.EffectiveDate.Day()), a.UnitChange})
				if *a.AdjustedUnitCost != 19 {
					t.Errorf("adjustment %+v: got cost %v, want 19", a, *a.AdjustedUnitCost)
				}
			}
			if !slices.Equal(posts, tc.wantPosts) {
				t.Errorf("got adjustments (day, unitChange) %v, want %v", posts, tc.wantPosts)
			}
			var kept [][2]int64
			after := f.sb.Autotask.UnitRows(testUser, ref.LineID, jun(1), jun(30))
			for _, r := range after {
				if r.Start.Before(tc.eff) {
					kept = append(kept, [2]int64{int64(r.Start.Day()), r.Units})
					continue
				}
				if r.Units != 25 || r.Cost != 19 {
					t.Errorf("row from %s: got %d at %v, want 25 at 19 (rows %+v)", r.Start.Format(time.DateOnly), r.Units, r.Cost, after)
				}
				if want := priceOn(before, r.Start); r.Price != want {
					t.Errorf("row from %s: got price %v, want its own %v", r.Start.Format(time.DateOnly), r.Price, want)
				}
			}
			if !slices.Equal(kept, tc.wantKept) {
				t.Errorf("rows before the effective date (day, units): got %v, want %v untouched", kept, tc.wantKept)
			}
			again, err := f.client.ReadLines(ctx, refs, tc.eff)
			MustNoErr(t, "ReadLines", err)
			if r, off := again[ref].FirstOff(25, 19); off {
				t.Errorf("read back: a row from %s holds %d at %v, want every row at 25 at 19", r.Start.Format(time.DateOnly), r.Quantity, r.UnitCost)
			}
		})
	}
}

// countFrom counts the rows that hold on or after day d.
func countFrom(rows []sandbox.AutotaskUnitRow, d time.Time) int {
	n := 0
	for _, r := range rows {
		if !r.End.Before(d) {
			n++
		}
	}
	return n
}

// priceOn is the price rows bill on day d.
func priceOn(rows []sandbox.AutotaskUnitRow, d time.Time) float64 {
	for _, r := range rows {
		if !d.Before(r.Start) && !d.After(r.End) {
			return r.Price
		}
	}
	return 0
}
