package autotask

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

const (
	testUser   = "api@msp.example"
	testSecret = "s3cret"
	testCode   = "TRACKING-1"
)

// testNow is inside the seeded contracts' dates.
var testNow = time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)

// fixture is a sandbox with one Autotask instance and a client for it.
type fixture struct {
	sb     *sandbox.Server
	srv    *httptest.Server
	client *Client
	sleeps *sleepLog
}

// sleepLog records the retry waits instead of sleeping.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
	hook  func(n int)
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// MustFixture serves seed on 127.0.0.1 and returns a client for it whose
// HTTP client allows loopback and plain http (psahttp.Policy.AllowPrivate).
func MustFixture(tb testing.TB, seed sandbox.AutotaskSeed, timeout time.Duration) *fixture {
	tb.Helper()
	sb := sandbox.New()
	sb.Now = func() time.Time { return testNow }
	sb.Autotask.AddInstance(seed)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	f := &fixture{sb: sb, srv: srv, sleeps: &sleepLog{}}
	f.client = MustClient(tb, srv.URL, timeout, f.sleeps)
	return f
}

// MustClient returns a client for the sandbox at serverURL.
func MustClient(tb testing.TB, serverURL string, timeout time.Duration, sleeps *sleepLog) *Client {
	tb.Helper()
	c, err := New(Config{
		Credentials: psa.Credentials{Provider: psa.Autotask, Username: testUser, Secret: testSecret, IntegrationCode: testCode},
		Endpoints:   psa.Endpoints{AutotaskZoneURL: serverURL + "/autotask/atservicesrest/"},
		Options: psahttp.Options{
			HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, timeout),
			Retry:      psahttp.Retrier{Sleep: sleeps.sleep},
			Now:        func() time.Time { return testNow },
		},
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// baseSeed is an instance with the usual picklists and no data.
func baseSeed() sandbox.AutotaskSeed {
	return sandbox.AutotaskSeed{Username: testUser, Secret: testSecret, IntegrationCode: testCode, Zone: "webservices5"}
}

// lineSeed adds companies, contracts (one per company), a catalog of
// services and lines spread over the contracts, with initial units 10+i%7.
// Line ids are 100000+i, contract ids 50000+j, company ids 20000+j.
func lineSeed(seed sandbox.AutotaskSeed, contracts, lines int) (sandbox.AutotaskSeed, []psa.LineRef) {
	seed.Services = append(seed.Services, sandbox.AutotaskService{ID: 900, Name: "Microsoft 365 Business Premium", UnitPrice: 22, UnitCost: 18.5},
		sandbox.AutotaskService{ID: 901, Name: "Backup per seat", UnitPrice: 5, UnitCost: 2})
	for j := range contracts {
		seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{ID: int64(20000 + j), Name: fmt.Sprintf("Client %03d", j), Type: 1})
		seed.Contracts = append(seed.Contracts, sandbox.AutotaskContract{ID: int64(50000 + j), CompanyID: int64(20000 + j),
			Name:      fmt.Sprintf("Managed services %03d", j),
			StartDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), EndDate: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)})
	}
	refs := make([]psa.LineRef, lines)
	for i := range lines {
		ref := psa.LineRef{ContractID: int64(50000 + i%contracts), LineID: int64(100000 + i)}
		refs[i] = ref
		seed.ContractServices = append(seed.ContractServices, sandbox.AutotaskContractService{ID: ref.LineID, ContractID: ref.ContractID,
			ServiceID: int64(900 + i%2), UnitPrice: 22, UnitCost: 18.5, Units: int64(10 + i%7)})
	}
	return seed, refs
}

// ticketSeed adds resources and roles.
func ticketSeed(seed sandbox.AutotaskSeed) sandbox.AutotaskSeed {
	seed.Resources = []sandbox.AutotaskResource{{ID: 29682885, FirstName: "Ada", LastName: "Lovelace"}, {ID: 29682886, FirstName: "Old", LastName: "Timer", Inactive: true}}
	seed.Roles = []sandbox.AutotaskRole{{ID: 29682801, Name: "Engineer"}, {ID: 29682802, Name: "Dispatcher"}}
	return seed
}

// MustNoErr fails the test on err.
func MustNoErr(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}
