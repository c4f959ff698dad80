// Package sqsqueue is psabridge's SQS adapter: a sender that packs messages
// into SendMessageBatch calls of 10 and never drops one, and CreateFIFO, which
// creates a FIFO queue with its FIFO dead-letter queue the way the CDK stack
// does (for tests and `make run`).
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awserr"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/queue"
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

// Message is one message to send (queue.Message).
type Message = queue.Message

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
//
// Only transient failures are tried again (package awserr: transport
// errors, timeouts, throttling, 5xx; entries failed without SenderFault),
// and only while ctx's deadline leaves time for the pause before the next
// try: Send never waits past the deadline to make a try that could not
// finish. It returns the number of SendMessageBatch calls made and, when
// some message was not sent:
//   - Invalid, without calling SQS, when a body is empty or holds a
//     character SQS refuses (ValidBody), and when SQS refuses an entry as
//     the sender's fault (e.g. a body that is too large);
//   - Transient when SQS stayed unavailable for Attempts tries or until the
//     deadline; some messages may have been sent, and sending all of them
//     again is safe on a FIFO queue (the DedupID);
//   - Internal for any other refusal (a missing grant, an unknown queue).
func (s *Sender) Send(ctx context.Context, msgs []Message) (int, error) {
	for i, m := range msgs {
		if err := ValidBody(m.Body); err != nil {
			return 0, apperr.Wrap(err, apperr.Invalid, "message %d cannot be queued: %v", i, err)
		}
	}
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
			err = awserr.Wrap(err, "the queue did not accept the messages")
			if !apperr.IsTransient(err) {
				return calls, err
			}
			// The whole call failed: every entry of it is retried.
			for _, p := range batch {
				p.tries++
				if p.tries >= attempts {
					return calls, err
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
			if err := deadline.Sleep(ctx, wait); err != nil {
				return calls, apperr.Wrap(err, apperr.Transient, "the queue did not accept the messages in time")
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

// ValidBody reports why SQS would refuse body, or nil: SQS accepts a
// non-empty body of valid UTF-8 whose characters are #x9, #xA, #xD,
// #x20-#xD7FF, #xE000-#xFFFD or #x10000-#x10FFFF
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
// Checking before sending keeps such a body from being retried as if SQS
// were at fault: the SDK reports it as a checksum mismatch.
func ValidBody(body string) error {
	if body == "" {
		return errors.New("the body is empty")
	}
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("the body is not valid UTF-8 at byte %d", i)
		case r == 0x9 || r == 0xA || r == 0xD,
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
		default:
			return fmt.Errorf("the body holds character %U, which SQS refuses", r)
		}
		i += size
	}
	return nil
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
// error. Errors are classified by package awserr.
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
		return "", "", awserr.Wrap(err, "create queue "+name)
	}
	url = aws.ToString(out.QueueUrl)
	ga, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", awserr.Wrap(err, "queue attributes of "+name)
	}
	arn = ga.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", "", errors.New("sqsqueue: queue " + name + " has no ARN")
	}
	return url, arn, nil
}

// VisibilityAPI is the part of the SQS client Visibility uses.
type VisibilityAPI interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Visibility changes when received messages of one queue come back.
type Visibility struct {
	Client   VisibilityAPI
	QueueURL string
}

// Hide keeps a received message invisible for d from now
// (ChangeMessageVisibility, whole seconds rounded up, at most 12 hours).
// Errors: Invalid for d out of range or a stale receipt handle; Transient
// when SQS fails.
func (v Visibility) Hide(ctx context.Context, receiptHandle string, d time.Duration) error {
	if d < 0 || d > 12*time.Hour {
		return apperr.New(apperr.Invalid, "visibility timeout %s out of range [0, 12h]", d)
	}
	_, err := v.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(v.QueueURL),
		ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32((d + time.Second - 1) / time.Second)})
	var invalid *types.ReceiptHandleIsInvalid
	if errors.As(err, &invalid) {
		return apperr.Wrap(err, apperr.Invalid, "stale receipt handle")
	}
	if err != nil {
		return apperr.Wrap(err, apperr.Transient, "change message visibility")
	}
	return nil
}
