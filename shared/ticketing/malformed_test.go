package ticketing_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
	"github.com/psabridge/psabridge/shared/ticketing"
)

// TestMalformedTicketMessagesGoToDLQ queues bodies that are not alert
// messages on a FIFO ticket queue (visibility timeout 360 s, the stack's)
// behind the emulated event source mapping: each is reported failed on
// every receive, never acknowledged, and ends in the dead-letter queue
// after maxReceiveCount receives, without holding its group for a
// visibility timeout.
func TestMalformedTicketMessagesGoToDLQ(t *testing.T) {
	ctx := context.Background()
	client := sqstest.MustClient(t, nil)
	q := sqstest.MustFIFO(t, client)
	bad := []string{
		`not json`,
		`{"tenant":"t1","alert":{}}`,
		`{"tenant":"t1"}}`,
		`{"tenant":"t1","tenant":"t2"}`,
		`{"tenant":"t1","alert":{"id":"a1"},"extra":1}`,
	}
	var msgs []sqsqueue.Message
	for i, b := range bad {
		msgs = append(msgs, sqsqueue.Message{Body: b, GroupID: "t1#org-1#disk", DedupID: fmt.Sprint("bad-", i)})
	}
	if _, err := (&sqsqueue.Sender{Client: client, QueueURL: q.URL}).Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	clock := esm.NewClock(time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC))
	w := &ticketing.Worker{}
	m := &esm.Mapping{SQS: client, QueueURL: q.URL, VisibilityTimeout: 360 * time.Second, Clock: clock, Handler: w.Handle}
	w.Visibility = m
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	began := clock.Now()
	if err := m.Drain(dctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, msg := range sqstest.MustReceiveAll(t, client, q.DLQURL) {
		got = append(got, aws.ToString(msg.Body))
	}
	slices.Sort(got)
	want := slices.Clone(bad)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DLQ: got %q, want every malformed message %q", got, want)
	}
	if d := clock.Now().Sub(began); d >= 360*time.Second {
		t.Errorf("malformed messages held their group for %s, want less than one visibility timeout", d)
	}
}
