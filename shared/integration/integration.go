// Package integration is a tenant's connection to its PSA: the public
// settings kept in DynamoDB, the credentials kept in Secrets Manager, and the
// Connector that turns both into a ready psa.Client for the API and the
// workers.
package integration

import (
	"context"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// Integration is a tenant's PSA connection without its secrets.
type Integration struct {
	Provider psa.Provider `json:"provider" dynamodbav:"Provider"`
	// Public identifiers (never secrets): Autotask username and tracking
	// identifier; ConnectWise site, company id and clientId.
	Username        string `json:"username,omitempty" dynamodbav:"Username"`
	IntegrationCode string `json:"integrationCode,omitempty" dynamodbav:"IntegrationCode"`
	Site            string `json:"site,omitempty" dynamodbav:"Site"`
	CompanyID       string `json:"companyId,omitempty" dynamodbav:"CompanyID"`
	ClientID        string `json:"clientId,omitempty" dynamodbav:"ClientID"`
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
	Version              int64     `json:"version" dynamodbav:"Version"`
}

// Public returns the non-secret part of credentials as an Integration.
func Public(c psa.Credentials) Integration {
	return Integration{Provider: c.Provider, Username: c.Username, IntegrationCode: c.IntegrationCode,
		Site: c.Site, CompanyID: c.CompanyID, ClientID: c.ClientID}
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
// credentials are unchanged. Safe for concurrent use.
type Connector struct {
	Store       Store
	Credentials Credentials
	Dial        Dialer

	mu      sync.Mutex
	clients map[string]cached
}

type cached struct {
	client psa.Client
	stamp  time.Time
}

// Client returns the tenant's PSA client and integration.
// NotFound when the tenant has no integration.
func (c *Connector) Client(ctx context.Context, tenant string) (psa.Client, Integration, error) {
	in, err := c.Store.Integration(ctx, tenant)
	if err != nil {
		return nil, Integration{}, err
	}
	c.mu.Lock()
	hit, ok := c.clients[tenant]
	c.mu.Unlock()
	if ok && hit.stamp.Equal(in.CredentialsUpdatedAt) {
		return hit.client, in, nil
	}
	creds, err := c.Credentials.PSACredentials(ctx, tenant)
	if err == nil && creds.Provider != in.Provider {
		err = apperr.New(apperr.Transient, "credentials are being rotated")
	}
	if err != nil || ok {
		// A cache miss after a rotation must not use a stale cached secret.
		if creds, err = c.Credentials.FreshPSACredentials(ctx, tenant); err != nil {
			return nil, Integration{}, err
		}
	}
	client, err := c.Dial(tenant, creds, in.Endpoints)
	if err != nil {
		return nil, Integration{}, err
	}
	c.mu.Lock()
	if c.clients == nil {
		c.clients = map[string]cached{}
	}
	c.clients[tenant] = cached{client: client, stamp: in.CredentialsUpdatedAt}
	c.mu.Unlock()
	return client, in, nil
}

// Forget drops a tenant's cached client (after its integration is deleted).
func (c *Connector) Forget(tenant string) {
	c.mu.Lock()
	delete(c.clients, tenant)
	c.mu.Unlock()
}
