// Package integration is a tenant's connection to its PSA: the public
// settings kept in DynamoDB, the credentials kept in Secrets Manager, and the
// Connector that turns both into a ready psa.Client for the API and the
// workers.
package integration

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
)

// Integration is a tenant's PSA connection without its secrets.
type Integration struct {
	Provider psa.Provider `json:"provider" dynamodbav:"Provider"`
	// Public identifiers (never secrets): Autotask username and tracking
	// identifier; ConnectWise site, company id and clientId; HaloPSA host,
	// client id and tenant.
	Username        string `json:"username,omitempty" dynamodbav:"Username"`
	IntegrationCode string `json:"integrationCode,omitempty" dynamodbav:"IntegrationCode"`
	Site            string `json:"site,omitempty" dynamodbav:"Site"`
	CompanyID       string `json:"companyId,omitempty" dynamodbav:"CompanyID"`
	ClientID        string `json:"clientId,omitempty" dynamodbav:"ClientID"`
	Host            string `json:"host,omitempty" dynamodbav:"Host"`
	Tenant          string `json:"tenant,omitempty" dynamodbav:"Tenant"`
	// Endpoints override the vendors' hosts (sandboxes, staging).
	Endpoints psa.Endpoints `json:"endpoints" dynamodbav:"Endpoints"`
	// CompanyTypeIDs are the company types the admin chose for pickers.
	CompanyTypeIDs []int64 `json:"companyTypeIds" dynamodbav:"CompanyTypeIDs"`
	// TicketingEnabled is the tenant's master switch for alert tickets.
	TicketingEnabled bool      `json:"ticketingEnabled" dynamodbav:"TicketingEnabled"`
	VerifiedAt       time.Time `json:"verifiedAt" dynamodbav:"VerifiedAt"`
	// CredentialsUpdatedAt changes on every credential write, so cached
	// clients built from older credentials are dropped.
	CredentialsUpdatedAt time.Time `json:"credentialsUpdatedAt" dynamodbav:"CredentialsUpdatedAt"`
	// CredentialVersion grows by one on every credential write and is
	// written into the secret too (psa.Credentials.CredentialVersion).
	// Every process keys what it built from the credentials (secret, PSA
	// client and its zone, picker answers) by it, so each one notices a
	// change on its next read of this item.
	CredentialVersion int64 `json:"credentialVersion" dynamodbav:"CredentialVersion"`
	Version           int64 `json:"version" dynamodbav:"Version"`
}

// Public returns the non-secret part of credentials as an Integration.
func Public(c psa.Credentials) Integration {
	return Integration{Provider: c.Provider, Username: c.Username, IntegrationCode: c.IntegrationCode,
		Site: c.Site, CompanyID: c.CompanyID, ClientID: c.ClientID, Host: c.Host, Tenant: c.Tenant,
		CredentialVersion: c.CredentialVersion}
}

// Store reads integrations (implemented by *dynamo.Store).
type Store interface {
	// Integration returns a tenant's integration; NotFound when none.
	Integration(ctx context.Context, tenant string) (Integration, error)
}

// Credentials reads PSA credentials (implemented by *secrets.Store).
type Credentials interface {
	PSACredentials(ctx context.Context, tenant string) (psa.Credentials, error)
	FreshPSACredentials(ctx context.Context, tenant string) (psa.Credentials, error)
}

// Dialer builds a PSA client for a tenant. The tenant is passed so a dialer
// can attach per-tenant concerns (request budget, metrics).
type Dialer func(tenant string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error)

// Connector hands out PSA clients per tenant, cached while the integration's
// CredentialVersion is unchanged. Safe for concurrent use.
type Connector struct {
	Store       Store
	Credentials Credentials
	Dial        Dialer
	// Log and Metrics report a failed cached secret read that a direct
	// read made good (metrics.Degrade); nil: slog.Default, not counted.
	Log     *slog.Logger
	Metrics *metrics.Emitter

	mu      sync.Mutex
	clients map[string]cached
}

type cached struct {
	client  psa.Client
	version int64
}

// Client returns the tenant's PSA client and integration, built from the
// credentials of the integration's CredentialVersion: a cached secret of
// another version is read again from Secrets Manager, bypassing the cache.
// NotFound when the tenant has no integration or no credentials; Transient
// when Secrets Manager still answers with another version (a write not yet
// visible) or fails.
func (c *Connector) Client(ctx context.Context, tenant string) (psa.Client, Integration, error) {
	in, err := c.Store.Integration(ctx, tenant)
	if err != nil {
		return nil, Integration{}, err
	}
	client, err := c.ClientOf(ctx, tenant, in)
	if err != nil {
		return nil, Integration{}, err
	}
	return client, in, nil
}

// ClientOf is Client for the tenant's integration in as the caller has
// just read it from the store (the sync worker reads it together with the
// rest of a batch's items), with the same caching and errors.
func (c *Connector) ClientOf(ctx context.Context, tenant string, in Integration) (psa.Client, error) {
	c.mu.Lock()
	hit, ok := c.clients[tenant]
	c.mu.Unlock()
	if ok && hit.version == in.CredentialVersion {
		return hit.client, nil
	}
	creds, err := c.Credentials.PSACredentials(ctx, tenant)
	if err != nil || !matches(creds, in) {
		cachedErr := err
		if creds, err = c.Credentials.FreshPSACredentials(ctx, tenant); err != nil {
			return nil, err
		}
		if cachedErr != nil {
			metrics.Degrade(ctx, c.Log, c.Metrics, "integration.cached_secret",
				"reading the cached PSA secret failed; read from Secrets Manager instead", cachedErr, "tenant", tenant)
		}
		if !matches(creds, in) {
			return nil, apperr.New(apperr.Transient, "credentials are being rotated")
		}
	}
	client, err := c.Dial(tenant, creds, in.Endpoints)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.clients == nil {
		c.clients = map[string]cached{}
	}
	c.clients[tenant] = cached{client: client, version: in.CredentialVersion}
	c.mu.Unlock()
	return client, nil
}

// matches reports whether creds were written for in's credential version.
func matches(creds psa.Credentials, in Integration) bool {
	return creds.Provider == in.Provider && creds.CredentialVersion == in.CredentialVersion
}

// Forget drops a tenant's cached client (after its integration is deleted).
func (c *Connector) Forget(tenant string) {
	c.mu.Lock()
	delete(c.clients, tenant)
	c.mu.Unlock()
}
