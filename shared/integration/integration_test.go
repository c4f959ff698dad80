package integration_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// dialed is a psa.Client stand-in that remembers the credentials it was
// built with; the Connector never calls the PSA itself.
type dialed struct {
	psa.Client
	creds psa.Credentials
}

func TestConnector(t *testing.T) {
	ctx := context.Background()
	store, sec := dynamotest.NewStore(t, nil), secretstest.NewStore(t)
	dials := 0
	c := &integration.Connector{Store: store, Credentials: sec, Dial: func(tenant string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
		dials++
		return dialed{creds: creds}, nil
	}}
	t.Run("ErrNoIntegration", func(t *testing.T) {
		if _, _, err := c.Client(ctx, "t1"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	creds := psa.Credentials{Provider: psa.Autotask, Username: "u@x", Secret: "one", IntegrationCode: "c"}
	put := func(secret string, stamp time.Time, version int64) {
		t.Helper()
		creds.Secret, creds.CredentialVersion = secret, version+1
		if err := sec.PutPSACredentials(ctx, "t1", creds); err != nil {
			t.Fatal(err)
		}
		in := integration.Public(creds)
		in.CredentialsUpdatedAt = stamp
		if _, err := store.PutIntegration(ctx, "t1", in, version); err != nil {
			t.Fatal(err)
		}
	}
	put("one", time.Unix(100, 0).UTC(), 0)
	for range 3 {
		cl, in, err := c.Client(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if in.Provider != psa.Autotask || cl.(dialed).creds.Secret != "one" {
			t.Fatalf("got %+v with secret %q, want autotask with secret one", in, cl.(dialed).creds.Secret)
		}
	}
	if dials != 1 {
		t.Fatalf("got %d dials for 3 calls, want 1 (cached)", dials)
	}
	t.Run("RotationRedials", func(t *testing.T) {
		put("two", time.Unix(200, 0).UTC(), 1)
		cl, _, err := c.Client(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.(dialed).creds.Secret; got != "two" || dials != 2 {
			t.Fatalf("got secret %q after %d dials, want two after 2", got, dials)
		}
	})
	t.Run("ErrSecretNotYetVisible", func(t *testing.T) {
		// The item names a version Secrets Manager does not answer yet
		// (the secret write not visible): no client from the old secret.
		in, err := store.Integration(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		in.CredentialVersion++
		if _, err := store.PutIntegration(ctx, "t1", in, in.Version); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Client(ctx, "t1"); !apperr.Is(err, apperr.Transient) {
			t.Fatalf("got %v, want transient", err)
		}
		put("three", time.Unix(300, 0).UTC(), in.Version+1)
	})
	t.Run("ForgetRedials", func(t *testing.T) {
		c.Forget("t1")
		if _, _, err := c.Client(ctx, "t1"); err != nil || dials != 3 {
			t.Fatalf("got %v after %d dials, want a third dial", err, dials)
		}
	})
}

// cacheDown is a Credentials whose cached read fails while Secrets Manager
// itself answers.
type cacheDown struct{ integration.Credentials }

func (cacheDown) PSACredentials(context.Context, string) (psa.Credentials, error) {
	return psa.Credentials{}, errors.New("secret cache: connection reset")
}

// TestConnectorReportsCachedReadFailure: a failed cached secret read that a
// direct read makes good still yields the client, and the failure is
// logged with its error (metrics.Degrade), not swallowed.
func TestConnectorReportsCachedReadFailure(t *testing.T) {
	ctx := context.Background()
	store, sec := dynamotest.NewStore(t, nil), secretstest.NewStore(t)
	creds := psa.Credentials{Provider: psa.Autotask, Username: "u@x", Secret: "one", IntegrationCode: "c", CredentialVersion: 1}
	if err := sec.PutPSACredentials(ctx, "t1", creds); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutIntegration(ctx, "t1", integration.Public(creds), 0); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	c := &integration.Connector{Store: store, Credentials: cacheDown{sec}, Log: slog.New(slog.NewTextHandler(&logged, nil)),
		Dial: func(tenant string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			return dialed{creds: creds}, nil
		}}
	cl, _, err := c.Client(ctx, "t1")
	if err != nil || cl.(dialed).creds.Secret != "one" {
		t.Fatalf("got %v, %v; want the client of secret one", cl, err)
	}
	for _, want := range []string{"level=WARN", "operation=integration.cached_secret", "connection reset", "tenant=t1"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log %q lacks %q", logged.String(), want)
		}
	}
}
