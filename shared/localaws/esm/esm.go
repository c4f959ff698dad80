// Package esm emulates Lambda's SQS event source mapping for tests and
// `make run`, as strictly as SQS and Lambda behave:
//
//   - it receives batches of up to 10 from a queue, hands them to a handler
//     as an events.SQSEvent and deletes the messages the handler did not
//     report as failed (ReportBatchItemFailures semantics);
//   - a failed message, or every message of a batch whose handler returned an
//     error (or panicked, or named an unknown item), stays invisible for the
//     queue's visibility timeout counted from its receipt — Lambda does not
//     make it visible again — unless the handler itself changed its
//     visibility (Hide, i.e. ChangeMessageVisibility);
//   - in a FIFO queue the rest of a message group waits while one of its
//     messages is in flight or invisible (moto's SQS enforces this);
//   - receive counts rise with every receipt and the queue's RedrivePolicy
//     moves a message to its dead-letter queue after maxReceiveCount.
//
// Visibility timeouts run on a Clock. A simulated clock (NewClock) jumps to
// the moment the next hidden message returns whenever nothing else can
// happen, so a test sees a 720 s visibility timeout without waiting for it;
// WallClock runs them in real time (`make run`).
package esm

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/clock"
)

// maxVisibility is SQS's largest visibility timeout (12 hours). The emulator
// receives with it on a simulated clock, so the queue itself never returns a
// message before the emulator releases it.
const maxVisibility = 12 * time.Hour

// Clock is the time on which a mapping runs visibility timeouts. Mappings
// of one queue share a Clock so that a simulated one advances only when all
// of them are idle. Safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	wall bool
	// busy counts polls under way; activity changes whenever a poll
	// received or released something.
	busy     int
	activity int64
	// holds are messages kept invisible until a time on the clock, by
	// queue URL and receipt handle.
	holds map[string]map[string]time.Time
}

// NewClock returns a simulated clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, holds: map[string]map[string]time.Time{}}
}

// WallClock returns a clock that reads the process clock (clock.Now) and
// never jumps: visibility timeouts run in real time, kept by the queue.
func WallClock() *Clock {
	return &Clock{wall: true, holds: map[string]map[string]time.Time{}}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.wall {
		return clock.Now()
	}
	return c.now
}

// Add moves a simulated clock forward by d (a test's "the next day").
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.wall {
		c.now = c.now.Add(d)
	}
}

// Set sets a simulated clock to t (a test's "the tick comes at …").
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.wall {
		c.now = t
	}
}

// hold keeps a message invisible until at.
func (c *Clock) hold(queue, receipt string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holds[queue] == nil {
		c.holds[queue] = map[string]time.Time{}
	}
	c.holds[queue][receipt] = at
}

func (c *Clock) unhold(queue, receipt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.holds[queue], receipt)
}

// due removes and returns the queue's held messages whose time has come.
func (c *Clock) due(queue string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked()
	var out []string
	for r, at := range c.holds[queue] {
		if !at.After(now) {
			out = append(out, r)
			delete(c.holds[queue], r)
		}
	}
	return out
}

// held reports how many messages of the queue the clock holds.
func (c *Clock) held(queue string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.holds[queue])
}

func (c *Clock) enter() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy++
	return c.activity
}

func (c *Clock) leave(active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	if active {
		c.activity++
	}
}

