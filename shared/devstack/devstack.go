// Package devstack runs the whole of psabridge on one machine: the local AWS
// stand-ins (DynamoDB Local, moto), the table and queues, the PSA sandbox
// seeded with a demo MSP, the REST API and webhook on a loopback address,
// the queue pollers and the hourly sync tick. `make run` (functions/local) and
// the demo test use it; the demo itself (demo.go) talks to the stack only
// through the public HTTP API, as a vendor's platform and an MSP admin would.
package devstack

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/compose"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/ticketing"
)

// Local JWT settings: tokens printed by `make run` carry these.
const (
	TokenIssuer   = "psabridge-local"
	TokenAudience = "psabridge-local"
	// BillingRole is the role the dev admin tokens carry.
	BillingRole = "billing-admin"
	// TokenTTL is how long printed tokens stay valid.
	TokenTTL = 24 * time.Hour
)

// DefaultAddr is where `make run` serves the REST API and the webhook.
const DefaultAddr = "127.0.0.1:8080"

// Options configure Start.
type Options struct {
	// Addr is the API's listen address; "" means DefaultAddr, and
	// "127.0.0.1:0" picks a free port (tests).
	Addr string
	// DataDir, when set, keeps DynamoDB Local's files there (e.g. ".local/dynamodb")
	// so tenants, orgs and usage survive a restart; empty means in memory.
	// moto (SQS, Secrets Manager) is always in memory.
	DataDir string
	// KeyFile, when set, is where the dev JWT signing key is written (e.g.
	// DefaultKeyFile), so AdminTokenFromKeyFile (`go run ./functions/local
	// -admin-token TENANT`) signs tokens this stack accepts. With KeepKey
	// the key already there is reused, so tokens outlive a restart
	// (`make run RUNFLAGS=-persist`). Empty: the key lives in memory only.
	KeyFile string
	KeepKey bool
	// UseEnvAWS uses the DynamoDB Local and moto endpoints already in the
	// environment (localaws.Env*) instead of starting new ones, as the test
	// under `make test` does. Start falls back to starting them when the
	// variables are missing.
	UseEnvAWS bool
	// Table is the DynamoDB table name; "" means "psabridge" (a fresh
	// "psabridge-<random>" when UseEnvAWS, so runs sharing servers stay apart).
	Table string
	// SeedFile replaces the embedded demo PSA seed (sandbox JSON).
	SeedFile string
	// LogOutput receives the services' structured logs (JSON, credentials
	// redacted); nil discards them. LogLevel is their threshold.
	LogOutput io.Writer
	LogLevel  slog.Level
	// ServerLog receives DynamoDB Local's output, MotoLog moto's (its
	// access log: a line per queue poll); nil discards each.
	ServerLog *os.File
	MotoLog   *os.File
	// Metrics receives the workers' CloudWatch EMF lines (sync entries by
	// code, budget deferrals, tickets), as the Lambdas print them; nil
	// discards them.
	Metrics io.Writer
	// Now is the clock (default clock.Now).
	Now func() time.Time
	// OnSchedule, when set, is told each time the hourly schedule ticked:
	// when, how many runs it started, and the fan-out's error.
	OnSchedule func(at time.Time, runs int, err error)
}

// Stack is a running local psabridge. Close stops everything it started.
type Stack struct {
	// APIURL is the base URL of the REST API and webhook ("http://127.0.0.1:8080").
	APIURL string
	// SandboxURL is the base URL of the PSA sandbox (all three dialects).
	SandboxURL string
	// Sandbox is the in-process PSA sandbox (its state can be read
	// directly); Seed is what it was loaded with.
	Sandbox *sandbox.Server
	Seed    sandbox.Seed
	// DynamoDBEndpoint and MotoEndpoint are the local AWS endpoints.
	DynamoDBEndpoint string
	MotoEndpoint     string
	// Table is the DynamoDB table.
	Table string
	// Store and Secrets are the adapters the services use.
	Store   *dynamo.Store
	Secrets *secrets.Store
	// SQS is the queue client; SyncQueue and TicketQueue the FIFO queues
	// (each with its dead-letter queue) the workers consume.
	SQS         *sqs.Client
	SyncQueue   sqsqueue.FIFOQueue
	TicketQueue sqsqueue.FIFOQueue
	// Fanout starts sync runs (API run-now requests, the hourly sync tick).
	Fanout *billingsync.Fanout

	syncWorker   *billingsync.Worker
	ticketWorker *ticketing.Worker

	opt    Options
	cfg    aws.Config
	root   *compose.Root
	log    *slog.Logger
	redact *logging.Redactor
	now    func() time.Time
	aws    *localaws.Stack
	key    ed25519.PrivateKey
	// operatorToken is the operators' bearer token (not a JWT: operator
	// rights never come from a token's claims).
	operatorToken string
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	closed        sync.Once
	srvs          []*http.Server
	// apiListener is taken first, so a busy port fails before anything starts.
	apiListener net.Listener
}

