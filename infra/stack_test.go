package main

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/fanoutevent"
)

const (
	testIssuer   = "https://issuer.example.com/"
	testAudience = "psabridge-test"
)

// One synthesis per test binary: jsii runs the CDK in node, and each synth
// costs seconds. TestMain synthesizes the app (cdk-nag included) once and the
// tests read the result.
var synth struct {
	template  assertions.Template
	resources map[string]resource
	messages  []*cxapi.SynthesisMessage
	nagReport string
}

type resource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
	UpdateReplace  string `json:"UpdateReplacePolicy"`
}

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		if err := synthesize(); err != nil {
			fmt.Fprintln(os.Stderr, "synthesize:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// synthesize builds the app against placeholder function zips (the template
// depends on the assets' hashes only, not their content) so the infra tests
// need neither `make build` nor a cross-compiler.
func synthesize() error {
	dir, err := os.MkdirTemp("", "psabridge-infra-test")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	assets := filepath.Join(dir, "build")
	if err := writePlaceholderZips(assets); err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out"))})
	stack := NewApp(app, Config{
		AssetDir: assets, JWTIssuer: testIssuer, JWTAudience: testAudience,
		TenantClaim: "tenant", RolesClaim: "roles", BillingRole: "billing-admin",
	})
	asm := app.Synth(nil)
	artifact := asm.GetStackArtifact(stack.ArtifactId())
	raw, err := os.ReadFile(*artifact.TemplateFullPath())
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	synth.template = assertions.Template_FromJSON(&doc, nil)
	var parsed struct{ Resources map[string]resource }
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return err
	}
	synth.resources = parsed.Resources
	synth.messages = *artifact.Messages()
	reports, _ := filepath.Glob(filepath.Join(*asm.Directory(), "AwsSolutions-*"+*stack.StackName()+"-NagReport.csv"))
	if len(reports) != 1 {
		return fmt.Errorf("got cdk-nag reports %v, want one (is AwsSolutionsChecks applied?)", reports)
	}
	report, err := os.ReadFile(reports[0])
	if err != nil {
		return err
	}
	synth.nagReport = string(report)
	return nil
}

func writePlaceholderZips(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range Functions {
		f, err := os.Create(filepath.Join(dir, name+".zip"))
		if err != nil {
			return err
		}
		w := zip.NewWriter(f)
		entry, err := w.Create("bootstrap")
		if err == nil {
			_, err = entry.Write([]byte("#!/bin/sh\necho placeholder for infra tests >&2\nexit 1\n"))
		}
		if err == nil {
			err = w.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// MustHave fails the test unless a resource of type t matches props
// (assertions.Match objectLike semantics). CDK assertions panic on mismatch.
func MustHave(tb testing.TB, t string, props any) {
	tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			tb.Errorf("%s: %v", t, r)
		}
	}()
	synth.template.HasResourceProperties(jsii.String(t), props)
}

// ofType returns the logical ids and resources of one type, sorted by id.
func ofType(t string) ([]string, []resource) {
	var ids []string
	for id, r := range synth.resources {
		if r.Type == t {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]resource, len(ids))
	for i, id := range ids {
		out[i] = synth.resources[id]
	}
	return ids, out
}

// hashSuffix is the 8-hex-digit hash CDK appends to logical ids.
var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// name is a logical id without its hash: "SyncQueue13109325" → "SyncQueue".
func name(logicalID string) string { return hashSuffix.ReplaceAllString(logicalID, "") }

// render turns a CloudFormation value into a readable string: references
// by construct name ("Table.Arn", "SyncQueue"), pseudo parameters as ${…}.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			if strings.HasPrefix(ref, "AWS::") {
				return "${" + ref + "}"
			}
			return name(ref)
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok {
			return name(ga[0].(string)) + "." + ga[1].(string)
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, j[0].(string))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func TestTableMatchesSchema(t *testing.T) {
	_, tables := ofType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("got %d tables, want 1", len(tables))
	}
	tbl := tables[0]
	keys := func(ks any) []schema.KeyAttribute {
		var out []schema.KeyAttribute
		for _, k := range list(ks) {
			m := k.(map[string]any)
			out = append(out, schema.KeyAttribute{Name: m["AttributeName"].(string), Role: m["KeyType"].(string)})
		}
		return out
	}
	got := schema.Table{Keys: keys(tbl.Properties["KeySchema"])}
	for _, g := range list(tbl.Properties["GlobalSecondaryIndexes"]) {
		m := g.(map[string]any)
		if pt := m["Projection"].(map[string]any)["ProjectionType"]; pt != "ALL" {
			t.Errorf("index %v projection: got %v, want ALL", m["IndexName"], pt)
		}
		got.GlobalIndexes = append(got.GlobalIndexes, schema.Index{Name: m["IndexName"].(string), Keys: keys(m["KeySchema"])})
	}
	ttl := tbl.Properties["TimeToLiveSpecification"].(map[string]any)
	if ttl["Enabled"] != true {
		t.Errorf("TTL enabled: got %v, want true", ttl["Enabled"])
	}
	got.TTLAttribute, _ = ttl["AttributeName"].(string)
	if want := schema.Definition(); !reflect.DeepEqual(got, want) {
		t.Errorf("table shape:\n got %+v\nwant %+v", got, want)
	}
	for _, a := range list(tbl.Properties["AttributeDefinitions"]) {
		if typ := a.(map[string]any)["AttributeType"]; typ != "S" {
			t.Errorf("attribute %v: got type %v, want S", a.(map[string]any)["AttributeName"], typ)
		}
	}
	MustHave(t, "AWS::DynamoDB::Table", map[string]any{
		"BillingMode":                      "PAY_PER_REQUEST",
		"DeletionProtectionEnabled":        true,
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
	})
	if tbl.DeletionPolicy != "Retain" || tbl.UpdateReplace != "Retain" {
		t.Errorf("table policies: got DeletionPolicy %q UpdateReplacePolicy %q, want Retain, Retain", tbl.DeletionPolicy, tbl.UpdateReplace)
	}
}