// advance jumps a simulated clock to the earliest held message's time when
// no poll is under way and nothing happened since seen (an empty poll), and
// reports whether it did.
func (c *Clock) advance(seen int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall || c.busy > 0 || c.activity != seen {
		return false
	}
	var next time.Time
	for _, q := range c.holds {
		for _, at := range q {
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	if next.IsZero() {
		return false
	}
	if next.After(c.now) {
		c.now = next
	}
	c.activity++
	return true
}

// Mapping connects one queue to one handler.
type Mapping struct {
	// SQS is the client (pointed at moto by shared/awsconfig).
	SQS *sqs.Client
	// QueueURL is the source queue.
	QueueURL string
	// BatchSize is the most messages per invocation; 0 means 10 (Lambda's
	// maximum for FIFO queues).
	BatchSize int
	// VisibilityTimeout is how long a received message stays invisible
	// unless deleted or hidden anew; 0 means the queue's own setting (as in
	// Lambda, which never overrides it).
	VisibilityTimeout time.Duration
	// Clock runs the visibility timeouts; nil means a simulated clock of
	// this mapping's own, starting now. Mappings of one queue that run at
	// once should share one.
	Clock *Clock
	// Handler is the function under test, e.g. the sync worker's handler.
	Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

	once       sync.Once
	initErr    error
	arn        string
	visibility time.Duration
}

func (m *Mapping) init(ctx context.Context) error {
	m.once.Do(func() {
		if m.Clock == nil {
			m.Clock = NewClock(clock.Now())
		}
		ga, err := m.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(m.QueueURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameVisibilityTimeout}})
		if err != nil {
			m.initErr = err
			return
		}
		m.arn = ga.Attributes[string(types.QueueAttributeNameQueueArn)]
		m.visibility = m.VisibilityTimeout
		if m.visibility <= 0 {
			s, _ := strconv.Atoi(ga.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
			m.visibility = time.Duration(s) * time.Second
		}
	})
	return m.initErr
}

// Hide keeps a received message invisible for d from now on the mapping's
// clock: ChangeMessageVisibility, which a handler calls to choose when a
// message it reports as failed comes back (0: at once). On a wall clock it
// is the real call.
func (m *Mapping) Hide(ctx context.Context, receiptHandle string, d time.Duration) error {
	if err := m.init(ctx); err != nil {
		return err
	}
	if d < 0 || d > maxVisibility {
		return errors.New("esm: visibility timeout out of range [0, 12h]")
	}
	if m.Clock.wall {
		_, err := m.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(m.QueueURL),
			ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(d / time.Second)})
		return err
	}
	m.Clock.hold(m.QueueURL, receiptHandle, m.Clock.Now().Add(d))
	return nil
}

// PollOnce releases the held messages whose time has come, makes one
// ReceiveMessage call (no long polling), invokes the handler with what it
// got, deletes the successes and leaves the failures invisible until their
// visibility timeout ends. It returns the number of messages received. A
// handler error fails the whole batch, as in Lambda; so does a batch item
// failure naming a message id that is not in the batch. The handler's error
// is not returned (Lambda would log it); PollOnce fails only on SQS errors.
func (m *Mapping) PollOnce(ctx context.Context) (int, error) {
	if err := m.init(ctx); err != nil {
		return 0, err
	}
	c := m.Clock
	c.enter()
	n, released, err := m.poll(ctx)
	c.leave(n > 0 || released > 0)
	return n, err
}

