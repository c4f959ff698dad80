package billing_test

import (
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := billing.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestMonthOf(t *testing.T) {
	for _, tc := range []struct {
		name, at, tz string
		want         billing.Month
	}{
		{"NewYorkLastHalfHourOfNovember", "2026-11-30T23:30:00-05:00", "America/New_York", "2026-11"},
		{"SameInstantInUTC", "2026-11-30T23:30:00-05:00", "UTC", "2026-12"},
		{"DefaultZoneIsNewYork", "2026-12-01T03:00:00Z", "", "2026-11"},
		{"TokyoAheadOfUTC", "2026-11-30T16:00:00Z", "Asia/Tokyo", "2026-12"},
		{"DSTEndFallBackHour", "2026-11-01T05:30:00Z", "America/New_York", "2026-11"},
		{"DSTStartSpringForward", "2026-03-08T07:30:00Z", "America/New_York", "2026-03"},
		{"MidnightNewYorkAfterDSTEnd", "2026-11-01T04:00:00Z", "America/New_York", "2026-11"},
		{"OneSecondBeforeNovemberInNewYorkDST", "2026-11-01T03:59:59Z", "America/New_York", "2026-10"},
		{"NewYearAuckland", "2026-12-31T11:00:00Z", "Pacific/Auckland", "2027-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := billing.MonthOf(mustTime(t, tc.at), mustLoc(t, tc.tz)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLoadLocationInvalid(t *testing.T) {
	if _, err := billing.LoadLocation("Mars/Olympus"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("got %v, want invalid", err)
	}
}

func TestMonthStartAndPrev(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	if got, want := billing.Month("2026-11").Start(ny), mustTime(t, "2026-11-01T00:00:00-04:00"); !got.Equal(want) {
		t.Fatalf("start: got %s, want %s", got, want)
	}
	if got := billing.Month("2026-01").Prev(); got != "2025-12" {
		t.Fatalf("prev: got %s, want 2025-12", got)
	}
}

func TestHighWaterMark(t *testing.T) {
	obs := func(v int64, at string) billing.Observation {
		return billing.Observation{Org: "o1", Product: billing.Users, Value: v, ObservedAt: mustTime(t, at)}
	}
	for _, tc := range []struct {
		name      string
		seq       []billing.Observation
		want      int64
		wantLast  int64
		lastRaise bool
	}{
		{"FirstObservationSetsHWM", []billing.Observation{obs(5, "2026-11-02T10:00:00Z")}, 5, 5, true},
		{"LowerValueNeverLowers", []billing.Observation{obs(9, "2026-11-02T10:00:00Z"), obs(3, "2026-11-03T10:00:00Z")}, 9, 3, false},
		{"HigherRaises", []billing.Observation{obs(4, "2026-11-02T10:00:00Z"), obs(7, "2026-11-05T10:00:00Z")}, 7, 7, true},
		{"EqualDoesNotRaise", []billing.Observation{obs(4, "2026-11-02T10:00:00Z"), obs(4, "2026-11-05T10:00:00Z")}, 4, 4, false},
		{"ZeroFirstCounts", []billing.Observation{obs(0, "2026-11-02T10:00:00Z")}, 0, 0, true},
		{"OutOfOrderKeepsLatestAsLast", []billing.Observation{obs(4, "2026-11-05T10:00:00Z"), obs(8, "2026-11-02T10:00:00Z")}, 8, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h billing.HighWaterMark
			var raised bool
			for _, o := range tc.seq {
				raised = h.Raise(o)
			}
			if h.Value != tc.want || h.LastValue != tc.wantLast || raised != tc.lastRaise {
				t.Fatalf("got hwm %d last %d raised %v, want %d %d %v", h.Value, h.LastValue, raised, tc.want, tc.wantLast, tc.lastRaise)
			}
		})
	}
	t.Run("NewMonthStartsFromZero", func(t *testing.T) {
		ny := mustLoc(t, "America/New_York")
		months := map[billing.Month]*billing.HighWaterMark{}
		for _, o := range []billing.Observation{obs(50, "2026-11-20T10:00:00Z"), obs(12, "2026-12-01T06:00:00Z")} {
			m := billing.MonthOf(o.ObservedAt, ny)
			if months[m] == nil {
				months[m] = &billing.HighWaterMark{Month: m}
			}
			months[m].Raise(o)
		}
		if got := months["2026-12"].Value; got != 12 {
			t.Fatalf("got december hwm %d, want 12", got)
		}
		if got := months["2026-11"].Value; got != 50 {
			t.Fatalf("got november hwm %d, want 50", got)
		}
	})
}

func TestQuantity(t *testing.T) {
	for _, tc := range []struct {
		name               string
		hwm, nonBill, want int64
	}{
		{"NoNonBillable", 42, 0, 42},
		{"Subtracts", 42, 2, 40},
		{"FloorAtZero", 2, 5, 0},
		{"ZeroHWM", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := billing.Quantity(tc.hwm, tc.nonBill); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestObservationValidate(t *testing.T) {
	now := mustTime(t, "2026-11-21T12:00:00Z")
	ok := billing.Observation{Org: "org-1", Value: 3, ObservedAt: now}
	for _, tc := range []struct {
		name   string
		mutate func(*billing.Observation)
		valid  bool
	}{
		{"OK", func(*billing.Observation) {}, true},
		{"ErrOrgEmpty", func(o *billing.Observation) { o.Org = "" }, false},
		{"ErrOrgSlash", func(o *billing.Observation) { o.Org = "a/b" }, false},
		{"ErrProductUpper", func(o *billing.Observation) { o.Product = "Users" }, false},
		{"ErrNegative", func(o *billing.Observation) { o.Value = -1 }, false},
		{"ErrTooLarge", func(o *billing.Observation) { o.Value = billing.MaxValue + 1 }, false},
		{"ErrNoTime", func(o *billing.Observation) { o.ObservedAt = time.Time{} }, false},
		{"ErrFarFuture", func(o *billing.Observation) { o.ObservedAt = now.Add(48 * time.Hour) }, false},
		{"StorageProduct", func(o *billing.Observation) { o.Product = "storage_gb" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mutate(&o)
			err := o.Validate(now)
			if (err == nil) != tc.valid {
				t.Fatalf("got %v, want valid=%v", err, tc.valid)
			}
			if err != nil && !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got code %s, want invalid", apperr.CodeOf(err))
			}
			if tc.valid && o.Product == "" {
				t.Fatal("got empty product, want users default")
			}
		})
	}
}

func TestNonBillableFor(t *testing.T) {
	m := billing.Mapping{NonBillableUsers: 3}
	for _, tc := range []struct {
		name    string
		product billing.Product
		want    int64
	}{
		{"Users", billing.Users, 3},
		{"StorageNotReduced", "storage_gb", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.NonBillableFor(tc.product); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRunEstimatedFinish(t *testing.T) {
	start := time.Date(2026, 11, 30, 23, 50, 0, 0, time.UTC)
	now := start.Add(2 * time.Minute)
	for _, tc := range []struct {
		name   string
		run    billing.Run
		want   time.Time
		wantOK bool
	}{
		{"Quarter", billing.Run{Status: billing.Running, StartedAt: start, Counts: billing.Counts{Total: 40, Updated: 6, Failed: 2, Deferred: 2}}, start.Add(8 * time.Minute), true},
		{"Half", billing.Run{Status: billing.Running, StartedAt: start, Counts: billing.Counts{Total: 10, Unchanged: 4, Skipped: 1}}, start.Add(4 * time.Minute), true},
		{"AllDoneNotYetFinished", billing.Run{Status: billing.Running, StartedAt: start, Counts: billing.Counts{Total: 3, Updated: 3}}, now, true},
		{"NoneDone", billing.Run{Status: billing.Running, StartedAt: start, Counts: billing.Counts{Total: 10}}, time.Time{}, false},
		{"Finished", billing.Run{Status: billing.Succeeded, StartedAt: start, Counts: billing.Counts{Total: 2, Updated: 2}}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.run.EstimatedFinish(now)
			if !got.Equal(tc.want) || ok != tc.wantOK {
				t.Fatalf("got %s %v, want %s %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