// Start brings the local system up: it takes the API's port, starts (or
// finds) DynamoDB Local and moto, creates the table, queues and secret
// store, serves the PSA sandbox, wires the sync and ticket workers behind
// their pollers, starts the hourly sync tick and serves the API. It returns a
// plain error naming the part that failed (port busy, Java or moto
// missing, …); everything started so far is stopped again.
func Start(ctx context.Context, opt Options) (st *Stack, err error) {
	s := &Stack{opt: opt, now: opt.Now, redact: &logging.Redactor{}}
	out := opt.LogOutput
	if out == nil {
		out = io.Discard
	}
	s.log = logging.New(out, opt.LogLevel, s.redact)
	if s.now == nil {
		s.now = clock.Now
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	addr := cmp.Or(opt.Addr, DefaultAddr)
	if s.apiListener, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("devstack: REST API on %s: %w (is another `make run` still running?)", addr, err)
	}

	if err := s.startAWS(ctx); err != nil {
		return nil, err
	}
	if err := s.createResources(ctx); err != nil {
		return nil, err
	}
	if err := s.startSandbox(); err != nil {
		return nil, err
	}
	if err := s.compose(); err != nil {
		return nil, err
	}
	// Each request's AWS calls are the api's or, for the alerts webhook,
	// the webhook's (the e2e record of AWS calls, iamcallstest).
	s.APIURL = s.serveOn(s.apiListener, iamcalls.HTTP(s.root.API()))
	s.startPollers(runCtx)
	if err := s.startSchedule(runCtx); err != nil {
		return nil, err
	}
	return s, nil
}

// startAWS starts DynamoDB Local and moto (or uses the ones in the
// environment) and points this process's SDK clients at them.
func (s *Stack) startAWS(ctx context.Context) error {
	if s.opt.UseEnvAWS && os.Getenv(localaws.EnvDynamoDB) != "" && os.Getenv(localaws.EnvSQS) != "" && os.Getenv(localaws.EnvSecretsManager) != "" {
		s.DynamoDBEndpoint = os.Getenv(localaws.EnvDynamoDB)
		s.MotoEndpoint = os.Getenv(localaws.EnvSQS)
		return nil
	}
	dir := s.opt.DataDir
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		dir = abs
	}
	a, err := localaws.Start(ctx, localaws.Options{Dir: dir, Log: s.opt.ServerLog, MotoLog: s.opt.MotoLog})
	if err != nil {
		return err
	}
	s.aws = a
	a.Setenv()
	s.DynamoDBEndpoint, s.MotoEndpoint = a.DynamoDBEndpoint, a.MotoEndpoint
	return nil
}

// createResources creates the table and the queues.
func (s *Stack) createResources(ctx context.Context) error {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return fmt.Errorf("devstack: AWS config: %w", err)
	}
	s.cfg = cfg
	s.Table = s.opt.Table
	if s.Table == "" {
		s.Table = "psabridge"
		if s.aws == nil {
			s.Table = "psabridge-" + randomHex(4)
		}
	}
	db := awsconfig.DynamoDB(cfg)
	if err := dynamo.CreateTable(ctx, db, s.Table); err != nil {
		return fmt.Errorf("devstack: create table %s: %w", s.Table, err)
	}
	s.SQS = awsconfig.SQS(cfg)
	prefix := "psabridge"
	if s.aws == nil {
		prefix = s.Table
	}
	if s.SyncQueue, err = sqsqueue.CreateFIFO(ctx, s.SQS, prefix+"-sync"); err != nil {
		return fmt.Errorf("devstack: sync queue: %w", err)
	}
	if s.TicketQueue, err = sqsqueue.CreateFIFO(ctx, s.SQS, prefix+"-tickets"); err != nil {
		return fmt.Errorf("devstack: ticket queue: %w", err)
	}
	return nil
}

