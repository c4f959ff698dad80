package devstack

import (
	"context"
	"time"
)

// ScheduleZone and ScheduleHour are the daily sync's schedule, as the
// deployed EventBridge Scheduler rule has it (cron 0 12 * * ? *,
// America/New_York).
const (
	ScheduleZone = "America/New_York"
	ScheduleHour = 12
)

// NextDaily returns the first instant after now that is hour:00 on the wall
// clock of loc. Across a DST change the wall time is kept (12:00 stays
// 12:00, its UTC instant moves).
func NextDaily(now time.Time, loc *time.Location, hour int) time.Time {
	l := now.In(loc)
	next := time.Date(l.Year(), l.Month(), l.Day(), hour, 0, 0, 0, loc)
	if !next.After(now) {
		next = time.Date(l.Year(), l.Month(), l.Day()+1, hour, 0, 0, 0, loc)
	}
	return next
}

// Daily calls fire at every hour:00 in loc until ctx ends, the way the
// deployed schedule invokes the fan-out. It re-reads the clock after each
// wait, so a suspended laptop fires once on wake-up, not once per missed day.
// after waits for a duration (time.After outside tests).
func Daily(ctx context.Context, loc *time.Location, hour int, now func() time.Time,
	after func(time.Duration) <-chan time.Time, fire func(ctx context.Context, at time.Time)) {
	for {
		next := NextDaily(now(), loc, hour)
		select {
		case <-ctx.Done():
			return
		case <-after(next.Sub(now())):
		}
		// Timers can wake early by a hair on some systems; never fire twice
		// for one day.
		if ctx.Err() != nil {
			return
		}
		if now().Before(next) {
			continue
		}
		fire(ctx, next)
	}
}
