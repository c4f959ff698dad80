// Package psa is the provider-neutral face of a PSA (Autotask PSA,
// ConnectWise Manage or HaloPSA). Everything above it, billing sync, ticketing and the
// REST API, is written against Client and never against a vendor.
//
// Errors: every method returns *apperr.Error values with these codes:
//   - apperr.Transient: try again later (5xx other than validation, 429,
//     thread limit, timeouts); RetryAfter is set when the PSA said so.
//   - apperr.Rejected: the PSA refused the request for a business reason;
//     Details hold the vendor's own words, verbatim.
//   - apperr.Unauthorized: the credentials were refused.
//   - apperr.Forbidden: the API user lacks a permission.
//   - apperr.NotFound: the addressed company, contract, line or ticket does
//     not exist.
//   - apperr.Invalid: the caller passed something the client cannot send.
package psa

import (
	"context"
	"time"
)

// Provider names a PSA product.
type Provider string

// The supported PSAs.
const (
	Autotask    Provider = "autotask"
	ConnectWise Provider = "connectwise"
	HaloPSA     Provider = "halopsa"
)

// Providers are the supported PSAs, in the order they were added.
var Providers = []Provider{Autotask, ConnectWise, HaloPSA}

// Valid reports whether p is a supported provider.
func (p Provider) Valid() bool { return p == Autotask || p == ConnectWise || p == HaloPSA }

// TitleLimit is the longest ticket title the PSA accepts, in characters.
func (p Provider) TitleLimit() int {
	switch p {
	case ConnectWise:
		return 100 // Ticket.summary
	case HaloPSA:
		// Faults.summary: Halo's API definition gives it no maxLength;
		// 255 is the value chosen (unverified against a live instance,
		// see docs/HALOPSA.md), the same as Autotask's.
		return 255
	}
	return 255 // Tickets.title
}

// Credentials are what an admin supplies to connect a PSA. Only the fields of
// the chosen Provider are used. The secret fields never leave the API and
// the Secrets Manager adapter.
type Credentials struct {
	Provider Provider `json:"provider"`

	// Autotask: the API-only user's email, its secret, and the tracking
	// identifier (ApiIntegrationCode).
	Username        string `json:"username,omitempty"`
	Secret          string `json:"secret,omitempty"`
	IntegrationCode string `json:"integrationCode,omitempty"`

	// ConnectWise: site host (e.g. "na.myconnectwise.net", no scheme), company
	// id used at login, the API member's key pair.
	Site       string `json:"site,omitempty"`
	CompanyID  string `json:"companyId,omitempty"`
	PublicKey  string `json:"publicKey,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	// ClientID is the ConnectWise clientId GUID, or the HaloPSA API
	// application's client id.
	ClientID string `json:"clientId,omitempty"`

	// HaloPSA: the instance host without scheme (e.g.
	// "contoso.halopsa.com"), the API application's client secret (a
	// secret), and the tenant hosted instances may need at /auth/token
	// (optional).
	Host         string `json:"host,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"`
	Tenant       string `json:"tenant,omitempty"`

	// CredentialVersion is the integration's CredentialVersion these
	// credentials were written with: a reader whose copy differs from the
	// integration item's holds a stale secret.
	CredentialVersion int64 `json:"credentialVersion,omitempty"`
}

// Endpoints override where a client finds its PSA. Zero values mean the
// vendors' real hosts. They exist so one client can talk to any server that
// speaks the dialect: a sandbox, a vendor staging host, another implementation.
type Endpoints struct {
	// AutotaskZoneURL is the base of the zoneInformation lookup, default
	// "https://webservices.autotask.net/atservicesrest/".
	AutotaskZoneURL string `json:"autotaskZoneUrl,omitempty" dynamodbav:"AutotaskZoneURL"`
	// ConnectWiseLoginURL is the base for login/companyinfo, default
	// "https://{site}/".
	ConnectWiseLoginURL string `json:"connectwiseLoginUrl,omitempty" dynamodbav:"ConnectWiseLoginURL"`
	// ConnectWiseAPIURL, when set, is used as the API base instead of the one
	// derived from companyinfo (e.g. "https://api-staging.connectwisedev.com/v4_6_release/apis/3.0/").
	ConnectWiseAPIURL string `json:"connectwiseApiUrl,omitempty" dynamodbav:"ConnectWiseAPIURL"`
	// HaloPSAAuthURL is the base of the HaloPSA authorisation server
	// (token at "{base}token"), default "https://{host}/auth/".
	HaloPSAAuthURL string `json:"halopsaAuthUrl,omitempty" dynamodbav:"HaloPSAAuthURL"`
	// HaloPSAAPIURL is the base of the HaloPSA resource server, default
	// "https://{host}/api/".
	HaloPSAAPIURL string `json:"halopsaApiUrl,omitempty" dynamodbav:"HaloPSAAPIURL"`
}

// Option is one value of a PSA picklist or lookup (status, priority, queue…).
type Option struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault,omitempty"`
	// Closed marks a ticket status that completes the ticket.
	Closed bool `json:"closed,omitempty"`
	// ParentID ties the option to a parent: a ConnectWise status or type to
	// its board, an Autotask sub-issue type to its issue type.
	ParentID int64 `json:"parentId,omitempty"`
}

