package signature

import (
	"context"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/clock"
)

// Defaults of a Verifier.
const (
	// DefaultSecretTTL is how long a tenant's secrets are used before they
	// are read again (as the secret store's own cache would).
	DefaultSecretTTL = 5 * time.Minute
	// DefaultRereadInterval is the least time between two reads of one
	// tenant's secrets: a signature that fails against the secrets in hand
	// causes a re-read (another process may have rotated them) only if the
	// last read is at least this old.
	DefaultRereadInterval = time.Minute
	// maxTenants bounds the entries kept (unknown tenants included).
	maxTenants = 10000
)

// Verifier verifies platform requests of many tenants and decides when a
// tenant's secrets are read from the secret store. A request can cost a
// read only when its header is well-formed and within the time window, and
// then at most one read per tenant per RereadInterval, whatever the
// signature: so bad requests, for a known tenant or an unknown one, cannot
// turn into a stream of secret-store calls (issue 13: 100 bad requests made
// 100 GetSecretValue calls). Safe for concurrent use; a zero value needs Read.
type Verifier struct {
	// Read returns a tenant's current secrets from the secret store,
	// uncached. NotFound when the tenant has none (an unknown tenant).
	Read func(ctx context.Context, tenant string) ([]string, error)
	// Now is the clock (default clock.Now).
	Now func() time.Time
	// SecretTTL (default DefaultSecretTTL) and RereadInterval (default
	// DefaultRereadInterval) are described at the defaults.
	SecretTTL      time.Duration
	RereadInterval time.Duration

	mu      sync.Mutex
	tenants map[string]*secretEntry
}

// secretEntry is what the Verifier knows of one tenant's secrets.
type secretEntry struct {
	values  []string
	missing bool      // the store has no secrets for the tenant
	readAt  time.Time // when the last read started
	// reading is open while a read is under way; others wait for it
	// rather than read too.
	reading chan struct{}
}

// Verify checks a platform request of tenant: header against the raw body
// with the tenant's secrets. Unauthorized when the header is missing,
// malformed or outside the window (no read at all), when the tenant has no
// secrets, or when no secret matches, even after the one re-read the
// interval allows. Transient when the secret store fails.
func (v *Verifier) Verify(ctx context.Context, tenant, header string, body []byte) error {
	sig, err := Parse(header, v.now())
	if err != nil {
		return err
	}
	values, err := v.secrets(ctx, tenant)
	if err != nil {
		return err
	}
	if sig.Matches(body, values) {
		return nil
	}
	// Maybe another process rotated the secrets since they were read.
	values, reread, err := v.reread(ctx, tenant)
	if err != nil {
		return err
	}
	if reread && sig.Matches(body, values) {
		return nil
	}
	return apperr.New(apperr.Unauthorized, "signature does not match")
}

// Forget drops what is known of tenant's secrets, so the next request reads
// them: for the process that has just created or rotated them.
func (v *Verifier) Forget(tenant string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.tenants[tenant]; e != nil && e.reading == nil {
		delete(v.tenants, tenant)
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return clock.Now()
}

func (v *Verifier) ttl() time.Duration {
	if v.SecretTTL > 0 {
		return v.SecretTTL
	}
	return DefaultSecretTTL
}

func (v *Verifier) interval() time.Duration {
	if v.RereadInterval > 0 {
		return v.RereadInterval
	}
	return DefaultRereadInterval
}

// secrets returns the tenant's secrets, read when none are in hand or they
// are older than SecretTTL (an unknown tenant is asked again only after
// RereadInterval). Unauthorized for an unknown tenant.
func (v *Verifier) secrets(ctx context.Context, tenant string) ([]string, error) {
	v.mu.Lock()
	e, err := v.settled(ctx, tenant)
	if err != nil {
		v.mu.Unlock()
		return nil, err
	}
	now := v.now()
	if e != nil {
		fresh := now.Sub(e.readAt) < v.ttl()
		if e.missing {
			fresh = now.Sub(e.readAt) < v.interval()
		}
		if fresh {
			values, missing := e.values, e.missing
			v.mu.Unlock()
			return known(values, missing)
		}
	}
	return v.readUnlock(ctx, tenant, now)
}

// reread reads a known tenant's secrets again if the last read is at least
// RereadInterval old; reread is false when it was not allowed.
func (v *Verifier) reread(ctx context.Context, tenant string) (values []string, reread bool, err error) {
	v.mu.Lock()
	e, err := v.settled(ctx, tenant)
	if err != nil {
		v.mu.Unlock()
		return nil, false, err
	}
	now := v.now()
	if e == nil || e.missing || now.Sub(e.readAt) < v.interval() {
		v.mu.Unlock()
		return nil, false, nil
	}
	values, err = v.readUnlock(ctx, tenant, now)
	return values, err == nil, err
}

// settled waits (v.mu held, and held again on return) until no read of
// tenant is under way, and returns its entry (nil when none).
func (v *Verifier) settled(ctx context.Context, tenant string) (*secretEntry, error) {
	for {
		e := v.tenants[tenant]
		if e == nil || e.reading == nil {
			return e, nil
		}
		ch := e.reading
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			v.mu.Lock()
			return nil, apperr.Wrap(ctx.Err(), apperr.Transient, "signing secrets are unavailable")
		}
		v.mu.Lock()
	}
}

// readUnlock reads tenant's secrets (v.mu held on entry, released on return)
// and records the outcome. A failed read (Transient) leaves the entry as
// it was and returns the store's error as it came.
func (v *Verifier) readUnlock(ctx context.Context, tenant string, now time.Time) ([]string, error) {
	if v.tenants == nil {
		v.tenants = map[string]*secretEntry{}
	}
	prev := v.tenants[tenant]
	if prev == nil {
		v.prune(now)
	}
	ch := make(chan struct{})
	pending := &secretEntry{readAt: now, reading: ch}
	if prev != nil {
		pending.values, pending.missing = prev.values, prev.missing
	}
	v.tenants[tenant] = pending
	v.mu.Unlock()

	values, err := v.Read(ctx, tenant)

	v.mu.Lock()
	defer v.mu.Unlock()
	defer close(ch)
	switch {
	case apperr.Is(err, apperr.NotFound):
		v.tenants[tenant] = &secretEntry{missing: true, readAt: now}
		return known(nil, true)
	case err != nil:
		if prev != nil {
			v.tenants[tenant] = prev
		} else {
			delete(v.tenants, tenant)
		}
		return nil, err // classified by the store (Transient when it fails)
	}
	v.tenants[tenant] = &secretEntry{values: values, readAt: now}
	return known(values, false)
}

// prune keeps the map bounded (v.mu held): when full, it drops unknown
// tenants and stale entries, and everything if that is not enough.
func (v *Verifier) prune(now time.Time) {
	if len(v.tenants) < maxTenants {
		return
	}
	for t, e := range v.tenants {
		if e.reading == nil && (e.missing || now.Sub(e.readAt) >= v.ttl()) {
			delete(v.tenants, t)
		}
	}
	if len(v.tenants) >= maxTenants {
		for t, e := range v.tenants {
			if e.reading == nil {
				delete(v.tenants, t)
			}
		}
	}
}

func known(values []string, missing bool) ([]string, error) {
	if missing || len(values) == 0 {
		return nil, apperr.New(apperr.Unauthorized, "the tenant has no signing secret")
	}
	return values, nil
}
