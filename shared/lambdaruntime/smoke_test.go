package lambdaruntime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/lambdaruntime"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/secrets"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// Functions are the Lambda functions of the stack (infra.Functions) and the
// shape each one's response must have.
var functions = []struct {
	name  string
	check func(event, response []byte) error
	// prepare turns a sample into the event sent (re-signing it, say).
	prepare func(v *verifier, t *testing.T, event []byte) []byte
	// verify checks the answer and effects of one sample.
	verify func(v *verifier, t *testing.T, name string, event, response []byte)
	// extra invokes the warm function with events derived from its samples.
	extra func(v *verifier, t *testing.T, samples map[string][]byte, invoke func([]byte) []byte)
}{
	{name: "api", check: apiGatewayV2Response, prepare: (*verifier).signAPI, verify: (*verifier).api, extra: (*verifier).apiAdmin},
	{name: "webhook", check: apiGatewayV2Response, prepare: (*verifier).signWebhook, verify: (*verifier).webhook},
	{name: "fanout", check: jsonResult, verify: (*verifier).fanout, extra: (*verifier).fanoutOrdered},
	{name: "syncworker", check: sqsBatchResponse, verify: (*verifier).syncDryRun, extra: (*verifier).syncLive},
	{name: "ticketworker", check: sqsBatchResponse, verify: (*verifier).tickets},
}

func functionNames() []string {
	var out []string
	for _, f := range functions {
		out = append(out, f.name)
	}
	return out
}

// MustRepoRoot walks up from the package directory to the core module root.
func MustRepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == "module github.com/psabridge/psabridge" {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("core module root (go.mod of github.com/psabridge/psabridge) not found above the package")
		}
		dir = parent
	}
}

// FunctionEnv is the environment a Lambda process gets (Env), pointed at a
// fresh table, FIFO queues and secret prefix in DynamoDB Local and moto, and
// the stores over the same table and prefix, to seed what the functions read.
type FunctionEnv struct {
	Env     []string
	Run     string
	Store   *dynamo.Store
	Secrets *secrets.Store
	// Names maps this environment's resource names to the stack's (see
	// iamcalls), to record calls independently of the run's random names.
	Names resourceNames
}