// CompanyType is a company classification (Customer, Prospect, Vendor…).
type CompanyType = Option

// Company is a PSA company (an MSP's client).
type Company struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	TypeIDs []int64 `json:"typeIds"`
	Active  bool    `json:"active"`
}

// CompanyFilter selects companies. Empty TypeIDs means every type.
type CompanyFilter struct {
	TypeIDs []int64
	// NameContains, when set, keeps companies whose name contains it
	// (case-insensitive where the PSA allows).
	NameContains string
}

// Contract is an Autotask recurring-service contract or a ConnectWise
// agreement: the thing service lines hang from.
type Contract struct {
	ID        int64     `json:"id"`
	CompanyID int64     `json:"companyId"`
	Name      string    `json:"name"`
	Recurring bool      `json:"recurring"`
	Active    bool      `json:"active"`
	StartDate time.Time `json:"startDate,omitzero"`
	EndDate   time.Time `json:"endDate,omitzero"`
}

// ServiceLine is one billed line of a contract: an Autotask contract service
// or a ConnectWise agreement addition.
type ServiceLine struct {
	ID         int64 `json:"id"`
	ContractID int64 `json:"contractId"`
	// ServiceID is the catalog item: Autotask serviceID, ConnectWise product id.
	ServiceID int64   `json:"serviceId"`
	Name      string  `json:"name"`
	UnitPrice float64 `json:"unitPrice"`
	UnitCost  float64 `json:"unitCost"`
	Cancelled bool    `json:"cancelled,omitempty"`
}

// LineRef addresses a service line.
type LineRef struct {
	ContractID int64 `json:"contractId"`
	LineID     int64 `json:"lineId"`
}

// LineState is a line's billed state from a date to the end of that date's
// calendar month: its values on the date, and the later rows of the month
// where they change.
type LineState struct {
	Ref       LineRef `json:"ref"`
	ServiceID int64   `json:"serviceId"`
	Quantity  int64   `json:"quantity"`
	UnitCost  float64 `json:"unitCost"`
	UnitPrice float64 `json:"unitPrice"`
	// Later are the line's rows that start after the date and within its
	// month, in date order. Autotask splits a period's ContractServiceUnits
	// at every adjustment's effective date (anyone's: a technician's,
	// another integration's, psabridge's own "today" write), so one month
	// can bill several quantities. Empty when the line holds one value to
	// the month's end (always on ConnectWise, which has no such rows).
	Later []LineRow `json:"later,omitempty"`
	// Cancelled: the line no longer bills (a ConnectWise addition whose
	// cancelledDate has passed; ConnectWise still takes a PATCH of it).
	Cancelled bool `json:"cancelled,omitempty"`
	// ContractCancelled and ContractEnded: the line's contract is
	// cancelled or inactive, or has expired, as the line reports it
	// (ConnectWise addition agreementStatus). Nothing is to be written then.
	ContractCancelled bool `json:"contractCancelled,omitempty"`
	ContractEnded     bool `json:"contractEnded,omitempty"`
	// Starts is the line's first billed day when it lies after the date
	// (a ConnectWise addition with a future effectiveDate); zero otherwise.
	Starts time.Time `json:"starts,omitzero"`
}