// SandboxEndpoints returns the endpoints that point a PSA client at the
// sandbox (the "endpoints" of PUT /v1/integration).
func (s *Stack) SandboxEndpoints() psa.Endpoints {
	return psa.Endpoints{
		AutotaskZoneURL:     s.SandboxURL + "/autotask/atservicesrest/",
		ConnectWiseLoginURL: s.SandboxURL + "/connectwise/",
		HaloPSAAuthURL:      s.SandboxURL + "/halopsa/auth/",
		HaloPSAAPIURL:       s.SandboxURL + "/halopsa/api/",
	}
}

// startSandbox serves the demo PSA on a free loopback port.
func (s *Stack) startSandbox() error {
	sb, seed, err := NewSandbox(s.opt.SeedFile)
	if err != nil {
		return err
	}
	s.Sandbox, s.Seed = sb, seed
	url, err := s.serve("127.0.0.1:0", sb)
	if err != nil {
		return fmt.Errorf("devstack: PSA sandbox: %w", err)
	}
	s.SandboxURL = url
	return nil
}

// compose builds the API, the fan-out and the workers through the
// composition root the Lambda functions use (compose), with what differs
// locally: dev JWTs signed by the dev key (devKey) instead of API Gateway's
// JWT authorizer, an operator token instead of the IAM authorizer, loopback
// PSAs and custom endpoints allowed (the sandbox), and the API running the
// fan-out's handler in process instead of invoking the fan-out function
// (compose.InProcess). The PSA clients
// spend the tenants' budgets exactly as in AWS.
func (s *Stack) compose() error {
	priv, err := devKey(s.opt.KeyFile, s.opt.KeepKey)
	if err != nil {
		return err
	}
	s.key = priv
	s.operatorToken = "op_" + randomHex(32)
	prefix := secrets.DefaultPrefix
	if s.aws == nil {
		// Servers shared with other tests: keep this stack's secrets apart.
		prefix = s.Table + "/"
	}
	root, err := compose.New(compose.Env{
		AWS: s.cfg, Table: s.Table, SecretPrefix: prefix,
		SyncQueueURL: s.SyncQueue.URL, TicketQueueURL: s.TicketQueue.URL,
		AllowPrivatePSA: true, AllowCustomEndpoints: true,
		// Locally there is no platform portal; tickets still carry the link.
		AlertLinkBase: LinkBase,
		Auth: httpapi.JWTAuthenticator{Key: priv.Public().(ed25519.PublicKey), Issuer: TokenIssuer, Audience: TokenAudience,
			Now: s.now},
		Operators:   httpapi.OperatorTokenAuthenticator{Token: s.operatorToken},
		BillingRole: BillingRole,
		Logger:      s.log,
		Redactor:    s.redact,
		Metrics:     s.metrics(),
		Now:         s.now,
	})
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.root, s.Store, s.Secrets = root, root.Store, root.Secrets()
	s.Fanout = root.Fanout()
	s.syncWorker = root.SyncWorker()
	s.ticketWorker = root.TicketWorker()
	return nil
}

// metrics is the services' EMF emitter: Options.Metrics, or nil (none).
func (s *Stack) metrics() *metrics.Emitter {
	if s.opt.Metrics == nil {
		return nil
	}
	return &metrics.Emitter{W: s.opt.Metrics, Now: s.now}
}

// serve listens on addr and serves h until Close.
func (s *Stack) serve(addr string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	return s.serveOn(l, h), nil
}

// serveOn serves h on l until Close and returns its base URL.
func (s *Stack) serveOn(l net.Listener, h http.Handler) string {
	addr := l.Addr().String()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.srvs = append(s.srvs, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", "addr", addr, "err", err)
		}
	}()
	return "http://" + addr
}

// OperatorToken returns the bearer token of the vendor's operators (tenant
// provisioning), valid while the stack runs: a random secret of this run,
// standing in for the IAM authorizer of AWS.
func (s *Stack) OperatorToken() (string, error) {
	if s.operatorToken == "" {
		return "", errors.New("devstack: the API is not started")
	}
	return s.operatorToken, nil
}

// AdminToken returns a billing-admin token of tenant, valid for TokenTTL.
func (s *Stack) AdminToken(tenant string) (string, error) {
	return httpapi.DevToken(s.key, TokenIssuer, TokenAudience, tenant, []string{BillingRole}, TokenTTL, s.now())
}

// Close stops the servers, pollers and ticker, then DynamoDB Local and moto
// if Start started them. Safe to call more than once.
func (s *Stack) Close() {
	s.closed.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.srvs {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
		if s.apiListener != nil {
			_ = s.apiListener.Close() // when Start failed before serving it
		}
		s.wg.Wait()
		if s.aws != nil {
			s.aws.Stop()
		}
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
