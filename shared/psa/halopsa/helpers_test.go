package halopsa

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psatest"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// Test instance credentials.
const (
	testClientID = "6d0c1e52-0000-4000-8000-00000000a1b0"
	testSecret   = "halo-secret-1"
)

// Ids deliberately far from the usual 1, 2, 3 so nothing can hard-code
// them. Recurring invoices are negative in Halo; psabridge sees them
// negated (contract ids below).
const (
	tlManaged   = 731
	tlProspects = 732
	tlInternal  = 733

	clContoso  = 52001
	clFabrikam = 52002
	clGone     = 52003
	clLabs     = 52004

	riMain     = -4201
	riDisabled = -4202
	riFabrikam = -4203
	riEnded    = -4204

	ctMain     = -riMain
	ctDisabled = -riDisabled
	ctFabrikam = -riFabrikam
	ctEnded    = -riEnded

	lnSeats    = 88001
	lnStorage  = 88002
	lnInactive = 88003
	lnFabrikam = 88004
	lnFuture   = 88005
	lnEnded    = 88006

	itM365    = 6601
	itStorage = 6602
	itOld     = 6603
	itBackup  = 6604

	grpCloud = 931
	grpHW    = 932

	ttAlert   = 341
	ttRequest = 342
	stNew     = 4101
	stClosed  = 4109
	prHigh    = 2
	prLow     = 4
	teamAlert = 61
	teamDesk  = 62
	agJo      = 701
	agOff     = 702
)

// testNow is the tests' clock: June 15 2026, mid-month.
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// baseSeed is a small instance with every kind of record.
func baseSeed() sandbox.HaloPSASeed {
	return sandbox.HaloPSASeed{
		ClientID: testClientID, ClientSecret: testSecret,
		TopLevels: []sandbox.HaloOption{{ID: tlManaged, Name: "Managed Clients"}, {ID: tlProspects, Name: "Prospects"}, {ID: tlInternal, Name: "Internal"}},
		Clients: []sandbox.HaloClient{
			{ID: clContoso, Name: "Contoso Ltd", TopLevelID: tlManaged},
			{ID: clFabrikam, Name: "Fabrikam Inc", TopLevelID: tlProspects},
			{ID: clGone, Name: "Gone Corp", TopLevelID: tlManaged, Inactive: true},
			{ID: clLabs, Name: "Contoso Labs", TopLevelID: tlInternal},
		},
		RecurringInvoices: []sandbox.HaloRecurringInvoice{
			{ID: riMain, ClientID: clContoso, Reference: "Managed Services", StartDate: date(2026, 1, 1), Lines: []sandbox.HaloInvoiceLine{
				{ID: lnSeats, ItemID: itM365, Description: "Microsoft 365 seats", Quantity: 10, UnitPrice: 22, UnitCost: 18.5},
				{ID: lnStorage, ItemID: itStorage, Description: "Storage GB", Quantity: 3, UnitPrice: 1, UnitCost: 0.5},
				{ID: lnInactive, ItemID: itOld, Description: "Old service", Quantity: 1, Inactive: true},
				{ID: lnFuture, ItemID: itBackup, Description: "Backup", Quantity: 5, UnitPrice: 4, UnitCost: 2, StartDate: date(2026, 7, 1)},
				{ID: lnEnded, ItemID: itBackup, Description: "Backup (old)", Quantity: 5, UnitPrice: 4, UnitCost: 2, EndDate: date(2026, 5, 31)},
			}},
			{ID: riDisabled, ClientID: clContoso, Reference: "Old Agreement", Disabled: true},
			{ID: riFabrikam, ClientID: clFabrikam, Reference: "Fabrikam MSA", Lines: []sandbox.HaloInvoiceLine{
				{ID: lnFabrikam, ItemID: itM365, Description: "Microsoft 365 seats", Quantity: 4, UnitPrice: 22, UnitCost: 18.5},
			}},
			{ID: riEnded, ClientID: clContoso, Reference: "Ended", StartDate: date(2025, 1, 1), EndDate: date(2026, 3, 31)},
		},
		Items: []sandbox.HaloItem{
			{ID: itM365, Name: "Microsoft 365 Business Premium", InternalReference: "M365-BP", Recurring: true, RecurringPrice: 22, RecurringCost: 18.5, BillingPeriod: 2, GroupID: grpCloud},
			{ID: itStorage, Name: "Storage GB", InternalReference: "STOR-GB", Recurring: true, RecurringPrice: 1, RecurringCost: 0.5, BillingPeriod: 2},
			{ID: itOld, Name: "Old service", InternalReference: "OLD", BasePrice: 9, CostPrice: 3, Inactive: true},
			{ID: itBackup, Name: "Backup", InternalReference: "BKP", Recurring: true, RecurringPrice: 4, RecurringCost: 2, BillingPeriod: 3},
		},
		ItemGroups:  []sandbox.HaloOption{{ID: grpCloud, Name: "Cloud"}, {ID: grpHW, Name: "Hardware"}},
		TicketTypes: []sandbox.HaloOption{{ID: ttAlert, Name: "Alert"}, {ID: ttRequest, Name: "Service Request", Default: true}},
		Priorities:  []sandbox.HaloOption{{ID: prHigh, Name: "High"}, {ID: prLow, Name: "Low", Default: true}},
		Teams:       []sandbox.HaloOption{{ID: teamAlert, Name: "Alerts"}, {ID: teamDesk, Name: "Service Desk"}},
		Agents:      []sandbox.HaloAgent{{ID: agJo, Name: "Jo Tech", Team: "Alerts"}, {ID: agOff, Name: "Gone Tech", Disabled: true}},
	}
}

