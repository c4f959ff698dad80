package billingsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/compose"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/iamcalls/iamcallstest"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/budget"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/psa/sandbox/sandboxtest"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

// TestMain records the AWS calls of the fan-out and the sync worker
// (iamcallstest: infra/testdata/aws-calls-billingsync.json; after a change
// in them, rerun the package with -update-aws-calls).
func TestMain(m *testing.M) { iamcallstest.Main(m, "billingsync") }

// start is the first clock reading of every test: inside the sandbox
// contracts' dates (2025-01-01 … 2026-12-31).
var start = time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)

// syncVisibility is the stack's sync queue visibility timeout (6 × the
// sync worker's 120 s timeout): what a failed message waits in AWS.
const syncVisibility = 720 * time.Second

const unitCost = 4.25

// orgFixture is one mapped org and its line in the sandbox.
type orgFixture struct {
	id         string
	contractID int64
	lineID     int64
	hwm        int64
	nonBill    int64
}

func (o orgFixture) target() int64 { return billing.Quantity(o.hwm, o.nonBill) }

// tenantFixture is one tenant with its PSA instance.
type tenantFixture struct {
	name     string
	provider psa.Provider
	login    string // Autotask username, ConnectWise company id or HaloPSA client id
	orgs     []*orgFixture
	// The sandbox seed of the tenant's PSA instance (one of them is set):
	// a test changes it and adds the instance again to change the PSA.
	atSeed   *sandbox.AutotaskSeed
	cwSeed   *sandbox.ConnectWiseSeed
	haloSeed *sandbox.HaloPSASeed
}

// env is a whole local stack: DynamoDB Local, moto SQS and Secrets Manager,
// the PSA sandboxes, the fan-out and a factory of workers.
type env struct {
	tb testing.TB
	// clock is the simulated clock of every part of a test: the store,
	// the workers, the PSA clients and the emulated event source mapping,
	// which jumps it to the next message's return when nothing else can
	// happen.
	clock   *esm.Clock
	store   *dynamo.Store
	counter *awsconfig.RequestCounter
	secrets *secrets.Store
	// workerStore, workerSecrets and workerSQS are the sync worker's own
	// clients over the same table, secrets and queue (the fan-out's are
	// in e.fanout), so the record of AWS calls knows whose a call is.
	workerStore   *dynamo.Store
	workerSecrets *secrets.Store
	workerSQS     *sqs.Client
	// sb is the PSA sandbox in this process (nil when psa runs it in
	// another); psa is the sandbox as the harness steers and reads it.
	sb      *sandbox.Server
	psa     sandboxtest.Sandbox
	remote  *sandboxtest.Remote
	url     string
	sqs     *sqs.Client
	sqsN    *awsconfig.RequestCounter
	queue   sqsqueue.FIFOQueue
	fanout  *billingsync.Fanout
	tenants []*tenantFixture
	// log, when set, is the workers' logger (the fan-out's is e.fanout.Log).
	log *slog.Logger
}

// MustEnv builds an env with no tenants, its PSA sandbox in this process.
func MustEnv(tb testing.TB) *env {
	tb.Helper()
	e := newEnv(tb)
	e.sb = sandbox.New()
	e.sb.Now = e.clock.Now
	srv := httptest.NewServer(e.sb)
	tb.Cleanup(srv.Close)
	e.url, e.psa = srv.URL, sandboxtest.InProcess{Server: e.sb}
	return e
}

// MustEnvSandboxProcess builds an env with no tenants whose PSA sandbox
// runs in another process (sandboxtest.Start), so this process's CPU is
// the worker's, the fan-out's and the harness's only; e.sb is nil.
func MustEnvSandboxProcess(tb testing.TB) *env {
	tb.Helper()
	e := newEnv(tb)
	e.remote = sandboxtest.Start(tb, e.clock.Now)
	e.url, e.psa = e.remote.URL, e.remote
	return e
}

