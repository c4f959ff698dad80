package billingsync_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestCreateMissingLines: org-1's mapped line is deleted in the PSA. With
// the billing setting off (the default) the org gets line_missing and
// nothing is written for it; on, the worker creates a line billing the
// product's pushed catalog item on the mapped contract at the target,
// points the mapping at it and records line_created, once: the same
// messages delivered again and the next day's run write nothing more.
// Without a pushed catalog item the entry is catalog_item_missing.
func TestCreateMissingLines(t *testing.T) {
	for _, p := range []psa.Provider{psa.Autotask, psa.ConnectWise} {
		for _, tc := range []struct {
			name    string
			create  bool
			catalog bool
			want    billing.Code
		}{
			{"OffByDefault", false, true, billing.CodeLineMissing},
			{"On", true, true, billing.CodeLineCreated},
			{"ErrNoCatalogItem", true, false, billing.CodeNoCatalogItem},
		} {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				e := MustEnv(t)
				tn := e.MustTenant("create-"+strings.ToLower(tc.name)+"-"+string(p), p, 3, 0, func(s *billing.Settings) {
					s.CreateMissingLines = tc.create
				})
				if tc.catalog {
					MustPushedCatalog(t, e, tn)
				}
				o1 := tn.orgs[0]
				switch p {
				case psa.Autotask:
					s := tn.atSeed
					s.ContractServices = slices.Delete(s.ContractServices, 0, 1)
					e.sb.Autotask.AddInstance(*s)
				default:
					s := tn.cwSeed
					s.Additions = slices.Delete(s.Additions, 0, 1)
					e.sb.ConnectWise.AddInstance(*s)
				}
				q := &memQueue{}
				f := *e.fanout
				f.Queue = q
				runs := mustScheduled(t, &f, e.clock.Now())
				sent := slices.Clone(q.msgs)
				q.mustDeliver(t, e.NewWorker())

				entries, err := e.store.Entries(ctx, tn.name, runs[0].ID, billing.EntryFilter{})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]billing.Entry{}
				for _, en := range entries {
					got[en.Org] = en
				}
				if got[o1.id].Code != tc.want {
					t.Fatalf("org-1: got %s %q, want %s", got[o1.id].Code, got[o1.id].Message, tc.want)
				}
				for _, o := range tn.orgs[1:] {
					if got[o.id].Code != billing.CodeUpdated {
						t.Errorf("%s: got %s %q, want updated", o.id, got[o.id].Code, got[o.id].Message)
					}
				}
				org, err := e.store.Org(ctx, tn.name, o1.id)
				if err != nil {
					t.Fatal(err)
				}
				line := org.Mapping.Lines[0].LineID
				creates := createsOf(e, p)
				if tc.want != billing.CodeLineCreated {
					if creates != 0 || line != o1.lineID {
						t.Fatalf("got %d creates and line %d mapped, want none and %d", creates, line, o1.lineID)
					}
					if w := e.Writes(tn); len(w) != 2 {
						t.Fatalf("got writes %v, want only org-2's and org-3's", w)
					}
					return
				}
				if creates != 1 || line == o1.lineID || got[o1.id].LineID != line {
					t.Fatalf("got %d creates, line %d mapped (entry %d), want 1 create and a new line instead of %d", creates, line, got[o1.id].LineID, o1.lineID)
				}
				o1.lineID = line
				e.MustAllAtTarget(t)
				writes := e.Writes(tn)

				t.Run("Redelivered", func(t *testing.T) {
					q.msgs = sent
					q.mustDeliver(t, e.NewWorker())
					if n := createsOf(e, p); n != 1 || !slices.Equal(e.Writes(tn), writes) {
						t.Fatalf("got %d creates and writes %v, want 1 and %v", n, e.Writes(tn), writes)
					}
				})
				t.Run("NextDay", func(t *testing.T) {
					e.clock.Add(24 * time.Hour)
					runs := mustScheduled(t, &f, e.clock.Now())
					q.mustDeliver(t, e.NewWorker())
					if n := createsOf(e, p); n != 1 || !slices.Equal(e.Writes(tn), writes) {
						t.Fatalf("got %d creates and writes %v, want 1 and %v", n, e.Writes(tn), writes)
					}
					entries, err := e.store.Entries(ctx, tn.name, runs[0].ID, billing.EntryFilter{})
					if err != nil {
						t.Fatal(err)
					}
					for _, en := range entries {
						if en.Code != billing.CodeUnchanged {
							t.Errorf("%s: got %s %q, want unchanged", en.Org, en.Code, en.Message)
						}
					}
				})
			})
		}
	}
}

// MustPushedCatalog stores a catalog whose users product is pushed as the
// catalog item the tenant's lines bill (MustTenant: Autotask service 900,
// ConnectWise product 901).
func MustPushedCatalog(tb testing.TB, e *env, tn *tenantFixture) {
	tb.Helper()
	item := int64(900)
	if tn.provider == psa.ConnectWise {
		item = 901
	}
	c := billing.Catalog{Products: []billing.CatalogProduct{{Key: billing.Users, Name: "Seats", Period: psa.Monthly, UnitCost: 3, UnitPrice: 12,
		Push: billing.PushStatus{State: billing.Pushed, ItemID: item}}}}
	if _, err := e.store.PutCatalog(context.Background(), tn.name, c, 0); err != nil {
		tb.Fatal(err)
	}
}

// createsOf counts the line creates the sandbox answered for provider p.
func createsOf(e *env, p psa.Provider) int {
	c := e.sb.Counts()
	if p == psa.Autotask {
		return c["autotask POST Contracts/{id}/Services"]
	}
	return c["connectwise POST /finance/agreements/{id}/additions"]
}
