package awsconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/psabridge/psabridge/shared/iamcalls"
)

// CallLogEnv names the environment variable that turns call recording on:
// when it holds a file path, every client built from Load's configuration
// appends one JSON line per AWS call to that file (see Call). Tests set it
// (the Runtime API smoke test, per function process); the stack never does.
const CallLogEnv = "PSABRIDGE_AWS_CALL_LOG"

// Call is one AWS API call as IAM authorizes it: the IAM action (for
// example "dynamodb:Query"; SendMessageBatch is "sqs:SendMessage", each item
// of a TransactWriteItems is its own PutItem, UpdateItem, DeleteItem or
// ConditionCheckItem) and the resource it names, as the caller named it.
type Call struct {
	Action   string `json:"action"`
	Table    string `json:"table,omitempty"`
	Index    string `json:"index,omitempty"`
	Queue    string `json:"queue,omitempty"`    // queue URL
	Secret   string `json:"secret,omitempty"`   // secret name or ARN
	Function string `json:"function,omitempty"` // Lambda function name or ARN
	// Caller is the function of the stack the call was made for
	// (iamcalls.CallerOf the call's context, else the client's AsCaller);
	// "" when neither names one (a test's own setup and checks).
	Caller string `json:"caller,omitempty"`
}

// iamPrefix maps the SDK's service ids to IAM's action prefixes.
var iamPrefix = map[string]string{"DynamoDB": "dynamodb", "SQS": "sqs", "Secrets Manager": "secretsmanager", "Lambda": "lambda"}

// iamAction maps operations whose IAM action has another name.
var iamAction = map[string]string{
	"SendMessageBatch":             "SendMessage",
	"DeleteMessageBatch":           "DeleteMessage",
	"ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
	"Invoke":                       "InvokeFunction",
	"InvokeAsync":                  "InvokeFunction",
	"TransactGetItems":             "GetItem",
}

// CallsOf returns the IAM-level calls of one SDK operation of service
// (the SDK's service id) with input params.
func CallsOf(service, operation string, params any) []Call {
	prefix, ok := iamPrefix[service]
	if !ok {
		prefix = service
	}
	action := operation
	if a, ok := iamAction[operation]; ok {
		action = a
	}
	act := func(a string) string { return prefix + ":" + a }
	switch in := params.(type) {
	case *dynamodb.BatchGetItemInput:
		return tableCalls(act(action), keys(in.RequestItems))
	case *dynamodb.BatchWriteItemInput:
		return tableCalls(act(action), keys(in.RequestItems))
	case *dynamodb.TransactGetItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, Call{Action: act("GetItem"), Table: deref(it.Get.TableName)})
			}
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, Call{Action: act("PutItem"), Table: deref(it.Put.TableName)})
			case it.Update != nil:
				out = append(out, Call{Action: act("UpdateItem"), Table: deref(it.Update.TableName)})
			case it.Delete != nil:
				out = append(out, Call{Action: act("DeleteItem"), Table: deref(it.Delete.TableName)})
			case it.ConditionCheck != nil:
				out = append(out, Call{Action: act("ConditionCheckItem"), Table: deref(it.ConditionCheck.TableName)})
			}
		}
		return out
	}
	c := Call{Action: act(action)}
	v := reflect.Indirect(reflect.ValueOf(params))
	field := func(name string) string {
		if v.Kind() != reflect.Struct {
			return ""
		}
		if f := v.FieldByName(name); f.IsValid() && f.Type() == reflect.TypeOf((*string)(nil)) && !f.IsNil() {
			return f.Elem().String()
		}
		return ""
	}
	c.Table, c.Index, c.Queue, c.Function = field("TableName"), field("IndexName"), field("QueueUrl"), field("FunctionName")
	if c.Secret = field("SecretId"); c.Secret == "" && prefix == "secretsmanager" {
		c.Secret = field("Name") // CreateSecret names the secret it creates
	}
	return []Call{c}
}

func tableCalls(action string, tables []string) []Call {
	out := make([]Call, len(tables))
	for i, t := range tables {
		out[i] = Call{Action: action, Table: t}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CallLog appends the calls of the clients it is attached to as JSON lines
// to a file, each distinct call once per process; several processes may
// append to the same file.
type CallLog struct {
	mu   sync.Mutex
	file *os.File
	seen map[Call]bool
}

// OpenCallLog opens (creating it if needed) the file calls are appended to.
func OpenCallLog(path string) (*CallLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CallLogEnv, err)
	}
	return &CallLog{file: f, seen: map[Call]bool{}}, nil
}

// Middleware returns an SDK API option that records each operation call once
// (retries of one call are one call), before it is sent: a call the caller's
// role does not allow still shows. A failed write fails the call, so a test
// never passes on an incomplete record.
func (l *CallLog) Middleware() func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("psabridgeCallLog",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				calls := CallsOf(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters)
				for i := range calls {
					calls[i].Caller = iamcalls.CallerOf(ctx)
				}
				if err := l.write(calls); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

func (l *CallLog) write(calls []Call) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b []byte
	for _, c := range calls {
		if l.seen[c] {
			continue
		}
		l.seen[c] = true
		line, err := json.Marshal(c)
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	if len(b) == 0 {
		return nil
	}
	if _, err := l.file.Write(b); err != nil {
		return fmt.Errorf("record AWS call: %w", err)
	}
	return nil
}

// AsCaller returns an SDK API option that attributes every call of the
// client to function (a name of infra.Functions) unless the call's context
// names another (iamcalls.WithCaller): the end-to-end harnesses give each
// function its own clients with it. Without a call log it has no effect.
func AsCaller(function string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("psabridgeCaller",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if iamcalls.CallerOf(ctx) == "" {
					ctx = iamcalls.WithCaller(ctx, function)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// As returns cfg whose clients' calls are function's (AsCaller).
func As(cfg aws.Config, function string) aws.Config {
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), AsCaller(function))
	return cfg
}

// ReadCallLog returns the calls recorded in a call log file, in order.
func ReadCallLog(path string) ([]Call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Call
	d := json.NewDecoder(f)
	d.DisallowUnknownFields()
	for d.More() {
		var c Call
		if err := d.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	return out, nil
}
