package syncstore

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// TenantMappings returns the mappings of a tenant's mapped orgs, reading
// every shard of the mapped-org index (in parallel) for the tenant only.
// Every shard is read; the first error to occur is returned.
func (a Adapter) TenantMappings(ctx context.Context, tenant string) (map[string]billing.Mapping, error) {
	var mu sync.Mutex // guards out
	out := map[string]billing.Mapping{}
	var g errgroup.Group
	for shard := range schema.MappedShards {
		g.Go(func() error {
			return a.Store.MappedOrgs(ctx, shard, tenant, func(m dynamo.MappedOrg) error {
				mu.Lock()
				out[m.Org] = m.Mapping
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
