package billing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// MustSchedule parses a schedule or fails the test.
func MustSchedule(tb testing.TB, runAt, tz string) billing.Schedule {
	tb.Helper()
	s, err := billing.ParseSchedule(runAt, tz)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestParseSchedule(t *testing.T) {
	s := MustSchedule(t, "", "")
	if s.Hour != 12 || s.Minute != 0 || s.Loc.String() != "America/New_York" {
		t.Fatalf("got %d:%02d %s, want the default 12:00 America/New_York", s.Hour, s.Minute, s.Loc)
	}
	for _, tc := range []struct{ name, runAt, tz string }{
		{"ErrHour", "24:00", "UTC"}, {"ErrShort", "9:00", "UTC"}, {"ErrText", "noon", "UTC"}, {"ErrZone", "12:00", "Mars/Olympus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := billing.ParseSchedule(tc.runAt, tc.tz); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
	t.Run("FromSettings", func(t *testing.T) {
		st := billing.DefaultSettings()
		st.RunAt, st.TimeZone = "06:45", "Europe/Berlin"
		s, err := billing.ScheduleOf(st)
		if err != nil || s.Hour != 6 || s.Minute != 45 || s.Loc.String() != "Europe/Berlin" {
			t.Fatalf("got %+v, %v, want 06:45 Europe/Berlin", s, err)
		}
	})
}

func TestRunTime(t *testing.T) {
	for _, tc := range []struct {
		name, runAt, tz, day, want string
	}{
		{"NewYorkWinter", "12:00", "America/New_York", "2026-01-15", "2026-01-15T17:00:00Z"},
		{"NewYorkSummer", "12:00", "America/New_York", "2026-07-15", "2026-07-15T16:00:00Z"},
		{"SpringForwardGapRunsAtGapEnd", "02:30", "America/New_York", "2026-03-08", "2026-03-08T07:00:00Z"},
		{"SpringForwardDayBefore", "02:30", "America/New_York", "2026-03-07", "2026-03-07T07:30:00Z"},
		{"SpringForwardDayAfter", "02:30", "America/New_York", "2026-03-09", "2026-03-09T06:30:00Z"},
		{"FallBackTwiceRunsFirst", "01:30", "America/New_York", "2026-11-01", "2026-11-01T05:30:00Z"},
		{"FallBackNoonUnaffected", "12:00", "America/New_York", "2026-11-01", "2026-11-01T17:00:00Z"},
		{"BerlinGap", "02:15", "Europe/Berlin", "2026-03-29", "2026-03-29T01:00:00Z"},
		{"BerlinTwice", "02:15", "Europe/Berlin", "2026-10-25", "2026-10-25T00:15:00Z"},
		{"KolkataHalfHourOffset", "12:00", "Asia/Kolkata", "2026-05-01", "2026-05-01T06:30:00Z"},
		{"LordHoweHalfHourShiftGap", "02:15", "Australia/Lord_Howe", "2026-10-04", "2026-10-03T15:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustSchedule(t, tc.runAt, tc.tz)
			d, err := time.Parse(time.DateOnly, tc.day)
			if err != nil {
				t.Fatal(err)
			}
			got := s.RunTime(d.Year(), d.Month(), d.Day())
			if want := mustTime(t, tc.want); !got.Equal(want) {
				t.Fatalf("got %s, want %s", got.UTC().Format(time.RFC3339), tc.want)
			}
		})
	}
}

func TestDue(t *testing.T) {
	for _, tc := range []struct {
		name, runAt, tz, tick string
		want                  billing.RunDay // "" when not due
	}{
		{"DefaultNoonWinter", "12:00", "", "2026-01-15T17:00:00Z", "2026-01-15"},
		{"HourBeforeNotDue", "12:00", "", "2026-01-15T16:00:00Z", ""},
		{"HourAfterNotDue", "12:00", "", "2026-01-15T18:00:00Z", ""},
		{"DefaultNoonSummer", "12:00", "", "2026-07-15T16:00:00Z", "2026-07-15"},
		{"LateDeliveryStillDue", "12:00", "", "2026-07-15T16:00:40Z", "2026-07-15"},
		{"HalfHourRunAtNextTick", "09:30", "America/New_York", "2026-01-15T15:00:00Z", "2026-01-15"},
		{"SpringForwardGap", "02:30", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08"},
		{"SpringForwardTickBeforeGap", "02:30", "America/New_York", "2026-03-08T06:00:00Z", ""},
		{"FallBackFirstOccurrence", "01:30", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-01"},
		{"FallBackSecondOccurrenceNotAgain", "01:30", "America/New_York", "2026-11-01T07:00:00Z", ""},
		{"LateEveningKeysLocalDay", "23:30", "America/New_York", "2026-01-16T05:00:00Z", "2026-01-15"},
		{"KolkataAtHalfPast", "12:00", "Asia/Kolkata", "2026-05-01T07:00:00Z", "2026-05-01"},
		{"AucklandAheadOfUTC", "08:00", "Pacific/Auckland", "2026-01-14T19:00:00Z", "2026-01-15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			day, ok := MustSchedule(t, tc.runAt, tc.tz).Due(mustTime(t, tc.tick), time.Hour)
			if ok != (tc.want != "") || day != tc.want {
				t.Fatalf("got %q (%v), want %q", day, ok, tc.want)
			}
		})
	}
}

// TestDueOncePerLocalDay drives a year of hourly ticks, across both DST
// changes of each zone: every local day is due exactly once, in order.
func TestDueOncePerLocalDay(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ runAt, tz string }{
		{"12:00", "America/New_York"}, {"02:30", "America/New_York"}, {"01:30", "America/New_York"}, {"00:00", "America/New_York"},
		{"23:45", "America/New_York"}, {"02:15", "Europe/Berlin"}, {"02:00", "Australia/Lord_Howe"}, {"12:00", "Asia/Kolkata"},
		{"00:30", "America/Santiago"}, {"12:00", "UTC"},
	} {
		t.Run(tc.runAt+" "+tc.tz, func(t *testing.T) {
			s := MustSchedule(t, tc.runAt, tc.tz)
			seen := map[billing.RunDay]int{}
			var last billing.RunDay
			for tick := start; tick.Before(start.AddDate(1, 0, 0)); tick = tick.Add(time.Hour) {
				day, ok := s.Due(tick, time.Hour)
				if !ok {
					continue
				}
				seen[day]++
				if seen[day] > 1 {
					t.Fatalf("day %s due twice (again at %s)", day, tick.Format(time.RFC3339))
				}
				if last != "" && day <= last {
					t.Fatalf("day %s due after %s", day, last)
				}
				last = day
			}
			// Every local day strictly inside the year of ticks.
			for d := start.AddDate(0, 0, 2); d.Before(start.AddDate(1, 0, -2)); d = d.AddDate(0, 0, 1) {
				if day := billing.RunDay(d.Format(time.DateOnly)); seen[day] != 1 {
					t.Fatalf("day %s due %d times, want once", day, seen[day])
				}
			}
		})
	}
}

func TestDueCatchUpWindow(t *testing.T) {
	s := MustSchedule(t, "12:00", "America/New_York")
	// The 17:00Z tick was missed; with a 3-hour window the 18:00Z and 19:00Z
	// ticks are due for the same day (the day key keeps it to one run).
	for _, tick := range []string{"2026-01-15T18:00:00Z", "2026-01-15T19:00:00Z"} {
		if day, ok := s.Due(mustTime(t, tick), 3*time.Hour); !ok || day != "2026-01-15" {
			t.Fatalf("tick %s: got %q (%v), want 2026-01-15", tick, day, ok)
		}
	}
	if _, ok := s.Due(mustTime(t, "2026-01-15T20:00:00Z"), 3*time.Hour); ok {
		t.Fatalf("tick 20:00Z: due, want the window closed")
	}
}

// TestTick keeps the two statements of the sync tick in step: the
// EventBridge expression infra deploys fires exactly every TickEvery.
func TestTick(t *testing.T) {
	expr, ok := strings.CutPrefix(billing.TickSchedule, "cron(")
	expr, ok2 := strings.CutSuffix(expr, ")")
	f := strings.Fields(expr)
	if !ok || !ok2 || len(f) != 6 {
		t.Fatalf("got %q, want a six-field EventBridge cron expression", billing.TickSchedule)
	}
	// minutes hours day-of-month month day-of-week year
	every := map[string]time.Duration{"0 * * * ? *": time.Hour, "0 0 * * ? *": 24 * time.Hour}[strings.Join(f, " ")]
	if every == 0 || every != billing.TickEvery {
		t.Fatalf("%s fires every %s, want TickEvery %s", billing.TickSchedule, every, billing.TickEvery)
	}
	if _, err := time.LoadLocation(billing.TickTimeZone); err != nil {
		t.Fatalf("TickTimeZone %q: %v", billing.TickTimeZone, err)
	}
}
