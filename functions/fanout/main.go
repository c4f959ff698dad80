// Command fanout is the Lambda behind the billing sync's hourly tick
// (EventBridge Scheduler, Input fanoutevent.ScheduleInput) and the API's run-now requests
// (asynchronous invocation with {"tenant","dryRun","runId"}): it starts a
// run per tenant and queues one message per mapped org on the FIFO sync
// queue (package billingsync). Wiring only.
//
// Environment:
//
//	PSABRIDGE_TABLE           DynamoDB table (required)
//	PSABRIDGE_SYNC_QUEUE_URL  FIFO sync queue (required)
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
	f, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
	lambda.Start(f.HandleEvent)
}

func build(ctx context.Context, getenv func(string) string) (*billingsync.Fanout, error) {
	root, err := compose.NewFromEnvironment(ctx, getenv, "PSABRIDGE_SYNC_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	return root.Fanout(), nil
}
