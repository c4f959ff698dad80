package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// The product catalog and the mapping health the sync recorded.
//
//	PK                SK        item
//	T#<t>             CATALOG   billing.Catalog under "doc" (versioned)
//	T#<t>#RUN#<run>   HEALTH    billing.RunHealth of the run under "doc" (TTL)

const (
	skCatalog = "CATALOG"
	skHealth  = "HEALTH"
)

// Catalog returns a tenant's product catalog: empty (version 0) when none
// is stored.
func (s *Store) Catalog(ctx context.Context, tenant string) (billing.Catalog, error) {
	c := billing.Catalog{Products: []billing.CatalogProduct{}}
	v, err := s.getDoc(ctx, tenantPK(tenant), skCatalog, &c)
	if c.Products == nil {
		c.Products = []billing.CatalogProduct{}
	}
	c.Version = v
	return c, err
}

// PutCatalog stores a tenant's catalog if ifVersion matches (0 when none
// is stored, AnyVersion to skip the check) and returns it with its new
// version. PreconditionFailed when stale.
func (s *Store) PutCatalog(ctx context.Context, tenant string, c billing.Catalog, ifVersion int64) (billing.Catalog, error) {
	c.UpdatedAt = s.now().UTC()
	v, err := s.putDoc(ctx, tenantPK(tenant), skCatalog, c, ifVersion, nil)
	c.Version = v
	return c, err
}

// RunHealth returns the health a run recorded; found false when none.
func (s *Store) RunHealth(ctx context.Context, tenant, runID string) (billing.RunHealth, bool, error) {
	var h billing.RunHealth
	v, err := s.getDoc(ctx, runChildPK(tenant, runID), skHealth, &h)
	return h, v > 0, err
}

// PutRunHealth records a run's health unless one is recorded already
// (another worker got there first): the stored one is returned then.
func (s *Store) PutRunHealth(ctx context.Context, tenant, runID string, h billing.RunHealth) (billing.RunHealth, error) {
	if len(h.Orgs) > billing.MaxHealthOrgs {
		kept := make(map[string]billing.Health, billing.MaxHealthOrgs)
		for org, oh := range h.Orgs {
			if len(kept) == billing.MaxHealthOrgs {
				break
			}
			kept[org] = oh
		}
		h.Orgs, h.Truncated = kept, true
	}
	_, err := s.putDoc(ctx, runChildPK(tenant, runID), skHealth, h, 0, map[string]types.AttributeValue{schema.TTLAttribute: s.ttl(Retention)})
	if apperr.Is(err, apperr.PreconditionFailed) {
		stored, _, gerr := s.RunHealth(ctx, tenant, runID)
		return stored, gerr
	}
	return h, err
}

// LatestRunHealth returns the health recorded by the newest of a tenant's
// last few runs that recorded one; found false when none did.
func (s *Store) LatestRunHealth(ctx context.Context, tenant string) (billing.RunHealth, bool, error) {
	runs, err := s.Runs(ctx, tenant, 5)
	if err != nil {
		return billing.RunHealth{}, false, err
	}
	if len(runs) == 0 {
		return billing.RunHealth{}, false, nil
	}
	keys := make([]map[string]types.AttributeValue, len(runs))
	for i, r := range runs {
		keys[i] = key(runChildPK(tenant, r.ID), skHealth)
	}
	var best billing.RunHealth
	var found bool
	var derr error
	err = s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) {
		doc, ok := item["doc"].(*types.AttributeValueMemberM)
		if !ok {
			return
		}
		var h billing.RunHealth
		if err := attributevalue.UnmarshalMap(doc.Value, &h); err != nil {
			derr = apperr.Wrap(err, apperr.Internal, "decode run health")
			return
		}
		if !found || h.CheckedAt.After(best.CheckedAt) {
			best, found = h, true
		}
	})
	if err == nil {
		err = derr
	}
	return best, found, err
}
