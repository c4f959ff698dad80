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

	"github.com/psabridge/psabridge/functions/internal/wiring"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
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
	w, err := wiring.NewPSAWorker(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &ticketing.Worker{
		Store:    w.Store,
		PSA:      w.Connector,
		LinkBase: getenv("PSABRIDGE_ALERT_LINK_BASE"),
		Metrics:  metrics.Default,
		Logger:   logging.New(os.Stdout, slog.LevelInfo, nil),
	}, nil
}
