package billingsync_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// TestRunNeverWritesBrokenMappings: a renamed company is a warning (the
// line is still written); a cancelled contract, a missing line and an
// inactive company each give the org an entry with the problem's code and
// fix, and the sandbox's write log holds no write to their lines. The run
// records the health GET /v1/orgs shows.
func TestRunNeverWritesBrokenMappings(t *testing.T) {
	for _, p := range psa.Providers {
		t.Run(string(p), func(t *testing.T) {
			e := MustEnv(t)
			tn := e.MustTenant("health-"+string(p), p, 5, 0, nil)
			ctx := context.Background()
			// org-1 was mapped when its company had its old name.
			o1 := tn.orgs[0]
			m := billing.Mapping{CompanyID: companyOf(tn, 0), ContractID: o1.contractID, State: billing.Mapped, NonBillableUsers: o1.nonBill,
				Lines: []billing.LineMapping{{Product: billing.Users, LineID: o1.lineID}}, Seen: billing.MappedNames{Company: "Client org-1"}}
			if _, err := e.store.PutMapping(ctx, tn.name, o1.id, m, -1); err != nil {
				t.Fatal(err)
			}
			switch p {
			case psa.Autotask:
				s := tn.atSeed
				s.Companies[0].Name = "Client org-1 (renamed)"
				s.Picklists = append(s.Picklists, sandbox.AutotaskPicklist{Entity: "Contracts", Field: "status",
					Values: []sandbox.AutotaskPicklistValue{{Value: 1, Label: "Active", IsDefault: true}, {Value: 2, Label: "Cancelled"}}})
				s.Contracts[1].Status = 2
				s.ContractServices = slices.Delete(s.ContractServices, 2, 3)
				s.Companies[3].Inactive = true
				e.sb.Autotask.AddInstance(*s)
			case psa.HaloPSA:
				s := tn.haloSeed
				s.Clients[0].Name = "Client org-1 (renamed)"
				s.RecurringInvoices[1].Disabled = true
				s.RecurringInvoices[2].Lines = nil
				s.Clients[3].Inactive = true
				e.sb.HaloPSA.AddInstance(*s)
			default:
				s := tn.cwSeed
				s.Companies[0].Name = "Client org-1 (renamed)"
				s.Agreements[1].Cancelled = true
				s.Additions = slices.Delete(s.Additions, 2, 3)
				s.Companies[3].Deleted = true
				e.sb.ConnectWise.AddInstance(*s)
			}
			q := &memQueue{}
			f := *e.fanout
			f.Queue = q
			runs := mustScheduled(t, &f, e.clock.Now())
			q.mustDeliver(t, e, e.NewWorker())

			entries, err := e.store.Entries(ctx, tn.name, runs[0].ID, billing.EntryFilter{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]billing.Entry{}
			for _, en := range entries {
				got[en.Org] = en
			}
			for org, want := range map[string]billing.Code{"org-1": billing.CodeUpdated, "org-2": billing.CodeContractCancelled,
				"org-3": billing.CodeLineMissing, "org-4": billing.CodeCompanyInactive, "org-5": billing.CodeUpdated} {
				if got[org].Code != want {
					t.Errorf("%s: got %s %q, want %s", org, got[org].Code, got[org].Message, want)
				}
			}
			if !strings.Contains(got["org-1"].Message, "renamed") {
				t.Errorf("org-1: the rename is not noted: %q", got["org-1"].Message)
			}
			if !strings.Contains(got["org-2"].Message, "Fix: ") {
				t.Errorf("org-2: no fix in %q", got["org-2"].Message)
			}
			wrote := e.writtenLines(tn)
			if want := []int64{tn.orgs[0].lineID, tn.orgs[4].lineID}; !slices.Equal(wrote, want) {
				t.Errorf("lines written: got %v, want only %v (the healthy and the renamed)", wrote, want)
			}
			rh, found, err := e.store.LatestRunHealth(ctx, tn.name)
			if err != nil || !found {
				t.Fatalf("recorded health: %v, found %v", err, found)
			}
			for org, want := range map[string]billing.HealthStatus{"org-1": billing.HealthWarning, "org-2": billing.HealthBroken, "org-4": billing.HealthBroken, "org-5": billing.HealthOK} {
				h, ok := rh.Covers(org, time.Time{})
				if !ok || h.Status != want {
					t.Errorf("recorded health of %s: got %v %v, want %s", org, ok, h.Status, want)
				}
			}
		})
	}
}

// companyOf is the PSA company id of the tenant's i-th org (MustTenant).
func companyOf(tn *tenantFixture, i int) int64 {
	switch tn.provider {
	case psa.Autotask:
		return int64(20000 + i)
	case psa.HaloPSA:
		return int64(40000 + i)
	}
	return int64(30000 + i)
}

// mustScheduled runs the scheduled fan-out at tick and returns its runs.
func mustScheduled(tb testing.TB, f interface {
	Scheduled(context.Context, time.Time) ([]billing.Run, error)
}, tick time.Time) []billing.Run {
	tb.Helper()
	runs, err := f.Scheduled(context.Background(), tick)
	if err != nil || len(runs) != 1 {
		tb.Fatalf("fan-out: got %d runs, %v", len(runs), err)
	}
	return runs
}
