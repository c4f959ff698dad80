package lambdaruntime_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/samples"
)

// verifier holds what the checks of one test share: the seeded tenant, and
// the signing secret the API's provisioning sample returned.
type verifier struct {
	demo      *demoTenant
	refs      sampleRefs
	apiSecret string
}

func (v *verifier) signAPI(t *testing.T, event []byte) []byte {
	return resign(t, event, v.apiSecret)
}

func (v *verifier) signWebhook(t *testing.T, event []byte) []byte {
	return resign(t, event, v.demo.signing)
}

// api checks each sample's status, keeps the provisioned tenant's signing
// secret for the signed samples after it, and that the usage was taken.
func (v *verifier) api(t *testing.T, name string, _, resp []byte) {
	r := apiResponse(t, resp)
	secret, err := samples.CheckAPI(name, r.StatusCode, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		v.apiSecret = secret
	}
}

// webhook checks that each (re-signed) alert was accepted and stored.
func (v *verifier) webhook(t *testing.T, _ string, event, resp []byte) {
	if r := apiResponse(t, resp); r.StatusCode != 202 {
		t.Fatalf("got %d %s, want 202", r.StatusCode, r.Body)
	}
	var ev struct{ Body string }
	mustUnmarshal(t, event, &ev)
	var a alerting.Alert
	mustUnmarshal(t, []byte(ev.Body), &a)
	rec, err := v.demo.store.Alert(ctx(t), v.demo.name, a)
	if err != nil {
		t.Fatalf("alert %s (%s) not stored: %v", a.ID, a.Status, err)
	}
	if rec.ID != a.ID || rec.Status != a.Status {
		t.Errorf("stored: got %s (%s), want %s (%s)", rec.ID, rec.Status, a.ID, a.Status)
	}
}

// fanout checks the result names the run: the run-now sample's own id, or
// the scheduled run the hourly tick starts (the tenant's run time is the
// re-dated sample's tick), each with every seeded org.
func (v *verifier) fanout(t *testing.T, name string, event, resp []byte) {
	var res billingsync.Result
	mustUnmarshal(t, resp, &res)
	var req billingsync.StartRequest
	mustUnmarshal(t, event, &req)
	if len(res.Runs) != 1 {
		t.Fatalf("got runs %+v, want one run of %s", res.Runs, v.demo.name)
	}
	r := res.Runs[0]
	if r.Tenant != v.demo.name || r.ID == "" || r.Orgs != int64(len(v.demo.orgs)) {
		t.Errorf("got run %+v, want a run of %s with %d orgs", r, v.demo.name, len(v.demo.orgs))
	}
	if req.RunID != "" && r.ID != req.RunID {
		t.Errorf("got run id %s, want the request's %s", r.ID, req.RunID)
	}
	if _, err := v.demo.store.Run(ctx(t), v.demo.name, r.ID); err != nil {
		t.Errorf("run %s not stored: %v", r.ID, err)
	}
}