// newEnv builds the env's AWS side, fan-out and clock.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{tb: tb, clock: esm.NewClock(start), counter: &awsconfig.RequestCounter{}, sqsN: &awsconfig.RequestCounter{}}
	e.store = dynamotest.NewStore(tb, e.counter)
	e.store.Now = e.clock.Now
	e.workerStore = dynamotest.As(e.store, "syncworker")
	stores := secretstest.NewStoresAs(tb, "", "syncworker")
	e.secrets, e.workerSecrets = stores[0], stores[1]
	e.sqs = sqstest.Serial(sqstest.MustClient(tb, e.sqsN))
	e.queue = sqstest.MustQueueOf(tb, e.sqs, "sync")
	e.workerSQS = sqstest.As(e.sqs, "syncworker")
	e.fanout = &billingsync.Fanout{Store: syncstore.Adapter{Store: dynamotest.As(e.store, "fanout")},
		Queue:  syncstore.Queue{Sender: &sqsqueue.Sender{Client: sqstest.As(e.sqs, "fanout"), QueueURL: e.queue.URL}},
		Shards: schema.MappedShards, Now: e.clock.Now}
	return e
}

// StartRun starts a run now as the API does in AWS: the API's part (the
// conflict check, the run stored) with the api's AWS calls, then the
// fan-out's handler with the same event the API's asynchronous invocation
// carries, with the fan-out's (compose.InProcess).
func (e *env) StartRun(ctx context.Context, tenant string, dryRun bool) (string, error) {
	return startRun(ctx, e.fanout, tenant, dryRun)
}

// startRun is env.StartRun with fan-out f.
func startRun(ctx context.Context, f *billingsync.Fanout, tenant string, dryRun bool) (string, error) {
	return compose.InProcess(f).StartRun(iamcalls.WithCaller(ctx, "api"), tenant, dryRun)
}

