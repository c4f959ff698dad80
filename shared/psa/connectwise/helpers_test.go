package connectwise

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
	testCompany  = "acme"
	testPublic   = "pubKey1"
	testPrivate  = "privKey1"
	testClientID = "3f1c2b9e-0000-4000-8000-00000000c11d"
)

// Ids deliberately far from the usual 1, 2, 3 so nothing can hard-code them.
const (
	typeClient   = 317
	typeProspect = 318
	typeVendor   = 319

	coContoso  = 25001
	coFabrikam = 25002
	coDeleted  = 25003
	coLabs     = 25004

	agrMain      = 4101
	agrCancelled = 4102
	agrFabrikam  = 4103

	addSeats     = 77001
	addStorage   = 77002
	addCancelled = 77003
	addFabrikam  = 77004

	boardAlerts   = 61
	boardHelpDesk = 62
	stNew         = 611
	stClosed      = 612
	stHDNew       = 621
	stHDResolved  = 622
	typeMonitor   = 6101
	prioHigh      = 804
	prioLow       = 805
	srcEmail      = 902
	srcAPI        = 903
)

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// baseSeed is a small instance with every kind of record.
func baseSeed() sandbox.ConnectWiseSeed {
	return sandbox.ConnectWiseSeed{
		CompanyID: testCompany, CompanyName: "Acme MSP", PublicKey: testPublic, PrivateKey: testPrivate, ClientID: testClientID,
		CompanyTypes: []sandbox.CWOption{{ID: typeClient, Name: "Client", Default: true}, {ID: typeProspect, Name: "Prospect"}, {ID: typeVendor, Name: "Vendor"}},
		Companies: []sandbox.CWCompany{
			{ID: coContoso, Identifier: "Contoso", Name: "Contoso Ltd", TypeIDs: []int64{typeClient}},
			{ID: coFabrikam, Identifier: "Fabrikam", Name: "Fabrikam Inc", TypeIDs: []int64{typeProspect}},
			{ID: coDeleted, Identifier: "Gone", Name: "Gone Corp", TypeIDs: []int64{typeClient}, Deleted: true},
			{ID: coLabs, Identifier: "ContosoLabs", Name: "Contoso Labs", TypeIDs: []int64{typeClient, typeVendor}},
		},
		Agreements: []sandbox.CWAgreement{
			{ID: agrMain, CompanyID: coContoso, Name: "Managed Services", StartDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			{ID: agrCancelled, CompanyID: coContoso, Name: "Old Agreement", Cancelled: true},
			{ID: agrFabrikam, CompanyID: coFabrikam, Name: "Fabrikam MSA"},
		},
		Additions: []sandbox.CWAddition{
			{ID: addSeats, AgreementID: agrMain, ProductID: 5501, ProductIdentifier: "M365-BP", Description: "Microsoft 365 seats", Quantity: 10, UnitPrice: 22, UnitCost: 18.5},
			{ID: addStorage, AgreementID: agrMain, ProductID: 5502, ProductIdentifier: "STOR-GB", Quantity: 3, UnitPrice: 1, UnitCost: 0.5},
			{ID: addCancelled, AgreementID: agrMain, ProductID: 5503, ProductIdentifier: "OLD", Quantity: 1, CancelledDate: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
			{ID: addFabrikam, AgreementID: agrFabrikam, ProductID: 5501, ProductIdentifier: "M365-BP", Quantity: 4, UnitPrice: 22, UnitCost: 18.5},
		},
		Boards:     []sandbox.CWOption{{ID: boardAlerts, Name: "Alerts"}, {ID: boardHelpDesk, Name: "Help Desk"}},
		Statuses:   []sandbox.CWBoardItem{{ID: stNew, BoardID: boardAlerts, Name: "New", Default: true}, {ID: stClosed, BoardID: boardAlerts, Name: "Closed", Closed: true}, {ID: stHDNew, BoardID: boardHelpDesk, Name: "New", Default: true}, {ID: stHDResolved, BoardID: boardHelpDesk, Name: "Resolved", Closed: true}},
		BoardTypes: []sandbox.CWBoardItem{{ID: typeMonitor, BoardID: boardAlerts, Name: "Monitoring"}},
		Priorities: []sandbox.CWOption{{ID: prioHigh, Name: "Priority 1 - Critical"}, {ID: prioLow, Name: "Priority 3 - Normal", Default: true}},
		Sources:    []sandbox.CWOption{{ID: srcEmail, Name: "Email"}, {ID: srcAPI, Name: "API", Default: true}},
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
func MustEnv(tb testing.TB, seed sandbox.ConnectWiseSeed, hc *http.Client) *env {
	tb.Helper()
	e := &env{sb: sandbox.New()}
	e.sb.ConnectWise.AddInstance(seed)
	e.srv = httptest.NewServer(e.sb)
	tb.Cleanup(e.srv.Close)
	e.client = MustClient(tb, Config{
		Credentials: testCredentials(),
		Endpoints:   psa.Endpoints{ConnectWiseLoginURL: e.srv.URL + "/connectwise/"},
		Options:     psatest.SandboxOptions(hc, testNow, &e.slept),
	})
	return e
}

func testCredentials() psa.Credentials {
	return psa.Credentials{Provider: psa.ConnectWise, Site: "na.myconnectwise.net", CompanyID: testCompany,
		PublicKey: testPublic, PrivateKey: testPrivate, ClientID: testClientID}
}

// MustClient builds a client or fails the test.
func MustClient(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	c, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// manyCompanies returns n client companies with ids from 30001.
func manyCompanies(n int) []sandbox.CWCompany {
	out := make([]sandbox.CWCompany, n)
	for i := range out {
		out[i] = sandbox.CWCompany{ID: int64(30001 + i), Identifier: fmt.Sprintf("C%05d", i), Name: fmt.Sprintf("Customer %05d", i), TypeIDs: []int64{typeClient}}
	}
	return out
}

// linesSeed adds agreements × perAgreement additions to seed and returns
// their refs.
func linesSeed(seed *sandbox.ConnectWiseSeed, agreements, perAgreement int) []psa.LineRef {
	var refs []psa.LineRef
	for a := 0; a < agreements; a++ {
		aid := int64(50001 + a)
		seed.Agreements = append(seed.Agreements, sandbox.CWAgreement{ID: aid, CompanyID: coContoso, Name: fmt.Sprintf("Agreement %d", a)})
		for l := 0; l < perAgreement; l++ {
			id := int64(600001 + a*perAgreement + l)
			seed.Additions = append(seed.Additions, sandbox.CWAddition{ID: id, AgreementID: aid, ProductID: int64(5600 + l), Quantity: float64(l), UnitPrice: 10, UnitCost: 7})
			refs = append(refs, psa.LineRef{ContractID: aid, LineID: id})
		}
	}
	return refs
}
