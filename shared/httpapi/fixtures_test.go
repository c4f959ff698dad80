package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// The PSA fixtures: tenant A (acme-msp) on an Autotask sandbox instance,
// tenant B (beta-msp) on a ConnectWise one, tenant C (gamma-msp) on a
// HaloPSA one. Every credential below is "planted": TestSecretsNeverLeak
// greps responses and logs for them.
const (
	tenantA = "acme-msp"
	tenantB = "beta-msp"
	tenantC = "gamma-msp"

	atUser   = "api@acme.example"
	atSecret = "AT-SECRET-acme-7f3a9c21"
	atCode   = "TRACK-ACME-01"

	cwCompany = "beta"
	cwPublic  = "CW-PUBLIC-beta-55ab12"
	cwPrivate = "CW-PRIVATE-beta-9e8d7c"
	cwClient  = "client-guid-beta"

	haloApp    = "halo-app-gamma"
	haloSecret = "HALO-SECRET-gamma-3c4d5e"

	billingRole = "billing-admin"
)

// plantedSecrets must never appear in a response or a log line.
var plantedSecrets = []string{atSecret, cwPublic, cwPrivate, haloSecret, wrongSecret, wrongPrivate, wrongHaloSecret}

// Wrong credentials tests send: secrets too, never to be echoed.
const (
	wrongSecret     = "WRONG-at-secret-31337"
	wrongPrivate    = "WRONG-cw-private-4242"
	wrongHaloSecret = "WRONG-halo-secret-5151"
)

// Fingerprints of tenant A's data: tenant B must never see one.
var fingerprintsA = []string{"Acme Dental", "Acme Managed Services", "Beta Law", "Acme Org One", atUser, atCode, "Acme Seats", "Europe/Berlin", "[Acme]"}

func autotaskSeed() sandbox.AutotaskSeed {
	return sandbox.AutotaskSeed{
		Username: atUser, Secret: atSecret, IntegrationCode: atCode,
		Companies: []sandbox.AutotaskCompany{
			{ID: 1001, Name: "Acme Dental", Type: 1}, {ID: 1002, Name: "Beta Law", Type: 1},
			{ID: 1003, Name: "Gamma Prospect", Type: 3}, {ID: 1004, Name: "Acme Vendor", Type: 7},
		},
		Contracts: []sandbox.AutotaskContract{
			{ID: 2001, CompanyID: 1001, Name: "Acme Managed Services"}, {ID: 2002, CompanyID: 1002, Name: "Beta Law MSA"},
		},
		Services:         []sandbox.AutotaskService{{ID: 3001, Name: "Acme Seats", UnitPrice: 10, UnitCost: 4}},
		ContractServices: []sandbox.AutotaskContractService{{ID: 4001, ContractID: 2001, ServiceID: 3001, UnitPrice: 10, UnitCost: 4, Units: 10}, {ID: 4002, ContractID: 2002, ServiceID: 3001, UnitPrice: 10, Units: 3}},
		Resources:        []sandbox.AutotaskResource{{ID: 5001, FirstName: "Ann", LastName: "Admin"}},
		Roles:            []sandbox.AutotaskRole{{ID: 6001, Name: "Engineer"}},
	}
}

