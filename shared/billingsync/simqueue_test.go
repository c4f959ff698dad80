package billingsync_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/localaws/esm"
	"github.com/psabridge/psabridge/shared/queue"
)

// The stack's settings the in-memory queue runs with (infra/stack.go).
const (
	// simVisibility is the sync queue's visibility timeout.
	simVisibility = syncVisibility
	// simConcurrency is the sync event source mapping's MaximumConcurrency.
	simConcurrency = 10
	// simMaxReceives is the queue's maxReceiveCount.
	simMaxReceives = 5
	// simDedupWindow is SQS's FIFO deduplication interval.
	simDedupWindow = 5 * time.Minute
)

// The time an invocation takes in the simulation: a fixed overhead (Lambda,
// DynamoDB reads and writes) plus each PSA request's round trip.
const (
	simInvokeOverhead = 150 * time.Millisecond
	simPSALatency     = 250 * time.Millisecond
)

// memQueue is an in-memory FIFO queue behind an emulated event source
// mapping with the semantics of SQS and Lambda, on the test's simulated
// clock: messages of a group are received in order, and none of a group
// while one of it is in flight or invisible; a failed message stays
// invisible for the visibility timeout from its receipt unless the handler
// hid it for another time; receive counts rise and the fifth failed receive
// moves a message to the dead-letter list; SendMessageBatch deduplicates
// within five minutes. Up to simConcurrency invocations run at once, each
// taking simInvokeOverhead plus simPSALatency per PSA request it made.
// (The end-to-end tests use moto and the ESM emulator; here moto's FIFO
// bookkeeping, which grows with the queue's length, would dominate.)
type memQueue struct {
	mu     sync.Mutex
	clock  *esm.Clock
	seq    int
	msgs   []*simMsg // in send order
	dedup  map[string]time.Time
	dlq    []string
	byRcpt map[string]*simMsg
}

type simMsg struct {
	id, group, body string
	receives        int
	visibleAt       time.Time
	inFlight        bool
	receipt         string
	deleted         bool
}

func (q *memQueue) now() time.Time {
	if q.clock == nil {
		return time.Time{}
	}
	return q.clock.Now()
}

// Send appends the messages (billingsync.Queue), dropping one whose
// deduplication id was sent in the last five minutes.
func (q *memQueue) Send(_ context.Context, msgs []queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dedup == nil {
		q.dedup, q.byRcpt = map[string]time.Time{}, map[string]*simMsg{}
	}
	now := q.now()
	for _, m := range msgs {
		if at, ok := q.dedup[m.DedupID]; ok && now.Sub(at) < simDedupWindow {
			continue
		}
		q.dedup[m.DedupID] = now
		q.seq++
		q.msgs = append(q.msgs, &simMsg{id: strconv.Itoa(q.seq), group: m.GroupID, body: m.Body})
	}
	return nil
}

// Hide is ChangeMessageVisibility (billingsync.Visibility).
func (q *memQueue) Hide(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.byRcpt[receipt]
	if !ok || m.deleted || m.receipt != receipt {
		return fmt.Errorf("ReceiptHandleIsInvalid: %s", receipt)
	}
	m.visibleAt = q.now().Add(d)
	return nil
}

// receive takes up to ten messages of the first group that is not blocked
// (a FIFO receive: a group's messages in order, none while one of the
// group is in flight or invisible). Messages received for the sixth time
// go to the dead-letter list instead.
func (q *memQueue) receive() []billingsync.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	blocked := map[string]bool{}
	var out []billingsync.Delivery
	group := ""
	for _, m := range q.msgs {
		if m.deleted || blocked[m.group] || (group != "" && m.group != group) {
			continue
		}
		if m.inFlight || m.visibleAt.After(now) {
			blocked[m.group] = true
			continue
		}
		if m.receives >= simMaxReceives {
			m.deleted = true
			q.dlq = append(q.dlq, m.body)
			continue
		}
		group = m.group
		m.receives++
		m.inFlight = true
		m.receipt = fmt.Sprintf("%s#%d", m.id, m.receives)
		q.byRcpt[m.receipt] = m
		// Invisible for the visibility timeout unless deleted or hidden.
		m.visibleAt = now.Add(simVisibility)
		out = append(out, billingsync.Delivery{ID: m.id, Body: m.body, ReceiveCount: m.receives, ReceiptHandle: m.receipt})
		if len(out) == 10 {
			break
		}
	}
	return out
}

