package secrets_test

import (
	"context"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

func TestSigningSecrets(t *testing.T) {
	ctx := context.Background()
	s := secretstest.NewStore(t)
	if _, err := s.SigningSecrets(ctx, "t1"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("before put: got %v, want not_found", err)
	}
	first := []secrets.SigningSecret{{ID: "k1", Value: "v1", CreatedAt: time.Unix(1, 0).UTC()}}
	if err := s.PutSigningSecrets(ctx, "t1", first); err != nil {
		t.Fatal(err)
	}
	got, err := s.FreshSigningSecrets(ctx, "t1")
	if err != nil || len(got) != 1 || got[0].Value != "v1" {
		t.Fatalf("fresh: got %+v, %v; want v1", got, err)
	}
	rotated := append(first, secrets.SigningSecret{ID: "k2", Value: "v2"})
	if err := s.PutSigningSecrets(ctx, "t1", rotated); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FreshSigningSecrets(ctx, "t1"); err != nil || len(got) != 2 {
		t.Fatalf("after rotation: got %+v, %v; want 2 secrets", got, err)
	}
}

func TestPSACredentialsLifecycle(t *testing.T) {
	ctx := context.Background()
	s := secretstest.NewStore(t)
	c := psa.Credentials{Provider: psa.Autotask, Username: "api@msp.example", Secret: "s3cret", IntegrationCode: "CODE"}
	if err := s.PutPSACredentials(ctx, "t1", c); err != nil {
		t.Fatal(err)
	}
	got, err := s.PSACredentials(ctx, "t1")
	if err != nil || got != c {
		t.Fatalf("cached read: got %+v, %v; want %+v", got, err, c)
	}
	if err := s.DeletePSACredentials(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FreshPSACredentials(ctx, "t1"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("after delete: got %v, want not_found", err)
	}
	t.Run("DeleteTwiceIsFine", func(t *testing.T) {
		if err := s.DeletePSACredentials(ctx, "nobody"); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
	t.Run("PutRestoresScheduledDeletion", func(t *testing.T) {
		c.Secret = "rotated"
		if err := s.PutPSACredentials(ctx, "t1", c); err != nil {
			t.Fatal(err)
		}
		got, err := s.FreshPSACredentials(ctx, "t1")
		if err != nil || got.Secret != "rotated" {
			t.Fatalf("got %+v, %v; want the rotated secret", got, err)
		}
	})
}
