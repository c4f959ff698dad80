package iamcallstest_test

import (
	"testing"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/iamcalls/iamcallstest"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   awsconfig.Call
		want string // "" when left out
		ok   bool
	}{
		{"Table", awsconfig.Call{Action: "dynamodb:GetItem", Table: "psabridge-test-1-2", Caller: "api"}, "dynamodb:GetItem on table", true},
		{"Index", awsconfig.Call{Action: "dynamodb:Query", Table: "psabridge-test-1-2", Index: "GSI1", Caller: "fanout"}, "dynamodb:Query on table/index/GSI1", true},
		{"SyncQueue", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://127.0.0.1:1/123/psabridge-test-sync-4-5.fifo", Caller: "fanout"}, "sqs:SendMessage on queue/sync", true},
		{"TicketQueue", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://127.0.0.1:1/123/psabridge-ab12-tickets.fifo", Caller: "webhook"}, "sqs:SendMessage on queue/ticket", true},
		{"Secret", awsconfig.Call{Action: "secretsmanager:GetSecretValue", Secret: "test-1-2/psabridge/psa/acme", Caller: "syncworker"}, "secretsmanager:GetSecretValue on secret/psa/<tenant>", true},
		{"Function", awsconfig.Call{Action: "lambda:InvokeFunction", Function: "psabridge-x-fanout", Caller: "api"}, "lambda:InvokeFunction on function/fanout", true},
		{"NoCallerLeftOut", awsconfig.Call{Action: "dynamodb:ListTables"}, "", true},
		{"ErrQueueWithoutRole", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://q/psabridge-test-4-5.fifo", Caller: "fanout"}, "", false},
		{"ErrDeadLetterQueue", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://q/psabridge-test-sync-4-5-dlq.fifo", Caller: "fanout"}, "", false},
		{"ErrOtherSecret", awsconfig.Call{Action: "secretsmanager:GetSecretValue", Secret: "other/acme", Caller: "api"}, "", false},
		{"ErrAccountWide", awsconfig.Call{Action: "dynamodb:ListTables", Caller: "api"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := iamcallstest.Normalize([]awsconfig.Call{tc.in})
			if (err == nil) != tc.ok {
				t.Fatalf("got error %v, want ok %v", err, tc.ok)
			}
			var got string
			for _, calls := range rec {
				for _, c := range calls {
					got = c.String()
				}
			}
			if got != tc.want || (tc.want != "" && len(rec[tc.in.Caller]) != 1) {
				t.Errorf("got %v, want %q for %s", rec, tc.want, tc.in.Caller)
			}
		})
	}
}