func (m *Mapping) poll(ctx context.Context) (received, released int, err error) {
	c := m.Clock
	if due := c.due(m.QueueURL); len(due) > 0 {
		if err := m.changeVisibility(ctx, due, 0); err != nil {
			return 0, 0, err
		}
		released = len(due)
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
	if !c.wall {
		in.VisibilityTimeout = int32(maxVisibility / time.Second)
	} else if m.VisibilityTimeout > 0 {
		in.VisibilityTimeout = int32((m.VisibilityTimeout + time.Second - 1) / time.Second)
	}
	out, err := m.SQS.ReceiveMessage(ctx, in)
	if err != nil {
		return 0, released, err
	}
	if len(out.Messages) == 0 {
		return 0, released, nil
	}
	receivedAt := c.Now()
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	for i, msg := range out.Messages {
		ev.Records[i] = m.record(msg)
		if !c.wall {
			// Until the handler says otherwise, a received message is
			// invisible for the visibility timeout from its receipt.
			c.hold(m.QueueURL, ev.Records[i].ReceiptHandle, receivedAt.Add(m.visibility))
		}
	}
	// Once messages are received they are handled and settled even if ctx
	// ends meanwhile, as Lambda finishes an invocation it started.
	ctx = context.WithoutCancel(ctx)
	resp, herr := m.invoke(ctx, ev)
	failed := m.failures(ev, resp, herr)
	var del []types.DeleteMessageBatchRequestEntry
	for i, r := range ev.Records {
		if !failed[r.MessageId] {
			c.unhold(m.QueueURL, r.ReceiptHandle)
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	if len(del) > 0 {
		res, err := m.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: del})
		if err != nil {
			return len(ev.Records), released, err
		}
		if len(res.Failed) > 0 {
			return len(ev.Records), released, errors.New("esm: delete failed: " + aws.ToString(res.Failed[0].Message))
		}
	}
	return len(ev.Records), released, nil
}

// failures returns the ids of the batch's messages that failed: all of them
// on a handler error or an unknown (or empty) item identifier, as in Lambda.
func (m *Mapping) failures(ev events.SQSEvent, resp events.SQSEventResponse, herr error) map[string]bool {
	failed := map[string]bool{}
	known := map[string]bool{}
	for _, r := range ev.Records {
		known[r.MessageId] = true
	}
	all := herr != nil
	for _, f := range resp.BatchItemFailures {
		if !known[f.ItemIdentifier] {
			all = true
			break
		}
		failed[f.ItemIdentifier] = true
	}
	if all {
		for _, r := range ev.Records {
			failed[r.MessageId] = true
		}
	}
	return failed
}

func (m *Mapping) changeVisibility(ctx context.Context, receipts []string, d time.Duration) error {
	for i := 0; i < len(receipts); i += 10 {
		var entries []types.ChangeMessageVisibilityBatchRequestEntry
		for j, r := range receipts[i:min(i+10, len(receipts))] {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(j)),
				ReceiptHandle: aws.String(r), VisibilityTimeout: int32(d / time.Second)})
		}
		res, err := m.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(m.QueueURL), Entries: entries})
		if err != nil {
			return err
		}
		if len(res.Failed) > 0 {
			return errors.New("esm: change visibility failed: " + aws.ToString(res.Failed[0].Message))
		}
	}
	return nil
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

// Run polls until ctx is done, pausing briefly when nothing could be
// received. It returns nil when ctx ends and the SQS error otherwise. A poll
// under way when ctx ends is finished first (its messages handled and
// settled). Run never advances a simulated clock: Drain does.
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

// Drain polls until the queue has had no visible, in-flight, held or
// delayed messages for `quiet` (real time), then returns nil. On a
// simulated clock, whenever a poll finds nothing and no other poll of the
// clock is under way, the clock jumps to the moment the next held message
// returns. Messages that fail maxReceiveCount times end in the dead-letter
// queue on the way. It returns ctx's error if ctx ends first, or an SQS
// error.
func (m *Mapping) Drain(ctx context.Context, quiet time.Duration) error {
	if err := m.init(ctx); err != nil {
		return err
	}
	var emptySince time.Time
	for {
		seen := m.Clock.enter()
		n, released, err := m.poll(ctx)
		m.Clock.leave(n > 0 || released > 0)
		if err != nil {
			return err
		}
		if n > 0 || released > 0 {
			emptySince = time.Time{}
			continue
		}
		if m.Clock.advance(seen) {
			emptySince = time.Time{}
			continue
		}
		left, err := m.left(ctx)
		if err != nil {
			return err
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

// left counts the queue's visible, in-flight and delayed messages and the
// ones the clock holds.
func (m *Mapping) left(ctx context.Context) (int, error) {
	ga, err := m.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(m.QueueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		}})
	if err != nil {
		return 0, err
	}
	left := m.Clock.held(m.QueueURL)
	for _, v := range ga.Attributes {
		n, _ := strconv.Atoi(v)
		left += n
	}
	return left, nil
}
