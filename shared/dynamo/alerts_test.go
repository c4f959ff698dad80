package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

func testAlert(id, org string, st alerting.Status, at time.Time) alerting.Alert {
	return alerting.Alert{ID: id, Type: alerting.UserLockout, Severity: alerting.Error, Org: org, Status: st, OccurredAt: at,
		Title: "locked", Details: json.RawMessage(`{"user":"x"}`)}
}

func TestPutAlertReplay(t *testing.T) {
	ctx := context.Background()
	var counter awsconfig.RequestCounter
	store := dynamotest.NewStore(t, &counter)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	a := testAlert("a1", "o1", alerting.Open, t0)
	for _, tc := range []struct {
		name  string
		alert alerting.Alert
		want  bool
	}{
		{"New", a, true},
		{"Replay", a, false},
		{"ReplaySameInstantOtherZone", testAlert("a1", "o1", alerting.Open, t0.In(time.FixedZone("X", 3600))), false},
		{"Repeat", testAlert("a1", "o1", alerting.Open, t0.Add(time.Minute)), true},
		{"Resolved", testAlert("a1", "o1", alerting.Resolved, t0.Add(time.Hour)), true},
		{"OtherTenantSameAlert", a, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := "t1"
			if tc.name == "OtherTenantSameAlert" {
				tenant = "t2"
			}
			counter.Reset()
			stored, got, err := store.PutAlert(ctx, tenant, alerting.NewRecord(tc.alert, t0))
			if err != nil {
				t.Fatal(err)
			}
			if stored.ID != tc.alert.ID || !stored.OccurredAt.Equal(tc.alert.OccurredAt) || stored.State != alerting.Queued {
				t.Fatalf("got stored %+v, want the queued occurrence", stored)
			}
			if got != tc.want {
				t.Fatalf("got created=%v, want %v", got, tc.want)
			}
			if n := counter.Total(); n != 1 {
				t.Fatalf("got %d DynamoDB requests, want 1", n)
			}
		})
	}
	rec, err := store.Alert(ctx, "t1", a)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != alerting.Queued || rec.Decision != alerting.Pending || string(rec.Details) != `{"user":"x"}` || !rec.OccurredAt.Equal(t0) {
		t.Fatalf("got %+v, want the queued record with its details", rec)
	}
	out, err := store.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(store.Table),
		Key: map[string]types.AttributeValue{
			schema.PartitionKey: &types.AttributeValueMemberS{Value: "T#t1"},
			schema.SortKey:      &types.AttributeValueMemberS{Value: "ALERT#" + a.OccurrenceKey()}}})
	if err != nil || out.Item[schema.TTLAttribute] == nil {
		t.Fatalf("got %v %v, want an item with %s", out.Item, err, schema.TTLAttribute)
	}
	t.Run("ReplayReadsEnqueued", func(t *testing.T) {
		if err := store.MarkAlertEnqueued(ctx, "t1", a); err != nil {
			t.Fatal(err)
		}
		counter.Reset()
		stored, created, err := store.PutAlert(ctx, "t1", alerting.NewRecord(a, t0.Add(time.Hour)))
		if err != nil || created || !stored.Enqueued || !stored.ReceivedAt.Equal(t0) {
			t.Fatalf("got %+v created=%v %v, want the stored, enqueued record", stored, created, err)
		}
		if n := counter.Total(); n != 1 {
			t.Fatalf("got %d DynamoDB requests, want 1", n)
		}
	})
	t.Run("MarkNeverCreates", func(t *testing.T) {
		gone := testAlert("never-stored", "o1", alerting.Open, t0)
		if err := store.MarkAlertEnqueued(ctx, "t1", gone); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("got %v, want conflict", err)
		}
		if _, err := store.Alert(ctx, "t1", gone); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found: marking must not create an item", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := store.Alert(ctx, "t3", a); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
}

