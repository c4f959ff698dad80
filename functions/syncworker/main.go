// Command syncworker is the Lambda on the FIFO sync queue (event source
// mapping, batch size 10, ReportBatchItemFailures): it brings each queued
// org's PSA service lines to their targets and records the run's entries
// (package billingsync). Wiring only.
//
// Environment:
//
//	PSABRIDGE_TABLE              DynamoDB table (required)
//	PSABRIDGE_SYNC_QUEUE_URL     the FIFO sync queue it consumes (required): an
//	                             org that must wait is re-queued there and its
//	                             message hidden until then (docs/SYNC.md, Waiting)
//	PSABRIDGE_SECRET_PREFIX      Secrets Manager name prefix (default psabridge/)
//	PSABRIDGE_ALLOW_PRIVATE_PSA  "true": PSA clients may reach loopback over http (local runs)
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/compose"
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
	root, err := compose.NewFromEnvironment(ctx, getenv, "PSABRIDGE_SYNC_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	return root.SyncWorker(), nil
}
