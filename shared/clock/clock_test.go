package clock

import (
	"testing"
	"time"
)

func TestMustOffset(t *testing.T) {
	at := time.Now().Add(400 * 24 * time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		v       string
		allowed bool
		want    time.Duration // approximately
	}{
		{"Unset", "", true, 0},
		{"IgnoredOutsideTests", at.Format(time.RFC3339), false, 0},
		{"Pinned", at.Format(time.RFC3339), true, time.Until(at)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustOffset(tc.v, tc.allowed)
			if d := got - tc.want; d < -time.Minute || d > time.Minute {
				t.Fatalf("got offset %v, want about %v", got, tc.want)
			}
		})
	}
	t.Run("ErrMalformed", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("got no panic for a malformed instant, want one")
			}
		}()
		mustOffset("2027-02-30 noon", true)
	})
}

// TestNowFollowsTheEnvironment checks this process's own clock: pinned by
// make test's date runs, the system clock otherwise.
func TestNowFollowsTheEnvironment(t *testing.T) {
	at, pinned := Pinned()
	now := Now()
	if !pinned {
		if d := now.Sub(time.Now()); d < -time.Second || d > time.Second {
			t.Fatalf("unpinned clock is %v off the system clock", d)
		}
		return
	}
	if now.Before(at) || now.Sub(at) > time.Hour {
		t.Fatalf("got %v, want shortly after the pinned %v", now, at)
	}
}
