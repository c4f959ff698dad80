// Package compose is psabridge's one composition root: it builds the
// adapters (the DynamoDB store, Secrets Manager, SQS, the PSA connector whose
// clients spend the tenant's request budget) and hands them to the handlers
// and workers, from an Env. Every functions/<name>/main.go and shared/devstack
// (`make run`) build through it, so a local run dials the PSA exactly as AWS
// does. Wiring only: no logic.
package compose

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/lambdainvoke"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa/budget"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/ticketing"
)

// Env is the configuration of one process. FromEnvironment reads it for a
// Lambda function; devstack fills it for `make run`.
type Env struct {
	AWS aws.Config
	// Table is the DynamoDB table; SecretPrefix the Secrets Manager name
	// prefix ("" means secrets.DefaultPrefix).
	Table        string
	SecretPrefix string
	// SyncQueueURL and TicketQueueURL are the FIFO queues. FanoutFunction,
	// when set, is the fan-out Lambda the API invokes to start a run (in
	// AWS); without it the API runs the fan-out's handler in process
	// (InProcess), which queues a run's orgs on SyncQueueURL.
	SyncQueueURL   string
	TicketQueueURL string
	FanoutFunction string
	// AllowPrivatePSA lets PSA clients reach loopback over plain http, and
	// AllowCustomEndpoints lets PUT /v1/integration carry endpoints: local
	// runs only (the sandboxes).
	AllowPrivatePSA      bool
	AllowCustomEndpoints bool
	// AlertLinkBase is the platform's alert page tickets link back to.
	AlertLinkBase string
	// Auth authenticates admins and Operators the vendor's operators;
	// BillingRole is the role admin routes need.
	Auth        httpapi.Authenticator
	Operators   httpapi.Authenticator
	BillingRole string
	// Logger and Redactor (secrets registered with it never reach the log).
	Logger   *slog.Logger
	Redactor *logging.Redactor
	// Metrics receives EMF metrics; nil emits none.
	Metrics *metrics.Emitter
	// Now is the clock (default clock.Now).
	Now func() time.Time
}

// FromEnvironment reads a Lambda function's Env through getenv (os.Getenv
// in main): PSABRIDGE_TABLE and every name in required must be set. Admins
// are authenticated from the JWT authorizer's claims (PSABRIDGE_TENANT_CLAIM,
// PSABRIDGE_ROLES_CLAIM, PSABRIDGE_BILLING_ROLE), operators by the IAM
// authorizer only. Logs go to stdout as JSON, metrics as EMF.
func FromEnvironment(ctx context.Context, getenv func(string) string, required ...string) (Env, error) {
	fe, err := awsconfig.LoadFunctionEnv(ctx, getenv, required...)
	if err != nil {
		return Env{}, err
	}
	custom, err := awsconfig.Flag(getenv, "PSABRIDGE_ALLOW_CUSTOM_ENDPOINTS")
	if err != nil {
		return Env{}, err
	}
	redactor := &logging.Redactor{}
	return Env{
		AWS: fe.AWS, Table: fe.Table, SecretPrefix: fe.SecretPrefix,
		SyncQueueURL: getenv("PSABRIDGE_SYNC_QUEUE_URL"), TicketQueueURL: getenv("PSABRIDGE_TICKET_QUEUE_URL"),
		FanoutFunction:  getenv("PSABRIDGE_FANOUT_FUNCTION"),
		AllowPrivatePSA: fe.AllowPrivatePSA, AllowCustomEndpoints: custom,
		AlertLinkBase: getenv("PSABRIDGE_ALERT_LINK_BASE"),
		Auth: httpapi.ClaimsAuthenticator{Claims: httpapi.ClaimNames{
			Tenant: getenv("PSABRIDGE_TENANT_CLAIM"), Roles: getenv("PSABRIDGE_ROLES_CLAIM")}},
		// Operator rights come from the IAM authorizer's context only.
		Operators:   httpapi.IAMAuthenticator{},
		BillingRole: getenv("PSABRIDGE_BILLING_ROLE"),
		Logger:      logging.New(os.Stdout, slog.LevelInfo, redactor),
		Redactor:    redactor,
		Metrics:     metrics.Default,
	}, nil
}

