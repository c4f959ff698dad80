package billing

import (
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// The sync tick: the one schedule that starts billing sync runs. Each tick
// starts the daily runs of the tenants whose local run time came since the
// tick before (see Schedule.Due). TickEvery and TickSchedule say the same
// thing twice, for Go code (the fan-out's window, make run's ticker) and
// for EventBridge Scheduler (infra); TestTick keeps them in step.
const (
	// TickEvery is the interval between ticks.
	TickEvery = time.Hour
	// TickSchedule is the EventBridge Scheduler expression of the ticks
	// (every hour on the hour), evaluated in TickTimeZone.
	TickSchedule = "cron(0 * * * ? *)"
	// TickTimeZone is the zone TickSchedule is evaluated in; with a whole
	// hour tick it changes nothing but how the console shows it.
	TickTimeZone = "America/New_York"
)

// Schedule is a tenant's daily run time: a local time of day in a zone.
// The hourly tick starts the runs of the tenants whose local run time has
// come since its previous tick (see Due).
type Schedule struct {
	Hour, Minute int
	Loc          *time.Location
}

// ParseSchedule reads runAt ("HH:MM", 24-hour; "" is DefaultRunAt) and an
// IANA zone ("" is DefaultTimeZone). Invalid otherwise.
func ParseSchedule(runAt, tz string) (Schedule, error) {
	if runAt == "" {
		runAt = DefaultRunAt
	}
	t, err := time.Parse("15:04", runAt)
	if err != nil || len(runAt) != 5 {
		return Schedule{}, apperr.New(apperr.Invalid, "runAt must be HH:MM (24-hour)")
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{Hour: t.Hour(), Minute: t.Minute(), Loc: loc}, nil
}

// ScheduleOf returns the schedule of billing settings (RunAt, TimeZone).
func ScheduleOf(s Settings) (Schedule, error) { return ParseSchedule(s.RunAt, s.TimeZone) }

// RunDay is a local calendar day, "2026-03-08": the key of a tenant's
// daily run. Storing runs under it (a conditional put of tenant + day)
// makes a tenant run at most once per local day, whatever the ticks do and
// even when the admin moves the run time within the day.
type RunDay string

// RunTime returns the instant of the run of local day y-m-d. When the run
// time does not exist that day (the hour skipped when clocks go forward),
// the run is at the end of the gap (02:30 → 03:00); when it occurs twice
// (clocks go back), at its first occurrence.
func (s Schedule) RunTime(y int, m time.Month, d int) time.Time {
	// The wall clock read as UTC, shifted by each offset in force around
	// that day: the valid readings are those that show the wall clock.
	wall := time.Date(y, m, d, s.Hour, s.Minute, 0, 0, time.UTC)
	var best time.Time
	var before int
	for i, probe := range []time.Time{wall.Add(-24 * time.Hour), wall, wall.Add(24 * time.Hour)} {
		_, off := probe.In(s.Loc).Zone()
		if i == 0 {
			before = off
		}
		cand := wall.Add(-time.Duration(off) * time.Second)
		l := cand.In(s.Loc)
		if l.Year() == y && l.Month() == m && l.Day() == d && l.Hour() == s.Hour && l.Minute() == s.Minute &&
			(best.IsZero() || cand.Before(best)) {
			best = cand
		}
	}
	if !best.IsZero() {
		return best
	}
	// A gap: read with the offset before it, the wall clock lands past the
	// transition; the zone period it falls in starts at the transition.
	start, _ := wall.Add(-time.Duration(before) * time.Second).In(s.Loc).ZoneBounds()
	return start
}

// Due reports whether the fan-out tick at tick starts the tenant's run,
// and for which local day: the run time of a local day fell in
// (tick − every, tick]. With ticks every `every` apart (the scheduler's
// times, not the delivery times) each run time falls in exactly one
// window, so each local day is due exactly once, across DST changes too.
// A larger every than the tick interval catches up after a missed tick;
// the RunDay key then keeps the extra ticks from starting a second run.
func (s Schedule) Due(tick time.Time, every time.Duration) (RunDay, bool) {
	ly, lm, ld := tick.In(s.Loc).Date()
	// For a window of up to a day the run can only be of the tick's local
	// day or one of the two before it (calendar arithmetic in UTC, so no
	// local gap moves the date).
	for back := 2; back >= 0; back-- {
		y, m, d := time.Date(ly, lm, ld-back, 12, 0, 0, 0, time.UTC).Date()
		rt := s.RunTime(y, m, d)
		if rt.After(tick.Add(-every)) && !rt.After(tick) {
			return RunDay(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)), true
		}
	}
	return "", false
}
