package app

import (
	"context"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// The small storage and PSA interfaces the services share. Each is a
// role of *dynamo.Store or *integration.Connector; a service names only
// those it uses.

// AnyVersion as an ifVersion writes whatever version is stored (no
// optimistic-lock check); it mirrors dynamo.AnyVersion.
const AnyVersion int64 = -1

// IntegrationReader reads a tenant's integration (the PSA connection's
// public settings).
type IntegrationReader interface {
	// Integration is the tenant's integration; NotFound when it has none.
	Integration(ctx context.Context, tenant string) (integration.Integration, error)
}

// CatalogStore reads and writes a tenant's product catalog.
type CatalogStore interface {
	// Catalog is the tenant's catalog (empty, version 0, when none is
	// stored).
	Catalog(ctx context.Context, tenant string) (billing.Catalog, error)
	// PutCatalog stores c if the stored version is still ifVersion
	// (AnyVersion: whatever it is); PreconditionFailed otherwise.
	PutCatalog(ctx context.Context, tenant string, c billing.Catalog, ifVersion int64) (billing.Catalog, error)
}

// Connector hands out a tenant's PSA client and its integration
// (*integration.Connector). NotFound when the tenant has no integration;
// Transient while the credentials cannot be read.
type Connector interface {
	Client(ctx context.Context, tenant string) (psa.Client, integration.Integration, error)
}

// client is c.Client with the PSA's refusal of the stored credentials
// turned into what an admin should see (PSAError).
func client(ctx context.Context, c Connector, tenant string) (psa.Client, integration.Integration, error) {
	cl, in, err := c.Client(ctx, tenant)
	if err != nil {
		return nil, integration.Integration{}, PSAError(err)
	}
	return cl, in, nil
}
