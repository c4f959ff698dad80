package app

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// The pickers (company types, companies, contracts, lines, ticket and
// catalog options) read the tenant's PSA. An admin clicking through the
// screens asks for the same lists again and again, and every PSA request
// counts against the tenant's hourly budget (Autotask's 10,000 are shared
// with the MSP's other integrations), so answers are cached briefly per
// tenant.

// DefaultPickerTTL is how long a picker answer is reused.
const DefaultPickerTTL = time.Minute

// maxPickerEntries bounds the cache of one process.
const maxPickerEntries = 2000

// Pickers answers the admin screens' questions to the tenant's PSA, each
// cached for a TTL per tenant and integration version. Build it with
// NewPickers; its methods are safe for concurrent use.
type Pickers struct {
	psa   Connector
	cache *answerCache
	now   func() time.Time
}

// NewPickers returns pickers reading through c, each answer cached for ttl
// (0: DefaultPickerTTL; negative: not cached), now the clock (nil:
// clock.Now).
func NewPickers(c Connector, ttl time.Duration, now func() time.Time) *Pickers {
	if now == nil {
		now = clock.Now
	}
	if ttl == 0 {
		ttl = DefaultPickerTTL
	}
	return &Pickers{psa: c, now: now, cache: &answerCache{ttl: ttl, now: now, entries: map[string]answer{}}}
}

// Forget drops every answer cached for tenant (its catalog or integration
// changed).
func (p *Pickers) Forget(tenant string) { p.cache.forget(tenant) }

// CompanyChoice is a tenant's PSA with its company types, the types the
// pickers use and (from Companies) the companies of those types.
type CompanyChoice struct {
	Client      psa.Client
	Integration integration.Integration
	Types       []psa.CompanyType
	// Chosen are the admin's company types, or while none are chosen the
	// types MSPs bill (ConnectWise "Client", Autotask "Customer").
	Chosen    []int64
	Companies []psa.Company
}

// CompanyTypes connects to the tenant's PSA and reads its company types
// (one cached read). NotFound without an integration; PSA errors as
// PSAError gives them.
func (p *Pickers) CompanyTypes(ctx context.Context, tenant string) (CompanyChoice, error) {
	c, in, err := client(ctx, p.psa, tenant)
	if err != nil {
		return CompanyChoice{}, err
	}
	types, err := cached(p.cache, key(tenant, in, "company-types"), func() ([]psa.CompanyType, error) { return c.CompanyTypes(ctx) })
	if err != nil {
		return CompanyChoice{}, PSAError(err)
	}
	return CompanyChoice{Client: c, Integration: in, Types: types, Chosen: chosenTypes(in, types)}, nil
}

// Companies is CompanyTypes with the companies of the chosen types (one
// more cached read, shared by the pickers and the mapping suggestions).
func (p *Pickers) Companies(ctx context.Context, tenant string) (CompanyChoice, error) {
	cc, err := p.CompanyTypes(ctx, tenant)
	if err != nil {
		return cc, err
	}
	cc.Companies, err = cached(p.cache, key(tenant, cc.Integration, "companies "+joinIDs(cc.Chosen)), func() ([]psa.Company, error) {
		if len(cc.Chosen) == 0 {
			return []psa.Company{}, nil
		}
		return cc.Client.Companies(ctx, psa.CompanyFilter{TypeIDs: cc.Chosen})
	})
	if err != nil {
		return CompanyChoice{}, PSAError(err)
	}
	return cc, nil
}

// Contracts lists a company's recurring contracts (cached; never nil).
// NotFound without an integration; PSA errors as PSAError gives them.
func (p *Pickers) Contracts(ctx context.Context, tenant string, companyID int64) ([]psa.Contract, error) {
	return ask(ctx, p, tenant, func(c psa.Client, in integration.Integration) ([]psa.Contract, error) {
		return p.contracts(ctx, tenant, in, c, companyID)
	})
}

// Lines lists a contract's service lines (cached; never nil). NotFound
// without an integration; PSA errors as PSAError gives them.
func (p *Pickers) Lines(ctx context.Context, tenant string, contractID int64) ([]psa.ServiceLine, error) {
	return ask(ctx, p, tenant, func(c psa.Client, in integration.Integration) ([]psa.ServiceLine, error) {
		return p.lines(ctx, tenant, in, c, contractID)
	})
}