// functionByName maps "Api" etc. to the function resource.
func functionByName(t *testing.T) map[string]resource {
	t.Helper()
	ids, fns := ofType("AWS::Lambda::Function")
	out := map[string]resource{}
	for i, id := range ids {
		out[name(id)] = fns[i]
	}
	if len(out) != len(Functions) {
		t.Fatalf("got %d functions %v, want %d", len(out), ids, len(Functions))
	}
	return out
}

func TestFunctions(t *testing.T) {
	fns := functionByName(t)
	common := []string{"PSABRIDGE_TABLE", "PSABRIDGE_SECRET_PREFIX"}
	wantEnv := map[string][]string{
		"Api":          append(common, "PSABRIDGE_FANOUT_FUNCTION", "PSABRIDGE_TENANT_CLAIM", "PSABRIDGE_ROLES_CLAIM", "PSABRIDGE_BILLING_ROLE"),
		"Webhook":      append(common, "PSABRIDGE_TICKET_QUEUE_URL"),
		"Fanout":       append(common, "PSABRIDGE_SYNC_QUEUE_URL"),
		"SyncWorker":   append(common, "PSABRIDGE_SYNC_QUEUE_URL"),
		"TicketWorker": append(common, "PSABRIDGE_TICKET_QUEUE_URL"),
	}
	for _, fn := range Functions {
		id := functionID(fn)
		t.Run(id, func(t *testing.T) {
			p := fns[id].Properties
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || !reflect.DeepEqual(p["Architectures"], []any{"arm64"}) {
				t.Errorf("got runtime %v handler %v arch %v, want provided.al2023 bootstrap [arm64]", p["Runtime"], p["Handler"], p["Architectures"])
			}
			lc, _ := p["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" || render(lc["LogGroup"]) != id+"Logs" {
				t.Errorf("logging: got %v, want JSON to %sLogs", lc, id)
			}
			if got, want := render(p["Role"]), id+"Role.Arn"; got != want {
				t.Errorf("role: got %s, want %s", got, want)
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			var got []string
			for k := range vars {
				got = append(got, k)
			}
			want := append([]string(nil), wantEnv[id]...)
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("environment: got %v, want %v", got, want)
			}
			if vars["PSABRIDGE_SECRET_PREFIX"] != "psabridge/" || render(vars["PSABRIDGE_TABLE"]) != "Table" {
				t.Errorf("environment values: got %v", vars)
			}
		})
	}
	api := fns["Api"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{"PSABRIDGE_FANOUT_FUNCTION": "Fanout",
		"PSABRIDGE_TENANT_CLAIM": "tenant", "PSABRIDGE_ROLES_CLAIM": "roles", "PSABRIDGE_BILLING_ROLE": "billing-admin"} {
		if got := render(api[k]); got != want {
			t.Errorf("api %s: got %s, want %s", k, got, want)
		}
	}
	wh := fns["Webhook"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := render(wh["PSABRIDGE_TICKET_QUEUE_URL"]); got != "TicketQueue" {
		t.Errorf("webhook ticket queue: got %s, want TicketQueue", got)
	}
	_, groups := ofType("AWS::Logs::LogGroup")
	if len(groups) != len(Functions)+1 {
		t.Errorf("got %d log groups, want one per function plus the API access log", len(groups))
	}
	for _, g := range groups {
		if g.Properties["RetentionInDays"] == nil {
			t.Errorf("log group without retention: %v", g.Properties)
		}
	}
	MustHave(t, "AWS::Lambda::EventInvokeConfig", map[string]any{
		"MaximumRetryAttempts": 2,
		"DestinationConfig":    map[string]any{"OnFailure": map[string]any{"Destination": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FanoutFailures")), "Arn"}}}},
	})
}

func TestQueues(t *testing.T) {
	ids, queues := ofType("AWS::SQS::Queue")
	byName := map[string]resource{}
	for i, id := range ids {
		byName[name(id)] = queues[i]
		if queues[i].Properties["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: SSE not enabled", id)
		}
	}
	fns := functionByName(t)
	for _, tc := range []struct{ queue, dlq, worker string }{{"SyncQueue", "SyncDLQ", "SyncWorker"}, {"TicketQueue", "TicketDLQ", "TicketWorker"}} {
		t.Run(tc.queue, func(t *testing.T) {
			q := byName[tc.queue].Properties
			dlq := byName[tc.dlq].Properties
			if q["FifoQueue"] != true || dlq["FifoQueue"] != true {
				t.Errorf("got FifoQueue %v, DLQ FifoQueue %v, want both true", q["FifoQueue"], dlq["FifoQueue"])
			}
			if q["ContentBasedDeduplication"] != false {
				t.Errorf("ContentBasedDeduplication: got %v, want false (senders set deduplication ids)", q["ContentBasedDeduplication"])
			}
			rp := q["RedrivePolicy"].(map[string]any)
			if rp["maxReceiveCount"] != float64(5) || render(rp["deadLetterTargetArn"]) != tc.dlq+".Arn" {
				t.Errorf("redrive: got %v, want 5 receives to %s", rp, tc.dlq)
			}
			timeout := fns[tc.worker].Properties["Timeout"].(float64)
			if vt := q["VisibilityTimeout"].(float64); vt < 6*timeout {
				t.Errorf("visibility timeout %v s < 6 × %s timeout %v s", vt, tc.worker, timeout)
			}
		})
	}
	// enforceSSL: every queue has a policy denying non-TLS access.
	_, policies := ofType("AWS::SQS::QueuePolicy")
	secured := map[string]bool{}
	for _, p := range policies {
		doc := render(p.Properties["PolicyDocument"])
		if !strings.Contains(doc, `"aws:SecureTransport":"false"`) || !strings.Contains(doc, `"Effect":"Deny"`) {
			continue
		}
		for _, q := range list(p.Properties["Queues"]) {
			secured[render(q)] = true
		}
	}
	for _, id := range ids {
		if !secured[name(id)] {
			t.Errorf("%s: no enforceSSL policy", id)
		}
	}
	_, mappings := ofType("AWS::Lambda::EventSourceMapping")
	got := map[string]string{}
	for _, m := range mappings {
		p := m.Properties
		got[render(p["EventSourceArn"])] = render(p["FunctionName"])
		if p["BatchSize"] != float64(10) || !reflect.DeepEqual(p["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}) {
			t.Errorf("mapping %v: got batch %v types %v, want 10 [ReportBatchItemFailures]", p["EventSourceArn"], p["BatchSize"], p["FunctionResponseTypes"])
		}
		if sc, _ := p["ScalingConfig"].(map[string]any); sc["MaximumConcurrency"] == nil {
			t.Errorf("mapping %v: no maximum concurrency", p["EventSourceArn"])
		}
	}
	if want := map[string]string{"SyncQueue.Arn": "SyncWorker", "TicketQueue.Arn": "TicketWorker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("event sources: got %v, want %v", got, want)
	}
}

func TestHTTPAPI(t *testing.T) {
	authorizers := map[string]map[string]any{}
	ids, auths := ofType("AWS::ApiGatewayV2::Authorizer")
	for i, id := range ids {
		authorizers[name(id)] = auths[i].Properties
	}
	_, routes := ofType("AWS::ApiGatewayV2::Route")
	_, integrations := ofType("AWS::ApiGatewayV2::Integration")
	integrationFn := map[string]string{}
	ids, _ = ofType("AWS::ApiGatewayV2::Integration")
	for i, id := range ids {
		p := integrations[i].Properties
		if p["PayloadFormatVersion"] != "2.0" {
			t.Errorf("integration %s: payload %v, want 2.0", id, p["PayloadFormatVersion"])
		}
		integrationFn[name(id)] = render(p["IntegrationUri"])
	}
	type route struct{ auth, target string }
	got := map[string]route{}
	for _, r := range routes {
		p := r.Properties
		target := strings.TrimPrefix(render(p["Target"]), "integrations/")
		fn := ""
		for id, f := range integrationFn {
			if strings.HasPrefix(target, id) || target == id {
				fn = f
			}
		}
		auth := p["AuthorizationType"].(string)
		if auth == "JWT" {
			a := authorizers[name(render(p["AuthorizerId"]))]
			jc := a["JwtConfiguration"].(map[string]any)
			if jc["Issuer"] != testIssuer || !reflect.DeepEqual(jc["Audience"], []any{testAudience}) {
				t.Errorf("route %v: JWT config %v, want issuer %s audience %s", p["RouteKey"], jc, testIssuer, testAudience)
			}
		}
		got[p["RouteKey"].(string)] = route{auth, fn}
	}
	want := map[string]route{
		"ANY /v1/{proxy+}":          {"JWT", "Api.Arn"},
		"ANY /v1/platform/{proxy+}": {"AWS_IAM", "Api.Arn"},
		"POST /v1/usage":            {"NONE", "Api.Arn"},
		"PUT /v1/orgs/{org}":        {"NONE", "Api.Arn"},
		"GET /v1/openapi.json":      {"NONE", "Api.Arn"},
		"POST /v1/webhooks/alerts":  {"NONE", "Webhook.Arn"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes:\n got %v\nwant %v", got, want)
	}
	MustHave(t, "AWS::ApiGatewayV2::Stage", map[string]any{
		"StageName":  "$default",
		"AutoDeploy": true,
		"AccessLogSettings": map[string]any{
			"DestinationArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^HttpApiAccessLogs")), "Arn"}},
			"Format":         assertions.Match_StringLikeRegexp(jsii.String(`"status":"\$context.status"`)),
		},
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": apiRateLimit, "ThrottlingBurstLimit": apiBurstLimit},
	})
	// Every invoke permission is scoped to the API (no open resource policy).
	_, perms := ofType("AWS::Lambda::Permission")
	if len(perms) == 0 {
		t.Fatal("no Lambda permissions for the HTTP API")
	}
	for _, p := range perms {
		if p.Properties["Principal"] != "apigateway.amazonaws.com" || p.Properties["SourceArn"] == nil {
			t.Errorf("permission: got principal %v source %v, want apigateway.amazonaws.com with a SourceArn", p.Properties["Principal"], p.Properties["SourceArn"])
		}
	}
}

func TestSchedule(t *testing.T) {
	MustHave(t, "AWS::Scheduler::Schedule", map[string]any{
		"ScheduleExpression":         FanoutSchedule,
		"ScheduleExpressionTimezone": "America/New_York",
		"State":                      "ENABLED",
		"Target": map[string]any{
			"Arn":              map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Fanout[0-9A-F]{8}$")), "Arn"}},
			"RetryPolicy":      map[string]any{"MaximumRetryAttempts": assertions.Match_AnyValue(), "MaximumEventAgeInSeconds": assertions.Match_AnyValue()},
			"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^ScheduleDLQ")), "Arn"}}},
		},
	})
	// The Input carries the Scheduler's scheduled time; filled in as the
	// Scheduler does, it is a tick of exactly that time to the fan-out.
	_, schedules := ofType("AWS::Scheduler::Schedule")
	input, _ := schedules[0].Properties["Target"].(map[string]any)["Input"].(string)
	if !strings.Contains(input, "<aws.scheduler.scheduled-time>") {
		t.Fatalf("schedule target Input: got %q, want one carrying <aws.scheduler.scheduled-time>", input)
	}
	filled := fanoutevent.Deliver(input, "arn:aws:scheduler:us-east-1:123456789012:schedule/default/psabridge-SyncTick-1",
		time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), "d32c5kddcf5bb8c3", 2)
	ev, err := fanoutevent.Decode([]byte(filled))
	if err != nil || ev.Tick == nil || !ev.Tick.ScheduledTime.Equal(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("the fan-out reads the delivered Input %s as %+v, %v; want a tick at 2026-11-30T23:00:00Z", filled, ev, err)
	}
	if FanoutSchedule != "cron(0 * * * ? *)" {
		t.Errorf("schedule: got %s, want the hourly cron (tenants' run times are their billing settings)", FanoutSchedule)
	}
}

