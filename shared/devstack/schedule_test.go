package devstack

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
)

func TestNextTick(t *testing.T) {
	for name, tc := range map[string]struct{ now, want string }{
		"MidHour":       {"2026-11-22T09:15:00-05:00", "2026-11-22T15:00:00Z"},
		"OnTheHour":     {"2026-11-22T12:00:00-05:00", "2026-11-22T18:00:00Z"},
		"JustAfter":     {"2026-11-22T12:00:01-05:00", "2026-11-22T18:00:00Z"},
		"SpringForward": {"2026-03-08T01:59:00-05:00", "2026-03-08T07:00:00Z"},
		"FallBack":      {"2026-11-01T01:30:00-04:00", "2026-11-01T06:00:00Z"},
		"NewYear":       {"2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			now, _ := time.Parse(time.RFC3339, tc.now)
			want, _ := time.Parse(time.RFC3339, tc.want)
			if got := NextTick(now, billing.TickEvery); !got.Equal(want) {
				t.Errorf("got %s, want %s", got.UTC(), want)
			}
		})
	}
}

// TestTicker drives the ticker with a fake clock: it fires on each hour
// with the hour's time, after a long sleep once, and stops with its context.
func TestTicker(t *testing.T) {
	var mu sync.Mutex
	clock, _ := time.Parse(time.RFC3339, "2026-11-22T09:20:00Z")
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	waits := 0
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits++
		clock = clock.Add(d)
		if waits == 2 {
			clock = clock.Add(5*time.Hour + 10*time.Minute) // the laptop slept
		}
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- clock
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fired []string
	Ticker(ctx, billing.TickEvery, now, after, func(_ context.Context, at time.Time) {
		fired = append(fired, at.UTC().Format(time.RFC3339))
		if len(fired) == 3 {
			cancel()
		}
	})
	want := []string{"2026-11-22T10:00:00Z", "2026-11-22T16:00:00Z", "2026-11-22T17:00:00Z"}
	if len(fired) != len(want) {
		t.Fatalf("got %v, want %v", fired, want)
	}
	for i := range want {
		if fired[i] != want[i] {
			t.Errorf("firing %d: got %s, want %s", i, fired[i], want[i])
		}
	}
}
