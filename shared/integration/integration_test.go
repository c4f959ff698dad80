package integration_test

import (
	"context"
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
