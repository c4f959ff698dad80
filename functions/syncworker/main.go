// Command syncworker is the Lambda on the FIFO sync queue (event source
// mapping, batch size 10, ReportBatchItemFailures): it brings each queued
// org's PSA service lines to their targets and records the run's entries
// (package billingsync). Wiring only.
//
// Environment:
//
//	PSABRIDGE_TABLE              DynamoDB table (required)
//	PSABRIDGE_SECRET_PREFIX      Secrets Manager name prefix (default psabridge/)
//	PSABRIDGE_ALLOW_PRIVATE_PSA  "true": PSA clients may reach loopback over http (local runs)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
)

func main() {
	w, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncworker:", err)
		os.Exit(1)
	}
	lambda.Start(w.HandleSQS)
}

func build(ctx context.Context, getenv func(string) string) (*billingsync.Worker, error) {
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv)
	if err != nil {
		return nil, err
	}
	sec, err := secrets.New(awsconfig.SecretsManager(env.AWS), env.SecretPrefix)
	if err != nil {
		return nil, err
	}
	store := syncstore.Adapter{Store: dynamo.New(awsconfig.DynamoDB(env.AWS), env.Table)}
	budget := &billingsync.Budget{Store: store, Metrics: metrics.Default}
	return &billingsync.Worker{
		Store: store,
		Connector: &integration.Connector{Store: store, Credentials: sec,
			Dial: budget.Dialer(connect.Options{AllowPrivate: env.AllowPrivatePSA})},
		Budget:  budget,
		Metrics: metrics.Default,
		Log:     logging.New(os.Stdout, slog.LevelInfo, nil),
	}, nil
}
