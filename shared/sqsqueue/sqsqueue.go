// Package sqsqueue is psabridge's SQS adapter: a sender that packs messages
// into SendMessageBatch calls of 10 and never drops one, and CreateFIFO, which
// creates a FIFO queue with its FIFO dead-letter queue the way the CDK stack
// does (for tests and `make run`).
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/apperr"
)

// MaxBatch is the most entries SQS accepts in one SendMessageBatch.
const MaxBatch = 10

// MaxReceiveCount is how often a message is received before SQS moves it to
// the dead-letter queue (the stack's RedrivePolicy).
const MaxReceiveCount = 5

// API is the part of the SQS client the sender uses; *sqs.Client satisfies it,
// and tests wrap it to count or fail calls.
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Message is one message to send. GroupID and DedupID are required on FIFO
// queues and must be empty on standard ones.
type Message struct {
	Body    string
	GroupID string
	DedupID string
}

// Sender sends messages to one queue.
type Sender struct {
	Client   API
	QueueURL string
	// Attempts bounds how often a failing entry (or a failing call) is sent
	// again before Send gives up with a transient error; 0 means 8.
	Attempts int
	// Backoff is the pause before the first retry, doubled each time; 0 means
	// 50ms. Tests set it small.
	Backoff time.Duration
}

// Send sends every message, in order, in batches of MaxBatch. Entries that
// SQS reports as failed are sent again (in the next batch together with the
// following messages), so no message is dropped; duplicates that a retry
// might create on a FIFO queue are removed by SQS through the DedupID.
// It returns the number of SendMessageBatch calls made and, when some
// message could not be sent after Attempts tries or ctx ended, an error with
// code transient (sender or throttling faults) or invalid (SQS rejected an
// entry as the caller's fault, e.g. a body that is too large).
func (s *Sender) Send(ctx context.Context, msgs []Message) (int, error) {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 8
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	type pending struct {
		msg   Message
		tries int
	}
	queue := make([]pending, len(msgs))
	for i, m := range msgs {
		queue[i] = pending{msg: m}
	}
	calls := 0
	wait := backoff
	for len(queue) > 0 {
		n := min(MaxBatch, len(queue))
		batch := queue[:n]
		rest := queue[n:]
		entries := make([]types.SendMessageBatchRequestEntry, n)
		for i, p := range batch {
			e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(p.msg.Body)}
			if p.msg.GroupID != "" {
				e.MessageGroupId = aws.String(p.msg.GroupID)
			}
			if p.msg.DedupID != "" {
				e.MessageDeduplicationId = aws.String(p.msg.DedupID)
			}
			entries[i] = e
		}
		calls++
		out, err := s.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: entries})
		var retry []pending
		if err != nil {
			// The whole call failed: every entry of it is retried.
			for _, p := range batch {
				p.tries++
				if p.tries >= attempts {
					return calls, apperr.Wrap(err, apperr.Transient, "the queue did not accept the messages")
				}
				retry = append(retry, p)
			}
		} else {
			for _, f := range out.Failed {
				i, convErr := strconv.Atoi(aws.ToString(f.Id))
				if convErr != nil || i < 0 || i >= n {
					return calls, apperr.New(apperr.Internal, "SQS reported an unknown batch entry %q", aws.ToString(f.Id))
				}
				p := batch[i]
				p.tries++
				if f.SenderFault {
					return calls, apperr.New(apperr.Invalid, "SQS rejected a message: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
				}
				if p.tries >= attempts {
					return calls, apperr.New(apperr.Transient, "SQS kept failing a message: %s", aws.ToString(f.Code))
				}
				retry = append(retry, p)
			}
		}
		if len(retry) > 0 {
			select {
			case <-ctx.Done():
				return calls, apperr.Wrap(ctx.Err(), apperr.Transient, "sending was interrupted")
			case <-time.After(wait):
			}
			wait *= 2
		} else {
			wait = backoff
		}
		// Failed entries go first so they keep their place ahead of later
		// messages of the same group.
		queue = append(retry, rest...)
	}
	return calls, nil
}

// QueueAdmin is the part of the SQS client CreateFIFO uses.
type QueueAdmin interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// FIFOQueue names a FIFO queue and its dead-letter queue.
type FIFOQueue struct {
	URL    string
	ARN    string
	DLQURL string
	DLQARN string
}

// CreateFIFO creates the FIFO queue `name` (".fifo" is appended when
// missing) and its FIFO dead-letter queue `name-dlq.fifo`, with a
// RedrivePolicy of MaxReceiveCount receives, the same shape as the deployed
// stack. Creating a queue that exists with the same attributes is not an
// error. Errors carry code transient.
func CreateFIFO(ctx context.Context, client QueueAdmin, name string) (FIFOQueue, error) {
	base := name
	if len(base) > 5 && base[len(base)-5:] == ".fifo" {
		base = base[:len(base)-5]
	}
	var q FIFOQueue
	var err error
	q.DLQURL, q.DLQARN, err = createQueue(ctx, client, base+"-dlq.fifo", nil)
	if err != nil {
		return q, err
	}
	policy, _ := json.Marshal(map[string]string{"deadLetterTargetArn": q.DLQARN, "maxReceiveCount": strconv.Itoa(MaxReceiveCount)})
	q.URL, q.ARN, err = createQueue(ctx, client, base+".fifo", map[string]string{"RedrivePolicy": string(policy)})
	return q, err
}

func createQueue(ctx context.Context, client QueueAdmin, name string, extra map[string]string) (url, arn string, err error) {
	attrs := map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"}
	for k, v := range extra {
		attrs[k] = v
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", apperr.Wrap(err, apperr.Transient, "create queue %s", name)
	}
	url = aws.ToString(out.QueueUrl)
	ga, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", apperr.Wrap(err, apperr.Transient, "queue attributes of %s", name)
	}
	arn = ga.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", "", errors.New("sqsqueue: queue " + name + " has no ARN")
	}
	return url, arn, nil
}
