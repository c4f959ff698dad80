// Package lambdainvoke invokes a Lambda function asynchronously. The API uses
// it to hand a run-now request to the fan-out function, so an admin's request
// returns at once however many orgs the tenant has.
package lambdainvoke

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awserr"
)

// Invoker sends events to one function.
type Invoker struct {
	Client   *lambda.Client
	Function string
}

// InvokeAsync queues payload (JSON-encoded) for the function (InvocationType
// Event: Lambda retries it and sends failures to the function's on-failure
// destination). Transient when Lambda is unavailable (package awserr);
// Internal for any other refusal (a missing grant, an unknown function).
func (i Invoker) InvokeAsync(ctx context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "encode invocation")
	}
	_, err = i.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(i.Function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        b,
	})
	if err != nil {
		return awserr.Wrap(err, "the run could not be started; try again")
	}
	return nil
}
