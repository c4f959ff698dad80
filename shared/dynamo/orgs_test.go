package dynamo_test

import (
	"context"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

func TestOrgsAndMappings(t *testing.T) {
	ctx := context.Background()
	store := dynamotest.NewStore(t, nil)
	if err := store.RegisterOrg(ctx, "t1", "o1", "Acme"); err != nil {
		t.Fatal(err)
	}
	m := billing.Mapping{CompanyID: 1, ContractID: 2, Lines: []billing.LineMapping{{Product: billing.Users, LineID: 3}}, State: billing.Mapped}
	saved, err := store.PutMapping(ctx, "t1", "o1", m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 {
		t.Fatalf("got version %d, want 1", saved.Version)
	}
	t.Run("ErrStaleVersion", func(t *testing.T) {
		if _, err := store.PutMapping(ctx, "t1", "o1", m, 0); !apperr.Is(err, apperr.PreconditionFailed) {
			t.Fatalf("got %v, want precondition_failed", err)
		}
	})
	t.Run("RenameKeepsMapping", func(t *testing.T) {
		if err := store.RegisterOrg(ctx, "t1", "o1", "Acme Corp"); err != nil {
			t.Fatal(err)
		}
		o, err := store.Org(ctx, "t1", "o1")
		if err != nil {
			t.Fatal(err)
		}
		if o.Name != "Acme Corp" || o.Mapping == nil || o.Mapping.Lines[0].LineID != 3 {
			t.Fatalf("got %+v, want renamed with mapping", o)
		}
	})
	countMapped := func() int {
		n := 0
		for shard := range schema.MappedShards {
			if err := store.MappedOrgs(ctx, shard, "", func(mo dynamo.MappedOrg) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	if got := countMapped(); got != 1 {
		t.Fatalf("got %d mapped, want 1", got)
	}
	m.State = billing.Disabled
	if _, err := store.PutMapping(ctx, "t1", "o1", m, 1); err != nil {
		t.Fatal(err)
	}
	if got := countMapped(); got != 0 {
		t.Fatalf("after disable: got %d mapped, want 0", got)
	}
	t.Run("ImplicitOrg", func(t *testing.T) {
		m.State = billing.Mapped
		if _, err := store.PutMapping(ctx, "t1", "usage-only", m, dynamo.AnyVersion); err != nil {
			t.Fatal(err)
		}
		orgs, err := store.Orgs(ctx, "t1")
		if err != nil || len(orgs) != 2 {
			t.Fatalf("got %d orgs, %v; want 2", len(orgs), err)
		}
	})
	t.Run("ErrOtherTenantNotFound", func(t *testing.T) {
		if _, err := store.Org(ctx, "t2", "o1"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
}