// LineRow is what a line bills from Start until the next row starts.
type LineRow struct {
	Start     time.Time `json:"start"`
	Quantity  int64     `json:"quantity"`
	UnitCost  float64   `json:"unitCost"`
	UnitPrice float64   `json:"unitPrice"`
}

// Rows returns every row of s from its date on: the one holding on the
// date (Start zero), then Later.
func (s LineState) Rows() []LineRow {
	return append([]LineRow{{Quantity: s.Quantity, UnitCost: s.UnitCost, UnitPrice: s.UnitPrice}}, s.Later...)
}

// FirstOff returns the first row of s that does not hold quantity at
// unitCost, and true; or the row holding on the date, and false, when every
// row does. A line is at a target only when all its rows are.
func (s LineState) FirstOff(quantity int64, unitCost float64) (LineRow, bool) {
	rows := s.Rows()
	for _, r := range rows {
		if r.Quantity != quantity || r.UnitCost != unitCost {
			return r, true
		}
	}
	return rows[0], false
}

// LineUpdate sets a line's quantity and unit cost, effective from a date.
type LineUpdate struct {
	Ref LineRef
	// Current is the line's state as last read. Autotask changes units only
	// through ContractServiceAdjustments, whose unitChange is a difference,
	// so it needs the current quantity; ConnectWise ignores it.
	Current       LineState
	Quantity      int64
	UnitCost      float64
	EffectiveDate time.Time
}

// TicketOptions are the values a ticket rule may pick from.
type TicketOptions struct {
	Statuses   []Option `json:"statuses"`
	Priorities []Option `json:"priorities"`
	Sources    []Option `json:"sources"`
	// Queues (Autotask) and Boards (ConnectWise).
	Queues []Option `json:"queues,omitempty"`
	Boards []Option `json:"boards,omitempty"`
	// IssueTypes (Autotask issue types; ConnectWise board types) and
	// Categories (Autotask ticket categories).
	IssueTypes []Option `json:"issueTypes,omitempty"`
	Categories []Option `json:"categories,omitempty"`
	// Resources and Roles (Autotask): a resource is assigned with a role.
	Resources []Option `json:"resources,omitempty"`
	Roles     []Option `json:"roles,omitempty"`
}

// TicketSpec is what to open. Zero ids are left for the PSA to default.
type TicketSpec struct {
	CompanyID   int64
	Title       string
	Description string
	// ExternalKey identifies the alert stream (Autotask externalID,
	// ConnectWise externalXRef); FindOpenTicket looks it up.
	ExternalKey string
	StatusID    int64
	PriorityID  int64
	SourceID    int64
	QueueID     int64
	BoardID     int64
	ResourceID  int64
	RoleID      int64
	CategoryID  int64
	IssueTypeID int64
	Due         time.Time
}

// Ticket is an opened PSA ticket.
type Ticket struct {
	ID          int64  `json:"id"`
	CompanyID   int64  `json:"companyId"`
	Title       string `json:"title"`
	ExternalKey string `json:"externalKey,omitempty"`
	StatusID    int64  `json:"statusId"`
}

// Note is a ticket note.
type Note struct {
	Title string
	Text  string
}

// CatalogPeriod is how often a catalog item is billed.
type CatalogPeriod string

// The catalog periods psabridge pushes.
const (
	Monthly CatalogPeriod = "monthly"
	Yearly  CatalogPeriod = "yearly"
)

// Valid reports whether p is a supported period.
func (p CatalogPeriod) Valid() bool { return p == Monthly || p == Yearly }

