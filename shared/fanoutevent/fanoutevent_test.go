package fanoutevent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/fanoutevent"
)

const scheduleArn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/psabridge-SyncTick-1A2B3C"

// delivered is ScheduleInput as EventBridge Scheduler delivers it.
func delivered(scheduled time.Time, attempt int) string {
	return fanoutevent.Deliver(fanoutevent.ScheduleInput, scheduleArn, scheduled, "d32c5kddcf5bb8c3", attempt)
}

func TestDecode(t *testing.T) {
	tick := delivered(time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC), 3)
	t.Run("Tick", func(t *testing.T) {
		ev, err := fanoutevent.Decode([]byte(tick))
		if err != nil || ev.Tick == nil || ev.RunNow != nil {
			t.Fatalf("got %+v, %v; want a tick", ev, err)
		}
		want := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
		if !ev.Tick.ScheduledTime.Equal(want) || ev.Tick.Attempt != 3 || ev.Tick.ExecutionID != "d32c5kddcf5bb8c3" {
			t.Errorf("got %+v, want scheduled %s attempt 3", ev.Tick, want)
		}
	})
	t.Run("RunNow", func(t *testing.T) {
		ev, err := fanoutevent.Decode([]byte(`{"tenant":"t1","dryRun":true,"runId":"r1"}`))
		if err != nil || ev.RunNow == nil || *ev.RunNow != (fanoutevent.RunNow{Tenant: "t1", DryRun: true, RunID: "r1"}) || ev.Tick != nil {
			t.Fatalf("got %+v, %v; want the run-now request", ev, err)
		}
	})
	// Every one of these must start nothing: Invalid.
	for _, tc := range []struct{ name, raw string }{
		{"ErrDryRunString", `{"tenant":"x","dryRun":"true","runId":"r1"}`},
		{"ErrDryRunStringNoRun", `{"tenant":"x","dryRun":"true"}`},
		{"ErrEmptyObject", `{}`},
		{"ErrNull", `null`},
		{"ErrTenantNumber", `{"tenant":123,"dryRun":true}`},
		{"ErrTenantEmpty", `{"tenant":"","dryRun":true,"runId":"r1"}`},
		{"ErrNoRunID", `{"tenant":"x","dryRun":true}`},
		{"ErrNoDryRun", `{"tenant":"x","runId":"r1"}`},
		{"ErrUnknownField", `{"tenant":"x","dryRun":false,"runId":"r1","all":true}`},
		{"ErrDuplicateTenant", `{"tenant":"x","tenant":"y","dryRun":false,"runId":"r1"}`},
		{"ErrTrailingData", `{"tenant":"x","dryRun":false,"runId":"r1"}}`},
		{"ErrArray", `[]`},
		{"ErrString", `"tick"`},
		{"ErrEmpty", ``},
		{"ErrEventBridgeRuleShape", `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-16T17:00:00Z","detail":{}}`},
		{"ErrSchedulerDefaultPayload", `{"time":"2026-11-16T17:00:00Z"}`},
		{"ErrKeywordNotFilled", fanoutevent.ScheduleInput},
		{"ErrTickTimeMalformed", strings.Replace(tick, "2026-11-16T17:00:00Z", "2026-11-16 17:00", 1)},
		{"ErrTickAttemptZero", strings.Replace(tick, `"attempt":"3"`, `"attempt":"0"`, 1)},
		{"ErrTickAttemptNumber", strings.Replace(tick, `"attempt":"3"`, `"attempt":3`, 1)},
		{"ErrTickTimeNumber", `{"scheduledTime":1795280400,"scheduleArn":"arn:aws:scheduler:us-east-1:1:schedule/default/s","executionId":"e","attempt":"1"}`},
		{"ErrTickMissingField", `{"scheduledTime":"2026-11-16T17:00:00Z"}`},
		{"ErrTickAndTenant", strings.Replace(tick, `{`, `{"tenant":"x",`, 1)},
		{"ErrTickNotAScheduleArn", strings.Replace(tick, "arn:aws:scheduler:us-east-1:123456789012:schedule/default/", "arn:aws:lambda:us-east-1:1:function:", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := fanoutevent.Decode([]byte(tc.raw))
			if apperr.CodeOf(err) != apperr.Invalid || ev.Tick != nil || ev.RunNow != nil {
				t.Errorf("got %+v, %v; want Invalid and no event", ev, err)
			}
		})
	}
}
