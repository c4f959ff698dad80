// Package deadline keeps every request and retry loop inside its Lambda
// function's timeout. Lambda kills a function at its timeout, mid-call,
// with no chance to answer or clean up; so each handler works under a
// context that ends Margin before the function would be killed, and every
// retry loop stops waiting once the next try could not finish in time.
package deadline

import (
	"context"
	"time"
)

// Margin is the time a handler keeps for itself after its work's context
// ends: to write a 503, report batch item failures, or log. A second
// is ample for that and small beside the functions' timeouts (10 s and up).
const Margin = time.Second

// Reserve returns a context for a handler's work that ends margin before
// ctx's deadline. When ctx has no deadline (a local net/http server, a
// test), the work gets fallback from now: the function's timeout, so a
// local request is bounded the way the deployed one is. The work context
// is never given more than half of the time left, so a handler started
// late still has time to answer. Callers must call cancel.
func Reserve(ctx context.Context, margin, fallback time.Duration) (context.Context, context.CancelFunc) {
	end, ok := ctx.Deadline()
	if !ok {
		if fallback <= 0 {
			return context.WithCancel(ctx)
		}
		end = time.Now().Add(fallback)
	}
	left := time.Until(end)
	return context.WithDeadline(ctx, end.Add(-min(margin, left/2)))
}

// Sleep waits d and returns nil, or returns at once with
// context.DeadlineExceeded when ctx's deadline comes before d has passed
// (waiting would only end in a try that has no time left), or with
// ctx.Err() when ctx ends while waiting. Retry loops wait through it.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if end, ok := ctx.Deadline(); ok && time.Until(end) <= d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