func TestRecordAlertOutcome(t *testing.T) {
	ctx := context.Background()
	store := dynamotest.NewStore(t, nil)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	a := testAlert("a1", "o1", alerting.Open, t0)
	st, err := store.AlertStream(ctx, "t1", "a1")
	if err != nil || st.Version != 0 || st.TicketID != 0 {
		t.Fatalf("got %+v %v, want an empty stream", st, err)
	}
	rec := alerting.NewRecord(a, t0)
	rec.State, rec.Decision, rec.TicketID = alerting.Done, alerting.OpenTicket, 77
	next := st.Apply(a, alerting.Plan{Decision: alerting.OpenTicket}, 77)
	if err := store.RecordAlertOutcome(ctx, "t1", rec, next); err != nil {
		t.Fatal(err)
	}
	got, err := store.AlertStream(ctx, "t1", "a1")
	if err != nil || got.TicketID != 77 || !got.TicketOpen || got.Version != 1 {
		t.Fatalf("got %+v %v, want ticket 77 open at version 1", got, err)
	}
	if r, err := store.Alert(ctx, "t1", a); err != nil || r.State != alerting.Done || r.TicketID != 77 {
		t.Fatalf("got %+v %v, want done on ticket 77", r, err)
	}
	t.Run("ErrStaleStream", func(t *testing.T) {
		err := store.RecordAlertOutcome(ctx, "t1", rec, next) // next still has version 0
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("got %v, want conflict", err)
		}
	})
	t.Run("OtherTenantUntouched", func(t *testing.T) {
		if st, err := store.AlertStream(ctx, "t2", "a1"); err != nil || st.TicketID != 0 {
			t.Fatalf("got %+v %v, want nothing for t2", st, err)
		}
	})
}

func TestAlertsListing(t *testing.T) {
	ctx := context.Background()
	store := dynamotest.NewStore(t, nil)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 25 {
		org := "o1"
		if i%5 == 0 {
			org = "o2"
		}
		rec := alerting.NewRecord(testAlert(fmt.Sprintf("a%02d", i), org, alerting.Open, t0.Add(time.Duration(i)*time.Minute)), t0)
		if i%3 == 0 {
			rec.State = alerting.Skipped
		}
		if _, _, err := store.PutAlert(ctx, "t1", rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := store.PutAlert(ctx, "t2", alerting.NewRecord(testAlert("b1", "o1", alerting.Open, t0), t0)); err != nil {
		t.Fatal(err)
	}
	list := func(t *testing.T, f dynamo.AlertFilter, limit int) []alerting.Record {
		var all []alerting.Record
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 50 {
				t.Fatal("got no end of pages")
			}
			page, next, err := store.Alerts(ctx, "t1", f, cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("got %d on a page, want ≤ %d", len(page), limit)
			}
			all = append(all, page...)
			if next == "" {
				return all
			}
			cursor = next
		}
	}
	for _, tc := range []struct {
		name   string
		filter dynamo.AlertFilter
		limit  int
		want   int
	}{
		{"All", dynamo.AlertFilter{}, 100, 25},
		{"AllPaged", dynamo.AlertFilter{}, 4, 25},
		{"Org", dynamo.AlertFilter{Org: "o2"}, 2, 5},
		{"State", dynamo.AlertFilter{State: alerting.Skipped}, 3, 9},
		{"OrgAndState", dynamo.AlertFilter{Org: "o2", State: alerting.Skipped}, 1, 2},
		{"NoMatch", dynamo.AlertFilter{Org: "nope"}, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := list(t, tc.filter, tc.limit)
			if len(got) != tc.want {
				t.Fatalf("got %d alerts, want %d", len(got), tc.want)
			}
			for i := 1; i < len(got); i++ {
				if !got[i-1].OccurredAt.After(got[i].OccurredAt) {
					t.Fatalf("got %s before %s, want newest first", got[i-1].OccurredAt, got[i].OccurredAt)
				}
			}
			for _, r := range got {
				if r.ID == "b1" || (tc.filter.Org != "" && r.Org != tc.filter.Org) || (tc.filter.State != "" && r.State != tc.filter.State) {
					t.Fatalf("got %+v, want only t1's alerts matching %+v", r, tc.filter)
				}
			}
		})
	}
	t.Run("ErrCursor", func(t *testing.T) {
		for _, c := range []string{"%%%", "VVNBR0Uj"} { // "USAGE#": another item kind
			if _, _, err := store.Alerts(ctx, "t1", dynamo.AlertFilter{}, c, 10); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("cursor %q: got %v, want invalid", c, err)
			}
		}
	})
}
