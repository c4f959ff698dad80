package signature_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/signature"
)

// secretStore is the secret store as the Verifier sees it, counting reads.
type secretStore struct {
	mu      sync.Mutex
	secrets map[string][]string
	down    bool
	reads   map[string]int
}

func (s *secretStore) read(_ context.Context, tenant string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads == nil {
		s.reads = map[string]int{}
	}
	s.reads[tenant]++
	switch list, ok := s.secrets[tenant]; {
	case s.down:
		return nil, apperr.Wrap(errors.New("connection refused"), apperr.Transient, "secrets are unavailable")
	case !ok:
		return nil, apperr.New(apperr.NotFound, "no secret stored")
	default:
		return list, nil
	}
}

func (s *secretStore) count(tenant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[tenant]
}

func (s *secretStore) set(tenant string, list ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[tenant] = list
}

// TestVerifierReads: how many secret-store reads each kind of request
// costs. 100 bad requests of one kind cost at most one read; a request
// whose header is malformed or outside the window costs none.
func TestVerifierReads(t *testing.T) {
	body := []byte(`{"id":"a"}`)
	for _, tc := range []struct {
		name      string
		tenant    string
		header    func(now time.Time) string
		wantReads int
		wantOK    bool
	}{
		{"Valid", "acme", func(now time.Time) string { return signature.Sign(body, now, "s1") }, 1, true},
		{"ErrWrongSecret", "acme", func(now time.Time) string { return signature.Sign(body, now, "guess") }, 1, false},
		{"ErrUnknownTenant", "nobody", func(now time.Time) string { return signature.Sign(body, now, "guess") }, 1, false},
		{"ErrMalformedHeader", "acme", func(time.Time) string { return "t=1,v1=zz" }, 0, false},
		{"ErrGarbageHeader", "acme", func(time.Time) string { return "garbage" }, 0, false},
		{"ErrNoHeader", "acme", func(time.Time) string { return "" }, 0, false},
		{"ErrExpired", "acme", func(now time.Time) string { return signature.Sign(body, now.Add(-301*time.Second), "s1") }, 0, false},
		{"ErrFuture", "nobody", func(now time.Time) string { return signature.Sign(body, now.Add(301*time.Second), "s1") }, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
			store := &secretStore{secrets: map[string][]string{"acme": {"s1"}}}
			v := &signature.Verifier{Read: store.read, Now: func() time.Time { return now }}
			for i := range 100 {
				err := v.Verify(context.Background(), tc.tenant, tc.header(now), body)
				if (err == nil) != tc.wantOK || (err != nil && !apperr.Is(err, apperr.Unauthorized)) {
					t.Fatalf("request %d: got %v, want ok=%v (else unauthorized)", i, err, tc.wantOK)
				}
				now = now.Add(100 * time.Millisecond)
			}
			if got := store.count(tc.tenant); got != tc.wantReads {
				t.Fatalf("got %d reads for 100 requests, want %d", got, tc.wantReads)
			}
		})
	}
}

// TestVerifierRereadAfterRotation: a secret rotated by another process is
// picked up by the first request that needs it once the last read is a
// minute old, and only one read per minute is made for a tenant under a
// stream of bad signatures.
func TestVerifierRereadAfterRotation(t *testing.T) {
	body := []byte(`{}`)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	store := &secretStore{secrets: map[string][]string{"acme": {"old"}}}
	v := &signature.Verifier{Read: store.read, Now: func() time.Time { return now }}
	verify := func(secret string) error {
		return v.Verify(context.Background(), "acme", signature.Sign(body, now, secret), body)
	}

	if err := verify("old"); err != nil {
		t.Fatal(err)
	}
	store.set("acme", "old", "new")
	now = now.Add(30 * time.Second)
	if err := verify("new"); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("30 s after the last read: got %v, want unauthorized (no re-read yet)", err)
	}
	now = now.Add(30 * time.Second)
	if err := verify("new"); err != nil {
		t.Fatalf("a minute after the last read: got %v, want the rotated secret accepted", err)
	}
	if got := store.count("acme"); got != 2 {
		t.Fatalf("got %d reads, want 2 (first request, one re-read)", got)
	}
	// Ten minutes of bad signatures, one a second: one read a minute.
	for range 600 {
		now = now.Add(time.Second)
		if err := verify("guess"); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v, want unauthorized", err)
		}
	}
	if got := store.count("acme") - 2; got > 10 {
		t.Fatalf("got %d reads in 10 minutes of bad signatures, want at most 10", got)
	}
}

// TestVerifierForget: the process that rotates a tenant's secrets uses the
// new one at once.
func TestVerifierForget(t *testing.T) {
	body := []byte(`{}`)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	store := &secretStore{secrets: map[string][]string{}}
	v := &signature.Verifier{Read: store.read, Now: func() time.Time { return now }}
	if err := v.Verify(context.Background(), "acme", signature.Sign(body, now, "s1"), body); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("before provisioning: got %v, want unauthorized", err)
	}
	store.set("acme", "s1")
	v.Forget("acme")
	if err := v.Verify(context.Background(), "acme", signature.Sign(body, now, "s1"), body); err != nil {
		t.Fatalf("after provisioning: got %v, want ok", err)
	}
}

// TestVerifierStoreDown: an outage is Transient (the caller answers 503),
// never read as a bad signature, and is not remembered.
func TestVerifierStoreDown(t *testing.T) {
	body := []byte(`{}`)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	store := &secretStore{secrets: map[string][]string{"acme": {"s1"}}, down: true}
	v := &signature.Verifier{Read: store.read, Now: func() time.Time { return now }}
	if err := v.Verify(context.Background(), "acme", signature.Sign(body, now, "s1"), body); !apperr.Is(err, apperr.Transient) {
		t.Fatalf("store down: got %v, want transient", err)
	}
	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	if err := v.Verify(context.Background(), "acme", signature.Sign(body, now, "s1"), body); err != nil {
		t.Fatalf("store back: got %v, want ok", err)
	}
}

// TestVerifierConcurrent: many goroutines verifying for one cold tenant
// share one read.
func TestVerifierConcurrent(t *testing.T) {
	body := []byte(`{}`)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	store := &secretStore{secrets: map[string][]string{"acme": {"s1"}}}
	v := &signature.Verifier{Read: store.read, Now: func() time.Time { return now }}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			secret := "s1"
			if i%2 == 1 {
				secret = fmt.Sprint("guess", i)
			}
			if err := v.Verify(context.Background(), "acme", signature.Sign(body, now, secret), body); (err == nil) != (i%2 == 0) {
				errs <- fmt.Errorf("request %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := store.count("acme"); got != 1 {
		t.Fatalf("got %d reads, want 1", got)
	}
}
