package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
)

// Catalogs keeps a tenant's product catalog: the products the vendor
// bills, pushed to the PSA (Autotask Services, ConnectWise catalog items)
// so admins pick them there instead of typing them, and so mapping health
// can tell a line that bills the wrong product.
type Catalogs struct {
	Store        CatalogStore
	Integrations IntegrationReader
	PSA          Connector
	Now          func() time.Time
	Log          *slog.Logger
	// Metrics receives the Degraded count of errors a push carries on
	// after (metrics.Degrade); nil emits none.
	Metrics *metrics.Emitter
}

// Put replaces the tenant's catalog with c's products if the stored
// version is still ifVersion (AnyVersion: whatever it is). Validation
// follows the connected PSA's rules (billing code for Autotask, product
// type and subcategory for ConnectWise; without an integration, the rules
// common to both). A product keeps its push record (the PSA item it owns);
// one whose pushed fields changed is "not pushed" until the next push.
// Errors: Invalid naming each bad field, PreconditionFailed on a stale
// version, the store's.
func (s *Catalogs) Put(ctx context.Context, tenant string, c billing.Catalog, ifVersion int64) (billing.Catalog, error) {
	var provider psa.Provider
	switch in, err := s.Integrations.Integration(ctx, tenant); {
	case err == nil:
		provider = in.Provider
	case !apperr.Is(err, apperr.NotFound):
		return billing.Catalog{}, err
	}
	stored, err := s.Store.Catalog(ctx, tenant)
	if err != nil {
		return billing.Catalog{}, err
	}
	for i := range c.Products {
		c.Products[i].Push = billing.PushStatus{} // psabridge's record, never the caller's
	}
	if err := c.Validate(provider); err != nil {
		return billing.Catalog{}, err
	}
	for i := range c.Products {
		p := &c.Products[i]
		old, ok := stored.Product(p.Key)
		if !ok {
			continue
		}
		p.Push = old.Push
		if old.Push.State == billing.Pushed && old.Item() != p.Item() {
			p.Push.State, p.Push.Message, p.Push.Details = billing.NotPushed, "changed since the last push", nil
		}
	}
	if ifVersion == AnyVersion {
		ifVersion = stored.Version
	}
	return s.Store.PutCatalog(ctx, tenant, c, ifVersion)
}

// PushedStep is one product's outcome of a push: what the plan did and
// the product's push record after it.
type PushedStep struct {
	Step   billing.CatalogStep
	Status billing.PushStatus
}

// Push creates or updates the catalog's products in the PSA: one read of
// the PSA's catalog, then one write per product that is missing or
// differs (billing.PlanCatalogPush). A name or identifier held by an item
// psabridge did not create is reported as a clash and never overwritten; a
// second push writes nothing. Each product's status is stored with the
// catalog, which Push returns with the steps; a product the PSA refused
// carries the PSA's words. A transient failure or a refusal of the
// credentials stops the push: what was pushed so far is recorded (best
// effort) and the error returned.
//
// Errors: NotFound without an integration; Invalid when the catalog is
// empty or breaks the PSA's rules; Rejected when the PSA refuses the
// stored credentials (PSAError); Transient; the store's.
func (s *Catalogs) Push(ctx context.Context, tenant string) (billing.Catalog, []PushedStep, error) {
	c, in, err := client(ctx, s.PSA, tenant)
	if err != nil {
		return billing.Catalog{}, nil, err
	}
	cat, err := s.Store.Catalog(ctx, tenant)
	if err != nil {
		return billing.Catalog{}, nil, err
	}
	if len(cat.Products) == 0 {
		return billing.Catalog{}, nil, apperr.New(apperr.Invalid, "the catalog is empty: PUT /v1/catalog first")
	}
	if err := cat.Validate(in.Provider); err != nil {
		return billing.Catalog{}, nil, err
	}
	items, err := c.CatalogItems(ctx)
	if err != nil {
		return billing.Catalog{}, nil, PSAError(err)
	}
	steps := billing.PlanCatalogPush(cat.Products, items)
	out := make([]PushedStep, len(steps))
	now := s.now().UTC()
	for i, step := range steps {
		var result psa.CatalogItem
		var perr error
		if step.Action == billing.CatalogCreate || step.Action == billing.CatalogUpdate {
			result, perr = c.UpsertCatalogItem(ctx, step.Item)
			if apperr.Is(perr, apperr.Transient) || apperr.Is(perr, apperr.Unauthorized) {
				// Stop: the rest would fail alike.
				s.recordPush(ctx, tenant, cat, i)
				return billing.Catalog{}, nil, PSAError(perr)
			}
		}
		cat.Products[i].RecordPush(step, result, perr, now)
		out[i] = PushedStep{Step: step, Status: cat.Products[i].Push}
	}
	saved, err := s.Store.PutCatalog(ctx, tenant, cat, cat.Version)
	if err != nil {
		return billing.Catalog{}, nil, err
	}
	return saved, out, nil
}

// recordPush stores the push status of the products pushed before a push
// stopped, so the items created are adopted by the next push (best effort:
// the next push finds them by identifier and name anyway).
func (s *Catalogs) recordPush(ctx context.Context, tenant string, cat billing.Catalog, done int) {
	if done == 0 {
		return
	}
	if _, err := s.Store.PutCatalog(ctx, tenant, cat, cat.Version); err != nil {
		metrics.Degrade(ctx, s.log(), s.Metrics, "api.catalog_push_record", "recording a partial catalog push failed; the next push finds the items by identifier and name", err, "tenant", tenant)
	}
}

func (s *Catalogs) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

func (s *Catalogs) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
