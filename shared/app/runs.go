package app

import (
	"context"

	"github.com/psabridge/psabridge/shared/apperr"
)

// RunStarter starts a billing sync run of a tenant now (billingsync.Fanout;
// in AWS an asynchronous invocation of the fan-out).
type RunStarter interface {
	// StartRun starts a run and returns its id. Conflict when one is running.
	StartRun(ctx context.Context, tenant string, dryRun bool) (string, error)
}

// RunNow starts sync runs an admin asks for.
type RunNow struct {
	Integrations IntegrationReader
	// Runs starts the run; nil when this deployment cannot start runs.
	Runs RunStarter
}

// Start starts a run of tenant now (a dry run writes nothing to the PSA)
// and returns its id. NotFound when the tenant has no integration;
// Transient when no run can be started here; Conflict while another run
// is running.
func (s *RunNow) Start(ctx context.Context, tenant string, dryRun bool) (string, error) {
	if _, err := s.Integrations.Integration(ctx, tenant); err != nil {
		return "", err
	}
	if s.Runs == nil {
		return "", apperr.New(apperr.Transient, "runs cannot be started now")
	}
	return s.Runs.StartRun(ctx, tenant, dryRun)
}
