package syncstore

import (
	"context"

	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/queue"
	"github.com/psabridge/psabridge/shared/sqsqueue"
)

// Queue is an sqsqueue.Sender seen as billingsync.Queue.
type Queue struct {
	Sender *sqsqueue.Sender
}

var _ billingsync.Queue = Queue{}

// Send sends every message in batches of 10, retrying failed entries.
func (q Queue) Send(ctx context.Context, msgs []queue.Message) error {
	_, err := q.Sender.Send(ctx, msgs)
	return err
}
