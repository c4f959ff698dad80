// Package awserr is the one classification of AWS SDK errors for the AWS
// adapters (dynamo, sqsqueue, secrets, lambdainvoke): it decides whether a
// failed call was the dependency's fault, to be tried again later
// (apperr.Transient, HTTP 503 with Retry-After), or psabridge's own
// (apperr.Internal: a bug, a missing grant, a malformed request).
//
// Each adapter first picks out the service's business errors it expects
// (a failed condition, a missing secret) and hands every other error here,
// so "connection refused" reads the same in every adapter.
package awserr

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/psabridge/psabridge/shared/apperr"
)

// IsTransient reports whether err, from an AWS SDK call, means the
// dependency is unavailable for now: the context's deadline or
// cancellation (the call ran out of time, its outcome unknown), a
// transport error (refused, reset, DNS, a lost response), a timeout,
// throttling, the SDK's retry quota or attempts exhausted on any of
// these, or an HTTP 5xx / server-fault answer from AWS.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var quota ratelimit.QuotaExceededError
	var canceled *aws.RequestCanceledError
	var smithyCanceled *smithy.CanceledError
	var send *smithyhttp.RequestSendError
	var respTimeout *awshttp.ResponseTimeoutError
	var netErr net.Error
	if errors.As(err, &quota) || errors.As(err, &canceled) || errors.As(err, &smithyCanceled) ||
		errors.As(err, &send) || errors.As(err, &respTimeout) || errors.As(err, &netErr) {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() == smithy.FaultServer {
		return true
	}
	// The SDK's own judgement: throttling codes, RequestTimeout, 5xx,
	// connection errors. It answers "unknown" for most 4xx.
	for _, r := range retry.DefaultRetryables {
		if r.IsErrorRetryable(err) == aws.TrueTernary {
			return true
		}
	}
	return false
}

// Wrap classifies err from an AWS SDK call: Transient with message
// (user-safe, e.g. "storage is busy") when IsTransient says so, Internal
// otherwise. nil stays nil. The cause is kept for logs, never shown.
func Wrap(err error, message string) error {
	if err == nil {
		return nil
	}
	if IsTransient(err) {
		return apperr.Wrap(err, apperr.Transient, "%s", message)
	}
	return apperr.Wrap(err, apperr.Internal, "%s", message)
}