func TestAlarms(t *testing.T) {
	_, alarms := ofType("AWS::CloudWatch::Alarm")
	got := map[string]bool{}
	for _, a := range alarms {
		p := a.Properties
		dims := ""
		for _, d := range list(p["Dimensions"]) {
			dims += render(d.(map[string]any)["Value"])
		}
		got[fmt.Sprintf("%v/%v %s", p["Namespace"], p["MetricName"], dims)] = true
		if !reflect.DeepEqual(list(p["AlarmActions"]), list(p["OKActions"])) || len(list(p["AlarmActions"])) != 1 || render(list(p["AlarmActions"])[0]) != "AlarmTopic" {
			t.Errorf("alarm %v/%v: actions %v ok %v, want the alarm topic", p["Namespace"], p["MetricName"], p["AlarmActions"], p["OKActions"])
		}
	}
	want := map[string]bool{"psabridge/BudgetDeferrals ": true, "psabridge/Degraded ": true, "AWS/ApiGateway/5xx HttpApi": true}
	for _, q := range []string{"SyncDLQ", "TicketDLQ", "ScheduleDLQ", "FanoutFailures"} {
		want["AWS/SQS/ApproximateNumberOfMessagesVisible "+q+".QueueName"] = true
	}
	for _, q := range []string{"SyncQueue", "TicketQueue"} {
		want["AWS/SQS/ApproximateAgeOfOldestMessage "+q+".QueueName"] = true
	}
	for _, fn := range Functions {
		want["AWS/Lambda/Errors "+functionID(fn)] = true
		want["AWS/Lambda/Throttles "+functionID(fn)] = true
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected alarm %q", k)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing alarm %q", k)
		}
	}
	MustHave(t, "AWS::SNS::Topic", map[string]any{"DisplayName": "psabridge alarms"})
}