// TicketOptions is what a ticket rule may pick from (cached). check, when
// set, is given the tenant's integration before the PSA is asked, and its
// error is returned as it is (a rule that cannot fit the PSA costs no PSA
// request). NotFound without an integration; PSA errors as PSAError gives
// them.
func (p *Pickers) TicketOptions(ctx context.Context, tenant string, check func(integration.Integration) error) (psa.TicketOptions, error) {
	return ask(ctx, p, tenant, func(c psa.Client, in integration.Integration) (psa.TicketOptions, error) {
		if check != nil {
			if err := check(in); err != nil {
				return psa.TicketOptions{}, err
			}
		}
		o, err := cached(p.cache, key(tenant, in, "ticket-options"), func() (psa.TicketOptions, error) { return c.TicketOptions(ctx) })
		return o, PSAError(err)
	})
}

// CatalogOptions is what a catalog product may pick from (cached).
// NotFound without an integration; PSA errors as PSAError gives them.
func (p *Pickers) CatalogOptions(ctx context.Context, tenant string) (psa.CatalogOptions, error) {
	return ask(ctx, p, tenant, func(c psa.Client, in integration.Integration) (psa.CatalogOptions, error) {
		o, err := cached(p.cache, key(tenant, in, "catalog-options"), func() (psa.CatalogOptions, error) { return c.CatalogOptions(ctx) })
		return o, PSAError(err)
	})
}

func (p *Pickers) contracts(ctx context.Context, tenant string, in integration.Integration, c psa.Client, companyID int64) ([]psa.Contract, error) {
	return cachedList(p.cache, key(tenant, in, "contracts "+strconv.FormatInt(companyID, 10)), func() ([]psa.Contract, error) {
		return c.Contracts(ctx, companyID)
	})
}

func (p *Pickers) lines(ctx context.Context, tenant string, in integration.Integration, c psa.Client, contractID int64) ([]psa.ServiceLine, error) {
	return cachedList(p.cache, key(tenant, in, "lines "+strconv.FormatInt(contractID, 10)), func() ([]psa.ServiceLine, error) {
		return c.Lines(ctx, contractID)
	})
}

// ask connects to the tenant's PSA and asks it one question.
func ask[T any](ctx context.Context, p *Pickers, tenant string, q func(c psa.Client, in integration.Integration) (T, error)) (T, error) {
	c, in, err := client(ctx, p.psa, tenant)
	if err != nil {
		var zero T
		return zero, err
	}
	return q(c, in)
}

// defaultTypeNames are chosen while the admin has chosen none: the types
// MSPs bill (ConnectWise "Client", Autotask "Customer").
var defaultTypeNames = []string{"customer", "client"}

// chosenTypes returns the company types the pickers use.
func chosenTypes(in integration.Integration, types []psa.CompanyType) []int64 {
	if len(in.CompanyTypeIDs) > 0 {
		return in.CompanyTypeIDs
	}
	var ids []int64
	for _, t := range types {
		if slices.Contains(defaultTypeNames, strings.ToLower(strings.TrimSpace(t.Name))) {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

type answer struct {
	value   any
	expires time.Time
}

// answerCache is a small TTL cache keyed by tenant and question.
type answerCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]answer
}

// key scopes a question to a tenant and to the integration item's version
// (which every write of the item changes, a credential write included), so
// no process answers from before an integration change, whichever process
// made it.
func key(tenant string, in integration.Integration, question string) string {
	return tenant + "\x00" + strconv.FormatInt(in.Version, 10) + "\x00" + question
}

// cached returns the cached answer to key, or asks and caches it.
func cached[T any](c *answerCache, key string, ask func() (T, error)) (T, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && c.now().Before(e.expires) {
			return e.value.(T), nil
		}
	}
	v, err := ask()
	if err != nil || c.ttl <= 0 {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxPickerEntries {
		now := c.now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxPickerEntries {
			c.entries = map[string]answer{}
		}
	}
	c.entries[key] = answer{value: v, expires: c.now().Add(c.ttl)}
	return v, nil
}

// cachedList is the cached answer to a list question, an empty list (a
// JSON array, never null) when there is none; PSA errors as PSAError.
func cachedList[T any](c *answerCache, key string, ask func() ([]T, error)) ([]T, error) {
	list, err := cached(c, key, ask)
	if list == nil {
		list = []T{}
	}
	return list, PSAError(err)
}

// forget drops a tenant's cached answers.
func (c *answerCache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, tenant+"\x00") {
			delete(c.entries, k)
		}
	}
}
