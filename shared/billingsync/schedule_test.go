package billingsync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestScheduledAcrossDST ticks the fan-out every hour (twice at each tick:
// a re-delivered event) across a DST change in the tenant's zone: exactly
// one scheduled run per local day, at the tick after the local run time
// (a skipped 02:30 runs at 03:00; a doubled 01:30 runs at its first).
func TestScheduledAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		name, runAt, from string
		dstRun            string // the tick that starts the DST day's run
	}{
		{"SpringForward", "02:30", "2026-03-07T00:00:00Z", "2026-03-08T07:00:00Z"},
		{"FallBack", "01:30", "2026-10-31T00:00:00Z", "2026-11-01T06:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t)
			tn := e.MustTenant("dst-"+tc.runAt[:2], psa.ConnectWise, 2, 0, func(s *billing.Settings) { s.RunAt = tc.runAt })
			q := &memQueue{}
			f := *e.fanout
			f.Queue = q
			from, _ := time.Parse(time.RFC3339, tc.from)
			var started []time.Time
			for h := 0; h < 72; h++ {
				tick := from.Add(time.Duration(h) * time.Hour)
				e.clock.Set(tick.Add(90 * time.Second)) // delivered a little late
				for range 2 {
					runs, err := f.Scheduled(context.Background(), tick)
					if err != nil {
						t.Fatal(err)
					}
					if len(runs) > 0 && !slices.Contains(started, tick) {
						started = append(started, tick)
					}
				}
			}
			runs, err := e.store.Runs(context.Background(), tn.name, 50)
			if err != nil {
				t.Fatal(err)
			}
			days := map[string]int{}
			loc, _ := time.LoadLocation("America/New_York")
			for _, r := range runs {
				days[r.StartedAt.In(loc).Format(time.DateOnly)]++
			}
			if len(runs) != 3 || len(days) != 3 {
				t.Errorf("runs: got %d on days %v, want 3, one per local day", len(runs), days)
			}
			want, _ := time.Parse(time.RFC3339, tc.dstRun)
			if !slices.ContainsFunc(started, want.Equal) {
				t.Errorf("ticks that started runs: got %v, want one at %s", started, want)
			}
			// Each run queued its 2 orgs once: the re-delivered tick's sends
			// carry the same deduplication ids (run + org), which the FIFO
			// queue drops within its five-minute window.
			if got := len(q.msgs); got != 3*2 {
				t.Errorf("messages: got %d, want %d", got, 3*2)
			}
		})
	}
}
