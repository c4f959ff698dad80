// Package fanoutevent decodes the fan-out function's events strictly. The
// fan-out is invoked two ways: by the EventBridge Scheduler's hourly
// schedule, whose payload is ScheduleInput with the Scheduler's context
// attributes filled in, and by the API's run-now (RunNow). Anything else,
// including an event with unknown fields, a field of the wrong type, an
// empty object or null, is refused: a malformed event must never start a
// run, least of all every tenant's. Pure: the infra module uses
// ScheduleInput for the schedule's target.
package fanoutevent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// ScheduleInput is the schedule target's Input. EventBridge Scheduler
// replaces each <aws.scheduler.…> keyword when it invokes the target, so a
// delivery retried hours later still names the hour it was scheduled for
// (without an Input, Scheduler sends "{}" and the fan-out could only guess
// the hour from its clock).
const ScheduleInput = `{"scheduledTime":"<aws.scheduler.scheduled-time>","scheduleArn":"<aws.scheduler.schedule-arn>",` +
	`"executionId":"<aws.scheduler.execution-id>","attempt":"<aws.scheduler.attempt-number>"}`

// Tick is a scheduled invocation of the fan-out.
type Tick struct {
	// ScheduledTime is when the schedule was due (not when it was delivered).
	ScheduledTime time.Time
	ScheduleArn   string
	ExecutionID   string
	Attempt       int
}

// RunNow is the API's request to start one tenant's run (an asynchronous
// invocation): the run is stored by the API; the fan-out queues its orgs.
type RunNow struct {
	Tenant string `json:"tenant"`
	DryRun bool   `json:"dryRun"`
	RunID  string `json:"runId"`
}

// Event is one decoded fan-out event: exactly one of Tick and RunNow is set.
type Event struct {
	Tick   *Tick
	RunNow *RunNow
}

// tickJSON is ScheduleInput's shape after substitution: every field a string.
type tickJSON struct {
	ScheduledTime *string `json:"scheduledTime"`
	ScheduleArn   *string `json:"scheduleArn"`
	ExecutionID   *string `json:"executionId"`
	Attempt       *string `json:"attempt"`
}

type runNowJSON struct {
	Tenant *string `json:"tenant"`
	DryRun *bool   `json:"dryRun"`
	RunID  *string `json:"runId"`
}

// Decode returns the event in raw: a Tick when it has ScheduleInput's shape
// (recognised by "scheduledTime"), a RunNow when it names a "tenant".
// Invalid (apperr) for anything else: not one JSON object, an unknown or
// missing field, a wrong type, an unsubstituted keyword or a malformed time.
func Decode(raw []byte) (Event, error) {
	var fields map[string]json.RawMessage
	if err := strictjson.Decode(raw, &fields); err != nil {
		return Event{}, apperr.Wrap(err, apperr.Invalid, "fan-out event: %v", err)
	}
	if fields == nil {
		return Event{}, apperr.New(apperr.Invalid, "fan-out event: null, not an object")
	}
	switch {
	case fields["scheduledTime"] != nil:
		var in tickJSON
		if err := strictjson.Decode(raw, &in); err != nil {
			return Event{}, apperr.Wrap(err, apperr.Invalid, "scheduled tick: %v", err)
		}
		t, err := in.tick()
		if err != nil {
			return Event{}, apperr.Wrap(err, apperr.Invalid, "scheduled tick: %v", err)
		}
		return Event{Tick: &t}, nil
	case fields["tenant"] != nil:
		var in runNowJSON
		if err := strictjson.Decode(raw, &in); err != nil {
			return Event{}, apperr.Wrap(err, apperr.Invalid, "run-now request: %v", err)
		}
		switch {
		case in.Tenant == nil || *in.Tenant == "":
			return Event{}, apperr.New(apperr.Invalid, "run-now request: tenant must be a non-empty string")
		case in.RunID == nil || *in.RunID == "":
			return Event{}, apperr.New(apperr.Invalid, "run-now request: runId must be a non-empty string (the API stores the run first)")
		case in.DryRun == nil:
			return Event{}, apperr.New(apperr.Invalid, "run-now request: dryRun must be true or false")
		}
		return Event{RunNow: &RunNow{Tenant: *in.Tenant, DryRun: *in.DryRun, RunID: *in.RunID}}, nil
	}
	return Event{}, apperr.New(apperr.Invalid, "fan-out event: neither a scheduled tick (scheduledTime) nor a run-now request (tenant)")
}

func (in tickJSON) tick() (Tick, error) {
	for name, v := range map[string]*string{"scheduledTime": in.ScheduledTime, "scheduleArn": in.ScheduleArn, "executionId": in.ExecutionID, "attempt": in.Attempt} {
		switch {
		case v == nil:
			return Tick{}, fmt.Errorf("%s is missing", name)
		case *v == "" || strings.HasPrefix(*v, "<aws.scheduler."):
			return Tick{}, fmt.Errorf("%s is %q: not filled in by the Scheduler", name, *v)
		}
	}
	at, err := time.Parse(time.RFC3339, *in.ScheduledTime)
	if err != nil {
		return Tick{}, fmt.Errorf("scheduledTime %q is not an RFC 3339 time", *in.ScheduledTime)
	}
	if !strings.HasPrefix(*in.ScheduleArn, "arn:") || !strings.Contains(*in.ScheduleArn, ":schedule/") {
		return Tick{}, fmt.Errorf("scheduleArn %q is not a schedule ARN", *in.ScheduleArn)
	}
	n, err := strconv.Atoi(*in.Attempt)
	if err != nil || n < 1 {
		return Tick{}, fmt.Errorf("attempt %q is not a positive number", *in.Attempt)
	}
	return Tick{ScheduledTime: at.UTC(), ScheduleArn: *in.ScheduleArn, ExecutionID: *in.ExecutionID, Attempt: n}, nil
}

// Deliver returns a schedule target's input as EventBridge Scheduler
// delivers it for one invocation: each context keyword replaced by its
// value (scheduled time in RFC 3339 UTC, as the Scheduler writes it). Tests
// use it to send the fan-out exactly what the Scheduler sends.
func Deliver(input, scheduleArn string, scheduled time.Time, executionID string, attempt int) string {
	return strings.NewReplacer(
		"<aws.scheduler.scheduled-time>", scheduled.UTC().Format(time.RFC3339),
		"<aws.scheduler.schedule-arn>", scheduleArn,
		"<aws.scheduler.execution-id>", executionID,
		"<aws.scheduler.attempt-number>", strconv.Itoa(attempt),
	).Replace(input)
}
