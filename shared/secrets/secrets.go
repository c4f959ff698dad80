// Package secrets keeps psabridge's secrets in AWS Secrets Manager: each
// tenant's platform signing secrets (psabridge/platform/<tenant>) and its PSA
// credentials (psabridge/psa/<tenant>). Reads go through
// aws-secretsmanager-caching-go so a warm Lambda asks Secrets Manager rarely.
//
// The two namespaces have separate IAM in AWS: the webhook can read platform
// secrets and never PSA credentials.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awserr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/signature"
)

// DefaultPrefix is the name prefix of every psabridge secret.
const DefaultPrefix = "psabridge/"

// CacheTTL bounds how stale a cached secret can be in another process after
// a rotation.
const CacheTTL = 5 * time.Minute

// RecoveryDays is the recovery window of a deleted PSA secret.
const RecoveryDays = 7

// Store reads and writes tenants' secrets.
type Store struct {
	client *secretsmanager.Client
	cache  *secretcache.Cache
	prefix string
}

// New returns a Store over a Secrets Manager client. prefix defaults to
// DefaultPrefix.
func New(client *secretsmanager.Client, prefix string) (*Store, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	cache, err := secretcache.New(func(c *secretcache.Cache) {
		c.Client = client
		c.CacheConfig.CacheItemTTL = int64(CacheTTL)
	})
	if err != nil {
		return nil, err
	}
	return &Store{client: client, cache: cache, prefix: prefix}, nil
}

func (s *Store) platformName(tenant string) string { return s.prefix + "platform/" + tenant }
func (s *Store) psaName(tenant string) string      { return s.prefix + "psa/" + tenant }

// SigningSecret is a platform signing secret as stored (signature.Secret).
type SigningSecret = signature.Secret

type platformDoc struct {
	Secrets []SigningSecret `json:"secrets"`
}

// SigningSecrets returns a tenant's current signing secrets (cached).
// NotFound when the tenant has none; Transient when Secrets Manager fails.
func (s *Store) SigningSecrets(ctx context.Context, tenant string) ([]SigningSecret, error) {
	var doc platformDoc
	if err := s.cachedJSON(ctx, s.platformName(tenant), &doc); err != nil {
		return nil, err
	}
	return doc.Secrets, nil
}

// FreshSigningSecrets reads a tenant's signing secrets from Secrets Manager,
// bypassing the cache: for a signature that fails against the cached copy,
// in case another process rotated them meanwhile.
func (s *Store) FreshSigningSecrets(ctx context.Context, tenant string) ([]SigningSecret, error) {
	var doc platformDoc
	if err := s.freshJSON(ctx, s.platformName(tenant), &doc); err != nil {
		return nil, err
	}
	return doc.Secrets, nil
}

// PutSigningSecrets creates or replaces a tenant's signing secrets.
func (s *Store) PutSigningSecrets(ctx context.Context, tenant string, list []SigningSecret) error {
	return s.put(ctx, s.platformName(tenant), platformDoc{Secrets: list})
}

// PSACredentials returns a tenant's PSA credentials (cached). NotFound when
// none are stored.
func (s *Store) PSACredentials(ctx context.Context, tenant string) (psa.Credentials, error) {
	var c psa.Credentials
	err := s.cachedJSON(ctx, s.psaName(tenant), &c)
	return c, err
}

// FreshPSACredentials reads a tenant's PSA credentials bypassing the cache:
// for the API right after a rotation, and for a worker whose cached
// credentials were refused. NotFound when none are stored.
func (s *Store) FreshPSACredentials(ctx context.Context, tenant string) (psa.Credentials, error) {
	var c psa.Credentials
	err := s.freshJSON(ctx, s.psaName(tenant), &c)
	return c, err
}

// PutPSACredentials creates or replaces a tenant's PSA credentials. Other
// processes may see the old ones from their caches for up to CacheTTL.
func (s *Store) PutPSACredentials(ctx context.Context, tenant string, c psa.Credentials) error {
	return s.put(ctx, s.psaName(tenant), c)
}

// DeletePSACredentials schedules deletion of a tenant's PSA credentials
// (recovery window RecoveryDays). Deleting what is not there is not an error.
func (s *Store) DeletePSACredentials(ctx context.Context, tenant string) error {
	_, err := s.client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:             aws.String(s.psaName(tenant)),
		RecoveryWindowInDays: aws.Int64(RecoveryDays),
	})
	var nf *smtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return awserr.Wrap(err, "could not delete the PSA credentials")
	}
	return nil
}

// cachedJSON reads a secret through the cache. (The caching library's
// RefreshNow sleeps for seconds, so it is never called on a request path;
// freshJSON serves the rare read that must not be stale.)
func (s *Store) cachedJSON(ctx context.Context, name string, v any) error {
	str, err := s.cache.GetSecretStringWithContext(ctx, name)
	return decodeSecret(str, err, v)
}

func (s *Store) freshJSON(ctx context.Context, name string, v any) error {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return decodeSecret("", err, v)
	}
	return decodeSecret(aws.ToString(out.SecretString), nil, v)
}

func decodeSecret(str string, err error, v any) error {
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		var inv *smtypes.InvalidRequestException // scheduled for deletion
		if errors.As(err, &nf) || errors.As(err, &inv) {
			return apperr.Wrap(err, apperr.NotFound, "no secret stored")
		}
		return awserr.Wrap(err, "secrets are unavailable")
	}
	if err := json.Unmarshal([]byte(str), v); err != nil {
		return apperr.Wrap(err, apperr.Internal, "stored secret is malformed")
	}
	return nil
}

// put writes a secret value, creating the secret, or first restoring one
// that is scheduled for deletion, as needed. Writes are rare (admin and
// operator actions), so it asks DescribeSecret first rather than guess from
// errors, which differ between Secrets Manager and its emulators.
func (s *Store) put(ctx context.Context, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "could not encode secret")
	}
	value := aws.String(string(b))
	desc, err := s.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err = s.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: value})
	case err != nil:
	default:
		if desc.DeletedDate != nil {
			if _, err = s.client.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)}); err != nil {
				break
			}
		}
		_, err = s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: value})
	}
	if err != nil {
		return awserr.Wrap(err, "could not store the secret")
	}
	return nil
}
