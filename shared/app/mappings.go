package app

import (
	"context"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
)

// MappingStore reads orgs and writes their mappings (*dynamo.Store).
type MappingStore interface {
	// Org reads one org; NotFound when the tenant has no such org.
	Org(ctx context.Context, tenant, org string) (billing.Org, error)
	// Orgs lists the tenant's registered orgs, with their mappings.
	Orgs(ctx context.Context, tenant string) ([]billing.Org, error)
	// PutMapping stores an org's mapping if its version is still
	// ifVersion (0: none stored); PreconditionFailed otherwise.
	PutMapping(ctx context.Context, tenant, org string, m billing.Mapping, ifVersion int64) (billing.Mapping, error)
}

// Mappings maps orgs to their PSA company, contract and lines, and holds
// a mapping against the PSA on demand.
type Mappings struct {
	Store    MappingStore
	Catalogs CatalogStore
	PSA      Connector
	Now      func() time.Time
}

// Mapping is an org's mapping. NotFound when the org has none.
func (s *Mappings) Mapping(ctx context.Context, tenant, org string) (billing.Mapping, error) {
	o, err := s.Store.Org(ctx, tenant, org)
	if err != nil {
		return billing.Mapping{}, err
	}
	if o.Mapping == nil {
		return billing.Mapping{}, apperr.New(apperr.NotFound, "org %q has no mapping", org)
	}
	return *o.Mapping, nil
}

// Put maps an org to a PSA company, contract and lines (m, its state
// set to mapped), checked against the PSA first (CheckNewMapping), and
// keeps the PSA's names of the company and contract with it. Changing an
// existing mapping must be guarded with its version (ifVersion, or
// AnyVersion to take whatever is stored), so two admins editing at once
// cannot overwrite each other; an unguarded Put only creates.
//
// Errors: Invalid for a malformed mapping (billing.Mapping.Validate);
// NotFound without an integration; PreconditionFailed for an unguarded
// change or a stale version; Rejected for what the PSA lacks or has
// ended (CheckNewMapping); Transient; the store's.
func (s *Mappings) Put(ctx context.Context, tenant, org string, m billing.Mapping, ifVersion int64, guarded bool) (billing.Mapping, error) {
	m.State = billing.Mapped
	if err := m.Validate(); err != nil {
		return billing.Mapping{}, err
	}
	c, _, err := client(ctx, s.PSA, tenant)
	if err != nil {
		return billing.Mapping{}, err
	}
	cur, err := s.Mapping(ctx, tenant, org)
	switch {
	case err == nil && !guarded:
		return billing.Mapping{}, apperr.New(apperr.PreconditionFailed, "the org is mapped already: send its ETag in If-Match (or its version in the body) to change the mapping")
	case err != nil && !apperr.Is(err, apperr.NotFound):
		return billing.Mapping{}, err
	case !guarded:
		ifVersion = 0
	case ifVersion == AnyVersion:
		ifVersion = cur.Version
	}
	seen, err := CheckNewMapping(ctx, c, m, s.now())
	if err != nil {
		return billing.Mapping{}, err
	}
	m.Seen = seen
	return s.Store.PutMapping(ctx, tenant, org, m, ifVersion)
}

// Disable disables an org's mapping if its version is still ifVersion
// (AnyVersion: whatever it is): the org leaves the sync, its mapping is
// kept for re-enabling. NotFound when the org has no mapping;
// PreconditionFailed on a stale version; the store's errors.
func (s *Mappings) Disable(ctx context.Context, tenant, org string, ifVersion int64) (billing.Mapping, error) {
	m, err := s.Mapping(ctx, tenant, org)
	if err != nil {
		return billing.Mapping{}, err
	}
	if ifVersion == AnyVersion {
		ifVersion = m.Version
	}
	m.State = billing.Disabled
	return s.Store.PutMapping(ctx, tenant, org, m, ifVersion)
}

// Health holds an org's mapping against the PSA now (CheckMappings, lines
// included): company gone, inactive or renamed; contract gone, of another
// company, cancelled, ended or not recurring; lines missing, cancelled or
// billing another product than the pushed catalog's. Everything is
// identified by PSA ids. NotFound when the org has no mapping or the
// tenant no integration; Rejected when the PSA refuses the stored
// credentials; Transient; the store's errors.
func (s *Mappings) Health(ctx context.Context, tenant, org string) (billing.Health, error) {
	m, err := s.Mapping(ctx, tenant, org)
	if err != nil {
		return billing.Health{}, err
	}
	c, _, err := client(ctx, s.PSA, tenant)
	if err != nil {
		return billing.Health{}, err
	}
	cat, err := s.Catalogs.Catalog(ctx, tenant)
	if err != nil {
		return billing.Health{}, err
	}
	checked, err := CheckMappings(ctx, c, map[string]billing.Mapping{org: m}, LineCheck{Read: true, Catalog: cat.ServiceIDs()}, s.now().UTC())
	if err != nil {
		return billing.Health{}, PSAError(err)
	}
	return checked[org].Health, nil
}

func (s *Mappings) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}
