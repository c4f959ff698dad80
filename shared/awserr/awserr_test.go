package awserr_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awserr"
)

// dynamoAnswering is a DynamoDB endpoint that answers every request with
// status and a DynamoDB JSON error of type errType.
func dynamoAnswering(tb testing.TB, status int, errType string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", errType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#` + errType + `","message":"from the test server"}`))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// closedPort is a loopback address nobody listens on: connection refused.
func closedPort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// client is a real DynamoDB client at endpoint with the SDK's standard
// retryer (few attempts, short backoff, and the given retry quota).
func client(endpoint string, quota uint) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = time.Millisecond
			o.RateLimiter = ratelimit.NewTokenRateLimit(quota)
		}),
	})
}

// TestClassification: the errors a real SDK client returns, classified.
// Dependency faults are Transient; our own mistakes Internal.
func TestClassification(t *testing.T) {
	ctx := context.Background()
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	for _, tc := range []struct {
		name     string
		endpoint func(testing.TB) string
		quota    uint
		ctx      context.Context
		want     apperr.Code
	}{
		{"ConnectionRefused", closedPort, 500, ctx, apperr.Transient},
		{"RetryQuotaExceeded", closedPort, 1, ctx, apperr.Transient},
		{"DeadlinePassed", closedPort, 500, expired, apperr.Transient},
		{"Throttling", func(tb testing.TB) string { return dynamoAnswering(tb, 400, "ThrottlingException") }, 500, ctx, apperr.Transient},
		{"ProvisionedThroughput", func(tb testing.TB) string {
			return dynamoAnswering(tb, 400, "ProvisionedThroughputExceededException")
		}, 500, ctx, apperr.Transient},
		{"InternalServerError", func(tb testing.TB) string { return dynamoAnswering(tb, 500, "InternalServerError") }, 500, ctx, apperr.Transient},
		{"ServiceUnavailable", func(tb testing.TB) string { return dynamoAnswering(tb, 503, "ServiceUnavailable") }, 500, ctx, apperr.Transient},
		{"ValidationIsOurs", func(tb testing.TB) string { return dynamoAnswering(tb, 400, "ValidationException") }, 500, ctx, apperr.Internal},
		{"AccessDeniedIsOurs", func(tb testing.TB) string { return dynamoAnswering(tb, 400, "AccessDeniedException") }, 500, ctx, apperr.Internal},
		{"MissingTableIsOurs", func(tb testing.TB) string { return dynamoAnswering(tb, 400, "ResourceNotFoundException") }, 500, ctx, apperr.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(tc.endpoint(t), tc.quota).GetItem(tc.ctx, &dynamodb.GetItemInput{TableName: aws.String("t"),
				Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "k"}}})
			if err == nil {
				t.Fatal("got no error")
			}
			if tc.name == "RetryQuotaExceeded" {
				var q ratelimit.QuotaExceededError
				if !errors.As(err, &q) {
					t.Fatalf("got %v, want the SDK's retry quota error", err)
				}
			}
			if got := apperr.CodeOf(awserr.Wrap(err, "storage is busy")); got != tc.want {
				t.Errorf("got %s, want %s (%v)", got, tc.want, err)
			}
			if got := awserr.IsTransient(err); got != (tc.want == apperr.Transient) {
				t.Errorf("IsTransient: got %v, want %v", got, !got)
			}
		})
	}
	if awserr.Wrap(nil, "x") != nil || awserr.IsTransient(nil) {
		t.Error("nil: got an error, want nil")
	}
}
