// Package syncstore adapts *dynamo.Store to the storage interfaces of
// billingsync, so the sync's logic depends on no AWS package.
package syncstore

import (
	"context"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/psa/budget"
)

// Adapter is a *dynamo.Store seen as billingsync.FanoutStore and
// billingsync.WorkerStore.
type Adapter struct {
	*dynamo.Store
}

var (
	_ billingsync.FanoutStore = Adapter{}
	_ billingsync.WorkerStore = Adapter{}
	_ budget.Store            = Adapter{}
)

// MappedOrgs lists one shard of the mapped-org index, of one tenant when
// tenant is not empty.
func (a Adapter) MappedOrgs(ctx context.Context, shard int, tenant string, each func(billingsync.MappedOrg) error) error {
	conv := func(m dynamo.MappedOrg) error {
		return each(billingsync.MappedOrg{Tenant: m.Tenant, Org: m.Org, Mapping: m.Mapping})
	}
	return a.Store.MappedOrgs(ctx, shard, tenant, conv)
}

// BatchStart reads a batch's outcomes, settings, orgs and integration in
// one BatchGetItem (dynamo.Store.SyncBatch).
func (a Adapter) BatchStart(ctx context.Context, tenant, runID string, orgs []string) (billingsync.BatchStart, error) {
	b, err := a.Store.SyncBatch(ctx, tenant, runID, orgs)
	return billingsync.BatchStart{Outcomes: b.Outcomes, Settings: b.Settings, Orgs: b.Orgs, Integration: b.Integration}, err
}

// HighWaterMarks returns the HWM values of the month for keys that have one.
func (a Adapter) HighWaterMarks(ctx context.Context, tenant string, month billing.Month, keys []billing.LineKey) (map[billing.LineKey]int64, error) {
	uks := make([]dynamo.UsageKey, len(keys))
	for i, k := range keys {
		uks[i] = dynamo.UsageKey{Org: k.Org, Product: k.Product, Month: month}
	}
	got, err := a.Store.HighWaterMarks(ctx, tenant, uks)
	if err != nil {
		return nil, err
	}
	out := make(map[billing.LineKey]int64, len(got))
	for k, h := range got {
		out[billing.LineKey{Org: k.Org, Product: k.Product}] = h.Value
	}
	return out, nil
}
