// Package awsconfig loads the AWS SDK configuration shared by every function
// and points each service client at a local endpoint when the local stack's
// environment variables are set (DynamoDB Local, moto).
package awsconfig

import (
	"context"
	"os"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Load returns the default SDK configuration (environment, shared config,
// Lambda role). Local runs get dummy credentials from the environment. When
// CallLogEnv names a file, every client built from the configuration records
// its calls there; an error when the file cannot be opened.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	if path := os.Getenv(CallLogEnv); path != "" {
		log, err := OpenCallLog(path)
		if err != nil {
			return aws.Config{}, err
		}
		optFns = append(optFns, config.WithAPIOptions([]func(*middleware.Stack) error{log.Middleware()}))
	}
	return config.LoadDefaultConfig(ctx, optFns...)
}

// endpoint returns a BaseEndpoint override from the environment, or nil.
func endpoint(env string) *string {
	if v := os.Getenv(env); v != "" {
		return aws.String(v)
	}
	return nil
}

// DynamoDB returns a DynamoDB client, local when PSABRIDGE_DYNAMODB_ENDPOINT is set.
func DynamoDB(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = endpoint("PSABRIDGE_DYNAMODB_ENDPOINT")
	}}, optFns...)...)
}

// SQS returns an SQS client, local when PSABRIDGE_SQS_ENDPOINT is set.
func SQS(cfg aws.Config, optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.NewFromConfig(cfg, append([]func(*sqs.Options){func(o *sqs.Options) {
		o.BaseEndpoint = endpoint("PSABRIDGE_SQS_ENDPOINT")
	}}, optFns...)...)
}

// SecretsManager returns a Secrets Manager client, local when
// PSABRIDGE_SECRETSMANAGER_ENDPOINT is set.
func SecretsManager(cfg aws.Config, optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, append([]func(*secretsmanager.Options){func(o *secretsmanager.Options) {
		o.BaseEndpoint = endpoint("PSABRIDGE_SECRETSMANAGER_ENDPOINT")
	}}, optFns...)...)
}

// RequestCounter counts the API calls made by SDK clients it is attached to,
// per operation. Benchmarks use it to report requests per unit of work.
type RequestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// Middleware returns an SDK API option that counts each operation call once
// (retries of the same call are not counted again).
func (c *RequestCounter) Middleware() func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("psabridgeCount",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				if c.n == nil {
					c.n = map[string]int{}
				}
				c.n[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// Total returns the number of calls counted.
func (c *RequestCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, v := range c.n {
		t += v
	}
	return t
}

// ByOperation returns a copy of the counts per operation name.
func (c *RequestCounter) ByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts.
func (c *RequestCounter) Reset() {
	c.mu.Lock()
	c.n = nil
	c.mu.Unlock()
}
