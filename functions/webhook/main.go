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
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/compose"
	"github.com/psabridge/psabridge/shared/httpapi"
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
	root, err := compose.NewFromEnvironment(ctx, getenv, "PSABRIDGE_TICKET_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	return root.Webhook(), nil
}
