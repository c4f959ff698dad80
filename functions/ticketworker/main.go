// Command ticketworker is the Lambda on the FIFO ticket queue (event source
// mapping with ReportBatchItemFailures): it opens, notes and closes PSA
// tickets for queued alerts (package ticketing).
//
// Environment: PSABRIDGE_TABLE, PSABRIDGE_SECRET_PREFIX, and optionally
// PSABRIDGE_ALERT_LINK_BASE (the platform's alert page tickets link to) and
// PSABRIDGE_ALLOW_PRIVATE_PSA=true (local runs: the PSA sandboxes on loopback).
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
	"github.com/psabridge/psabridge/shared/ticketing"
)

func main() {
	w, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ticketworker:", err)
		os.Exit(1)
	}
	lambda.Start(w.Handle)
}

func build(ctx context.Context, getenv func(string) string) (*ticketing.Worker, error) {
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv)
	if err != nil {
		return nil, err
	}
	sec, err := secrets.New(awsconfig.SecretsManager(env.AWS), env.SecretPrefix)
	if err != nil {
		return nil, err
	}
	store := dynamo.New(awsconfig.DynamoDB(env.AWS), env.Table)
	// Ticket traffic spends the tenant's PSA budget too (Autotask's hourly
	// cap is per database); out of budget, the message comes back later.
	budget := &billingsync.Budget{Store: syncstore.Adapter{Store: store}, Metrics: metrics.Default}
	conn := &integration.Connector{Store: store, Credentials: sec,
		Dial: budget.Dialer(connect.Options{AllowPrivate: env.AllowPrivatePSA})}
	return &ticketing.Worker{
		Store:    store,
		PSA:      conn,
		LinkBase: getenv("PSABRIDGE_ALERT_LINK_BASE"),
		Metrics:  metrics.Default,
		Logger:   logging.New(os.Stdout, slog.LevelInfo, nil),
	}, nil
}
