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

// TestCancelledLinesNeverWritten: after a first run, the PSA cancels one
// org's addition, cancels another's agreement, ends a third's, and moves a
// fourth's start into the future; every HWM grows, so every line is to be
// written. ConnectWise would take a PATCH of each (it answers 200), and
// HaloPSA an updatelines of an inactive line or of a disabled or ended
// recurring invoice, so the sync must read first: the write log holds only
// the lines that still bill, and the others' entries carry the reason and
// the fix. An Autotask contract cancelled meanwhile is refused the same
// way.
func TestCancelledLinesNeverWritten(t *testing.T) {
	for _, p := range psa.Providers {
		t.Run(string(p), func(t *testing.T) {
			e := MustEnv(t)
			tf := e.MustTenant("cancel-"+string(p), p, 5, 0, nil)
			mustNoneFailed(t, e.MustRun(t, tf))

			e.clock.Add(24 * time.Hour)
			now := e.clock.Now()
			want := map[string]billing.Code{"org-2": billing.CodeContractCancelled, "org-5": billing.CodeUpdated}
			writable := []int64{tf.orgs[4].lineID}
			switch p {
			case psa.ConnectWise:
				s := tf.cwSeed
				s.Additions[0].CancelledDate = now.Add(-time.Hour)
				s.Agreements[1].Cancelled = true
				s.Agreements[2].EndDate = now.AddDate(0, 0, -2)
				s.Additions[3].EffectiveDate = now.AddDate(0, 0, 10)
				e.sb.ConnectWise.AddInstance(*s)
				want["org-1"], want["org-3"], want["org-4"] = billing.CodeLineCancelled, billing.CodeContractEnded, billing.CodeUpdated
				writable = append(writable, tf.orgs[3].lineID)
			case psa.HaloPSA:
				s := tf.haloSeed
				s.RecurringInvoices[0].Lines[0].Inactive = true
				s.RecurringInvoices[1].Disabled = true
				s.RecurringInvoices[2].EndDate = now.AddDate(0, 0, -2)
				s.RecurringInvoices[3].Lines[0].StartDate = now.AddDate(0, 0, 10)
				e.sb.HaloPSA.AddInstance(*s)
				want["org-1"], want["org-3"], want["org-4"] = billing.CodeLineCancelled, billing.CodeContractEnded, billing.CodeUpdated
				writable = append(writable, tf.orgs[3].lineID)
			default:
				s := tf.atSeed
				s.Picklists = append(s.Picklists, cancelledStatus...)
				s.Contracts[1].Status = 2
				e.sb.Autotask.AddInstance(*s)
				want["org-1"], want["org-3"], want["org-4"] = billing.CodeUpdated, billing.CodeUpdated, billing.CodeUpdated
				writable = append(writable, tf.orgs[0].lineID, tf.orgs[2].lineID, tf.orgs[3].lineID)
			}
			for _, o := range tf.orgs {
				o.hwm += 5
			}
			e.MustObserve(tf, tf.orgs)
			run := e.MustRun(t, tf)

			entries, err := e.store.Entries(context.Background(), tf.name, run.ID, billing.EntryFilter{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]billing.Entry{}
			for _, en := range entries {
				got[en.Org] = en
			}
			for org, code := range want {
				en := got[org]
				if en.Code == billing.CodeDriftCorrected {
					en.Code = billing.CodeUpdated // the re-seeded PSA holds the seed's quantity again
				}
				if en.Code != code {
					t.Errorf("%s: got %s %q, want %s", org, en.Code, en.Message, code)
				}
				if code != billing.CodeUpdated && (!strings.Contains(en.Message, "Fix: ") || !strings.Contains(en.Message, "Nothing was written")) {
					t.Errorf("%s: got %q, want the reason, the fix and that nothing was written", org, en.Message)
				}
			}
			if p != psa.Autotask && !strings.Contains(got["org-4"].Message, "starts billing on") {
				t.Errorf("org-4: got %q, want a note of the line's future start", got["org-4"].Message)
			}
			slices.Sort(writable)
			if w := e.writtenLines(tf); !slices.Equal(w, writable) {
				t.Errorf("lines written after the changes: got %v, want only %v", w, writable)
			}
		})
	}
}

// cancelledStatus is the Autotask contract status picklist with a
// Cancelled value (2).
var cancelledStatus = []sandbox.AutotaskPicklist{{Entity: "Contracts", Field: "status",
	Values: []sandbox.AutotaskPicklistValue{{Value: 1, Label: "Active", IsDefault: true}, {Value: 2, Label: "Cancelled"}}}}

// writtenLines returns the distinct line ids of the tenant's write log.
func (e *env) writtenLines(tf *tenantFixture) []int64 {
	var out []int64
	switch tf.provider {
	case psa.Autotask:
		for _, a := range e.sb.Autotask.Adjustments(tf.login) {
			out = append(out, a.ContractServiceID)
		}
	case psa.HaloPSA:
		for _, w := range e.sb.HaloPSA.LineWrites(tf.login) {
			out = append(out, w.LineID)
		}
	default:
		for _, p := range e.sb.ConnectWise.Patches(tf.login) {
			if p.Resource == "addition" {
				out = append(out, p.ID)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
