package sqsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/localaws"
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
		return nil, errors.New("connection reset")
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