func TestNagClean(t *testing.T) {
	for _, m := range synth.messages {
		if m.Level == cxapi.SynthesisMessageLevel_ERROR || m.Level == cxapi.SynthesisMessageLevel_WARNING {
			t.Errorf("%s %s: %v", m.Level, *m.Id, m.Entry.Data)
		}
	}
	// The report proves the pack ran: every rule row is compliant, not
	// applicable or suppressed with a reason.
	rows := strings.Split(strings.TrimSpace(synth.nagReport), "\n")
	if len(rows) < 20 {
		t.Fatalf("nag report has %d rows; AwsSolutionsChecks did not run", len(rows))
	}
	suppressed := 0
	for _, row := range rows[1:] {
		switch {
		case strings.Contains(row, `"Non-Compliant"`):
			t.Errorf("non-compliant: %s", row)
		case strings.Contains(row, `"Suppressed"`):
			suppressed++
		}
	}
	if suppressed == 0 {
		t.Errorf("no suppressed findings: the report is not the one this stack's suppressions produce")
	}
}

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"OK", Config{JWTIssuer: testIssuer, JWTAudience: testAudience}, true},
		{"ErrNoIssuer", Config{JWTAudience: testAudience}, false},
		{"ErrNoAudience", Config{JWTIssuer: testIssuer}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkConfig(tc.cfg); (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCheckAssets(t *testing.T) {
	dir := t.TempDir()
	if err := checkAssets(dir); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("empty dir: got %v, want an error naming make build", err)
	}
	if err := writePlaceholderZips(dir); err != nil {
		t.Fatal(err)
	}
	if err := checkAssets(dir); err != nil {
		t.Errorf("complete dir: got %v, want nil", err)
	}
}
