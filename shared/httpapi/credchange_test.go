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

// companyNames is what each container sees of tenant A's customers: the
// picker of API container 1 and 2, the worker's PSA client and that of a
// new connector in the worker's process.
func (cc *credentialContainers) companyNames(t *testing.T) [][]string {
	t.Helper()
	picker := func(a *testAPI) []string {
		rec := a.do("GET", "/v1/psa/companies", a.token(tenantA, billingRole), nil, nil)
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
		c, _, err := conn.Client(ctx(), tenantA)
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
		list, err := c.Companies(ctx(), psa.CompanyFilter{TypeIDs: []int64{1}})
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

// TestCredentialChangeEverywhere: right after a PUT /v1/integration
// through one API container points tenant A at another PSA user or
// another PSA instance, every call from the other API container and from
// a worker uses the new one, although all three were warm on the old.
func TestCredentialChangeEverywhere(t *testing.T) {
	wantOld, wantNew := []string{"Acme Dental", "Beta Law"}, []string{"Other Clinic", "Other Law"}
	cases := []struct {
		name string
		// point adds the new PSA account and returns the PUT body for it.
		point func(cc *credentialContainers) []byte
	}{
		{"AnotherUser", func(cc *credentialContainers) []byte {
			cc.Sandbox.Autotask.AddInstance(otherSeed("api@other.example", "AT-SECRET-other-1"))
			return cc.integrationBody(map[string]any{"provider": "autotask", "username": "api@other.example",
				"secret": "AT-SECRET-other-1", "integrationCode": atCode})
		}},
		{"AnotherInstance", func(cc *credentialContainers) []byte {
			// The same user name on another Autotask host (another
			// endpoint), with another database behind it.
			sb := sandbox.New()
			sb.Now = func() time.Time { return testStart }
			sb.Autotask.AddInstance(otherSeed(atUser, atSecret))
			srv := httptest.NewServer(sb)
			t.Cleanup(srv.Close)
			return mustJSON(t, map[string]any{"provider": "autotask", "username": atUser, "secret": atSecret, "integrationCode": atCode,
				"endpoints": map[string]string{"autotaskZoneUrl": srv.URL + "/autotask/atservicesrest/"}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := newCredentialContainers(t)
			cc.mustConnect()
			for i, got := range cc.companyNames(t) {
				if !slices.Equal(got, wantOld) {
					t.Fatalf("%s warming up: got %v, want %v", containerNames[i], got, wantOld)
				}
			}
			body := tc.point(cc)
			cc.Now = cc.Now.Add(time.Minute) // the PUT's stamp differs from the warm-up's
			if rec := cc.admin(tenantA, "PUT", "/v1/integration", body, nil); rec.Code != http.StatusOK {
				t.Fatalf("PUT /v1/integration: got %d %s, want 200", rec.Code, rec.Body)
			}
			for i, got := range cc.companyNames(t) {
				if !slices.Equal(got, wantNew) {
					t.Errorf("%s after the PUT: got %v, want %v", containerNames[i], got, wantNew)
				}
			}
		})
	}
}
