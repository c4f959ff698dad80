package devstack

import (
	"context"
	"time"
)

// NextTick returns the first instant after now that is a multiple of every
// since the Unix epoch (for an hour: the next hh:00 UTC, which is hh:00 in
// every zone whose offset is whole hours).
func NextTick(now time.Time, every time.Duration) time.Time {
	next := now.Truncate(every)
	if !next.After(now) {
		next = next.Add(every)
	}
	return next
}

// Ticker calls fire at every tick until ctx ends, with the tick's
// scheduled time, the way the deployed schedule invokes the fan-out. It
// re-reads the clock after each wait, so a suspended laptop fires once on
// wake-up (with the latest tick), not once per missed hour. after waits
// for a duration (time.After outside tests).
func Ticker(ctx context.Context, every time.Duration, now func() time.Time,
	after func(time.Duration) <-chan time.Time, fire func(ctx context.Context, at time.Time)) {
	for {
		next := NextTick(now(), every)
		select {
		case <-ctx.Done():
			return
		case <-after(next.Sub(now())):
		}
		if ctx.Err() != nil {
			return
		}
		// Timers can wake early by a hair on some systems; never fire
		// before the tick.
		if now().Before(next) {
			continue
		}
		fire(ctx, now().Truncate(every))
	}
}