func connectWiseSeed() sandbox.ConnectWiseSeed {
	return sandbox.ConnectWiseSeed{
		CompanyID: cwCompany, PublicKey: cwPublic, PrivateKey: cwPrivate, ClientID: cwClient,
		CompanyTypes: []sandbox.CWOption{{ID: 71, Name: "Client"}, {ID: 72, Name: "Vendor"}},
		Companies:    []sandbox.CWCompany{{ID: 7101, Identifier: "Zeta", Name: "Zeta Clinic", TypeIDs: []int64{71}}},
		Agreements:   []sandbox.CWAgreement{{ID: 7201, CompanyID: 7101, Name: "Zeta MSA"}, {ID: 7202, CompanyID: 7101, Name: "Zeta 2019", Cancelled: true}},
		Additions: []sandbox.CWAddition{{ID: 7301, AgreementID: 7201, ProductID: 7401, Quantity: 5, UnitPrice: 10},
			{ID: 7302, AgreementID: 7202, ProductID: 7401, Quantity: 4, UnitPrice: 10},
			{ID: 7303, AgreementID: 7201, ProductID: 7401, Quantity: 2, UnitPrice: 10, CancelledDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Boards: []sandbox.CWOption{{ID: 7501, Name: "Alerts"}, {ID: 7502, Name: "Projects"}},
		Statuses: []sandbox.CWBoardItem{{ID: 7601, BoardID: 7501, Name: "New", Default: true}, {ID: 7602, BoardID: 7501, Name: "Closed", Closed: true},
			{ID: 7603, BoardID: 7502, Name: "Open"}},
		BoardTypes: []sandbox.CWBoardItem{{ID: 7701, BoardID: 7501, Name: "Alert"}},
		Priorities: []sandbox.CWOption{{ID: 7801, Name: "P1"}},
		Sources:    []sandbox.CWOption{{ID: 7901, Name: "Monitor"}},
	}
}

// haloSeed is tenant C's HaloPSA: clients (top levels are the company
// types), recurring invoices (contracts, at negated ids) with lines, and
// ticket lookups, at ids off Halo's defaults.
func haloSeed() sandbox.HaloPSASeed {
	return sandbox.HaloPSASeed{
		ClientID: haloApp, ClientSecret: haloSecret,
		TopLevels: []sandbox.HaloOption{{ID: 91, Name: "Client"}, {ID: 92, Name: "Suppliers"}},
		Clients:   []sandbox.HaloClient{{ID: 9101, Name: "Gamma Labs", TopLevelID: 91}},
		RecurringInvoices: []sandbox.HaloRecurringInvoice{
			{ID: -9201, ClientID: 9101, Reference: "Gamma Managed Services", Lines: []sandbox.HaloInvoiceLine{{ID: 9301, ItemID: 9401, Quantity: 7, UnitPrice: 10}}},
			{ID: -9202, ClientID: 9101, Reference: "Gamma 2019", Disabled: true},
		},
		Items:       []sandbox.HaloItem{{ID: 9401, Name: "Gamma Seats", Recurring: true, RecurringPrice: 10, BillingPeriod: 2}},
		ItemGroups:  []sandbox.HaloOption{{ID: 9501, Name: "Managed services"}},
		TicketTypes: []sandbox.HaloOption{{ID: 9601, Name: "Alert"}},
		Priorities:  []sandbox.HaloOption{{ID: 9701, Name: "Critical"}},
		Teams:       []sandbox.HaloOption{{ID: 9801, Name: "Alerts"}},
		Agents:      []sandbox.HaloAgent{{ID: 9901, Name: "Gail Agent", Team: "Alerts"}},
	}
}

// psaEnv is the API over a PSA sandbox serving the tenants' PSAs.
type psaEnv struct {
	*testAPI
	Sandbox *sandbox.Server
	URL     string
	// custom: the API accepts "endpoints" in PUT /v1/integration, so the
	// bodies carry them (otherwise Config.Endpoints, the sandbox, apply).
	custom bool
}

// newPSAEnv builds the API with clients dialled to the sandbox (loopback
// allowed) and custom endpoints accepted.
func newPSAEnv(tb testing.TB, mutate ...func(*httpapi.Config)) *psaEnv {
	tb.Helper()
	sb := sandbox.New()
	sb.Now = func() time.Time { return testStart } // the API tests' calendar, not today's
	sb.Autotask.AddInstance(autotaskSeed())
	sb.ConnectWise.AddInstance(connectWiseSeed())
	sb.HaloPSA.AddInstance(haloSeed())
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	e := &psaEnv{Sandbox: sb, URL: srv.URL}
	e.testAPI = newAPI(tb, append(append([]func(*httpapi.Config){func(c *httpapi.Config) {
		c.AllowCustomEndpoints = true
		c.Endpoints = e.sandboxEndpoints()
		c.Dial = func(_ string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			return connect.New(creds, ep, connect.Options{AllowPrivate: true})
		}
	}}, mutate...), func(c *httpapi.Config) { e.custom = c.AllowCustomEndpoints })...)
	return e
}

func (e *psaEnv) sandboxEndpoints() psa.Endpoints {
	return psa.Endpoints{AutotaskZoneURL: e.URL + "/autotask/atservicesrest/", ConnectWiseLoginURL: e.URL + "/connectwise/",
		HaloPSAAuthURL: e.URL + "/halopsa/auth/", HaloPSAAPIURL: e.URL + "/halopsa/api/"}
}

func (e *psaEnv) endpoints() any {
	if !e.custom {
		return nil
	}
	return map[string]string{"autotaskZoneUrl": e.URL + "/autotask/atservicesrest/", "connectwiseLoginUrl": e.URL + "/connectwise/",
		"halopsaAuthUrl": e.URL + "/halopsa/auth/", "halopsaApiUrl": e.URL + "/halopsa/api/"}
}

// autotaskBody and connectWiseBody are PUT /v1/integration bodies.
func (e *psaEnv) autotaskBody(secret string) []byte {
	return e.integrationBody(map[string]any{"provider": "autotask", "username": atUser, "secret": secret, "integrationCode": atCode})
}

func (e *psaEnv) connectWiseBody(private string) []byte {
	return e.integrationBody(map[string]any{"provider": "connectwise", "site": "na.myconnectwise.net", "companyId": cwCompany,
		"publicKey": cwPublic, "privateKey": private, "clientId": cwClient})
}

// haloBody is tenant C's PUT /v1/integration body.
func (e *psaEnv) haloBody(secret string) []byte {
	return e.integrationBody(map[string]any{"provider": "halopsa", "host": "gamma.halopsa.com", "clientId": haloApp, "clientSecret": secret})
}

func (e *psaEnv) integrationBody(fields map[string]any) []byte {
	if ep := e.endpoints(); ep != nil {
		fields["endpoints"] = ep
	}
	return mustJSON(e.tb, fields)
}

// mustConnect provisions tenant A on Autotask and tenant B on ConnectWise.
func (e *psaEnv) mustConnect() {
	e.tb.Helper()
	for tenant, body := range map[string][]byte{tenantA: e.autotaskBody(atSecret), tenantB: e.connectWiseBody(cwPrivate)} {
		if rec := e.do("PUT", "/v1/integration", e.token(tenant, billingRole), body, nil); rec.Code != http.StatusOK {
			e.tb.Fatalf("connect %s: got %d %s, want 200", tenant, rec.Code, rec.Body)
		}
	}
}

// mustMap maps tenant A's org to Acme Dental's contract line, through the
// generated client, and returns the mapping's ETag.
func (e *psaEnv) mustMap(org string) string {
	e.tb.Helper()
	users, nonBillable := "users", int64(1)
	resp, err := e.client(e.token(tenantA, billingRole)).PutMappingWithResponse(context.Background(), org, nil, apiclient.MappingRequest{
		CompanyId: 1001, ContractId: 2001, Lines: []apiclient.LineMapping{{Product: &users, LineId: 4001}}, NonBillableUsers: &nonBillable})
	if err != nil {
		e.tb.Fatal(err)
	}
	if resp.JSON200 == nil {
		e.tb.Fatalf("map %s: got %s %s, want 200", org, resp.Status(), resp.Body)
	}
	return resp.HTTPResponse.Header.Get("ETag")
}

// admin sends an admin request as tenant with the billing role.
func (e *psaEnv) admin(tenant, method, path string, body []byte, header http.Header) *httptest.ResponseRecorder {
	e.tb.Helper()
	return e.do(method, path, e.token(tenant, billingRole), body, header)
}

func ctx() context.Context { return context.Background() }

func ifMatch(etag string) http.Header { return http.Header{"If-Match": {etag}} }

// mergePatch is the Content-Type of a PATCH body, with more headers in
// pairs (name, value).
func mergePatch(more ...string) http.Header {
	h := http.Header{"Content-Type": {"application/merge-patch+json"}}
	for i := 0; i+1 < len(more); i += 2 {
		h.Set(more[i], more[i+1])
	}
	return h
}

// mustPutItem writes a bare item (as another package's store code would).
func mustPutItem(tb testing.TB, s *dynamo.Store, pk, sk string, attrs map[string]types.AttributeValue) {
	tb.Helper()
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
	for k, v := range attrs {
		item[k] = v
	}
	if _, err := s.DB.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		tb.Fatal(err)
	}
}

// mustItems returns every item of a tenant's partitions (T#<t> and
// T#<t>#…), keyed "PK SK". A test-only Scan: the table is the test's own.
func mustItems(tb testing.TB, s *dynamo.Store, tenant string) map[string]map[string]types.AttributeValue {
	tb.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(s.DB, &dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx())
		if err != nil {
			tb.Fatal(err)
		}
		for _, item := range page.Items {
			pk := item["PK"].(*types.AttributeValueMemberS).Value
			if pk == "T#"+tenant || strings.HasPrefix(pk, "T#"+tenant+"#") {
				out[pk+" "+item["SK"].(*types.AttributeValueMemberS).Value] = item
			}
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
