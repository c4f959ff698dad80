// Command webhook is the Lambda behind POST /v1/webhooks/alerts: it verifies
// the platform's signature, stores the alert and queues it for the ticket
// worker. It is built with only what that route needs: the table, the
// platform signing secrets and the ticket queue. It never reads PSA
// credentials (its role cannot: psabridge/psa/* is not granted).
//
// Environment: PSABRIDGE_TABLE, PSABRIDGE_SECRET_PREFIX,
// PSABRIDGE_TICKET_QUEUE_URL.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/logging"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/sqsqueue"
)

func main() {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

func build(ctx context.Context, getenv func(string) string) (*httpapi.Handler, error) {
	env, err := awsconfig.LoadFunctionEnv(ctx, getenv, "PSABRIDGE_TICKET_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	cfg, table, queueURL := env.AWS, env.Table, getenv("PSABRIDGE_TICKET_QUEUE_URL")
	sec, err := secrets.New(awsconfig.SecretsManager(cfg), env.SecretPrefix)
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Config{
		Secrets:     httpapi.SigningOnly(sec),
		Alerts:      dynamo.New(awsconfig.DynamoDB(cfg), table),
		TicketQueue: &sqsqueue.Sender{Client: awsconfig.SQS(cfg), QueueURL: queueURL},
		Metrics:     metrics.Default,
		Logger:      logging.New(os.Stdout, slog.LevelInfo, nil),
	}), nil
}
