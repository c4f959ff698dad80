package deadline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/deadline"
)

func TestReserve(t *testing.T) {
	end := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name     string
		parent   func() (context.Context, context.CancelFunc)
		margin   time.Duration
		fallback time.Duration
		// want is the work context's deadline relative to the parent's
		// (or, without one, to the call); zero: none.
		want     time.Duration
		relative bool
	}{
		{"MarginBeforeParentDeadline", func() (context.Context, context.CancelFunc) { return context.WithDeadline(context.Background(), end) },
			time.Second, time.Minute, -time.Second, false},
		{"NeverMoreThanHalfOfWhatIsLeft", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), end)
		}, 2 * time.Hour, time.Minute, -30 * time.Minute, false},
		{"FallbackWithoutDeadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			time.Second, time.Minute, time.Minute - time.Second, true},
		{"NoFallbackNoDeadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			time.Second, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancelParent := tc.parent()
			defer cancelParent()
			before := time.Now()
			ctx, cancel := deadline.Reserve(parent, tc.margin, tc.fallback)
			after := time.Now()
			defer cancel()
			got, ok := ctx.Deadline()
			if tc.want == 0 {
				if ok {
					t.Fatalf("got deadline %v, want none", got)
				}
				return
			}
			if !ok {
				t.Fatal("got no deadline")
			}
			if tc.margin > end.Sub(before) {
				// Half of what was left between the calls to time.Now.
				lo, hi := end.Add(-end.Sub(before)/2), end.Add(-end.Sub(after)/2)
				if got.Before(lo) || got.After(hi) {
					t.Fatalf("got %v, want between %v and %v", got, lo, hi)
				}
				return
			}
			if !tc.relative {
				if want := end.Add(tc.want); !got.Equal(want) {
					t.Fatalf("got %v, want %v", got, want)
				}
				return
			}
			if got.Before(before.Add(tc.want)) || got.After(after.Add(tc.want)) {
				t.Fatalf("got %v, want %v after the call", got, tc.want)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	soon, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"WaitFitsBeforeDeadline", soon, time.Millisecond, nil},
		{"WaitPastDeadlineReturnsAtOnce", soon, 2 * time.Hour, context.DeadlineExceeded},
		{"NoDeadline", context.Background(), time.Millisecond, nil},
		{"Canceled", done, time.Millisecond, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deadline.Sleep(tc.ctx, tc.d); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