// MustFunctionEnv creates what the functions expect to exist (table, FIFO
// queues) in DynamoDB Local and moto under fresh names and returns the
// environment a Lambda process would get, pointed at them.
func MustFunctionEnv(tb testing.TB) FunctionEnv {
	tb.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(c)
	if err != nil {
		tb.Fatal(err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	run := "smoke-" + hex.EncodeToString(suffix)
	table := "psabridge-" + run
	if err := dynamo.CreateTable(c, awsconfig.DynamoDB(cfg), table); err != nil {
		tb.Fatalf("create table: %v", err)
	}
	q := awsconfig.SQS(cfg)
	names := resourceNames{table: table, queues: map[string]string{}, functions: map[string]string{}}
	queue := func(name string) string {
		out, err := q.CreateQueue(c, &sqs.CreateQueueInput{
			QueueName: aws.String(run + "-" + name + ".fifo"),
			Attributes: map[string]string{
				string(types.QueueAttributeNameFifoQueue):                 "true",
				string(types.QueueAttributeNameContentBasedDeduplication): "false",
			},
		})
		if err != nil {
			tb.Fatalf("create queue %s: %v", name, err)
		}
		names.queues[*out.QueueUrl] = name
		return *out.QueueUrl
	}
	prefix := "psabridge-" + run + "/"
	sec, err := secrets.New(awsconfig.SecretsManager(cfg), prefix)
	if err != nil {
		tb.Fatal(err)
	}
	names.secretPrefix = prefix
	names.functions["psabridge-"+run+"-fanout"] = "fanout"
	return FunctionEnv{Run: run, Names: names, Store: dynamo.New(awsconfig.DynamoDB(cfg), table), Secrets: sec, Env: append(os.Environ(),
		"PSABRIDGE_TABLE="+table,
		"PSABRIDGE_SYNC_QUEUE_URL="+queue("sync"),
		"PSABRIDGE_TICKET_QUEUE_URL="+queue("ticket"),
		"PSABRIDGE_FANOUT_FUNCTION=psabridge-"+run+"-fanout",
		"PSABRIDGE_SECRET_PREFIX="+prefix,
		"PSABRIDGE_ALLOW_PRIVATE_PSA=true",
		"PSABRIDGE_ALERT_LINK_BASE=https://portal.example.com/alerts",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
	)}
}

// TestFunctionsUnderRuntimeAPI runs every function's bootstrap, built like
// the Lambda artifact but for this machine, under the test Runtime API with
// each sample event from events/<function>/*.json, one warm process per
// function, checks each response's shape, and then what the function did:
// the API's samples act on a tenant they provision themselves (fresh
// table); the other functions' samples meet their tenant seeded (PSA on the
// Autotask sandbox), and the workers' effects are read back from the
// sandbox and the store.
func TestFunctionsUnderRuntimeAPI(t *testing.T) {
	root := MustRepoRoot(t)
	// testclock: the functions' clock follows PSABRIDGE_TEST_NOW like this test's.
	bins, missing, err := lambdaruntime.Build(buildCtx(t), root, t.TempDir(), runtime.GOOS, runtime.GOARCH, functionNames(), "testclock")
	if err != nil {
		t.Fatal(err)
	}
	blank, seeded := MustFunctionEnv(t), MustFunctionEnv(t)
	sb := sandbox.New()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	refs := MustSampleRefs(t)
	demo := MustDemoTenant(t, seeded, refs, sb, srv.URL)
	lambdaAPI := &lambdaEndpoint{function: "psabridge-" + blank.Run + "-fanout"}
	lambdaSrv := httptest.NewServer(lambdaAPI)
	t.Cleanup(lambdaSrv.Close)
	v := &verifier{demo: demo, refs: refs, sandboxURL: srv.URL, lambda: lambdaAPI}
	recorded := iamcalls.Record{}
	for _, fn := range functions {
		t.Run(fn.name, func(t *testing.T) {
			if slices.Contains(missing, fn.name) {
				t.Fatalf("functions/%s/main.go does not exist yet: there is no %s binary to run under the Runtime API", fn.name, fn.name)
			}
			fe, env := seeded, seeded.Env
			if fn.name == "api" {
				// The api's run-now invokes the fan-out through the test's
				// Lambda endpoint; its integration points at the sandbox.
				fe, env = blank, append(blank.Env, "AWS_ENDPOINT_URL_LAMBDA="+lambdaSrv.URL, "PSABRIDGE_ALLOW_CUSTOM_ENDPOINTS=true")
			}
			callLog := filepath.Join(t.TempDir(), fn.name+"-calls.jsonl")
			p := MustStart(t, bins[fn.name], append(env, "AWS_LAMBDA_FUNCTION_NAME=psabridge-"+fn.name, awsconfig.CallLogEnv+"="+callLog)...)
			init, err := p.WaitInit(ctx(t))
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			size := fileSize(t, bins[fn.name])
			t.Logf("init %.1f ms, binary %.1f MB (%s/%s)", float64(init.Microseconds())/1000, float64(size)/(1<<20), runtime.GOOS, runtime.GOARCH)
			invoke := func(t *testing.T, event []byte) []byte {
				t.Helper()
				resp, err := p.Invoke(ctx(t), event)
				if err != nil {
					t.Fatalf("%v\nfunction output:\n%s", err, lastLines(p.Output(), 20))
				}
				if err := fn.check(event, resp); err != nil {
					t.Fatalf("response %s: %v\nfunction output:\n%s", resp, err, lastLines(p.Output(), 20))
				}
				return resp
			}
			samples := MustSamples(t, fn.name)
			names := slices.Sorted(maps.Keys(samples))
			for _, name := range names {
				t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
					event := samples[name]
					if fn.prepare != nil {
						event = fn.prepare(v, t, event)
					}
					resp := invoke(t, event)
					fn.verify(v, t, name, event, resp)
					if t.Failed() {
						t.Logf("function output:\n%s", lastLines(p.Output(), 20))
					}
				})
			}
			if fn.extra != nil {
				fn.extra(v, t, samples, func(event []byte) []byte { return invoke(t, event) })
			}
			recorded[fn.name] = MustRecordedCalls(t, callLog, fe.Names)
			if !*updateCalls {
				MustMatchGolden(t, root, fn.name, recorded[fn.name])
			}
		})
	}
	if *updateCalls && !t.Failed() {
		MustWriteGolden(t, root, recorded)
	}
}

