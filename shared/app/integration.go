package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// IntegrationStore keeps a tenant's integration item and clears its data
// (*dynamo.Store).
type IntegrationStore interface {
	IntegrationReader
	// PutIntegration stores in if the stored version is still ifVersion
	// (0: none stored); PreconditionFailed otherwise.
	PutIntegration(ctx context.Context, tenant string, in integration.Integration, ifVersion int64) (integration.Integration, error)
	// DeleteIntegrationData deletes the integration, its mappings and
	// what the sync recorded of the PSA, the integration item last; it
	// returns the number of items deleted.
	DeleteIntegrationData(ctx context.Context, tenant string) (int, error)
}

// CredentialStore writes a tenant's PSA credentials (*secrets.Store).
type CredentialStore interface {
	PutPSACredentials(ctx context.Context, tenant string, c psa.Credentials) error
	// DeletePSACredentials schedules the secret's deletion; no error when
	// there is none.
	DeletePSACredentials(ctx context.Context, tenant string) error
}

// VerifyTimeout bounds the PSA check of Connect (API Gateway gives a
// request 30 s).
const VerifyTimeout = 20 * time.Second

// Integrations connects, rotates and clears a tenant's PSA integration.
type Integrations struct {
	Store       IntegrationStore
	Credentials CredentialStore
	// Dial builds the PSA client that verifies new credentials.
	Dial integration.Dialer
	// Forget, when set, is told every tenant whose integration changed, so
	// PSA clients and answers cached for it are dropped.
	Forget func(tenant string)
	Now    func() time.Time
	Log    *slog.Logger
}

// Connect connects the tenant's PSA with creds at ep, or rotates the
// credentials of the connected one, if the stored integration's version is
// still ifVersion (AnyVersion: whatever it is; 0: none stored). The
// credentials are verified against the PSA before anything is stored;
// then the secret is written, carrying the credential version the item is
// about to name (so every process can tell its cached copy is stale:
// integration.Connector), and the item last. Rotating the same account
// keeps the admin's choices (company types, ticketing).
//
// Errors: PreconditionFailed on a stale version (neither the PSA nor the
// secret touched); Invalid for settings refused before any PSA answered
// (an address psabridge may not call, a malformed host); Rejected with the
// PSA's reason when it refuses the credentials; Transient; the stores'.
func (s *Integrations) Connect(ctx context.Context, tenant string, creds psa.Credentials, ep psa.Endpoints, ifVersion int64) (integration.Integration, error) {
	cur, err := s.Store.Integration(ctx, tenant)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return integration.Integration{}, err
	}
	if ifVersion == AnyVersion {
		ifVersion = cur.Version
	} else if ifVersion != cur.Version {
		return integration.Integration{}, apperr.New(apperr.PreconditionFailed, "the integration was changed by someone else; read it again")
	}
	if err := s.verify(ctx, tenant, creds, ep); err != nil {
		return integration.Integration{}, err
	}
	creds.CredentialVersion = cur.CredentialVersion + 1
	if err := s.Credentials.PutPSACredentials(ctx, tenant, creds); err != nil {
		return integration.Integration{}, err
	}
	in := integration.Public(creds)
	in.Endpoints = ep
	if sameAccount(cur, in) {
		in.CompanyTypeIDs, in.TicketingEnabled = cur.CompanyTypeIDs, cur.TicketingEnabled
	}
	now := s.now().UTC()
	in.VerifiedAt, in.CredentialsUpdatedAt = now, now
	saved, err := s.Store.PutIntegration(ctx, tenant, in, ifVersion)
	if err != nil {
		return integration.Integration{}, err
	}
	s.forget(tenant)
	s.log().InfoContext(ctx, "integration saved", "tenant", tenant, "provider", in.Provider)
	return saved, nil
}

// Clear disables the tenant's integration and clears all its data. The
// secret is scheduled for deletion first; the integration item goes last,
// so a failed call is completed by calling again. NotFound without an
// integration; the stores' errors.
func (s *Integrations) Clear(ctx context.Context, tenant string) error {
	if _, err := s.Store.Integration(ctx, tenant); err != nil {
		return err
	}
	if err := s.Credentials.DeletePSACredentials(ctx, tenant); err != nil {
		return err
	}
	n, err := s.Store.DeleteIntegrationData(ctx, tenant)
	if err != nil {
		return err
	}
	s.forget(tenant)
	s.log().InfoContext(ctx, "integration deleted", "tenant", tenant, "items", n)
	return nil
}

// sameAccount reports whether b connects the same PSA account as a.
func sameAccount(a, b integration.Integration) bool {
	return a.Provider == b.Provider && strings.EqualFold(a.Username, b.Username) &&
		strings.EqualFold(a.Site, b.Site) && strings.EqualFold(a.CompanyID, b.CompanyID) &&
		strings.EqualFold(a.Host, b.Host) && strings.EqualFold(a.Tenant, b.Tenant) && a.Endpoints == b.Endpoints
}

// verify checks credentials against the PSA. Rejected with the PSA's
// reason when the PSA refuses them.
func (s *Integrations) verify(ctx context.Context, tenant string, creds psa.Credentials, ep psa.Endpoints) error {
	ctx, cancel := context.WithTimeout(ctx, VerifyTimeout)
	defer cancel()
	if s.Dial == nil {
		return apperr.New(apperr.Internal, "no PSA dialer is configured")
	}
	client, err := s.Dial(tenant, creds, ep)
	if apperr.Is(err, apperr.Invalid) {
		// Malformed settings (e.g. a ConnectWise site that is not a cloud
		// host): the PSA was never asked.
		return err
	}
	if err == nil {
		err = client.Verify(ctx)
	}
	if err == nil {
		return nil
	}
	switch apperr.CodeOf(err) {
	case apperr.Transient, apperr.Internal:
		return err
	case apperr.Invalid:
		// The values were refused before any PSA answered (an address
		// psabridge may not call, a malformed host): say what is wrong
		// with them, not that the PSA refused the credentials.
		return err
	}
	return &apperr.Error{Code: apperr.Rejected, Message: "the PSA did not accept these credentials: " + apperr.MessageOf(err),
		Details: apperr.DetailsOf(err), Err: err}
}

func (s *Integrations) forget(tenant string) {
	if s.Forget != nil {
		s.Forget(tenant)
	}
}

func (s *Integrations) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

func (s *Integrations) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
