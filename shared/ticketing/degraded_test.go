package ticketing_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/ticketing"
)

var errHideDenied = errors.New("InternalFailure: injected")

// failingVisibility refuses every ChangeMessageVisibility.
type failingVisibility struct{}

func (failingVisibility) Hide(context.Context, string, time.Duration) error { return errHideDenied }

// TestMalformedHideFailureIsLoggedAndCounted: a malformed ticket message
// that cannot be made visible again at once is still reported failed (it
// reaches the dead-letter queue after the visibility timeouts instead), and
// the failure is logged with its operation and error and counted as
// Degraded.
func TestMalformedHideFailureIsLoggedAndCounted(t *testing.T) {
	var logs, emf bytes.Buffer
	w := &ticketing.Worker{Visibility: failingVisibility{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics.Emitter{W: &emf}}
	resp, err := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: "not json", ReceiptHandle: "rh-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m-1" {
		t.Errorf("got failures %+v, want m-1 reported failed", resp.BatchItemFailures)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"operation":"ticketworker.hide"`) {
			line = l
		}
	}
	if !strings.Contains(line, errHideDenied.Error()) || !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, `"messageId":"m-1"`) {
		t.Errorf("log: got %q, want a ticketworker.hide warning with the error %q and the message id", line, errHideDenied)
	}
	if n := strings.Count(emf.String(), `"Degraded":1`); n != 1 {
		t.Errorf("metrics: Degraded counted %d times, want 1:\n%s", n, emf.String())
	}
}
