package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
)

func TestLastEntries(t *testing.T) {
	ctx := context.Background()
	s := dynamotest.NewStore(t, nil)
	now := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	entry := func(org string, p billing.Product, code billing.Code, after int64) billing.Entry {
		return billing.Entry{Org: org, Product: p, LineID: 7, Code: code, Level: billing.Info, Message: string(code),
			After: &billing.LineValue{Quantity: after, UnitCost: 2}, At: now}
	}
	if err := s.PutEntries(ctx, "t1", "run-1", false, []billing.Entry{entry("o1", billing.Users, billing.CodeUpdated, 3), entry("o2", billing.Users, billing.CodeUnchanged, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEntries(ctx, "t1", "run-2", false, []billing.Entry{entry("o1", billing.Users, billing.CodeUnchanged, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEntries(ctx, "t2", "run-9", false, []billing.Entry{entry("o1", billing.Users, billing.CodeInternal, 1)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastEntries(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		org, run string
		code     billing.Code
		after    int64
	}{{"o1", "run-2", billing.CodeUnchanged, 4}, {"o2", "run-1", billing.CodeUnchanged, 5}}
	if len(got) != len(want) {
		t.Fatalf("got %d last entries %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Org != w.org || g.RunID != w.run || g.Code != w.code || g.After == nil || g.After.Quantity != w.after || !g.At.Equal(now) || g.Product != billing.Users {
			t.Errorf("entry %d: got %+v (after %+v), want org %s run %s code %s after %d", i, g, g.After, w.org, w.run, w.code, w.after)
		}
	}
	t.Run("RunEntriesUnchanged", func(t *testing.T) {
		es, err := s.Entries(ctx, "t1", "run-1", billing.EntryFilter{})
		if err != nil || len(es) != 2 {
			t.Errorf("got %d entries (%v), want the run's 2", len(es), err)
		}
	})
	t.Run("PurgeRemovesThem", func(t *testing.T) {
		if _, err := s.DeleteIntegrationData(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LastEntries(ctx, "t1"); err != nil || len(got) != 0 {
			t.Errorf("got %d (%v), want none after the purge", len(got), err)
		}
		if got, err := s.LastEntries(ctx, "t2"); err != nil || len(got) != 1 {
			t.Errorf("tenant t2: got %d (%v), want its 1 untouched", len(got), err)
		}
	})
}
