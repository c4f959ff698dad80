package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
)

// credentialContainers are three processes sharing one table and one
// Secrets Manager, each with its own caches (secret, PSA client and zone,
// picker answers): two API containers and a worker's connector.
type credentialContainers struct {
	*psaEnv
	api2   *testAPI
	worker *integration.Connector
	// workerNew builds another connector in the worker's process: no
	// cached client, the process's warm secret cache.
	workerNew func() *integration.Connector
}

func newCredentialContainers(t *testing.T) *credentialContainers {
	t.Helper()
	stores := secretstest.NewSharedStores(t, 3)
	var cfg httpapi.Config
	e := newPSAEnv(t, func(c *httpapi.Config) {
		c.Secrets = stores[0]
		cfg = *c
	})
	cfg.Secrets = stores[1]
	api2 := *e.testAPI
	api2.Handler = httpapi.New(cfg)
	workerNew := func() *integration.Connector {
		return &integration.Connector{Store: e.Store, Credentials: stores[2], Dial: cfg.Dial}
	}
	return &credentialContainers{psaEnv: e, api2: &api2, worker: workerNew(), workerNew: workerNew}
}

// companyNames is what each container sees of a tenant's customers: the
// picker of API container 1 and 2, the worker's PSA client and that of a
// new connector in the worker's process (the worker asks for typeIDs, the
// customer types the picker chooses by default).
func (cc *credentialContainers) companyNames(t *testing.T, tenant string, typeIDs []int64) [][]string {
	t.Helper()
	picker := func(a *testAPI) []string {
		rec := a.do("GET", "/v1/psa/companies", a.token(tenant, billingRole), nil, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /v1/psa/companies: got %d %s, want 200", rec.Code, rec.Body)
		}
		var page struct{ Companies []psa.Company }
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		return names(page.Companies)
	}
	worker := func(conn *integration.Connector) []string {
		c, _, err := conn.Client(ctx(), tenant)
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
		list, err := c.Companies(ctx(), psa.CompanyFilter{TypeIDs: typeIDs})
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
		return names(list)
	}
	return [][]string{picker(cc.testAPI), picker(cc.api2), worker(cc.worker), worker(cc.workerNew())}
}

var containerNames = []string{"API container 1", "API container 2", "worker", "new connector in the worker"}

func names(list []psa.Company) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Name
	}
	slices.Sort(out)
	return out
}

// otherSeed is another Autotask database: its own user and customers.
func otherSeed(user, secret string) sandbox.AutotaskSeed {
	s := autotaskSeed()
	s.Username, s.Secret = user, secret
	s.Companies = []sandbox.AutotaskCompany{{ID: 1001, Name: "Other Clinic", Type: 1}, {ID: 1002, Name: "Other Law", Type: 1}}
	return s
}

// otherCWSeed is another ConnectWise company: its own company id, API
// member keys and customers.
func otherCWSeed(company, public, private string) sandbox.ConnectWiseSeed {
	s := connectWiseSeed()
	s.CompanyID, s.PublicKey, s.PrivateKey = company, public, private
	s.Companies = []sandbox.CWCompany{{ID: 7101, Identifier: "OtherClinic", Name: "Other Clinic", TypeIDs: []int64{71}},
		{ID: 7102, Identifier: "OtherLaw", Name: "Other Law", TypeIDs: []int64{71}}}
	return s
}

// otherHaloSeed is another HaloPSA API application's instance: its own
// client id and secret, and customers.
func otherHaloSeed(app, secret string) sandbox.HaloPSASeed {
	s := haloSeed()
	s.ClientID, s.ClientSecret = app, secret
	s.Clients = []sandbox.HaloClient{{ID: 9101, Name: "Other Clinic", TopLevelID: 91}, {ID: 9102, Name: "Other Law", TopLevelID: 91}}
	return s
}

