package dynamo_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestSyncBatchReads: SyncBatch and LineInputs answer what the separate
// reads answer (OrgOutcomes, BillingSettings, OrgsByID but for the org's
// name, Integration; HighWaterMarks, LineMemories), each with one request,
// for present and missing items, and without another tenant's items.
func TestSyncBatchReads(t *testing.T) {
	ctx := context.Background()
	counter := &awsconfig.RequestCounter{}
	s := dynamotest.NewStore(t, counter)
	now := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	const tenant, run = "t-batch", "run-1"
	set := billing.DefaultSettings()
	set.CreateMissingLines = true
	if _, err := s.PutBillingSettings(ctx, tenant, set, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIntegration(ctx, tenant, integration.Integration{Provider: psa.Autotask, Username: "api@x", CredentialVersion: 3}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterOrg(ctx, tenant, "o1", "Acme"); err != nil {
		t.Fatal(err)
	}
	for i, org := range []string{"o1", "o2"} {
		m := billing.Mapping{CompanyID: int64(i + 1), ContractID: 10, State: billing.Mapped, Lines: []billing.LineMapping{{Product: billing.Users, LineID: int64(100 + i)}}}
		if _, err := s.PutMapping(ctx, tenant, org, m, 0); err != nil {
			t.Fatal(err)
		}
		// Another tenant's org of the same id stays out.
		if _, err := s.PutMapping(ctx, "t-other", org, billing.Mapping{CompanyID: 99, ContractID: 99, State: billing.Mapped}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateRun(ctx, tenant, billing.Run{ID: run, Kind: billing.Scheduled, Status: billing.Running, StartedAt: now, Counts: billing.Counts{Total: 2}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOutcomes(ctx, tenant, run, []billing.OutcomeChange{{Org: "o1", Next: billing.OutcomeState{Outcome: billing.OutcomeUpdated, Final: true}}}); err != nil {
		t.Fatal(err)
	}
	loc, _ := billing.LoadLocation("")
	if _, err := s.RecordObservation(ctx, tenant, loc, billing.Observation{Org: "o1", Product: billing.Users, Value: 12, ObservedAt: now}); err != nil {
		t.Fatal(err)
	}
	month := billing.MonthOf(now, loc)
	mem := billing.LineMemory{ContractID: 10, LineID: 101, Month: month, Value: billing.LineValue{Quantity: 7, UnitCost: 4.25}, VerifiedAt: now}
	if err := s.PutLineMemories(ctx, tenant, map[billing.LineKey]billing.LineMemory{{Org: "o2", Product: billing.Users}: mem}); err != nil {
		t.Fatal(err)
	}

	orgs := []string{"o1", "o2", "o3", "o1"}
	counter.Reset()
	got, err := s.SyncBatch(ctx, tenant, run, orgs)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.Total(); n != 1 {
		t.Errorf("SyncBatch: %d requests, want 1", n)
	}
	wantOutcomes, err := s.OrgOutcomes(ctx, tenant, run, orgs)
	if err != nil {
		t.Fatal(err)
	}
	wantSet, err := s.BillingSettings(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	wantOrgs, err := s.OrgsByID(ctx, tenant, orgs)
	if err != nil {
		t.Fatal(err)
	}
	for id, o := range wantOrgs {
		o.Name, o.CreatedAt = "", time.Time{} // not read: a sync does not need them
		wantOrgs[id] = o
	}
	wantIn, err := s.Integration(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := dynamo.SyncBatch{Outcomes: wantOutcomes, Settings: wantSet, Orgs: wantOrgs, Integration: &wantIn}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SyncBatch:\n got %+v\nwant %+v", got, want)
	}
	if len(got.Orgs) != 2 || len(got.Outcomes) != 1 || !got.Settings.CreateMissingLines || got.Integration.CredentialVersion != 3 {
		t.Errorf("SyncBatch: got %d orgs, %d outcomes, settings %+v, integration %+v; want o1 and o2, o1's outcome, the stored settings and integration",
			len(got.Orgs), len(got.Outcomes), got.Settings, got.Integration)
	}

	// A tenant with nothing stored: defaults, no integration.
	empty, err := s.SyncBatch(ctx, "t-empty", run, []string{"o1"})
	if err != nil {
		t.Fatal(err)
	}
	if empty.Integration != nil || len(empty.Orgs) != 0 || len(empty.Outcomes) != 0 || !reflect.DeepEqual(empty.Settings, billing.DefaultSettings()) {
		t.Errorf("SyncBatch of an empty tenant: got %+v, want the default settings and nothing else", empty)
	}

	keys := []billing.LineKey{{Org: "o1", Product: billing.Users}, {Org: "o2", Product: billing.Users}, {Org: "o3", Product: billing.Users}}
	counter.Reset()
	hwms, mems, err := s.LineInputs(ctx, tenant, month, keys)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.Total(); n != 1 {
		t.Errorf("LineInputs: %d requests, want 1", n)
	}
	uks := make([]dynamo.UsageKey, len(keys))
	for i, k := range keys {
		uks[i] = dynamo.UsageKey{Org: k.Org, Product: k.Product, Month: month}
	}
	sepHWMs, err := s.HighWaterMarks(ctx, tenant, uks)
	if err != nil {
		t.Fatal(err)
	}
	wantHWMs := map[billing.LineKey]int64{}
	for k, h := range sepHWMs {
		wantHWMs[billing.LineKey{Org: k.Org, Product: k.Product}] = h.Value
	}
	wantMems, err := s.LineMemories(ctx, tenant, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hwms, wantHWMs) || !reflect.DeepEqual(mems, wantMems) {
		t.Errorf("LineInputs: got %v %v, want %v %v", hwms, mems, wantHWMs, wantMems)
	}
	if hwms[keys[0]] != 12 || len(hwms) != 1 || !reflect.DeepEqual(mems, map[billing.LineKey]billing.LineMemory{keys[1]: mem}) {
		t.Errorf("LineInputs: got %v %v, want o1's HWM 12 and o2's memory %+v", hwms, mems, mem)
	}
}
