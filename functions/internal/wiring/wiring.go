// Package wiring builds what the PSA-facing workers share from their
// environment: the DynamoDB store, the secret store, the tenant's PSA request
// budget and a connector whose clients spend it. Wiring only, no logic.
package wiring

import (
	"context"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
)

// PSAWorker is a worker's adapters.
type PSAWorker struct {
	Env       awsconfig.FunctionEnv
	Store     *dynamo.Store
	Budget    *billingsync.Budget
	Connector *integration.Connector
}

// NewPSAWorker reads the common environment (awsconfig.LoadFunctionEnv) and
// builds the adapters. Every PSA request of the connector's clients spends
// the tenant's hourly budget (Autotask's cap is per database, shared by all
// of psabridge's traffic).
func NewPSAWorker(ctx context.Context, getenv func(string) string) (PSAWorker, error) {
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv)
	if err != nil {
		return PSAWorker{}, err
	}
	sec, err := secrets.New(awsconfig.SecretsManager(env.AWS), env.SecretPrefix)
	if err != nil {
		return PSAWorker{}, err
	}
	store := dynamo.New(awsconfig.DynamoDB(env.AWS), env.Table)
	budget := &billingsync.Budget{Store: syncstore.Adapter{Store: store}, Metrics: metrics.Default}
	return PSAWorker{
		Env:    env,
		Store:  store,
		Budget: budget,
		Connector: &integration.Connector{Store: store, Credentials: sec,
			Dial: budget.Dialer(connect.Options{AllowPrivate: env.AllowPrivatePSA})},
	}, nil
}
