// Command fanout is the Lambda behind the billing sync's hourly tick
// (EventBridge Scheduler, no custom input) and the API's run-now requests
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
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/sqsqueue"
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
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv, "PSABRIDGE_SYNC_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	cfg, queue := env.AWS, getenv("PSABRIDGE_SYNC_QUEUE_URL")
	store := dynamo.New(awsconfig.DynamoDB(cfg), env.Table)
	return &billingsync.Fanout{
		Store:  syncstore.Adapter{Store: store},
		Queue:  syncstore.Queue{Sender: &sqsqueue.Sender{Client: awsconfig.SQS(cfg), QueueURL: queue}},
		Shards: schema.MappedShards,
		Log:    logging.New(os.Stdout, slog.LevelInfo, nil),
	}, nil
}