// settle ends an invocation: successes are deleted, failures stay
// invisible until their visibility timeout (or the time they were hidden
// until).
func (q *memQueue) settle(batch []billingsync.Delivery, failed []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fail := map[string]bool{}
	for _, id := range failed {
		fail[id] = true
	}
	for _, d := range batch {
		m := q.byRcpt[d.ReceiptHandle]
		m.inFlight = false
		if !fail[d.ID] {
			m.deleted = true
		}
	}
	live := q.msgs[:0]
	for _, m := range q.msgs {
		if !m.deleted {
			live = append(live, m)
		}
	}
	q.msgs = live
}

// nextVisible is the earliest time a hidden message becomes visible again
// (zero when none is hidden). Visible messages behind a hidden one of their
// group do not count: they wait for it.
func (q *memQueue) nextVisible() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var next time.Time
	for _, m := range q.msgs {
		if !m.deleted && !m.inFlight && m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

func (q *memQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		if !m.deleted {
			return false
		}
	}
	return true
}

// snapshot copies the queued messages as they are now, so a test can put
// the same messages on the queue again later (a redelivery): the copies
// keep none of the state their delivery gives the originals.
func (q *memQueue) snapshot() []*simMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]*simMsg, len(q.msgs))
	for i, m := range q.msgs {
		c := *m
		out[i] = &c
	}
	return out
}

// mustDeliver runs the queue through the emulated event source mapping on
// the env's simulated clock until it is empty, w wired as the syncworker
// Lambda is (it re-queues waiting orgs on this queue and hides messages
// through it). It returns the simulated time the queue took and fails if
// any message reached the dead-letter list.
func (q *memQueue) mustDeliver(tb testing.TB, e *env, w *billingsync.Worker) time.Duration {
	tb.Helper()
	q.clock = e.clock
	w.Requeue, w.Visibility = q, q
	began := e.clock.Now()
	type running struct {
		batch  []billingsync.Delivery
		failed []string
		until  time.Time
	}
	var inFlight []running
	for {
		// Start invocations while there is capacity and visible work. The
		// handler runs at its start time; its duration is simulated.
		for len(inFlight) < simConcurrency {
			batch := q.receive()
			if len(batch) == 0 {
				break
			}
			before := e.psa.Total("")
			failed := w.Handle(context.Background(), batch)
			d := simInvokeOverhead + time.Duration(e.psa.Total("")-before)*simPSALatency
			inFlight = append(inFlight, running{batch: batch, failed: failed, until: e.clock.Now().Add(d)})
		}
		if len(inFlight) == 0 && q.empty() {
			break
		}
		// Advance to the next event: an invocation ends or a hidden message
		// returns.
		next := q.nextVisible()
		first := -1
		for i, r := range inFlight {
			if first < 0 || r.until.Before(inFlight[first].until) {
				first = i
			}
		}
		if first >= 0 && (next.IsZero() || !inFlight[first].until.After(next)) {
			r := inFlight[first]
			inFlight = append(inFlight[:first], inFlight[first+1:]...)
			if r.until.After(e.clock.Now()) {
				e.clock.Set(r.until)
			}
			q.settle(r.batch, r.failed)
			continue
		}
		if next.IsZero() {
			tb.Fatalf("queue stuck: %d messages, none in flight or waiting", len(q.msgs))
		}
		if next.After(e.clock.Now()) {
			e.clock.Set(next)
		}
	}
	if len(q.dlq) > 0 {
		tb.Fatalf("%d messages in the dead-letter queue, e.g. %s", len(q.dlq), q.dlq[0])
	}
	return e.clock.Now().Sub(began)
}
