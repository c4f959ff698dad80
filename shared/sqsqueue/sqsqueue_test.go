package sqsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/localaws/faultinject"
	"github.com/psabridge/psabridge/shared/sqsqueue"
	"github.com/psabridge/psabridge/shared/sqsqueue/sqstest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// flaky fails every third entry of each batch once, and every second call
// entirely once, in front of a real queue.
type flaky struct {
	next     sqsqueue.API
	calls    int
	failedID map[string]bool
	failCall bool
	sender   bool
}

func (f *flaky) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls++
	if f.failCall && f.calls == 2 {
		return nil, &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	}
	var keep []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for i, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		if i%3 == 2 && !f.failedID[body] {
			f.failedID[body] = true
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: f.sender})
			continue
		}
		keep = append(keep, e)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(keep) > 0 {
		in2 := *in
		in2.Entries = keep
		o, err := f.next.SendMessageBatch(ctx, &in2, optFns...)
		if err != nil {
			return nil, err
		}
		out = o
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		failCall bool
		wantMin  int
	}{
		{name: "Empty", n: 0, wantMin: 0},
		{name: "ExactBatches", n: 30, wantMin: 3},
		{name: "PartialLast", n: 25, wantMin: 3},
		{name: "FailedEntriesAndCallRetried", n: 47, failCall: true, wantMin: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var counter awsconfig.RequestCounter
			client := sqstest.MustClient(t, &counter)
			q := sqstest.MustFIFO(t, client)
			counter.Reset()
			api := &flaky{next: client, failedID: map[string]bool{}, failCall: tc.failCall}
			s := &sqsqueue.Sender{Client: api, QueueURL: q.URL, Backoff: 1}
			var msgs []sqsqueue.Message
			for i := 0; i < tc.n; i++ {
				msgs = append(msgs, sqsqueue.Message{Body: fmt.Sprint(i), GroupID: "g", DedupID: fmt.Sprint(i)})
			}
			calls, err := s.Send(context.Background(), msgs)
			if err != nil {
				t.Fatal(err)
			}
			if calls < tc.wantMin {
				t.Errorf("calls: got %d, want at least %d", calls, tc.wantMin)
			}
			if tc.n > 0 && calls > tc.wantMin*2+2 {
				t.Errorf("calls: got %d, want about %d", calls, tc.wantMin)
			}
			got := sqstest.MustReceiveAll(t, client, q.URL)
			var bodies []string
			for _, m := range got {
				bodies = append(bodies, aws.ToString(m.Body))
			}
			sort.Strings(bodies)
			var want []string
			for i := 0; i < tc.n; i++ {
				want = append(want, fmt.Sprint(i))
			}
			sort.Strings(want)
			if fmt.Sprint(bodies) != fmt.Sprint(want) {
				t.Errorf("received: got %v, want %v", bodies, want)
			}
		})
	}
}

func TestSendSenderFault(t *testing.T) {
	client := sqstest.MustClient(t, nil)
	q := sqstest.MustFIFO(t, client)
	api := &flaky{next: client, failedID: map[string]bool{}, sender: true}
	s := &sqsqueue.Sender{Client: api, QueueURL: q.URL, Backoff: 1}
	msgs := []sqsqueue.Message{{Body: "a", GroupID: "g", DedupID: "a"}, {Body: "b", GroupID: "g", DedupID: "b"}, {Body: "c", GroupID: "g", DedupID: "c"}}
	_, err := s.Send(context.Background(), msgs)
	if got, want := apperr.CodeOf(err), apperr.Invalid; got != want {
		t.Errorf("code: got %s, want %s (%v)", got, want, err)
	}
}

// failing answers every call with err and counts the calls.
type failing struct {
	err   error
	calls int
}

func (f *failing) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls++
	return nil, f.err
}

// TestSendRetriesOnlyTransient: a call that fails for SQS's sake is tried
// Attempts times; one that fails for ours (a missing grant, the SDK's
// checksum mismatch of a body SQS altered) is not tried again.
func TestSendRetriesOnlyTransient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantCode  apperr.Code
		wantCalls int
	}{
		{"ConnectionRefused", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}, apperr.Transient, 3},
		{"Throttled", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}, apperr.Transient, 3},
		{"ServerFault", &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}, apperr.Transient, 3},
		{"AccessDenied", &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized", Fault: smithy.FaultClient}, apperr.Internal, 1},
		{"ChecksumMismatch", fmt.Errorf("message checksum validation failed, %w", errors.New("expected MD5 checksum")), apperr.Internal, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &failing{err: &smithy.OperationError{ServiceID: "SQS", OperationName: "SendMessageBatch", Err: tc.err}}
			s := &sqsqueue.Sender{Client: api, QueueURL: "https://sqs.example/q.fifo", Attempts: 3, Backoff: 1}
			_, err := s.Send(context.Background(), []sqsqueue.Message{{Body: "a", GroupID: "g", DedupID: "a"}})
			if got := apperr.CodeOf(err); got != tc.wantCode {
				t.Errorf("code: got %s, want %s (%v)", got, tc.wantCode, err)
			}
			if api.calls != tc.wantCalls {
				t.Errorf("calls: got %d, want %d", api.calls, tc.wantCalls)
			}
		})
	}
}

