package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/billing"
)

// SyncResult is one tenant's demo sync run as the API reports it.
type SyncResult struct {
	Tenant  string
	Run     billing.Run
	Entries []billing.Entry
}

// runSync starts a sync run of the tenant through the API (POST
// /v1/sync-runs), prints a progress line whenever more orgs are done, and
// reads the finished run's entries.
func (d *Demo) runSync(ctx context.Context, c *Client, tr TenantResult) (SyncResult, error) {
	res := SyncResult{Tenant: tr.ID}
	api, err := c.API(tr.AdminToken)
	if err != nil {
		return res, err
	}
	dryRun := false
	started, err := api.StartSyncRunWithResponse(ctx, apiclient.RunRequest{DryRun: &dryRun})
	if err != nil {
		return res, err
	}
	if started.JSON202 == nil {
		return res, fmt.Errorf("POST /v1/sync-runs: got %s %s, want 202 with the run id", started.Status(), started.Body)
	}
	deadline := time.Now().Add(2 * time.Minute)
	last := int64(-1)
	for {
		// The domain type, not apiclient.Run: the demo prints the run's
		// progress and estimated finish with billing.Run's methods.
		got, err := api.GetSyncRunWithResponse(ctx, started.JSON202.Id)
		if err != nil {
			return res, err
		}
		if err := json.Unmarshal(got.Body, &res.Run); err != nil {
			return res, fmt.Errorf("run %s: %w", started.JSON202.Id, err)
		}
		k := res.Run.Counts
		done, total := res.Run.Progress()
		if done != last {
			last = done
			eta := ""
			if at, ok := res.Run.EstimatedFinish(d.Stack.now()); ok {
				eta = "  done by ~" + at.Local().Format("15:04:05")
			}
			d.printf("  %-17s run %s  %s %d/%d orgs  (updated %d, unchanged %d, skipped %d, failed %d, deferred %d)%s\n",
				tr.ID, res.Run.ID, progressBar(done, total, 20), done, total, k.Updated, k.Unchanged, k.Skipped, k.Failed, k.Deferred, eta)
		}
		if res.Run.Status != billing.Running {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("run %s still running after 2 minutes", res.Run.ID)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	entries, err := api.ListSyncRunEntriesWithResponse(ctx, res.Run.ID, nil)
	if err != nil {
		return res, err
	}
	var page struct {
		Entries []billing.Entry `json:"entries"`
	}
	if err := json.Unmarshal(entries.Body, &page); err != nil {
		return res, fmt.Errorf("entries of run %s: %w", res.Run.ID, err)
	}
	res.Entries = page.Entries
	d.printf("  %-17s run %s %s: %d entries\n", tr.ID, res.Run.ID, res.Run.Status, len(res.Entries))
	return res, nil
}

// progressBar renders done/total as a bar of width characters.
func progressBar(done, total int64, width int) string {
	n := width
	if total > 0 {
		n = int(int64(width) * min(done, total) / total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// PrintReport prints the runs' entries as a table: org, company, line,
// before → after, code.
func PrintReport(w io.Writer, s *Stack, runs []SyncResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tORG\tCOMPANY\tLINE\tBEFORE → AFTER\tCODE")
	for _, r := range runs {
		for _, e := range r.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s #%d\t%s → %s\t%s\n", r.Tenant, e.Org, companyName(s.Seed, e.CompanyID),
				e.Product, e.LineID, lineValue(e.Before), lineValue(e.After), e.Code)
		}
	}
	_ = tw.Flush()
}

// lineValue renders a line value as "24 × 21.00".
func lineValue(v *billing.LineValue) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%d × %.2f", v.Quantity, v.UnitCost)
}
