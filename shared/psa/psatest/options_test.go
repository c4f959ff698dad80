package psatest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// TestSandboxOptionsConcurrentWaits: retries waiting side by side (as
// ReadLines' fan-out does) each record their wait; run with -race.
func TestSandboxOptionsConcurrentWaits(t *testing.T) {
	var slept []time.Duration
	opts := psatest.SandboxOptions(nil, time.Time{}, &slept)
	const goroutines, waits = 8, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range waits {
				if err := opts.Retry.Sleep(context.Background(), time.Second); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(slept) != goroutines*waits {
		t.Errorf("recorded %d waits, want %d", len(slept), goroutines*waits)
	}
}