// BenchmarkColdStart reports, per function, the init time under the test
// Runtime API (process start → first poll; each iteration a fresh process)
// and the size of the deployable linux/arm64 bootstrap.
func BenchmarkColdStart(b *testing.B) {
	root := MustRepoRoot(b)
	env := MustFunctionEnv(b).Env
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	host, missing, err := lambdaruntime.Build(c, root, b.TempDir(), runtime.GOOS, runtime.GOARCH, functionNames())
	if err != nil {
		b.Fatal(err)
	}
	arm, _, err := lambdaruntime.Build(c, root, b.TempDir(), "linux", "arm64", functionNames())
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range functions {
		b.Run(fn.name, func(b *testing.B) {
			if slices.Contains(missing, fn.name) {
				b.Fatalf("functions/%s/main.go does not exist yet", fn.name)
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				p, err := lambdaruntime.Start(host[fn.name], append(env, "AWS_LAMBDA_FUNCTION_NAME=psabridge-"+fn.name))
				if err != nil {
					b.Fatal(err)
				}
				d, err := p.WaitInit(c)
				p.Stop()
				if err != nil {
					b.Fatalf("init: %v", err)
				}
				total += d
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "init-ms")
			b.ReportMetric(float64(fileSize(b, arm[fn.name]))/(1<<20), "binary-MB")
		})
	}
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// apiGatewayV2Response checks an API Gateway HTTP API (payload 2.0) response:
// a status API Gateway accepts, string headers and body, and no server error.
func apiGatewayV2Response(_, resp []byte) error {
	var r struct {
		StatusCode        *int                `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
		Cookies           []string            `json:"cookies"`
	}
	if err := decodeStrict(resp, &r); err != nil {
		return fmt.Errorf("not an API Gateway v2 response: %w", err)
	}
	switch {
	case r.StatusCode == nil:
		return fmt.Errorf("no statusCode")
	case *r.StatusCode < 100 || *r.StatusCode > 599:
		return fmt.Errorf("statusCode %d out of range", *r.StatusCode)
	case *r.StatusCode >= 500:
		return fmt.Errorf("statusCode %d: the function failed against the local AWS stand-ins", *r.StatusCode)
	}
	if r.Body != nil && *r.Body != "" && !r.IsBase64Encoded && strings.Contains(r.Headers["Content-Type"]+r.Headers["content-type"], "json") && !json.Valid([]byte(*r.Body)) {
		return fmt.Errorf("body declared JSON is not: %q", *r.Body)
	}
	return nil
}

// sqsBatchResponse checks a partial batch response: batchItemFailures (null
// or a list) naming only messages of the event.
func sqsBatchResponse(event, resp []byte) error {
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := decodeStrict(resp, &r); err != nil {
		return fmt.Errorf("not an SQS batch response: %w", err)
	}
	if !bytes.Contains(resp, []byte(`"batchItemFailures"`)) {
		return fmt.Errorf("no batchItemFailures field")
	}
	var ev struct {
		Records []struct {
			MessageID string `json:"messageId"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	ids := map[string]bool{}
	for _, rec := range ev.Records {
		ids[rec.MessageID] = true
	}
	for _, f := range r.BatchItemFailures {
		if !ids[f.ItemIdentifier] {
			return fmt.Errorf("batchItemFailures names %q, not a message of the event", f.ItemIdentifier)
		}
	}
	return nil
}

// jsonResult checks a scheduled invocation's result: any JSON value (the
// fan-out's summary, or null); failures arrive as /error and fail earlier.
func jsonResult(_, resp []byte) error {
	if !json.Valid(bytes.TrimSpace(resp)) && len(bytes.TrimSpace(resp)) > 0 {
		return fmt.Errorf("result is not JSON")
	}
	return nil
}

func TestResponseChecks(t *testing.T) {
	sqsEvent := []byte(`{"Records":[{"messageId":"m1"},{"messageId":"m2"}]}`)
	for _, tc := range []struct {
		name    string
		check   func(event, resp []byte) error
		event   string
		resp    string
		wantErr bool
	}{
		{"APIOK", apiGatewayV2Response, "", `{"statusCode":202,"headers":{"Content-Type":"application/json"},"body":"{}"}`, false},
		{"APIRejectIsAShape", apiGatewayV2Response, "", `{"statusCode":401,"body":""}`, false},
		{"ErrAPIServerError", apiGatewayV2Response, "", `{"statusCode":500,"body":"{}"}`, true},
		{"ErrAPINoStatus", apiGatewayV2Response, "", `{"body":"x"}`, true},
		{"ErrAPIUnknownField", apiGatewayV2Response, "", `{"statusCode":200,"status":200}`, true},
		{"ErrAPIBadJSONBody", apiGatewayV2Response, "", `{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{"}`, true},
		{"SQSNoFailures", sqsBatchResponse, string(sqsEvent), `{"batchItemFailures":[]}`, false},
		{"SQSNullFailures", sqsBatchResponse, string(sqsEvent), `{"batchItemFailures":null}`, false},
		{"SQSFailure", sqsBatchResponse, string(sqsEvent), `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, false},
		{"ErrSQSForeignID", sqsBatchResponse, string(sqsEvent), `{"batchItemFailures":[{"itemIdentifier":"m9"}]}`, true},
		{"ErrSQSMissingField", sqsBatchResponse, string(sqsEvent), `{}`, true},
		{"ErrSQSNotObject", sqsBatchResponse, string(sqsEvent), `null x`, true},
		{"ScheduledSummary", jsonResult, "", `{"tenants":2,"messages":20}`, false},
		{"ScheduledNull", jsonResult, "", `null`, false},
		{"ErrScheduledNotJSON", jsonResult, "", `ok`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check([]byte(tc.event), []byte(tc.resp))
			if (err != nil) != tc.wantErr {
				t.Errorf("got %v, want error=%v", err, tc.wantErr)
			}
		})
	}
}