// TestSendRefusesWhatSQSRefuses: a body SQS would refuse is Invalid before
// any call, so it is never retried (invalid UTF-8 once made 7 copies).
func TestSendRefusesWhatSQSRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"Empty", "", false},
		{"EscapedInJSON", `{"details":"\u00ff\ufffe"}`, true},
		{"RawInvalidUTF8", "{\"details\":\"\xff\xfe\"}", false},
		{"NUL", "a\x00b", false},
		{"ControlChar", "a\x1bb", false},
		{"NonCharacterFFFE", "a\uFFFEb", false},
		{"ReplacementCharacter", "a\uFFFDb", true},
		{"TabsAndNewlines", "a\tb\r\nc", true},
		{"Astral", "a\U0001F600b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sqsqueue.ValidBody(tc.body); (err == nil) != tc.ok {
				t.Fatalf("ValidBody: got %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				return
			}
			api := &failing{err: errors.New("must not be called")}
			s := &sqsqueue.Sender{Client: api, QueueURL: "https://sqs.example/q.fifo"}
			_, err := s.Send(context.Background(), []sqsqueue.Message{{Body: "fine", GroupID: "g", DedupID: "1"}, {Body: tc.body, GroupID: "g", DedupID: "2"}})
			if got := apperr.CodeOf(err); got != apperr.Invalid {
				t.Errorf("code: got %s, want invalid (%v)", got, err)
			}
			if api.calls != 0 {
				t.Errorf("calls: got %d, want 0", api.calls)
			}
		})
	}
}

// TestSendHonoursDeadline: the sender never waits for a retry that the
// context's deadline would cut short, and a real SDK client at an endpoint
// that never answers gives up at the deadline, after one call.
func TestSendHonoursDeadline(t *testing.T) {
	msgs := []sqsqueue.Message{{Body: "a", GroupID: "g", DedupID: "a"}}
	t.Run("NoWaitPastDeadline", func(t *testing.T) {
		api := &failing{err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}}
		s := &sqsqueue.Sender{Client: api, QueueURL: "https://sqs.example/q.fifo", Backoff: time.Hour}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := s.Send(ctx, msgs)
		if got := apperr.CodeOf(err); got != apperr.Transient {
			t.Errorf("code: got %s, want transient (%v)", got, err)
		}
		if api.calls != 1 {
			t.Errorf("calls: got %d, want 1 (the backoff does not fit before the deadline)", api.calls)
		}
	})
	t.Run("EndpointNeverAnswers", func(t *testing.T) {
		var counter awsconfig.RequestCounter
		client := sqstest.MustClient(t, &counter)
		silent := faultinject.Blackhole(t)
		api := sqs.New(client.Options(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(silent) })
		s := &sqsqueue.Sender{Client: api, QueueURL: silent + "/123456789012/q.fifo"}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		calls, err := s.Send(ctx, msgs)
		if got := apperr.CodeOf(err); got != apperr.Transient {
			t.Errorf("code: got %s, want transient (%v)", got, err)
		}
		if calls != 1 || counter.Total() != 1 {
			t.Errorf("calls: got %d (SDK operations %d), want 1: the first call hangs until the deadline", calls, counter.Total())
		}
	})
}

func TestCreateFIFO(t *testing.T) {
	client := sqstest.MustClient(t, nil)
	q := sqstest.MustFIFO(t, client)
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy, types.QueueAttributeNameFifoQueue}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Attributes["FifoQueue"]; got != "true" {
		t.Errorf("FifoQueue: got %q, want true", got)
	}
	if got := out.Attributes["RedrivePolicy"]; got == "" || !strings.Contains(got, q.DLQARN) || !strings.Contains(got, "5") {
		t.Errorf("RedrivePolicy: got %q, want the DLQ %s and maxReceiveCount 5", got, q.DLQARN)
	}
}