// CatalogItem is a product of the PSA's catalog that contract lines bill:
// an Autotask Service or a ConnectWise procurement catalog item. Its ID is
// what ServiceLine.ServiceID and LineState.ServiceID refer to.
type CatalogItem struct {
	// ID is the PSA's id; 0 in an UpsertCatalogItem call creates the item.
	ID int64 `json:"id"`
	// Identifier is the product's key in the PSA: the ConnectWise
	// identifier (unique, at most 75 characters). Autotask Services have no
	// such field, so the Autotask client keeps it in the service's internal
	// description, which invoices do not show.
	Identifier string `json:"identifier"`
	// Name is what invoices show (Autotask name and invoiceDescription;
	// ConnectWise description, at most 60 characters, and
	// customerDescription). The PSAs keep names unique.
	Name string `json:"name"`
	// Period is the billing period; "" when the PSA reports one psabridge
	// does not push (quarterly…) or none.
	Period    CatalogPeriod `json:"period,omitempty"`
	UnitCost  float64       `json:"unitCost"`
	UnitPrice float64       `json:"unitPrice"`
	// BillingCodeID is the Autotask billing (allocation) code of a Service,
	// which Autotask requires; one of CatalogOptions.BillingCodes.
	BillingCodeID int64 `json:"billingCodeId,omitempty"`
	// ProductTypeID and SubcategoryID are the ConnectWise product type and
	// subcategory, which ConnectWise requires; from CatalogOptions.
	ProductTypeID int64 `json:"productTypeId,omitempty"`
	SubcategoryID int64 `json:"subcategoryId,omitempty"`
	Active        bool  `json:"active"`
}

// CatalogOptions are the values a catalog item may pick from: Autotask
// billing codes, ConnectWise product types and subcategories.
type CatalogOptions struct {
	BillingCodes  []Option `json:"billingCodes,omitempty"`
	ProductTypes  []Option `json:"productTypes,omitempty"`
	Subcategories []Option `json:"subcategories,omitempty"`
}

// LineSyncer is what the billing sync needs of a PSA: check mappings in
// bulk, read and write service lines.
type LineSyncer interface {
	// CompaniesByID returns the companies with the given ids, active or
	// not, in as few requests as the API allows (the mapping health check
	// of a whole tenant). Ids the PSA does not have are absent from the
	// map (not an error).
	CompaniesByID(ctx context.Context, ids []int64) (map[int64]Company, error)
	// ContractsByID returns the contracts with the given ids, of any type
	// and status, in as few requests as the API allows. Ids the PSA does
	// not have are absent from the map (not an error).
	ContractsByID(ctx context.Context, ids []int64) (map[int64]Contract, error)
	// Lines lists the service lines of a contract, cancelled ones marked
	// Cancelled.
	Lines(ctx context.Context, contractID int64) ([]ServiceLine, error)
	// ReadLines returns the state from at to the end of at's month (every
	// row, see LineState) of every line in refs that exists, in as few
	// requests as the API allows. Lines that do not exist are absent from
	// the map (not an error).
	ReadLines(ctx context.Context, refs []LineRef, at time.Time) (map[LineRef]LineState, error)
	// SetLine brings a line to u.Quantity and u.UnitCost from u.EffectiveDate
	// to the end of that month, every row of it (see LineState). It is not
	// idempotent on Autotask (deltas are posted): after a Transient error,
	// read the line again before retrying.
	SetLine(ctx context.Context, u LineUpdate) error
	// CreateLine adds a line billing catalog item serviceID to a contract,
	// holding quantity at unitCost from effective (the catalog item's
	// price), and returns it. Not resent after an ambiguous failure: list
	// the contract's Lines and look for the service first. NotFound when the
	// contract is gone; Rejected with the PSA's words (e.g. not a recurring
	// contract, an unknown catalog item, a date outside the contract).
	CreateLine(ctx context.Context, contractID, serviceID, quantity int64, unitCost float64, effective time.Time) (ServiceLine, error)
}

