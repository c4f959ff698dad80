package app

import (
	"context"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// SettingsStore reads and writes the tenant's billing settings
// (*dynamo.Store).
type SettingsStore interface {
	// BillingSettings are the tenant's settings (defaults when none are
	// stored).
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
	// PutBillingSettings stores set if the stored version is still
	// ifVersion (AnyVersion: whatever it is); PreconditionFailed
	// otherwise.
	PutBillingSettings(ctx context.Context, tenant string, set billing.Settings, ifVersion int64) (billing.Settings, error)
}

// MaxOrgOverrides bounds per-org cost overrides so the settings item stays
// well under DynamoDB's 400 KB.
const MaxOrgOverrides = 1000

// Settings keeps the tenant's billing settings.
type Settings struct {
	Store SettingsStore
}

// Get is the tenant's billing settings. The store's errors.
func (s *Settings) Get(ctx context.Context, tenant string) (billing.Settings, error) {
	return s.Store.BillingSettings(ctx, tenant)
}

// Put replaces the tenant's billing settings if the stored version is
// still ifVersion (AnyVersion: whatever it is). Invalid for settings that
// fail billing.Settings.Validate or carry more than MaxOrgOverrides per-org
// costs; PreconditionFailed on a stale version; the store's errors.
func (s *Settings) Put(ctx context.Context, tenant string, set billing.Settings, ifVersion int64) (billing.Settings, error) {
	if err := set.Validate(); err != nil {
		return billing.Settings{}, err
	}
	if len(set.OrgUnitCost) > MaxOrgOverrides {
		return billing.Settings{}, apperr.New(apperr.Invalid, "at most %d per-org cost overrides", MaxOrgOverrides)
	}
	return s.Store.PutBillingSettings(ctx, tenant, set, ifVersion)
}
