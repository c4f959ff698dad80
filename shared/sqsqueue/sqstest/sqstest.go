// Package sqstest gives tests SQS clients and fresh FIFO queues on the moto
// server that `make test` (or localaws.Main) started.
package sqstest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/sqsqueue"
)

var seq atomic.Int64

// MustClient returns an SQS client for moto, with counter (if not nil)
// counting every call it makes.
func MustClient(tb testing.TB, counter *awsconfig.RequestCounter) *sqs.Client {
	tb.Helper()
	if os.Getenv(localaws.EnvSQS) == "" {
		tb.Fatalf("%s is not set: run the tests with `make test` (or use localaws.Main as TestMain)", localaws.EnvSQS)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var opts []func(*sqs.Options)
	if counter != nil {
		opts = append(opts, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, counter.Middleware()) })
	}
	return awsconfig.SQS(cfg, opts...)
}

// MustQueueOf is MustFIFO whose queue name carries the stack queue it
// stands for, role "sync" or "ticket", so the e2e record of AWS calls
// (shared/iamcalls/iamcallstest) knows which queue a function called.
func MustQueueOf(tb testing.TB, client *sqs.Client, role string) sqsqueue.FIFOQueue {
	tb.Helper()
	return mustFIFO(tb, client, fmt.Sprintf("psabridge-test-%s-%d-%d", role, time.Now().UnixNano()%1e12, seq.Add(1)))
}

// As returns a client with client's options (counters and Serial included)
// whose calls are function's in the e2e record of AWS calls
// (awsconfig.AsCaller): the SQS client of one function of the stack.
func As(client *sqs.Client, function string) *sqs.Client {
	return sqs.New(client.Options(), func(o *sqs.Options) {
		o.APIOptions = append(slices.Clip(o.APIOptions), awsconfig.AsCaller(function))
	})
}

// MustFIFO creates a uniquely named FIFO queue with its DLQ (sqsqueue.CreateFIFO)
// and deletes both when the test ends.
func MustFIFO(tb testing.TB, client *sqs.Client) sqsqueue.FIFOQueue {
	tb.Helper()
	return mustFIFO(tb, client, fmt.Sprintf("psabridge-test-%d-%d", time.Now().UnixNano()%1e12, seq.Add(1)))
}

func mustFIFO(tb testing.TB, client *sqs.Client, name string) sqsqueue.FIFOQueue {
	tb.Helper()
	q, err := sqsqueue.CreateFIFO(context.Background(), client, name)
	if err != nil {
		tb.Fatalf("create queue: %v", err)
	}
	tb.Cleanup(func() {
		for _, u := range []string{q.URL, q.DLQURL} {
			_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	return q
}

// MustReceiveAll receives (and deletes) every message currently in the queue.
func MustReceiveAll(tb testing.TB, client *sqs.Client, url string) []types.Message {
	tb.Helper()
	ctx := context.Background()
	var all []types.Message
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			tb.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		for _, m := range out.Messages {
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				tb.Fatalf("delete: %v", err)
			}
		}
		all = append(all, out.Messages...)
	}
}

// Serial returns a client for the same server whose calls run one at a time.
// Moto's SQS keeps no lock around its queues: two concurrent ReceiveMessage
// calls on a FIFO queue can both hand out messages of one group, and a
// delete can drop a message sent at the same moment; real SQS does neither.
// Tests that poll one queue from several emulated event source mappings
// share one Serial client, so the emulation stays faithful while the
// handlers run in parallel.
func Serial(client *sqs.Client) *sqs.Client {
	var mu sync.Mutex
	one := middleware.InitializeMiddlewareFunc("SerializeCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		mu.Lock()
		defer mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	return sqs.New(client.Options(), func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error { return st.Initialize.Add(one, middleware.Before) })
	})
}
