package psahttp

import (
	"context"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// TestRetrierHonoursDeadline: Do never waits for a try that the context's
// deadline would cut short; it returns the PSA's transient error, with its
// Retry-After, at once, so the caller can defer the work.
func TestRetrierHonoursDeadline(t *testing.T) {
	for _, tc := range []struct {
		name         string
		timeout      time.Duration // 0: no deadline
		retryAfter   time.Duration
		wantAttempts int
	}{
		{"RetryAfterPastDeadline", 10 * time.Second, 20 * time.Second, 1},
		{"RetryAfterWithinDeadline", time.Minute, time.Millisecond, 4},
		{"NoDeadline", 0, time.Millisecond, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			attempts := 0
			err := Retrier{}.Do(ctx, true, func(context.Context) Attempt {
				attempts++
				return Attempt{Err: &apperr.Error{Code: apperr.Transient, Message: "busy", RetryAfter: tc.retryAfter}}
			})
			if attempts != tc.wantAttempts {
				t.Errorf("attempts: got %d, want %d", attempts, tc.wantAttempts)
			}
			if !apperr.IsTransient(err) || apperr.RetryAfterOf(err) != tc.retryAfter {
				t.Errorf("got %v (Retry-After %s), want the transient error with Retry-After %s", err, apperr.RetryAfterOf(err), tc.retryAfter)
			}
		})
	}
}
