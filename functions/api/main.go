// Command api is the Lambda behind psabridge's REST API (API Gateway HTTP
// API, payload 2.0): the admin routes (JWT authorizer; claims read from the
// request context), the platform-signed routes and the operators' routes
// (IAM authorizer). It is wiring only: configuration from the environment,
// adapters, the httpapi handler, lambda.Start.
//
// Environment:
//
//	PSABRIDGE_TABLE                   DynamoDB table (required)
//	PSABRIDGE_SECRET_PREFIX           Secrets Manager name prefix (default psabridge/)
//	PSABRIDGE_TENANT_CLAIM            JWT claim naming the tenant (default tenant)
//	PSABRIDGE_ROLES_CLAIM             JWT claim listing roles (default roles)
//	PSABRIDGE_BILLING_ROLE            role admin routes need (default billing-admin)
//	PSABRIDGE_FANOUT_FUNCTION         the fan-out function: POST /v1/sync-runs stores the run and
//	                                  invokes it asynchronously (how it runs in AWS)
//	PSABRIDGE_SYNC_QUEUE_URL          without a fan-out function: the FIFO sync queue, which
//	                                  POST /v1/sync-runs fills in the request (local runs)
//	PSABRIDGE_ALLOW_PRIVATE_PSA       "true": PSA clients may reach loopback over http (local runs)
//	PSABRIDGE_ALLOW_CUSTOM_ENDPOINTS  "true": PUT /v1/integration may carry endpoints (local runs)
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/compose"
)

func main() {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// build wires the REST API handler from the environment (getenv).
func build(ctx context.Context, getenv func(string) string) (http.Handler, error) {
	root, err := compose.NewFromEnvironment(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return root.API(), nil
}