// Root is the adapters of one process, built once and shared by what it
// builds.
type Root struct {
	Env   Env
	Store *dynamo.Store
	SQS   *sqs.Client

	secrets *secrets.Store
}

// New builds the adapters of env. It makes no AWS request.
func New(env Env) (*Root, error) {
	if env.Now == nil {
		env.Now = clock.Now
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	store := dynamo.New(awsconfig.DynamoDB(env.AWS), env.Table)
	store.Now = env.Now
	sec, err := secrets.New(awsconfig.SecretsManager(env.AWS), env.SecretPrefix)
	if err != nil {
		return nil, err
	}
	return &Root{Env: env, Store: store, SQS: awsconfig.SQS(env.AWS), secrets: sec}, nil
}

// NewFromEnvironment is the root of a Lambda function: New over
// FromEnvironment(ctx, getenv, required...), the one way every function's
// main builds what its handler needs.
func NewFromEnvironment(ctx context.Context, getenv func(string) string, required ...string) (*Root, error) {
	env, err := FromEnvironment(ctx, getenv, required...)
	if err != nil {
		return nil, err
	}
	return New(env)
}

// Secrets is the secret store (platform signing secrets and PSA credentials).
func (r *Root) Secrets() *secrets.Store { return r.secrets }

// APIBudgetBlock is how many PSA requests the API reserves from a tenant's
// hourly budget at once: small, because an idle warm API keeps what it
// reserved until the hour ends (the workers reserve budget.DefaultBlock).
const APIBudgetBlock = 5

// Budget returns a request budget of the tenants' limits (billing settings
// budgetPerHour, read at every reservation of block requests).
func (r *Root) Budget(block int) *budget.Budget {
	return &budget.Budget{Store: r.Store, Limits: budget.SettingsLimits(r.Store), Block: block, Now: r.Env.Now, Metrics: r.Env.Metrics}
}

// Connector returns a PSA connector whose clients spend b.
func (r *Root) Connector(b *budget.Budget) *integration.Connector {
	return &integration.Connector{Store: r.Store, Credentials: r.secrets, Dial: b.Dialer(r.connectOptions()),
		Log: r.Env.Logger, Metrics: r.Env.Metrics}
}

func (r *Root) connectOptions() connect.Options {
	return connect.Options{AllowPrivate: r.Env.AllowPrivatePSA, Now: r.Env.Now}
}

// Fanout is the billing sync's fan-out, queueing on SyncQueueURL.
func (r *Root) Fanout() *billingsync.Fanout {
	return &billingsync.Fanout{
		Store:   syncstore.Adapter{Store: r.Store},
		Queue:   syncstore.Queue{Sender: &sqsqueue.Sender{Client: r.SQS, QueueURL: r.Env.SyncQueueURL}},
		Shards:  schema.MappedShards,
		Now:     r.Env.Now,
		Log:     r.Env.Logger,
		Metrics: r.Env.Metrics,
	}
}

// SyncWorker is the worker behind the sync queue, with its own budget. An
// org that must wait is re-queued on SyncQueueURL and messages are hidden
// there (docs/SYNC.md, Waiting).
func (r *Root) SyncWorker() *billingsync.Worker {
	b := r.Budget(budget.DefaultBlock)
	return &billingsync.Worker{
		Store:      syncstore.Adapter{Store: r.Store},
		Connector:  r.Connector(b),
		Budget:     b,
		Requeue:    syncstore.Queue{Sender: &sqsqueue.Sender{Client: r.SQS, QueueURL: r.Env.SyncQueueURL}},
		Visibility: sqsqueue.Visibility{Client: r.SQS, QueueURL: r.Env.SyncQueueURL},
		Metrics:    r.Env.Metrics,
		Now:        r.Env.Now,
		Log:        r.Env.Logger,
	}
}

// TicketWorker is the worker behind the ticket queue; its PSA clients spend
// the tenant's budget like the sync's.
func (r *Root) TicketWorker() *ticketing.Worker {
	return &ticketing.Worker{
		Store:    r.Store,
		PSA:      r.Connector(r.Budget(budget.DefaultBlock)),
		LinkBase: r.Env.AlertLinkBase,
		Metrics:  r.Env.Metrics,
		Now:      r.Env.Now,
		Logger:   r.Env.Logger,
		// A malformed message is made visible again at once on its way
		// to the dead-letter queue.
		Visibility: sqsqueue.Visibility{Client: r.SQS, QueueURL: r.Env.TicketQueueURL},
	}
}

// API is the REST API handler. Its PSA clients spend the tenant's budget in
// blocks of APIBudgetBlock. A run it starts is handed to FanoutFunction when
// set (AWS), else to the fan-out's handler in this process (InProcess),
// which queues it on SyncQueueURL; with neither,
// run-now is unavailable. With TicketQueueURL it also serves the webhook
// route (make run serves both on one port).
func (r *Root) API() *httpapi.Handler {
	cfg := httpapi.Config{
		Store:                r.Store,
		RunLog:               r.Store,
		Alerts:               r.Store,
		Secrets:              r.secrets,
		Auth:                 r.Env.Auth,
		Operators:            r.Env.Operators,
		BillingRole:          r.Env.BillingRole,
		Logger:               r.Env.Logger,
		Now:                  r.Env.Now,
		Dial:                 r.Budget(APIBudgetBlock).Dialer(r.connectOptions()),
		AllowCustomEndpoints: r.Env.AllowCustomEndpoints,
		Metrics:              r.Env.Metrics,
	}
	if r.Env.Redactor != nil {
		cfg.Redact = r.Env.Redactor.Add
	}
	switch {
	case r.Env.FanoutFunction != "":
		fanout := r.Fanout()
		inv := lambdainvoke.Invoker{Client: awslambda.NewFromConfig(r.Env.AWS), Function: r.Env.FanoutFunction}
		fanout.Queue = nil
		fanout.Invoke = func(ctx context.Context, req billingsync.StartRequest) error { return inv.InvokeAsync(ctx, req) }
		cfg.Runs = fanout
	case r.Env.SyncQueueURL != "":
		cfg.Runs = InProcess(r.Fanout())
	}
	if r.Env.TicketQueueURL != "" {
		cfg.TicketQueue = &sqsqueue.Sender{Client: r.SQS, QueueURL: r.Env.TicketQueueURL}
	}
	return httpapi.New(cfg)
}

// Webhook is the handler of POST /v1/webhooks/alerts alone: platform signing
// secrets (never PSA credentials), the alert store and the ticket queue.
func (r *Root) Webhook() *httpapi.Handler {
	return httpapi.NewWebhook(httpapi.Config{
		Secrets:     httpapi.SigningOnly(r.secrets),
		Alerts:      r.Store,
		TicketQueue: &sqsqueue.Sender{Client: r.SQS, QueueURL: r.Env.TicketQueueURL},
		Metrics:     r.Env.Metrics,
		Now:         r.Env.Now,
		Logger:      r.Env.Logger,
	})
}

// InProcess is the API's RunStarter for where AWS invokes the fan-out
// function (make run, tests): the API's part as in AWS (the conflict check,
// the run stored), then, in place of the asynchronous invocation, the
// fan-out's handler in this process with the same event, its AWS calls the
// fan-out's (iamcalls.WithCaller). f is not changed.
func InProcess(f *billingsync.Fanout) httpapi.RunStarter {
	api := *f
	api.Invoke = func(ctx context.Context, req billingsync.StartRequest) error {
		event, err := json.Marshal(req)
		if err != nil {
			return err
		}
		_, err = f.HandleEvent(iamcalls.WithCaller(ctx, "fanout"), event)
		return err
	}
	return &api
}