// newSandbox serves one more PSA sandbox (another PSA host) on the API
// tests' calendar.
func newSandbox(t *testing.T, load func(*sandbox.Server)) string {
	sb := sandbox.New()
	sb.Now = func() time.Time { return testStart }
	load(sb)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCredentialChangeEverywhere: right after a PUT /v1/integration
// through one API container points a tenant at another PSA user, company
// or instance (or at rotated API keys), every call from the other API
// container and from a worker uses the new one, although all three were
// warm on the old: each answers with the new account's customers, and
// none uses credentials the PSA no longer takes.
func TestCredentialChangeEverywhere(t *testing.T) {
	other := []string{"Other Clinic", "Other Law"}
	cases := []struct {
		name string
		// tenant is on the provider: tenant A on Autotask, B on ConnectWise,
		// C on HaloPSA.
		tenant string
		// typeIDs are the customer types the picker chooses by default.
		typeIDs          []int64
		wantOld, wantNew []string
		// point adds the new PSA account and returns the PUT body for it.
		point func(cc *credentialContainers) []byte
	}{
		{"Autotask/AnotherUser", tenantA, []int64{1}, []string{"Acme Dental", "Beta Law"}, other, func(cc *credentialContainers) []byte {
			cc.Sandbox.Autotask.AddInstance(otherSeed("api@other.example", "AT-SECRET-other-1"))
			return cc.integrationBody(map[string]any{"provider": "autotask", "username": "api@other.example",
				"secret": "AT-SECRET-other-1", "integrationCode": atCode})
		}},
		{"Autotask/AnotherInstance", tenantA, []int64{1}, []string{"Acme Dental", "Beta Law"}, other, func(cc *credentialContainers) []byte {
			// The same user name on another Autotask host (another
			// endpoint), with another database behind it.
			url := newSandbox(t, func(sb *sandbox.Server) { sb.Autotask.AddInstance(otherSeed(atUser, atSecret)) })
			return mustJSON(t, map[string]any{"provider": "autotask", "username": atUser, "secret": atSecret, "integrationCode": atCode,
				"endpoints": map[string]string{"autotaskZoneUrl": url + "/autotask/atservicesrest/"}})
		}},
		{"ConnectWise/AnotherCompany", tenantB, []int64{71}, []string{"Zeta Clinic"}, other, func(cc *credentialContainers) []byte {
			// Another company id on the same site, with its own API
			// member's keys.
			cc.Sandbox.ConnectWise.AddInstance(otherCWSeed("gamma", "CW-PUBLIC-gamma-1", "CW-PRIVATE-gamma-1"))
			return cc.integrationBody(map[string]any{"provider": "connectwise", "site": "na.myconnectwise.net", "companyId": "gamma",
				"publicKey": "CW-PUBLIC-gamma-1", "privateKey": "CW-PRIVATE-gamma-1", "clientId": cwClient})
		}},
		{"ConnectWise/RotatedMemberKeys", tenantB, []int64{71}, []string{"Zeta Clinic"}, []string{"Zeta Clinic"}, func(cc *credentialContainers) []byte {
			// Another API member of the same company: the PSA takes its
			// keys only, so a container still on the old keys fails.
			cc.Sandbox.ConnectWise.AddInstance(func() sandbox.ConnectWiseSeed {
				s := connectWiseSeed()
				s.PublicKey, s.PrivateKey = "CW-PUBLIC-beta-member2", "CW-PRIVATE-beta-member2"
				return s
			}())
			return cc.integrationBody(map[string]any{"provider": "connectwise", "site": "na.myconnectwise.net", "companyId": cwCompany,
				"publicKey": "CW-PUBLIC-beta-member2", "privateKey": "CW-PRIVATE-beta-member2", "clientId": cwClient})
		}},
		{"ConnectWise/AnotherInstance", tenantB, []int64{71}, []string{"Zeta Clinic"}, other, func(cc *credentialContainers) []byte {
			// The same company id and keys on another site (another
			// endpoint), with another database behind it.
			url := newSandbox(t, func(sb *sandbox.Server) { sb.ConnectWise.AddInstance(otherCWSeed(cwCompany, cwPublic, cwPrivate)) })
			return mustJSON(t, map[string]any{"provider": "connectwise", "site": "eu.myconnectwise.net", "companyId": cwCompany,
				"publicKey": cwPublic, "privateKey": cwPrivate, "clientId": cwClient,
				"endpoints": map[string]string{"connectwiseLoginUrl": url + "/connectwise/"}})
		}},
		{"HaloPSA/AnotherApplication", tenantC, []int64{91}, []string{"Gamma Labs"}, other, func(cc *credentialContainers) []byte {
			// Another API application (another Halo instance behind the
			// same host): its own client id and secret.
			cc.Sandbox.HaloPSA.AddInstance(otherHaloSeed("halo-app-other", "HALO-SECRET-other-1"))
			return cc.integrationBody(map[string]any{"provider": "halopsa", "host": "gamma.halopsa.com", "clientId": "halo-app-other",
				"clientSecret": "HALO-SECRET-other-1"})
		}},
		{"HaloPSA/AnotherInstance", tenantC, []int64{91}, []string{"Gamma Labs"}, other, func(cc *credentialContainers) []byte {
			// The same application id and secret on another host (other
			// endpoints), with another database behind it.
			url := newSandbox(t, func(sb *sandbox.Server) { sb.HaloPSA.AddInstance(otherHaloSeed(haloApp, haloSecret)) })
			return mustJSON(t, map[string]any{"provider": "halopsa", "host": "other.halopsa.com", "clientId": haloApp, "clientSecret": haloSecret,
				"endpoints": map[string]string{"halopsaAuthUrl": url + "/halopsa/auth/", "halopsaApiUrl": url + "/halopsa/api/"}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := newCredentialContainers(t)
			cc.mustConnect()
			if rec := cc.admin(tenantC, "PUT", "/v1/integration", cc.haloBody(haloSecret), nil); rec.Code != http.StatusOK {
				t.Fatalf("connect %s: got %d %s, want 200", tenantC, rec.Code, rec.Body)
			}
			for i, got := range cc.companyNames(t, tc.tenant, tc.typeIDs) {
				if !slices.Equal(got, tc.wantOld) {
					t.Fatalf("%s warming up: got %v, want %v", containerNames[i], got, tc.wantOld)
				}
			}
			body := tc.point(cc)
			cc.Now = cc.Now.Add(time.Minute) // the PUT's stamp differs from the warm-up's
			if rec := cc.admin(tc.tenant, "PUT", "/v1/integration", body, nil); rec.Code != http.StatusOK {
				t.Fatalf("PUT /v1/integration: got %d %s, want 200", rec.Code, rec.Body)
			}
			for i, got := range cc.companyNames(t, tc.tenant, tc.typeIDs) {
				if !slices.Equal(got, tc.wantNew) {
					t.Errorf("%s after the PUT: got %v, want %v", containerNames[i], got, tc.wantNew)
				}
			}
		})
	}
}