// syncDryRun checks the (dry-run) sync sample: no failures, a would-update
// entry per org in its run, and the sandbox lines untouched.
func (v *verifier) syncDryRun(t *testing.T, _ string, event, resp []byte) {
	if f := batchFailures(t, resp); len(f) != 0 {
		t.Fatalf("batch failures %v, want none", f)
	}
	_, msgs := syncMessages(t, event)
	entries, err := v.demo.store.Entries(ctx(t), v.demo.name, msgs[0]["run"].(string), billing.EntryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(msgs) {
		t.Fatalf("entries: got %+v, want one per message (%d)", entries, len(msgs))
	}
	for _, e := range entries {
		if e.Code != billing.CodeWouldUpdate {
			t.Errorf("%s: got %s (%s), want %s", e.Org, e.Code, e.Message, billing.CodeWouldUpdate)
		}
	}
	for _, m := range msgs {
		o := v.demo.org(t, m["org"].(string))
		if got := v.demo.units(t, o); got != initialUnits {
			t.Errorf("%s: line %d at %d after a dry run, want %d untouched", o.id, o.line, got, initialUnits)
		}
	}
}

// syncLive sends each sync sample again as a live run and checks that the
// sandbox lines are at their targets (HWM − non-billable).
func (v *verifier) syncLive(t *testing.T, samples map[string][]byte, invoke func([]byte) []byte) {
	for i, name := range slices.Sorted(maps.Keys(samples)) {
		event := samples[name]
		t.Run("live-"+strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			run := fmt.Sprintf("20261116T180000Z-live%02d", i)
			v.demo.MustRun(t, run, false, v.refs.month)
			live := liveVariant(t, event, run)
			resp := invoke(live)
			if f := batchFailures(t, resp); len(f) != 0 {
				t.Fatalf("batch failures %v, want none", f)
			}
			_, msgs := syncMessages(t, live)
			for _, m := range msgs {
				o := v.demo.org(t, m["org"].(string))
				if got := v.demo.units(t, o); got != o.target {
					t.Errorf("%s: line %d at %d, want the target %d (HWM %d − %d non-billable)", o.id, o.line, got, o.target, o.hwm, o.nonBillable)
				}
			}
			entries, err := v.demo.store.Entries(ctx(t), v.demo.name, run, billing.EntryFilter{})
			if err != nil || len(entries) != len(msgs) {
				t.Fatalf("entries: got %+v (%v), want one per message", entries, err)
			}
			for _, e := range entries {
				if e.Code != billing.CodeUpdated {
					t.Errorf("%s: got %s (%s), want %s", e.Org, e.Code, e.Message, billing.CodeUpdated)
				}
			}
		})
	}
}

// tickets checks each alert of a ticket sample: a ruled type has its
// ticket in the sandbox on the org's company (closed when the batch ends
// with the alert resolved), and repeats reuse it; any other type is
// skipped.
func (v *verifier) tickets(t *testing.T, _ string, event, resp []byte) {
	if f := batchFailures(t, resp); len(f) != 0 {
		t.Fatalf("batch failures %v, want none", f)
	}
	_, raws := syncMessages(t, event)
	var msgs []alerting.Message
	last := map[string]alerting.Status{} // each alert's status after the batch
	for _, raw := range raws {
		var m alerting.Message
		mustUnmarshal(t, mustMarshal(t, raw), &m)
		msgs = append(msgs, m)
		last[m.Alert.ID] = m.Alert.Status
	}
	for _, m := range msgs {
		a := m.Alert
		rec, err := v.demo.store.Alert(ctx(t), v.demo.name, a)
		if err != nil {
			t.Fatalf("alert %s (%s): %v", a.ID, a.Status, err)
		}
		if !slices.Contains(ruledTypes, a.Type) {
			if rec.State != alerting.Skipped {
				t.Errorf("alert %s (%s, no rule): got %s, want %s", a.ID, a.Type, rec.State, alerting.Skipped)
			}
			continue
		}
		if rec.State != alerting.Done || rec.TicketID == 0 {
			t.Errorf("alert %s (%s): got %s %s ticket %d (%s), want done with a ticket", a.ID, a.Status, rec.State, rec.Decision, rec.TicketID, rec.Error)
			continue
		}
		tk, ok := v.demo.sb.Autotask.Ticket(atUser, rec.TicketID)
		if !ok {
			t.Errorf("alert %s: ticket %d not in the sandbox", a.ID, rec.TicketID)
			continue
		}
		if o := v.demo.org(t, a.Org); tk.CompanyID != o.company || tk.ExternalID != a.ExternalKey() {
			t.Errorf("alert %s: ticket on company %d key %q, want %d %q", a.ID, tk.CompanyID, tk.ExternalID, o.company, a.ExternalKey())
		}
		if closed := tk.Status == ticketRule.CompleteStatusID; closed != (last[a.ID] == alerting.Resolved) {
			t.Errorf("alert %s (%s, then %s in the batch): ticket %d status %d, closed %v", a.ID, a.Status, last[a.ID], tk.ID, tk.Status, closed)
		}
	}
	if got, want := v.demo.sb.Autotask.TicketsCreated(atUser), len(ruledTypes); got != want {
		t.Errorf("tickets created: got %d, want %d (one per ruled alert; repeats add notes)", got, want)
	}
}
