package dynamo

import (
	"context"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
)

const skIntegration = "INTEGRATION"

// Integration returns a tenant's integration. NotFound when none is stored.
func (s *Store) Integration(ctx context.Context, tenant string) (integration.Integration, error) {
	var in integration.Integration
	v, err := s.getDoc(ctx, tenantPK(tenant), skIntegration, &in)
	if err != nil {
		return integration.Integration{}, err
	}
	if v == 0 {
		return integration.Integration{}, apperr.New(apperr.NotFound, "no PSA integration is configured")
	}
	in.Version = v
	return in, nil
}

// PutIntegration stores a tenant's integration if ifVersion matches (0 when
// none is stored; AnyVersion skips the check) and returns it with its new
// version. PreconditionFailed when stale.
func (s *Store) PutIntegration(ctx context.Context, tenant string, in integration.Integration, ifVersion int64) (integration.Integration, error) {
	v, err := s.putDoc(ctx, tenantPK(tenant), skIntegration, in, ifVersion, nil)
	in.Version = v
	return in, err
}
