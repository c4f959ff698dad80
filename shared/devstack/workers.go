package devstack

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/localaws/esm"
)

// LinkBase is the alert page tickets link back to in local runs.
const LinkBase = "https://platform.example.com/alerts"

// startPollers runs the event source mappings of the sync and ticket
// queues until ctx ends.
func (s *Stack) startPollers(ctx context.Context) {
	// Each worker's AWS calls are its function's (the e2e record of AWS
	// calls, iamcallstest).
	s.poll(ctx, "sync", s.SyncQueue.URL, iamcalls.As("syncworker", s.syncWorker.HandleSQS))
	s.poll(ctx, "tickets", s.TicketQueue.URL, iamcalls.As("ticketworker", s.ticketWorker.Handle))
}

// poll runs one event source mapping (batches of 10, partial batch
// failures, the queue's redrive to its DLQ after 5 receives) until ctx
// ends; an SQS error is logged and polling resumes a second later.
func (s *Stack) poll(ctx context.Context, name, queueURL string, h func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) {
	m := &esm.Mapping{SQS: s.SQS, QueueURL: queueURL, BatchSize: 10, Clock: esm.WallClock(), Handler: h}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for ctx.Err() == nil {
			if err := m.Run(ctx); err != nil {
				s.log.Warn("queue poller", "queue", name, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
}

// startSchedule ticks the fan-out every billing.TickEvery, as the deployed EventBridge
// Scheduler rule does; each tenant's run time and zone decide which tick
// starts its daily run.
func (s *Stack) startSchedule(ctx context.Context) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		Ticker(ctx, billing.TickEvery, s.now, time.After, func(ctx context.Context, at time.Time) {
			runs, err := s.Fanout.Scheduled(iamcalls.WithCaller(ctx, "fanout"), at)
			s.log.Info("schedule tick", "at", at, "runs", len(runs), "err", err)
			if s.opt.OnSchedule != nil {
				s.opt.OnSchedule(at, len(runs), err)
			}
		})
	}()
	return nil
}
