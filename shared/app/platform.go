package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/signature"
)

// What the vendor's platform and operators do: report usage, register
// orgs, provision tenants and rotate their signing secrets.

// UsageStore takes the platform's usage and org registrations
// (*dynamo.Store).
type UsageStore interface {
	// BillingSettings are the tenant's settings (its billing time zone).
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
	// RecordObservation raises the HWM of the observation's org, product
	// and month (in loc) when its value is higher, in one conditional
	// write; true when it raised it.
	RecordObservation(ctx context.Context, tenant string, loc *time.Location, o billing.Observation) (bool, error)
	// RegisterOrg registers an org with its display name (again: renames).
	RegisterOrg(ctx context.Context, tenant, org, name string) error
}

// MaxObservations bounds one usage report.
const MaxObservations = 1000

// ingestParallelism bounds concurrent storage writes of one usage report.
const ingestParallelism = 16

// Usage takes in the platform's usage reports and org registrations.
type Usage struct {
	Store UsageStore
	Now   func() time.Time
	Log   *slog.Logger
}

// Rejection is one observation of a report that was not recorded: its
// index in the report and why (Invalid for a bad observation, Transient
// when storage could not take it now, so it is to be sent again).
type Rejection struct {
	Index int
	Err   error
}

// Record records a report of 1 to MaxObservations observations: each
// costs exactly one storage request (up to 16 at once); a bad one is
// rejected by index and never drops the good. It returns how many were
// recorded and the rejections, by index.
//
// Errors: Invalid for an empty or too long report; the store's (settings);
// Transient when none was recorded and some failed for want of storage,
// so the platform sends the whole report again.
func (s *Usage) Record(ctx context.Context, tenant string, obs []billing.Observation) (int, []Rejection, error) {
	if len(obs) == 0 {
		return 0, nil, apperr.New(apperr.Invalid, "observations must not be empty")
	}
	if len(obs) > MaxObservations {
		return 0, nil, apperr.New(apperr.Invalid, "at most %d observations per request", MaxObservations)
	}
	settings, err := s.Store.BillingSettings(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	loc, err := billing.LoadLocation(settings.TimeZone)
	if err != nil {
		return 0, nil, err
	}
	var (
		accepted int
		rejected = []Rejection{}
		mu       sync.Mutex // guards accepted and rejected
		g        errgroup.Group
	)
	// No error stops the others: each is the rejection of its observation.
	g.SetLimit(ingestParallelism)
	reject := func(i int, err error) {
		mu.Lock()
		rejected = append(rejected, Rejection{Index: i, Err: err})
		mu.Unlock()
	}
	now := s.now()
	for i, o := range obs {
		if err := o.Validate(now); err != nil {
			reject(i, err)
			continue
		}
		g.Go(func() error {
			if _, err := s.Store.RecordObservation(ctx, tenant, loc, o); err != nil {
				s.log().WarnContext(ctx, "observation not recorded", "tenant", tenant, "org", o.Org, "err", err)
				reject(i, err)
				return nil
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // every function returns nil
	if accepted == 0 && slices.ContainsFunc(rejected, func(x Rejection) bool { return apperr.Is(x.Err, apperr.Transient) }) {
		return 0, nil, apperr.New(apperr.Transient, "usage storage is unavailable; send the observations again")
	}
	slices.SortFunc(rejected, func(a, b Rejection) int { return a.Index - b.Index })
	return accepted, rejected, nil
}

// RegisterOrg registers an org of tenant (or renames it) with its display
// name. Invalid for a malformed org id or a name that is empty or longer
// than 200 characters; the store's errors.
func (s *Usage) RegisterOrg(ctx context.Context, tenant, org, name string) error {
	if !billing.ValidOrgID(org) {
		return apperr.New(apperr.Invalid, "org must be 1-128 letters, digits, '.', '_', ':' or '-'")
	}
	if name == "" || len(name) > 200 {
		return apperr.New(apperr.Invalid, "name must be 1-200 characters")
	}
	return s.Store.RegisterOrg(ctx, tenant, org, name)
}

func (s *Usage) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

func (s *Usage) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// TenantStore provisions tenants (*dynamo.Store).
type TenantStore interface {
	// CreateTenant creates the tenant; Conflict when it exists.
	CreateTenant(ctx context.Context, tenant string) (billing.Tenant, error)
	// Tenant reads the tenant; NotFound when it does not exist.
	Tenant(ctx context.Context, tenant string) (billing.Tenant, error)
}

// SigningSecretStore keeps the tenants' platform signing secrets
// (*secrets.Store).
type SigningSecretStore interface {
	// SigningSecrets are the tenant's secrets, oldest first (cached);
	// NotFound when it has none.
	SigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error)
	// FreshSigningSecrets is SigningSecrets read past the cache.
	FreshSigningSecrets(ctx context.Context, tenant string) ([]signature.Secret, error)
	// PutSigningSecrets replaces the tenant's secrets.
	PutSigningSecrets(ctx context.Context, tenant string, list []signature.Secret) error
}

// Tenants provisions tenants for the vendor's operators and rotates their
// platform signing secrets.
type Tenants struct {
	Store   TenantStore
	Secrets SigningSecretStore
	// Forget, when set, is told every tenant whose signing secrets
	// changed, so verifiers drop what they remember of them.
	Forget func(tenant string)
	Now    func() time.Time
	Log    *slog.Logger
}

// Provision creates a tenant and returns its first signing secret, which
// is shown once. It stores the tenant, then its secret; when the second
// write fails the operator's retry finishes the creation instead of
// getting Conflict, so a failure never leaves a tenant that can neither be
// used nor created. Conflict when the tenant exists with a secret; the
// stores' errors.
func (s *Tenants) Provision(ctx context.Context, tenant string) (signature.Secret, error) {
	if _, err := s.Store.CreateTenant(ctx, tenant); err != nil {
		if !apperr.Is(err, apperr.Conflict) {
			return signature.Secret{}, err
		}
		// The tenant exists. If it has no signing secret, an earlier
		// request created it and then failed, or was cut off, before
		// storing one: this request finishes it. Otherwise it is taken.
		list, serr := s.Secrets.FreshSigningSecrets(ctx, tenant)
		switch {
		case serr == nil && len(list) > 0:
			return signature.Secret{}, err
		case serr != nil && !apperr.Is(serr, apperr.NotFound):
			return signature.Secret{}, serr
		}
		s.log().WarnContext(ctx, "tenant had no signing secret: finishing its creation", "tenant", tenant)
	}
	sec := s.newSecret()
	if err := s.Secrets.PutSigningSecrets(ctx, tenant, []signature.Secret{sec}); err != nil {
		return signature.Secret{}, err
	}
	s.forget(tenant)
	return sec, nil
}

// RotateSecret adds a new signing secret to tenant and returns it; the
// previous newest stays valid (older ones are retired), so the platform
// can switch without downtime. NotFound for an unknown tenant; the
// stores' errors.
func (s *Tenants) RotateSecret(ctx context.Context, tenant string) (signature.Secret, error) {
	if _, err := s.Store.Tenant(ctx, tenant); err != nil {
		return signature.Secret{}, err
	}
	list, err := s.Secrets.SigningSecrets(ctx, tenant)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return signature.Secret{}, err
	}
	sec := s.newSecret()
	keep := []signature.Secret{sec}
	if len(list) > 0 {
		keep = []signature.Secret{list[len(list)-1], sec}
	}
	if err := s.Secrets.PutSigningSecrets(ctx, tenant, keep); err != nil {
		return signature.Secret{}, err
	}
	s.forget(tenant)
	return sec, nil
}

// newSecret is a fresh random signing secret.
func (s *Tenants) newSecret() signature.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	now := clock.Now
	if s.Now != nil {
		now = s.Now
	}
	return signature.Secret{ID: "sk_" + hex.EncodeToString(id), Value: "whsec_" + hex.EncodeToString(b), CreatedAt: now().UTC()}
}

func (s *Tenants) forget(tenant string) {
	if s.Forget != nil {
		s.Forget(tenant)
	}
}

func (s *Tenants) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
