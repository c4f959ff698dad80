// Package queue holds what psabridge puts on its FIFO queues, free of any
// AWS type: the sync and ticket queues' adapter (sqsqueue) sends these.
package queue

// Message is one message for a FIFO queue: its body, its message group
// (messages of one group are delivered in order, one batch at a time) and
// its deduplication id (a second send with the same id within five minutes
// is dropped).
type Message struct {
	Body    string
	GroupID string
	DedupID string
}
