// Command ticketworker is the Lambda on the FIFO ticket queue (event source
// mapping with ReportBatchItemFailures): it opens, notes and closes PSA
// tickets for queued alerts (package ticketing).
//
// Environment: PSABRIDGE_TABLE, PSABRIDGE_SECRET_PREFIX,
// PSABRIDGE_TICKET_QUEUE_URL (required: the queue it consumes; a malformed
// message is made visible again at once on its way to the dead-letter
// queue), and optionally
// PSABRIDGE_ALERT_LINK_BASE (the platform's alert page tickets link to) and
// PSABRIDGE_ALLOW_PRIVATE_PSA=true (local runs: the PSA sandboxes on loopback).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/psabridge/psabridge/shared/compose"
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
	root, err := compose.NewFromEnvironment(ctx, getenv, "PSABRIDGE_TICKET_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	return root.TicketWorker(), nil
}