// MustTenant adds a tenant with n mapped orgs, each with one users line whose
// PSA quantity starts at initial, and HWMs of 10 + i%50.
func (e *env) MustTenant(name string, provider psa.Provider, n int, initial int64, set func(*billing.Settings)) *tenantFixture {
	e.tb.Helper()
	ctx := context.Background()
	t := &tenantFixture{name: name, provider: provider, login: name + "-login"}
	for i := 0; i < n; i++ {
		t.orgs = append(t.orgs, &orgFixture{id: fmt.Sprintf("org-%d", i+1), contractID: int64(50000 + i), lineID: int64(70000 + i),
			hwm: int64(10 + i%50), nonBill: int64(i % 3)})
	}
	var creds psa.Credentials
	in := integration.Integration{Provider: provider, CredentialsUpdatedAt: start}
	switch provider {
	case psa.Autotask:
		seed := sandbox.AutotaskSeed{Username: t.login + "@example.com", Secret: "s3cret-" + name, IntegrationCode: "CODE" + name,
			Services: []sandbox.AutotaskService{{ID: 900, Name: "Seats", UnitPrice: 12, UnitCost: 3}}}
		for i, o := range t.orgs {
			seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{ID: int64(20000 + i), Name: "Client " + o.id, Type: 1})
			seed.Contracts = append(seed.Contracts, sandbox.AutotaskContract{ID: o.contractID, CompanyID: int64(20000 + i), Name: "Seats " + o.id})
			seed.ContractServices = append(seed.ContractServices, sandbox.AutotaskContractService{ID: o.lineID, ContractID: o.contractID, ServiceID: 900, UnitPrice: 12, UnitCost: 3, Units: initial})
		}
		e.psa.Load(sandbox.Seed{Autotask: []sandbox.AutotaskSeed{seed}})
		t.atSeed = &seed
		t.login = seed.Username
		creds = psa.Credentials{Provider: provider, Username: seed.Username, Secret: seed.Secret, IntegrationCode: seed.IntegrationCode}
		in.Username, in.IntegrationCode = seed.Username, seed.IntegrationCode
		in.Endpoints = psa.Endpoints{AutotaskZoneURL: e.url + "/autotask/atservicesrest/"}
	case psa.ConnectWise:
		seed := sandbox.ConnectWiseSeed{CompanyID: t.login, PublicKey: "pub" + name, PrivateKey: "priv" + name, ClientID: "client-" + name}
		for i, o := range t.orgs {
			seed.Companies = append(seed.Companies, sandbox.CWCompany{ID: int64(30000 + i), Identifier: "C" + o.id, Name: "Client " + o.id})
			seed.Agreements = append(seed.Agreements, sandbox.CWAgreement{ID: o.contractID, CompanyID: int64(30000 + i), Name: "Seats " + o.id})
			seed.Additions = append(seed.Additions, sandbox.CWAddition{ID: o.lineID, AgreementID: o.contractID, ProductID: 901, Quantity: float64(initial), UnitPrice: 12, UnitCost: 3})
		}
		e.psa.Load(sandbox.Seed{ConnectWise: []sandbox.ConnectWiseSeed{seed}})
		t.cwSeed = &seed
		creds = psa.Credentials{Provider: provider, Site: "cw.example.com", CompanyID: seed.CompanyID, PublicKey: seed.PublicKey, PrivateKey: seed.PrivateKey, ClientID: seed.ClientID}
		in.Site, in.CompanyID, in.ClientID = creds.Site, creds.CompanyID, creds.ClientID
		in.Endpoints = psa.Endpoints{ConnectWiseLoginURL: e.url + "/connectwise/"}
	case psa.HaloPSA:
		// psabridge's contract id is the recurring invoice's, negated
		// (docs/HALOPSA.md §5.2).
		seed := sandbox.HaloPSASeed{ClientID: t.login, ClientSecret: "halo-secret-" + name,
			TopLevels: []sandbox.HaloOption{{ID: 1, Name: "Managed"}},
			Items:     []sandbox.HaloItem{{ID: 902, Name: "Seats", Recurring: true, RecurringPrice: 12, RecurringCost: 3, BillingPeriod: 2}}}
		for i, o := range t.orgs {
			seed.Clients = append(seed.Clients, sandbox.HaloClient{ID: companyOf(t, i), Name: "Client " + o.id, TopLevelID: 1})
			seed.RecurringInvoices = append(seed.RecurringInvoices, sandbox.HaloRecurringInvoice{ID: -o.contractID, ClientID: companyOf(t, i),
				Reference: "Seats " + o.id, Lines: []sandbox.HaloInvoiceLine{{ID: o.lineID, ItemID: 902, Quantity: float64(initial), UnitPrice: 12, UnitCost: 3}}})
		}
		e.psa.Load(sandbox.Seed{HaloPSA: []sandbox.HaloPSASeed{seed}})
		t.haloSeed = &seed
		creds = psa.Credentials{Provider: provider, Host: "halo.example.com", ClientID: seed.ClientID, ClientSecret: seed.ClientSecret}
		in.Host, in.ClientID = creds.Host, creds.ClientID
		in.Endpoints = e.haloEndpoints()
	}
	if err := e.secrets.PutPSACredentials(ctx, name, creds); err != nil {
		e.tb.Fatal(err)
	}
	if _, err := e.store.PutIntegration(ctx, name, in, 0); err != nil {
		e.tb.Fatal(err)
	}
	settings := billing.DefaultSettings()
	settings.UnitCost = map[billing.Product]float64{billing.Users: unitCost}
	if set != nil {
		set(&settings)
	}
	if _, err := e.store.PutBillingSettings(ctx, name, settings, 0); err != nil {
		e.tb.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(t.orgs))
	sem := make(chan struct{}, 16)
	for i, o := range t.orgs {
		m := billing.Mapping{CompanyID: companyOf(t, i), ContractID: o.contractID, NonBillableUsers: o.nonBill, State: billing.Mapped,
			Lines: []billing.LineMapping{{Product: billing.Users, LineID: o.lineID}}}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := e.store.PutMapping(ctx, name, o.id, m, 0); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.tb.Fatal(err)
	}
	e.tenants = append(e.tenants, t)
	e.MustObserve(t, t.orgs)
	return t
}

