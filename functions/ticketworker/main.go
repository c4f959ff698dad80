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
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/ticketing"
)

func main() {
	w, err := build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ticketworker:", err)
		os.Exit(1)
	}
	lambda.Start(w.Handle)
}

func build(ctx context.Context) (*ticketing.Worker, error) {
	table := os.Getenv("PSABRIDGE_TABLE")
	if table == "" {
		return nil, fmt.Errorf("PSABRIDGE_TABLE must be set")
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := secrets.New(awsconfig.SecretsManager(cfg), os.Getenv("PSABRIDGE_SECRET_PREFIX"))
	if err != nil {
		return nil, err
	}
	allowPrivate := os.Getenv("PSABRIDGE_ALLOW_PRIVATE_PSA") == "true"
	store := dynamo.New(awsconfig.DynamoDB(cfg), table)
	conn := &integration.Connector{Store: store, Credentials: sec,
		Dial: func(_ string, c psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			return connect.New(c, ep, connect.Options{AllowPrivate: allowPrivate})
		}}
	return &ticketing.Worker{
		Store:    store,
		PSA:      conn,
		LinkBase: os.Getenv("PSABRIDGE_ALERT_LINK_BASE"),
		Metrics:  metrics.Default,
		Logger:   logging.New(os.Stdout, slog.LevelInfo, nil),
	}, nil
}
