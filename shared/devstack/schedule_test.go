package devstack

import (
	"context"
	"sync"
	"testing"
	"time"
)

func mustNY(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(ScheduleZone)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func TestNextDaily(t *testing.T) {
	for name, tc := range map[string]struct{ now, want string }{
		"BeforeNoon":         {"2026-11-22T09:00:00-05:00", "2026-11-22T17:00:00Z"},
		"AtNoon":             {"2026-11-22T12:00:00-05:00", "2026-11-23T17:00:00Z"},
		"AfterNoon":          {"2026-11-22T12:00:01-05:00", "2026-11-23T17:00:00Z"},
		"UTCDayAhead":        {"2026-11-23T02:00:00Z", "2026-11-23T17:00:00Z"},
		"SpringForward":      {"2026-03-07T13:00:00-05:00", "2026-03-08T16:00:00Z"},
		"FallBack":           {"2026-10-31T13:00:00-04:00", "2026-11-01T17:00:00Z"},
		"NewYearsEveEvening": {"2026-12-31T20:00:00-05:00", "2027-01-01T17:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			now, _ := time.Parse(time.RFC3339, tc.now)
			want, _ := time.Parse(time.RFC3339, tc.want)
			if got := NextDaily(now, mustNY(t), ScheduleHour); !got.Equal(want) {
				t.Errorf("got %s, want %s", got.UTC(), want)
			}
		})
	}
}

// TestDaily drives the ticker with a fake clock: it fires at each noon in
// New York and stops when its context ends.
func TestDaily(t *testing.T) {
	var mu sync.Mutex
	clock, _ := time.Parse(time.RFC3339, "2026-11-22T09:00:00-05:00")
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		clock = clock.Add(d)
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- clock
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fired []time.Time
	Daily(ctx, mustNY(t), ScheduleHour, now, after, func(_ context.Context, at time.Time) {
		fired = append(fired, at)
		if len(fired) == 3 {
			cancel()
		}
	})
	want := []string{"2026-11-22T17:00:00Z", "2026-11-23T17:00:00Z", "2026-11-24T17:00:00Z"}
	if len(fired) != len(want) {
		t.Fatalf("got %d firings %v, want %d", len(fired), fired, len(want))
	}
	for i, w := range want {
		if got := fired[i].UTC().Format(time.RFC3339); got != w {
			t.Errorf("firing %d: got %s, want %s", i, got, w)
		}
	}
}
