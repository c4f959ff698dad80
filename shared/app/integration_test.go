package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// fakeIntegrations is an IntegrationStore and CredentialStore in memory.
type fakeIntegrations struct {
	item    *integration.Integration
	secret  *psa.Credentials
	deleted int
}

func (f *fakeIntegrations) Integration(context.Context, string) (integration.Integration, error) {
	if f.item == nil {
		return integration.Integration{}, apperr.New(apperr.NotFound, "no integration")
	}
	return *f.item, nil
}

func (f *fakeIntegrations) PutIntegration(_ context.Context, _ string, in integration.Integration, ifVersion int64) (integration.Integration, error) {
	cur := int64(0)
	if f.item != nil {
		cur = f.item.Version
	}
	if ifVersion != cur {
		return integration.Integration{}, apperr.New(apperr.PreconditionFailed, "stale")
	}
	in.Version = cur + 1
	f.item = &in
	return in, nil
}

func (f *fakeIntegrations) DeleteIntegrationData(context.Context, string) (int, error) {
	f.item = nil
	f.deleted++
	return 3, nil
}

func (f *fakeIntegrations) PutPSACredentials(_ context.Context, _ string, c psa.Credentials) error {
	f.secret = &c
	return nil
}

func (f *fakeIntegrations) DeletePSACredentials(context.Context, string) error {
	f.secret = nil
	return nil
}

// verifier is a PSA client whose Verify answers err (nothing else is
// called by Connect).
type verifier struct {
	psa.Client
	err error
}

func (v verifier) Verify(context.Context) error { return v.err }

// TestIntegrationsConnect: credentials are verified before anything is
// stored, a stale version touches neither the PSA nor the secret, the
// secret carries the next credential version, and rotating the same
// account keeps the admin's choices.
func TestIntegrationsConnect(t *testing.T) {
	at := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	creds := psa.Credentials{Provider: psa.Autotask, Username: "api@acme.example", Secret: "s3cret", IntegrationCode: "CODE"}
	stored := func() *integration.Integration {
		in := integration.Public(creds)
		in.Version, in.CredentialVersion, in.CompanyTypeIDs, in.TicketingEnabled = 4, 2, []int64{7}, true
		return &in
	}
	for _, tc := range []struct {
		name       string
		item       *integration.Integration
		creds      func(c *psa.Credentials)
		ifVersion  int64
		verifyErr  error
		want       apperr.Code
		wantDials  int
		wantCredV  int64
		wantChoice bool
	}{
		{name: "New", ifVersion: app.AnyVersion, wantDials: 1, wantCredV: 1},
		{name: "RotateSameAccount", item: stored(), ifVersion: 4, wantDials: 1, wantCredV: 3, wantChoice: true},
		{name: "OtherAccountDropsChoices", item: stored(), creds: func(c *psa.Credentials) { c.Username = "other@acme.example" }, ifVersion: app.AnyVersion, wantDials: 1, wantCredV: 3},
		{name: "ErrStale", item: stored(), ifVersion: 3, want: apperr.PreconditionFailed},
		{name: "ErrRefused", verifyErr: apperr.New(apperr.Unauthorized, "bad secret"), ifVersion: app.AnyVersion, want: apperr.Rejected, wantDials: 1},
		{name: "ErrPSADown", verifyErr: apperr.New(apperr.Transient, "down"), ifVersion: app.AnyVersion, want: apperr.Transient, wantDials: 1},
		{name: "ErrAddressRefused", verifyErr: apperr.New(apperr.Invalid, "http://127.0.0.1 is not allowed"), ifVersion: app.AnyVersion, want: apperr.Invalid, wantDials: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIntegrations{item: tc.item}
			c := creds
			if tc.creds != nil {
				tc.creds(&c)
			}
			dials, forgotten := 0, 0
			s := &app.Integrations{Store: f, Credentials: f, Now: func() time.Time { return at }, Log: slog.New(slog.DiscardHandler),
				Dial: func(string, psa.Credentials, psa.Endpoints) (psa.Client, error) {
					dials++
					return verifier{err: tc.verifyErr}, nil
				},
				Forget: func(string) { forgotten++ }}
			before := f.item
			saved, err := s.Connect(context.Background(), "acme", c, psa.Endpoints{}, tc.ifVersion)
			if dials != tc.wantDials {
				t.Errorf("got %d dials, want %d", dials, tc.wantDials)
			}
			if tc.want != "" {
				if apperr.CodeOf(err) != tc.want || f.secret != nil || f.item != before || forgotten != 0 {
					t.Fatalf("got %v (secret %v, item changed %v, forgotten %d), want %s with nothing stored", err, f.secret, f.item != before, forgotten, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.secret == nil || f.secret.CredentialVersion != tc.wantCredV || saved.CredentialVersion != tc.wantCredV || forgotten != 1 {
				t.Fatalf("got secret %+v, item %+v, forgotten %d; want credential version %d in both, forgotten once", f.secret, saved, forgotten, tc.wantCredV)
			}
			if kept := len(saved.CompanyTypeIDs) == 1 && saved.TicketingEnabled; kept != tc.wantChoice || !saved.VerifiedAt.Equal(at) {
				t.Fatalf("got %+v, want choices kept %v and verified at %s", saved, tc.wantChoice, at)
			}
		})
	}
}

// TestIntegrationsClear: the secret goes first, the data and item last;
// NotFound without an integration, nothing deleted.
func TestIntegrationsClear(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		in := integration.Integration{Provider: psa.Autotask, Version: 1}
		f := &fakeIntegrations{item: &in, secret: &psa.Credentials{Provider: psa.Autotask}}
		forgotten := 0
		s := &app.Integrations{Store: f, Credentials: f, Forget: func(string) { forgotten++ }, Log: slog.New(slog.DiscardHandler)}
		if err := s.Clear(context.Background(), "acme"); err != nil || f.item != nil || f.secret != nil || forgotten != 1 {
			t.Fatalf("got %v, item %v, secret %v, forgotten %d; want all gone", err, f.item, f.secret, forgotten)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		f := &fakeIntegrations{}
		s := &app.Integrations{Store: f, Credentials: f}
		if err := s.Clear(context.Background(), "acme"); !apperr.Is(err, apperr.NotFound) || f.deleted != 0 {
			t.Fatalf("got %v after %d deletes, want not_found and none", err, f.deleted)
		}
	})
}
