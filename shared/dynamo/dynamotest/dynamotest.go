// Package dynamotest gives tests a fresh table on the DynamoDB Local that
// `make test` (or localaws.Main) started.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/localaws"
)

var seq atomic.Int64

// MustConfig returns an SDK config for the local stack, failing the test with
// a pointer to `make test` when the endpoints are not set.
func MustConfig(tb testing.TB) aws.Config {
	tb.Helper()
	if os.Getenv(localaws.EnvDynamoDB) == "" {
		tb.Fatalf("%s is not set: run the tests with `make test` (or use localaws.Main as TestMain)", localaws.EnvDynamoDB)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// NewStore creates a uniquely named table and returns a Store over it,
// with counter (if not nil) counting every DynamoDB call of the store. The
// table is deleted when the test ends.
func NewStore(tb testing.TB, counter *awsconfig.RequestCounter) *dynamo.Store {
	tb.Helper()
	cfg := MustConfig(tb)
	var opts []func(*dynamodb.Options)
	if counter != nil {
		opts = append(opts, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, counter.Middleware()) })
	}
	db := awsconfig.DynamoDB(cfg, opts...)
	admin := awsconfig.DynamoDB(cfg)
	table := fmt.Sprintf("psabridge-test-%d-%d", time.Now().UnixNano(), seq.Add(1))
	ctx := context.Background()
	if err := dynamo.CreateTable(ctx, admin, table); err != nil {
		tb.Fatalf("create table: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = admin.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return dynamo.New(db, table)
}

// As returns a Store over s's table and client options (counters
// included) whose calls are function's in the e2e record of AWS calls
// (awsconfig.AsCaller, shared/iamcalls/iamcallstest): the store of one
// function of the stack, next to the test's own s.
func As(s *dynamo.Store, function string) *dynamo.Store {
	db := dynamodb.New(s.DB.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(slices.Clip(o.APIOptions), awsconfig.AsCaller(function))
	})
	out := dynamo.New(db, s.Table)
	out.Now = s.Now
	return out
}
