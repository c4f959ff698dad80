package syncstore

import (
	"context"
	"sync"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// TenantMappings returns the mappings of a tenant's mapped orgs, reading
// every shard of the mapped-org index (in parallel) for the tenant only.
func (a Adapter) TenantMappings(ctx context.Context, tenant string) (map[string]billing.Mapping, error) {
	var mu sync.Mutex
	out := map[string]billing.Mapping{}
	errs := make([]error, schema.MappedShards)
	var wg sync.WaitGroup
	for shard := 0; shard < schema.MappedShards; shard++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[shard] = a.Store.MappedOrgs(ctx, shard, tenant, func(m dynamo.MappedOrg) error {
				mu.Lock()
				out[m.Org] = m.Mapping
				mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