// env is a sandbox on loopback and a client pointed at it.
type env struct {
	sb     *sandbox.Server
	srv    *httptest.Server
	client *Client
	slept  []time.Duration
}

// MustEnv starts a sandbox seeded with seed and a client for it whose
// retries do not sleep (they record the wait instead). hc, when non-nil,
// replaces the HTTP client.
func MustEnv(tb testing.TB, seed sandbox.HaloPSASeed, hc *http.Client) *env {
	tb.Helper()
	e := &env{sb: sandbox.New()}
	e.sb.Now = func() time.Time { return testNow }
	e.sb.HaloPSA.AddInstance(seed)
	e.srv = httptest.NewServer(e.sb)
	tb.Cleanup(e.srv.Close)
	c, err := New(Config{
		Credentials: testCredentials(seed),
		Endpoints:   psa.Endpoints{HaloPSAAuthURL: e.srv.URL + "/halopsa/auth/", HaloPSAAPIURL: e.srv.URL + "/halopsa/api/"},
		Options:     psatest.SandboxOptions(hc, testNow, &e.slept),
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	e.client = c
	return e
}

func testCredentials(seed sandbox.HaloPSASeed) psa.Credentials {
	return psa.Credentials{Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: seed.ClientID,
		ClientSecret: seed.ClientSecret, Tenant: seed.Tenant}
}

// manyClients returns n managed clients with ids from 30001.
func manyClients(n int) []sandbox.HaloClient {
	out := make([]sandbox.HaloClient, n)
	for i := range out {
		out[i] = sandbox.HaloClient{ID: int64(30001 + i), Name: fmt.Sprintf("Customer %05d", i), TopLevelID: tlManaged}
	}
	return out
}

// linesSeed adds invoices × perInvoice recurring lines to seed and returns
// their refs (psabridge's contract ids).
func linesSeed(seed *sandbox.HaloPSASeed, invoices, perInvoice int) []psa.LineRef {
	var refs []psa.LineRef
	for a := 0; a < invoices; a++ {
		hid := int64(-50001 - a)
		inv := sandbox.HaloRecurringInvoice{ID: hid, ClientID: clContoso, Reference: fmt.Sprintf("Invoice %d", a)}
		for l := 0; l < perInvoice; l++ {
			id := int64(600001 + a*perInvoice + l)
			inv.Lines = append(inv.Lines, sandbox.HaloInvoiceLine{ID: id, ItemID: itM365, Quantity: float64(l), UnitPrice: 10, UnitCost: 7})
			refs = append(refs, psa.LineRef{ContractID: -hid, LineID: id})
		}
		seed.RecurringInvoices = append(seed.RecurringInvoices, inv)
	}
	return refs
}

// haloCounts sums the sandbox's HaloPSA request counts whose route starts
// with prefix (e.g. "halopsa GET /RecurringInvoice").
func (e *env) haloCount(route string) int { return e.sb.Counts()[route] }