// MustObserve records every org's HWM at the current clock.
func (e *env) MustObserve(t *tenantFixture, orgs []*orgFixture) {
	e.tb.Helper()
	loc, _ := billing.LoadLocation("")
	var wg sync.WaitGroup
	errs := make(chan error, len(orgs))
	sem := make(chan struct{}, 16)
	for _, o := range orgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := e.store.RecordObservation(context.Background(), t.name, loc, billing.Observation{Org: o.id, Product: billing.Users, Value: o.hwm, ObservedAt: e.clock.Now().Add(-time.Hour)})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.tb.Fatal(err)
	}
}

// NewWorker returns a worker as one Lambda instance would have it: its own
// connector (client cache) and budget, over the sync worker's AWS clients.
func (e *env) NewWorker() *billingsync.Worker {
	st := syncstore.Adapter{Store: e.workerStore}
	b := &budget.Budget{Store: e.workerStore, Limits: budget.SettingsLimits(e.workerStore), Now: e.clock.Now}
	opts := connect.Options{AllowPrivate: true, Timeout: 5 * time.Second, Now: e.clock.Now}
	if e.remote != nil {
		// Counted and stamped with the clock on their way to the sandbox.
		opts.HTTPClient = psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, opts.Timeout)
		opts.HTTPClient.Transport = e.remote.Transport(opts.HTTPClient.Transport)
	}
	conn := &integration.Connector{Store: e.workerStore, Credentials: e.workerSecrets, Dial: b.Dialer(opts)}
	return &billingsync.Worker{Store: st, Connector: conn, Budget: b, Now: e.clock.Now, Log: e.log}
}

// handler wraps a worker's handler, e.g. to deliver every batch twice.
type handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// MustDrain polls the sync queue the way Lambda's event source mapping does
// until it is empty, with `workers` concurrent pollers. While produce runs
// (a fan-out, say), the pollers already work, as Lambda's would; the queue
// then stays short, which keeps moto's FIFO bookkeeping fast.
func (e *env) MustDrain(workers int, wrap func(handler) handler, produce func()) {
	e.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mappings []*esm.Mapping
	for i := 0; i < workers; i++ {
		w := e.NewWorker()
		h := handler(w.HandleSQS)
		if wrap != nil {
			h = wrap(h)
		}
		m := &esm.Mapping{SQS: e.sqs, QueueURL: e.queue.URL, BatchSize: 10, VisibilityTimeout: syncVisibility, Clock: e.clock, Handler: h}
		// As the syncworker Lambda is wired: waiting orgs are re-queued on
		// the sync queue and hidden through the mapping's clock.
		w.Requeue = syncstore.Queue{Sender: &sqsqueue.Sender{Client: e.workerSQS, QueueURL: e.queue.URL}}
		w.Visibility = m
		mappings = append(mappings, m)
	}
	errs := make(chan error, 2*workers)
	if produce != nil {
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, m := range mappings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- m.Run(runCtx)
			}()
		}
		produce()
		stop()
		wg.Wait()
	}
	var wg sync.WaitGroup
	for _, m := range mappings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.Drain(ctx, 300*time.Millisecond)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			e.tb.Fatal(err)
		}
	}
}

