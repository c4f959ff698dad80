package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/lambdainvoke"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/sqsqueue"
)

// apiBudgetBlock is how many PSA requests the API reserves from a tenant's
// hourly budget at once: small, because an idle warm API keeps what it
// reserved until the hour ends.
const apiBudgetBlock = 5

// build wires the handler from the environment (getenv).
func build(ctx context.Context, getenv func(string) string) (http.Handler, error) {
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv)
	if err != nil {
		return nil, err
	}
	customEndpoints, err := awsconfig.Flag(getenv, "PSABRIDGE_ALLOW_CUSTOM_ENDPOINTS")
	if err != nil {
		return nil, err
	}
	cfg, allowPrivate := env.AWS, env.AllowPrivatePSA
	sec, err := secrets.New(awsconfig.SecretsManager(cfg), env.SecretPrefix)
	if err != nil {
		return nil, err
	}
	store := dynamo.New(awsconfig.DynamoDB(cfg), env.Table)
	redactor := &logging.Redactor{}
	budget := &billingsync.Budget{Store: syncstore.Adapter{Store: store}, Block: apiBudgetBlock, Metrics: metrics.Default}
	dial := budget.Dialer(connect.Options{AllowPrivate: allowPrivate})
	api := httpapi.Config{
		Store:   store,
		Secrets: sec,
		Auth: httpapi.ClaimsAuthenticator{Claims: httpapi.ClaimNames{
			Tenant: getenv("PSABRIDGE_TENANT_CLAIM"), Roles: getenv("PSABRIDGE_ROLES_CLAIM")}},
		// Operator rights come from the IAM authorizer's context only.
		Operators:   httpapi.IAMAuthenticator{},
		BillingRole: getenv("PSABRIDGE_BILLING_ROLE"),
		Logger:      logging.New(os.Stdout, slog.LevelInfo, redactor),
		Redact:      redactor.Add,
		Dial: func(tenant string, c psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			// The tenant's own hourly budget (billing settings) bounds the
			// API's PSA requests too.
			if set, err := store.BillingSettings(ctx, tenant); err == nil {
				budget.SetLimit(tenant, set.BudgetPerHour)
			}
			return dial(tenant, c, ep)
		},
		AllowCustomEndpoints: customEndpoints,
		Metrics:              metrics.Default,
	}
	fanout := &billingsync.Fanout{Store: syncstore.Adapter{Store: store}, Shards: schema.MappedShards, Log: api.Logger}
	switch fn, q := getenv("PSABRIDGE_FANOUT_FUNCTION"), getenv("PSABRIDGE_SYNC_QUEUE_URL"); {
	case fn != "":
		// In AWS: the fan-out function queues the orgs; the request returns at once.
		inv := lambdainvoke.Invoker{Client: awslambda.NewFromConfig(cfg), Function: fn}
		fanout.Invoke = func(ctx context.Context, req billingsync.StartRequest) error { return inv.InvokeAsync(ctx, req) }
		api.Runs = fanout
	case q != "":
		fanout.Queue = syncstore.Queue{Sender: &sqsqueue.Sender{Client: awsconfig.SQS(cfg), QueueURL: q}}
		api.Runs = fanout
	}
	return httpapi.New(api), nil
}
