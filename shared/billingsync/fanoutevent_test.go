package billingsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/fanoutevent"
	"github.com/psabridge/psabridge/shared/psa"
)

// schedulerEvent is the fan-out's event exactly as EventBridge Scheduler
// sends it for the stack's schedule: the target's Input
// (fanoutevent.ScheduleInput) with the context keywords filled in.
func schedulerEvent(scheduled time.Time, attempt int) []byte {
	return []byte(fanoutevent.Deliver(fanoutevent.ScheduleInput,
		"arn:aws:scheduler:us-east-1:123456789012:schedule/default/psabridge-SyncTick-1A2B3C4D5E6F", scheduled, "d32c5kddcf5bb8c3", attempt))
}

// TestFanoutEventTable: every malformed payload, with a tenant due in the
// current hour, starts nothing: no run stored, nothing queued, an Invalid
// error (which Lambda counts and, after its retries, dead-letters).
func TestFanoutEventTable(t *testing.T) {
	e := MustEnv(t)
	e.clock.Add(-e.clock.Now().Sub(time.Date(2026, 11, 16, 17, 30, 0, 0, time.UTC))) // 12:30 in New York: the default run time's hour
	tn := e.MustTenant("x", psa.ConnectWise, 2, 0, nil)
	q := &memQueue{}
	f := *e.fanout
	f.Queue = q
	ctx := context.Background()
	for _, raw := range []string{
		`{"tenant":"x","dryRun":"true"}`,
		`{"tenant":"x","dryRun":"true","runId":"20261116T173000Z-aaaaaa"}`,
		`{}`,
		`null`,
		`{"tenant":123,"dryRun":true}`,
		`{"tenant":"x","dryRun":true}`,
		`{"tenant":"x","dryRun":false,"runId":"20261116T173000Z-bbbbbb","orgs":["org-1"]}`,
		`{"time":"2026-11-16T17:00:00Z"}`,
		`{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","time":"2026-11-16T17:00:00Z","detail":"{}"}`,
		fanoutevent.ScheduleInput,
		`[]`,
		``,
	} {
		res, err := f.HandleEvent(ctx, []byte(raw))
		if apperr.CodeOf(err) != apperr.Invalid || len(res.Runs) != 0 {
			t.Errorf("%s: got %+v, %v; want Invalid and no run", raw, res, err)
		}
	}
	runs, err := e.store.Runs(ctx, tn.name, 10)
	if err != nil || len(runs) != 0 || len(q.msgs) != 0 {
		t.Errorf("after the malformed events: got runs %+v (%v) and %d messages, want none", runs, err, len(q.msgs))
	}
	// The same tenant is due: the Scheduler's own event starts its run.
	res, err := f.HandleEvent(ctx, schedulerEvent(time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC), 1))
	if err != nil || len(res.Runs) != 1 || res.Runs[0].Tenant != tn.name {
		t.Fatalf("scheduled tick: got %+v, %v; want one run of %s", res, err, tn.name)
	}
}

// TestLateTick: ticks delivered hours late (Scheduler retries for up to two
// hours, Lambda's asynchronous queue for up to one more) each start exactly
// the tenants of their own scheduled hour, and the month of that hour:
// none of a later hour, none skipped.
func TestLateTick(t *testing.T) {
	e := MustEnv(t)
	at := func(hhmm string) func(*billing.Settings) { return func(s *billing.Settings) { s.RunAt = hhmm } }
	// Run times in New York (UTC−5 on 2026-11-30): 18:30, 19:30, 20:30 local.
	tenants := []string{
		e.MustTenant("late-1830", psa.ConnectWise, 1, 0, at("18:30")).name,
		e.MustTenant("late-1930", psa.ConnectWise, 1, 0, at("19:30")).name,
		e.MustTenant("late-2030", psa.ConnectWise, 1, 0, at("20:30")).name,
	}
	q := &memQueue{}
	f := *e.fanout
	f.Queue = q
	ctx := context.Background()
	// Ticks for 19:00, 20:00 and 21:00 New York on Nov 30, all delivered
	// (in order) at 02:50 UTC on Dec 1: after midnight UTC, in the next
	// hour's and the next UTC month's time.
	delivered := time.Date(2026, 12, 1, 7, 50, 0, 0, time.UTC)
	e.clock.Add(delivered.Sub(e.clock.Now()))
	for i, tick := range []time.Time{
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
	} {
		res, err := f.HandleEvent(ctx, schedulerEvent(tick, 3))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Runs) != 1 || res.Runs[0].Tenant != tenants[i] {
			t.Errorf("tick %s delivered at %s: got runs %+v, want exactly %s's", tick, delivered, res.Runs, tenants[i])
		}
	}
	for _, tn := range tenants {
		runs, err := e.store.Runs(ctx, tn, 10)
		if err != nil || len(runs) != 1 {
			t.Fatalf("%s: got runs %+v (%v), want one", tn, runs, err)
		}
		if runs[0].Month != "2026-11" {
			t.Errorf("%s: billed month %s, want 2026-11 (the scheduled hour's month in New York)", tn, runs[0].Month)
		}
	}
	// A fourth delivery of the first tick starts nothing new.
	res, err := f.HandleEvent(ctx, schedulerEvent(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 4))
	if err != nil || len(res.Runs) != 1 || res.Runs[0].Tenant != tenants[0] {
		t.Errorf("re-delivered tick: got %+v, %v; want the day's run of %s found again", res, err, tenants[0])
	}
	if runs, _ := e.store.Runs(ctx, tenants[0], 10); len(runs) != 1 {
		t.Errorf("re-delivered tick: %d runs of %s, want 1", len(runs), tenants[0])
	}
}
