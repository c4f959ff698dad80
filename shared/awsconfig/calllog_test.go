package awsconfig_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/localaws"
)

func TestMain(m *testing.M) { localaws.Main(m) }

func TestCallsOf(t *testing.T) {
	s := aws.String
	for _, tc := range []struct {
		name, service, op string
		in                any
		want              []awsconfig.Call
	}{
		{"GetItem", "DynamoDB", "GetItem", &dynamodb.GetItemInput{TableName: s("t")}, []awsconfig.Call{{Action: "dynamodb:GetItem", Table: "t"}}},
		{"QueryIndex", "DynamoDB", "Query", &dynamodb.QueryInput{TableName: s("t"), IndexName: s("GSI1")},
			[]awsconfig.Call{{Action: "dynamodb:Query", Table: "t", Index: "GSI1"}}},
		{"BatchGetItem", "DynamoDB", "BatchGetItem", &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{"t": {}}},
			[]awsconfig.Call{{Action: "dynamodb:BatchGetItem", Table: "t"}}},
		{"BatchWriteItem", "DynamoDB", "BatchWriteItem", &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{"t": nil}},
			[]awsconfig.Call{{Action: "dynamodb:BatchWriteItem", Table: "t"}}},
		{"TransactWriteItemsPerItem", "DynamoDB", "TransactWriteItems", &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: s("t")}}, {Update: &ddbtypes.Update{TableName: s("t")}},
			{Delete: &ddbtypes.Delete{TableName: s("t")}}, {ConditionCheck: &ddbtypes.ConditionCheck{TableName: s("t")}}}},
			[]awsconfig.Call{{Action: "dynamodb:PutItem", Table: "t"}, {Action: "dynamodb:UpdateItem", Table: "t"},
				{Action: "dynamodb:DeleteItem", Table: "t"}, {Action: "dynamodb:ConditionCheckItem", Table: "t"}}},
		{"TransactGetItems", "DynamoDB", "TransactGetItems", &dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{{Get: &ddbtypes.Get{TableName: s("t")}}}},
			[]awsconfig.Call{{Action: "dynamodb:GetItem", Table: "t"}}},
		{"SendMessageBatchIsSendMessage", "SQS", "SendMessageBatch", &sqs.SendMessageBatchInput{QueueUrl: s("http://q/1/sync.fifo")},
			[]awsconfig.Call{{Action: "sqs:SendMessage", Queue: "http://q/1/sync.fifo"}}},
		{"GetSecretValue", "Secrets Manager", "GetSecretValue", &secretsmanager.GetSecretValueInput{SecretId: s("psabridge/psa/x")},
			[]awsconfig.Call{{Action: "secretsmanager:GetSecretValue", Secret: "psabridge/psa/x"}}},
		{"CreateSecretNamesIt", "Secrets Manager", "CreateSecret", &secretsmanager.CreateSecretInput{Name: s("psabridge/platform/x")},
			[]awsconfig.Call{{Action: "secretsmanager:CreateSecret", Secret: "psabridge/platform/x"}}},
		{"InvokeIsInvokeFunction", "Lambda", "Invoke", &lambda.InvokeInput{FunctionName: s("fanout")},
			[]awsconfig.Call{{Action: "lambda:InvokeFunction", Function: "fanout"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := awsconfig.CallsOf(tc.service, tc.op, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCallLog makes real calls against DynamoDB Local through a client from
// Load with the call log on, including one that fails, and reads them back.
func TestCallLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	t.Setenv(awsconfig.CallLogEnv, path)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := awsconfig.DynamoDB(cfg)
	_, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("psabridge-no-such-table"),
		Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "x"}}})
	if err == nil {
		t.Fatal("GetItem on a missing table succeeded")
	}
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	got, err := awsconfig.ReadCallLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []awsconfig.Call{{Action: "dynamodb:GetItem", Table: "psabridge-no-such-table"}, {Action: "dynamodb:ListTables"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	t.Setenv(awsconfig.CallLogEnv, filepath.Join(t.TempDir(), "missing-dir", "calls.jsonl"))
	if _, err := awsconfig.Load(ctx); err == nil {
		t.Error("Load with an unwritable call log: got nil error, want one")
	}
}

// TestCallLogCaller: a client's AsCaller names the function of its calls,
// a context's iamcalls.WithCaller overrides it, calls with neither name
// none, and each distinct call is written once.
func TestCallLogCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	t.Setenv(awsconfig.CallLogEnv, path)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list := func(db *dynamodb.Client, ctx context.Context) {
		t.Helper()
		if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	plain, fanout := awsconfig.DynamoDB(cfg), awsconfig.DynamoDB(awsconfig.As(cfg, "fanout"))
	list(plain, ctx)
	list(fanout, ctx)
	list(fanout, ctx) // the same call again: written once
	list(fanout, iamcalls.WithCaller(ctx, "api"))
	list(plain, iamcalls.WithCaller(ctx, "webhook"))
	got, err := awsconfig.ReadCallLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []awsconfig.Call{{Action: "dynamodb:ListTables"}, {Action: "dynamodb:ListTables", Caller: "fanout"},
		{Action: "dynamodb:ListTables", Caller: "api"}, {Action: "dynamodb:ListTables", Caller: "webhook"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