// ContractLineReader is a LineSyncer whose batched contract read can bring
// the contracts' lines in the same requests (HaloPSA: the recurring
// invoice list pages with includelines=true, docs/HALOPSA.md 5.4). The
// sync's mapping health check reads the tenant's contracts through it, so
// the run's line read needs no requests of its own.
type ContractLineReader interface {
	// ContractsWithLines returns what ContractsByID(ids) returns, in as
	// many requests, and the state at at (as ReadLines gives it) of every
	// line of those contracts. A line of a contract read that is absent
	// from the map does not exist.
	ContractsWithLines(ctx context.Context, ids []int64, at time.Time) (map[int64]Contract, map[LineRef]LineState, error)
}

// Ticketer is what the ticket worker needs of a PSA: find, open, note and
// close alert tickets.
type Ticketer interface {
	// FindOpenTicket returns the open ticket of a company with the external
	// key; NotFound when there is none.
	FindOpenTicket(ctx context.Context, companyID int64, externalKey string) (Ticket, error)
	// CreateTicket opens a ticket.
	CreateTicket(ctx context.Context, s TicketSpec) (Ticket, error)
	// AddNote adds a note to a ticket. Not resent after an ambiguous
	// failure: look for the note with HasNote first.
	AddNote(ctx context.Context, ticketID int64, n Note) error
	// HasNote reports whether a note of the ticket contains marker (a
	// token of letters, digits and dashes). NotFound when the ticket is
	// gone.
	HasNote(ctx context.Context, ticketID int64, marker string) (bool, error)
	// CloseTicket sets a ticket's status to statusID (a completing status).
	CloseTicket(ctx context.Context, ticketID int64, statusID int64) error
}

// Picker is what the API's pickers and mapping checks need of a PSA: list
// and read companies, contracts, lines and ticket options.
type Picker interface {
	// CompanyTypes lists the company classifications.
	CompanyTypes(ctx context.Context) ([]CompanyType, error)
	// Companies lists active companies matching f, all pages.
	Companies(ctx context.Context, f CompanyFilter) ([]Company, error)
	// Company returns one company, active or not; NotFound when gone.
	Company(ctx context.Context, id int64) (Company, error)
	// Contracts lists a company's contracts that can carry billed lines
	// (Autotask: recurring-service contracts; ConnectWise: agreements not
	// cancelled).
	Contracts(ctx context.Context, companyID int64) ([]Contract, error)
	// Contract returns one contract; NotFound when gone.
	Contract(ctx context.Context, id int64) (Contract, error)
	// TicketOptions lists statuses, priorities, sources, queues or boards,
	// issue types, categories, resources and roles.
	TicketOptions(ctx context.Context) (TicketOptions, error)
	// Lines lists the service lines of a contract, cancelled ones marked
	// Cancelled.
	Lines(ctx context.Context, contractID int64) ([]ServiceLine, error)
}

// Cataloger is what the catalog push needs of a PSA: the catalog items and
// the values they may reference.
type Cataloger interface {
	// CatalogOptions lists what a catalog item may reference: Autotask
	// billing codes, ConnectWise product types and subcategories.
	CatalogOptions(ctx context.Context) (CatalogOptions, error)
	// CatalogItems lists every catalog item (Autotask Services, ConnectWise
	// procurement catalog), active or not: an inactive item still holds its
	// name.
	CatalogItems(ctx context.Context) ([]CatalogItem, error)
	// UpsertCatalogItem creates the item when it.ID is 0, else replaces its
	// pushed fields, and returns it with its id. A create is not resent
	// after an ambiguous failure: read CatalogItems again and match the
	// Identifier first. Invalid when a required field for this PSA is
	// missing; Rejected with the PSA's words (e.g. a name or identifier in
	// use); NotFound when the item to update is gone.
	UpsertCatalogItem(ctx context.Context, it CatalogItem) (CatalogItem, error)
}

// Client is one tenant's connection to its PSA: every role above, composed.
// Implementations are safe for concurrent use and honour the vendor's
// concurrency limits themselves. Consumers take the smallest role they need.
type Client interface {
	// Provider names the PSA.
	Provider() Provider
	// Verify checks the credentials with the cheapest authenticated call.
	// Unauthorized or Rejected (with the PSA's reason) when they do not work.
	Verify(ctx context.Context) error
	LineSyncer
	Ticketer
	Picker
	Cataloger
}