// MustScheduledRun runs the daily fan-out and drains the queue; it returns
// the tenants' runs as stored afterwards, by tenant.
func (e *env) MustScheduledRun(workers int, wrap func(handler) handler) map[string]billing.Run {
	e.tb.Helper()
	ctx := context.Background()
	var runs []billing.Run
	var err error
	t0 := time.Now()
	e.MustDrain(workers, wrap, func() { runs, err = e.fanout.Scheduled(ctx, e.clock.Now()) })
	if err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Logf("scheduled run of %d tenants: %v", len(runs), time.Since(t0))
	out := map[string]billing.Run{}
	for _, r := range runs {
		got, err := e.store.Run(ctx, r.Tenant, r.ID)
		if err != nil {
			e.tb.Fatal(err)
		}
		out[r.Tenant] = got
	}
	return out
}

// haloEndpoints point a HaloPSA client at the sandbox's Halo dialect.
func (e *env) haloEndpoints() psa.Endpoints {
	return psa.Endpoints{HaloPSAAuthURL: e.url + "/halopsa/auth/", HaloPSAAPIURL: e.url + "/halopsa/api/"}
}

// Quantity returns a line's quantity in the sandbox, in the billed period.
func (e *env) Quantity(t *tenantFixture, o *orgFixture) (int64, float64) {
	switch t.provider {
	case psa.HaloPSA:
		l, _ := e.psa.HaloPSALine(t.login, o.lineID)
		return int64(l.Quantity), l.UnitCost
	case psa.Autotask:
		n, _ := e.psa.AutotaskUnits(t.login, o.lineID, e.clock.Now())
		var cost float64
		for _, a := range e.psa.AutotaskAdjustments(t.login) {
			if a.ContractServiceID == o.lineID && a.AdjustedUnitCost != nil {
				cost = *a.AdjustedUnitCost
			}
		}
		return n, cost
	default:
		a, _ := e.psa.ConnectWiseAddition(t.login, o.lineID)
		return int64(a.Quantity), a.UnitCost
	}
}

// Writes returns the tenant's write log as sorted strings (line and change).
func (e *env) Writes(t *tenantFixture) []string {
	var out []string
	switch t.provider {
	case psa.Autotask:
		for _, a := range e.sb.Autotask.Adjustments(t.login) {
			out = append(out, fmt.Sprintf("%d%+d", a.ContractServiceID, a.UnitChange))
		}
	case psa.HaloPSA:
		for _, w := range e.sb.HaloPSA.LineWrites(t.login) {
			out = append(out, haloWrite(w))
		}
	default:
		for _, p := range e.sb.ConnectWise.Patches(t.login) {
			out = append(out, fmt.Sprintf("%d:%s", p.ID, p.Ops[0].Value))
		}
	}
	sort.Strings(out)
	return out
}

// haloWrite is a HaloPSA line write as the write log shows it: line, and
// the quantity and cost written.
func haloWrite(w sandbox.HaloLineWrite) string {
	v := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprint(*f)
	}
	return fmt.Sprintf("%d:%s@%s", w.LineID, v(w.Quantity), v(w.UnitCost))
}

// MustAllAtTarget fails for each line whose sandbox quantity or cost is not
// its target.
func (e *env) MustAllAtTarget(tb testing.TB) {
	tb.Helper()
	for _, t := range e.tenants {
		for _, o := range t.orgs {
			q, c := e.Quantity(t, o)
			if q != o.target() || c != unitCost {
				tb.Errorf("%s/%s: PSA holds %d at %v, want %d at %v", t.name, o.id, q, c, o.target(), unitCost)
			}
		}
	}
}

// MustCountsAddUp checks a finished run's counts.
func MustCountsAddUp(tb testing.TB, r billing.Run) {
	tb.Helper()
	c := r.Counts
	if r.Status == billing.Running {
		tb.Errorf("run %s of %s still running: %+v", r.ID, r.Tenant, c)
	}
	if sum := c.Updated + c.Unchanged + c.Skipped + c.Failed + c.Deferred; sum != c.Total || c.Done != c.Total {
		tb.Errorf("run %s of %s: counts %+v do not add up to total %d", r.ID, r.Tenant, c, c.Total)
	}
}
