// Package esm emulates Lambda's SQS event source mapping for tests and
// `make run`: it receives batches from a queue, hands them to a handler as an
// events.SQSEvent, deletes the messages the handler did not report as failed
// (ReportBatchItemFailures semantics) and makes the failed ones visible again
// at once, so the queue's own RedrivePolicy moves a message to its
// dead-letter queue after maxReceiveCount receives — exactly as in AWS.
package esm

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Mapping connects one queue to one handler.
type Mapping struct {
	// SQS is the client (pointed at moto by shared/awsconfig).
	SQS *sqs.Client
	// QueueURL is the source queue.
	QueueURL string
	// BatchSize is the most messages per invocation; 0 means 10 (Lambda's
	// maximum for FIFO queues).
	BatchSize int
	// VisibilityTimeout hides received messages while the handler runs; 0
	// means the queue's own setting.
	VisibilityTimeout time.Duration
	// Handler is the function under test, e.g. the sync worker's handler.
	Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

	arn string
}

// PollOnce makes one ReceiveMessage call (no long polling), invokes the
// handler with what it got, deletes the successes and makes the failures
// visible again. It returns the number of messages received. A handler
// error fails the whole batch, as in Lambda; so does a batch item failure
// naming a message id that is not in the batch. The handler's error is not
// returned (Lambda would log it); PollOnce fails only on SQS errors.
func (m *Mapping) PollOnce(ctx context.Context) (int, error) {
	if m.arn == "" {
		ga, err := m.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(m.QueueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			return 0, err
		}
		m.arn = ga.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	batch := m.BatchSize
	if batch <= 0 {
		batch = 10
	}
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(m.QueueURL),
		MaxNumberOfMessages:         int32(batch),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	if m.VisibilityTimeout > 0 {
		in.VisibilityTimeout = int32((m.VisibilityTimeout + time.Second - 1) / time.Second)
	}
	out, err := m.SQS.ReceiveMessage(ctx, in)
	if err != nil {
		return 0, err
	}
	if len(out.Messages) == 0 {
		return 0, nil
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	for i, msg := range out.Messages {
		ev.Records[i] = m.record(msg)
	}
	// Once messages are received they are handled and settled even if ctx
	// ends meanwhile: abandoning them would hide them for the whole
	// visibility timeout.
	ctx = context.WithoutCancel(ctx)
	resp, herr := m.invoke(ctx, ev)
	failed := map[string]bool{}
	if herr != nil {
		for _, r := range ev.Records {
			failed[r.MessageId] = true
		}
	} else {
		known := map[string]bool{}
		for _, r := range ev.Records {
			known[r.MessageId] = true
		}
		for _, f := range resp.BatchItemFailures {
			if !known[f.ItemIdentifier] {
				// Lambda treats an unknown or empty identifier as a failure
				// of the whole batch.
				for _, r := range ev.Records {
					failed[r.MessageId] = true
				}
				break
			}
			failed[f.ItemIdentifier] = true
		}
	}
	var del []types.DeleteMessageBatchRequestEntry
	var vis []types.ChangeMessageVisibilityBatchRequestEntry
	for i, r := range ev.Records {
		id := aws.String(strconv.Itoa(i))
		if failed[r.MessageId] {
			vis = append(vis, types.ChangeMessageVisibilityBatchRequestEntry{Id: id, ReceiptHandle: aws.String(r.ReceiptHandle), VisibilityTimeout: 0})
		} else {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: id, ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	if len(del) > 0 {
		res, err := m.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: del})
		if err != nil {
			return len(ev.Records), err
		}
		if len(res.Failed) > 0 {
			return len(ev.Records), errors.New("esm: delete failed: " + aws.ToString(res.Failed[0].Message))
		}
	}
	if len(vis) > 0 {
		if _, err := m.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: vis}); err != nil {
			return len(ev.Records), err
		}
	}
	return len(ev.Records), nil
}

// invoke calls the handler, turning a panic into a failed batch as the
// Lambda runtime would.
func (m *Mapping) invoke(ctx context.Context, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("esm: handler panicked")
		}
	}()
	return m.Handler(ctx, ev)
}

func (m *Mapping) record(msg types.Message) events.SQSMessage {
	r := events.SQSMessage{
		MessageId:              aws.ToString(msg.MessageId),
		ReceiptHandle:          aws.ToString(msg.ReceiptHandle),
		Body:                   aws.ToString(msg.Body),
		Md5OfBody:              aws.ToString(msg.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(msg.MD5OfMessageAttributes),
		Attributes:             map[string]string{},
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSourceARN:         m.arn,
		EventSource:            "aws:sqs",
		AWSRegion:              m.SQS.Options().Region,
	}
	for k, v := range msg.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range msg.MessageAttributes {
		r.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue: v.StringValue, BinaryValue: v.BinaryValue,
			StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues,
			DataType: aws.ToString(v.DataType),
		}
	}
	return r
}

// Run polls until ctx is done, pausing briefly when the queue is empty. It
// returns nil when ctx ends and the SQS error otherwise. A poll under way
// when ctx ends is finished first (its messages handled and deleted or
// released), so stopping never leaves messages invisible until their
// visibility timeout.
func (m *Mapping) Run(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, err := m.PollOnce(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Drain polls until the queue has had no visible, in-flight or delayed
// messages for `quiet`, then returns nil. Messages that fail five times end
// in the dead-letter queue on the way. It returns ctx's error if ctx ends
// first, or an SQS error.
func (m *Mapping) Drain(ctx context.Context, quiet time.Duration) error {
	var emptySince time.Time
	for {
		n, err := m.PollOnce(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			emptySince = time.Time{}
			continue
		}
		ga, err := m.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(m.QueueURL),
			AttributeNames: []types.QueueAttributeName{
				types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
			}})
		if err != nil {
			return err
		}
		left := 0
		for _, v := range ga.Attributes {
			n, _ := strconv.Atoi(v)
			left += n
		}
		if left > 0 {
			emptySince = time.Time{}
		} else if emptySince.IsZero() {
			emptySince = time.Now()
		} else if time.Since(emptySince) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
