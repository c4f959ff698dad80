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
// Without a pushed catalog item the entry is catalog_item_missing. A dry
// run records would_create_line with the target and creates, writes and
// remaps nothing. When the contract already has a line billing the
// product's catalog item (relink), the mapping is pointed at that line,
// nothing is created and the line is brought to the target: line_relinked.
func TestCreateMissingLines(t *testing.T) {
	for _, p := range psa.Providers {
		for _, tc := range []struct {
			name    string
			create  bool
			catalog bool
			dryRun  bool
			relink  bool // the contract keeps a line for the catalog item under another id
			want    billing.Code
		}{
			{"OffByDefault", false, true, false, false, billing.CodeLineMissing},
			{"On", true, true, false, false, billing.CodeLineCreated},
			{"DryRun", true, true, true, false, billing.CodeWouldCreate},
			{"Relinked", true, true, false, true, billing.CodeLineRelinked},
			{"ErrNoCatalogItem", true, false, false, false, billing.CodeNoCatalogItem},
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
				// The line the contract keeps for the catalog item when
				// relinking: org-1's line under another id.
				kept := o1.lineID + 1000
				switch p {
				case psa.Autotask:
					s := tn.atSeed
					if tc.relink {
						s.ContractServices[0].ID = kept
					} else {
						s.ContractServices = slices.Delete(s.ContractServices, 0, 1)
					}
					e.sb.Autotask.AddInstance(*s)
				case psa.HaloPSA:
					s := tn.haloSeed
					lines := &s.RecurringInvoices[0].Lines
					if tc.relink {
						(*lines)[0].ID = kept
					} else {
						*lines = slices.Delete(*lines, 0, 1)
					}
					e.sb.HaloPSA.AddInstance(*s)
				default:
					s := tn.cwSeed
					if tc.relink {
						s.Additions[0].ID = kept
					} else {
						s.Additions = slices.Delete(s.Additions, 0, 1)
					}
					e.sb.ConnectWise.AddInstance(*s)
				}
				q := &memQueue{}
				f := *e.fanout
				f.Queue = q
				var runID string
				if tc.dryRun {
					id, err := startRun(ctx, &f, tn.name, true)
					if err != nil {
						t.Fatal(err)
					}
					runID = id
				} else {
					runID = mustScheduled(t, &f, e.clock.Now())[0].ID
				}
				sent := q.snapshot()
				q.mustDeliver(t, e, e.NewWorker())

				entries, err := e.store.Entries(ctx, tn.name, runID, billing.EntryFilter{})
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
				others := billing.CodeUpdated
				if tc.dryRun {
					others = billing.CodeWouldUpdate
				}
				for _, o := range tn.orgs[1:] {
					if got[o.id].Code != others {
						t.Errorf("%s: got %s %q, want %s", o.id, got[o.id].Code, got[o.id].Message, others)
					}
				}
				org, err := e.store.Org(ctx, tn.name, o1.id)
				if err != nil {
					t.Fatal(err)
				}
				line := org.Mapping.Lines[0].LineID
				creates, wantCreates := createsOf(e, tn), 0
				if tc.want == billing.CodeLineCreated {
					wantCreates = 1
				}
				if creates != wantCreates {
					t.Fatalf("got %d creates, want %d", creates, wantCreates)
				}
				switch tc.want {
				case billing.CodeLineCreated:
					if line == o1.lineID || line == kept {
						t.Fatalf("got line %d mapped, want a new line instead of %d", line, o1.lineID)
					}
				case billing.CodeLineRelinked:
					if line != kept {
						t.Fatalf("got line %d mapped, want the contract's line %d", line, kept)
					}
				default:
					if line != o1.lineID {
						t.Fatalf("got line %d mapped, want %d unchanged", line, o1.lineID)
					}
					if a := got[o1.id].After; tc.dryRun && (a == nil || a.Quantity != o1.target() || a.UnitCost != unitCost) {
						t.Errorf("org-1 after: got %v, want %d at %v", a, o1.target(), unitCost)
					}
					wantWrites := len(tn.orgs) - 1
					if tc.dryRun {
						wantWrites = 0
					}
					if w := e.Writes(tn); len(w) != wantWrites {
						t.Fatalf("got writes %v, want %d (none for org-1)", w, wantWrites)
					}
					return
				}
				if got[o1.id].LineID != line {
					t.Fatalf("org-1 entry: got line %d, want the mapped line %d", got[o1.id].LineID, line)
				}
				o1.lineID = line
				e.MustAllAtTarget(t)
				writes := e.Writes(tn)

				t.Run("Redelivered", func(t *testing.T) {
					q.msgs = sent
					q.mustDeliver(t, e, e.NewWorker())
					if n := createsOf(e, tn); n != wantCreates || !slices.Equal(e.Writes(tn), writes) {
						t.Fatalf("got %d creates and writes %v, want %d and %v", n, e.Writes(tn), wantCreates, writes)
					}
				})
				t.Run("NextDay", func(t *testing.T) {
					e.clock.Add(24 * time.Hour)
					runs := mustScheduled(t, &f, e.clock.Now())
					q.mustDeliver(t, e, e.NewWorker())
					if n := createsOf(e, tn); n != wantCreates || !slices.Equal(e.Writes(tn), writes) {
						t.Fatalf("got %d creates and writes %v, want %d and %v", n, e.Writes(tn), wantCreates, writes)
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
// ConnectWise product 901, HaloPSA item 902).
func MustPushedCatalog(tb testing.TB, e *env, tn *tenantFixture) {
	tb.Helper()
	item := map[psa.Provider]int64{psa.Autotask: 900, psa.ConnectWise: 901, psa.HaloPSA: 902}[tn.provider]
	c := billing.Catalog{Products: []billing.CatalogProduct{{Key: billing.Users, Name: "Seats", Period: psa.Monthly, UnitCost: 3, UnitPrice: 12,
		Push: billing.PushStatus{State: billing.Pushed, ItemID: item}}}}
	if _, err := e.store.PutCatalog(context.Background(), tn.name, c, 0); err != nil {
		tb.Fatal(err)
	}
}

// createsOf counts the line creates the sandbox answered for tn's PSA.
func createsOf(e *env, tn *tenantFixture) int {
	c := e.sb.Counts()
	switch tn.provider {
	case psa.Autotask:
		return c["autotask POST Contracts/{id}/Services"]
	case psa.HaloPSA:
		n := 0
		for _, w := range e.sb.HaloPSA.LineWrites(tn.login) {
			if w.Created {
				n++
			}
		}
		return n
	}
	return c["connectwise POST /finance/agreements/{id}/additions"]
}
