package main

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/fanoutevent"
)

// FanoutSchedule is the EventBridge Scheduler expression of the billing
// sync's hourly tick (billing.TickSchedule, kept in step with the
// fan-out's billing.TickEvery), evaluated in ScheduleTimeZone. Each tick
// starts the daily runs of the tenants whose own run time (billing settings
// runAt and timeZone, default 12:00 America/New_York) came in the hour
// before it, once per tenant and local day.
const FanoutSchedule = billing.TickSchedule

// ScheduleTimeZone is the IANA zone FanoutSchedule is evaluated in.
const ScheduleTimeZone = billing.TickTimeZone

// SecretPrefix is the Secrets Manager name prefix of every psabridge secret:
// platform signing secrets under SecretPrefix+"platform/<tenant>", PSA
// credentials under SecretPrefix+"psa/<tenant>". IAM is granted per namespace.
const SecretPrefix = "psabridge/"

// Function names: each is functions/<name> in the core module and
// <AssetDir>/<name>.zip after `make build`.
const (
	FnAPI          = "api"
	FnWebhook      = "webhook"
	FnFanout       = "fanout"
	FnSyncWorker   = "syncworker"
	FnTicketWorker = "ticketworker"
)

// Functions lists every Lambda function of the stack, in a stable order.
var Functions = []string{FnAPI, FnWebhook, FnFanout, FnSyncWorker, FnTicketWorker}

// functionSettings are the sizing choices per function. Timeouts matter
// beyond the function: the queues' visibility timeouts are derived from the
// workers' (AWS: at least six times the function timeout for SQS sources).
var functionSettings = map[string]struct {
	MemoryMB       float64
	TimeoutSeconds float64
}{
	// HTTP API integrations time out at 30 s; answer before that.
	FnAPI:     {256, 29},
	FnWebhook: {256, 10},
	// One Query page and ten-message batches per 1,000 orgs: seconds.
	FnFanout: {256, 300},
	// A batch of 10 orgs, each a few PSA round trips under the tenant's budget.
	FnSyncWorker:   {256, 120},
	FnTicketWorker: {256, 60},
}

// Event source mapping settings of the two SQS workers.
const (
	workerBatchSize = 10
	// Concurrency caps: each tenant is one FIFO message group, so this bounds
	// how many tenants' PSAs are worked on at once, not one tenant's load.
	syncMaxConcurrency   = 10
	ticketMaxConcurrency = 5
	// maxReceiveCount before a message moves to its queue's DLQ.
	maxReceiveCount = 5
	// visibilityFactor × worker timeout is each work queue's visibility timeout.
	visibilityFactor = 6
)

// Alarm thresholds.
const (
	// BudgetDeferralsMetric is the EMF metric the sync worker emits (namespace
	// MetricsNamespace, no dimensions) each time a PSA request is deferred
	// because the tenant's hourly PSA budget is used up.
	BudgetDeferralsMetric = "BudgetDeferrals"
	// MetricsNamespace is the CloudWatch namespace of psabridge's EMF metrics.
	MetricsNamespace = "psabridge"
	// budgetDeferralsPerHour above which operators are paged: a few deferrals
	// are the budget working; a sustained stream means syncs fall behind.
	budgetDeferralsPerHour = 50
	// syncOldestMessageSeconds: a sync message older than this has waited
	// out a whole budget window (an hour) and its retries; the tenant's run
	// is falling behind its day.
	syncOldestMessageSeconds = 2 * 60 * 60
	// ticketOldestMessageSeconds: an alert should be a ticket within
	// minutes; older than this, the ticket worker or the PSA is stuck.
	ticketOldestMessageSeconds = 15 * 60
	// DegradedMetric is the EMF metric (namespace MetricsNamespace, no
	// dimensions) counting dependency errors a function carried on after;
	// the log line with the same operation says which and why.
	DegradedMetric = "Degraded"
	// degradedPerHour: one is a blip; this many an hour is a dependency (or
	// a missing grant) failing every time.
	degradedPerHour = 5
	// apiServerErrorsPer5Minutes: a lone 503 while a dependency throttles is
	// retried by callers; this many in five minutes is an outage or a bug.
	apiServerErrorsPer5Minutes = 5
)

// logRetention applies to every log group of the stack.
const logRetention = awslogs.RetentionDays_THREE_MONTHS

// Config is what the stack needs from outside: where `make build` put the
// function zips and the deployment's context values.
type Config struct {
	// AssetDir holds <function>.zip for every name in Functions.
	AssetDir string
	// JWTIssuer and JWTAudience configure the HTTP API's JWT authorizer for
	// the tenant admin routes (context jwtIssuer, jwtAudience).
	JWTIssuer   string
	JWTAudience string
	// TenantClaim, RolesClaim and BillingRole tell the api which JWT claims
	// carry the tenant id and roles and which role may manage billing.
	TenantClaim string
	RolesClaim  string
	BillingRole string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
}

// Stack is the psabridge stack with the constructs tests and callers need.
type Stack struct {
	awscdk.Stack
	Table      awsdynamodb.Table
	SyncQueue  awssqs.Queue
	TicketQ    awssqs.Queue
	Functions  map[string]awslambda.Function
	HTTPAPI    awsapigatewayv2.HttpApi
	AlarmTopic awssns.Topic
}

// NewStack declares the whole psabridge deployment in one stack.
func NewStack(scope constructs.Construct, id string, props *awscdk.StackProps, cfg Config) *Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	s := &Stack{Stack: stack, Functions: map[string]awslambda.Function{}}

	s.Table = newTable(stack)
	s.AlarmTopic = newAlarmTopic(stack, cfg.AlarmEmail)

	syncTimeout := functionSettings[FnSyncWorker].TimeoutSeconds
	ticketTimeout := functionSettings[FnTicketWorker].TimeoutSeconds
	var syncDLQ, ticketDLQ awssqs.Queue
	s.SyncQueue, syncDLQ = newWorkQueue(stack, "Sync", syncTimeout)
	s.TicketQ, ticketDLQ = newWorkQueue(stack, "Ticket", ticketTimeout)
	scheduleDLQ := newStandardDLQ(stack, "ScheduleDLQ",
		"It is the EventBridge Scheduler dead-letter queue of the hourly sync tick, not a work queue; it has no DLQ of its own.")
	fanoutFailures := newStandardDLQ(stack, "FanoutFailures",
		"It is the on-failure destination of the fanout function's asynchronous invocations, not a work queue; it has no DLQ of its own.")

	env := map[string]*string{
		"PSABRIDGE_TABLE":         s.Table.TableName(),
		"PSABRIDGE_SECRET_PREFIX": jsii.String(SecretPrefix),
	}
	fn := func(name string, extra map[string]*string, opts func(*awslambda.FunctionProps)) awslambda.Function {
		e := map[string]*string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range extra {
			e[k] = v
		}
		f := newFunction(stack, name, cfg.AssetDir, e, opts)
		s.Functions[name] = f
		return f
	}

	fanout := fn(FnFanout, map[string]*string{
		"PSABRIDGE_SYNC_QUEUE_URL": s.SyncQueue.QueueUrl(),
	}, func(p *awslambda.FunctionProps) {
		// Scheduler and the api's run-now invoke asynchronously; after
		// Lambda's own retries a failed invocation lands where an alarm sees it.
		p.RetryAttempts = jsii.Number(2)
		p.MaxEventAge = awscdk.Duration_Hours(jsii.Number(1))
		p.OnFailure = awslambdadestinations.NewSqsDestination(fanoutFailures)
	})
	// Run-now: the api stores the run and invokes the fan-out asynchronously;
	// it never writes to the sync queue itself.
	api := fn(FnAPI, map[string]*string{
		"PSABRIDGE_FANOUT_FUNCTION": fanout.FunctionName(),
		"PSABRIDGE_TENANT_CLAIM":    jsii.String(cfg.TenantClaim),
		"PSABRIDGE_ROLES_CLAIM":     jsii.String(cfg.RolesClaim),
		"PSABRIDGE_BILLING_ROLE":    jsii.String(cfg.BillingRole),
	}, nil)
	webhook := fn(FnWebhook, map[string]*string{
		"PSABRIDGE_TICKET_QUEUE_URL": s.TicketQ.QueueUrl(),
	}, nil)
	// The sync worker re-queues an org that must wait (a deferral, a retry
	// after backoff) on its own queue, so the tenant's message group moves
	// on (docs/SYNC.md, Waiting).
	syncWorker := fn(FnSyncWorker, map[string]*string{
		"PSABRIDGE_SYNC_QUEUE_URL": s.SyncQueue.QueueUrl(),
	}, nil)
	ticketWorker := fn(FnTicketWorker, map[string]*string{
		"PSABRIDGE_TICKET_QUEUE_URL": s.TicketQ.QueueUrl(),
	}, nil)

	// Permissions, function by function.
	tableArn := s.Table.TableArn()
	indexArn := jsii.String(*tableArn + "/index/" + schema.MappedIndex)
	platformSecrets := secretArn(stack, "platform/*")
	psaSecrets := secretArn(stack, "psa/*")
	allow := func(f awslambda.Function, resources []*string, actions ...string) {
		f.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(actions...),
			Resources: &resources,
		}))
	}
	// Each grant is a call the function's handler makes, recorded by the
	// Runtime API smoke test (infra/testdata/aws-calls.json) or the in-process
	// e2e tests (infra/testdata/aws-calls-<package>.json); the infra tests
	// fail on a call no grant allows and on a grant no call uses.
	secretRead := []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
	// Secret writes: put creates a missing secret, or restores one scheduled
	// for deletion (a tenant re-provisioned or an integration saved again).
	secretPut := append([]string{"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"}, secretRead...)

	allow(api, []*string{tableArn}, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
		"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
	// Platform signing secrets are created and rotated, never deleted.
	allow(api, []*string{platformSecrets}, secretPut...)
	// PSA credentials are deleted with the integration and restored when it
	// is saved again within the recovery window.
	allow(api, []*string{psaSecrets}, append(secretPut, "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret")...)
	// Unqualified ARN only: the api invokes $LATEST, never a version or alias.
	allow(api, []*string{fanout.FunctionArn()}, "lambda:InvokeFunction")

	// The webhook stores an alert (conditional put) and marks it enqueued
	// once the SQS send succeeded (a replay of an unmarked one queues again).
	allow(webhook, []*string{tableArn}, "dynamodb:PutItem", "dynamodb:UpdateItem")
	// Signing secrets are read fresh (signature.Verifier rations the reads),
	// never through the caching library's DescribeSecret.
	allow(webhook, []*string{platformSecrets}, "secretsmanager:GetSecretValue")
	allow(webhook, []*string{s.TicketQ.QueueArn()}, "sqs:SendMessage")

	allow(fanout, []*string{indexArn}, "dynamodb:Query")
	// BatchGetItem: the HWMs and line memories that order a large tenant's orgs.
	allow(fanout, []*string{tableArn}, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
	allow(fanout, []*string{s.SyncQueue.QueueArn()}, "sqs:SendMessage")

	// The mapped-org index: the worker's mapping health check.
	allow(syncWorker, []*string{indexArn}, "dynamodb:Query")
	allow(syncWorker, []*string{tableArn}, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")
	allow(syncWorker, []*string{psaSecrets}, secretRead...)
	// An org that must wait is re-queued on the sync queue (docs/SYNC.md, Waiting).
	allow(syncWorker, []*string{s.SyncQueue.QueueArn()}, "sqs:SendMessage")
	allow(ticketWorker, []*string{tableArn}, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
	allow(ticketWorker, []*string{psaSecrets}, secretRead...)
	for _, f := range []awslambda.Function{api, webhook, syncWorker, ticketWorker} {
		cdknag.NagSuppressions_AddResourceSuppressions(f.Role(), &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Secret ARNs end in a random suffix and are per tenant (" + SecretPrefix + "platform/<tenant>, " + SecretPrefix +
				"psa/<tenant>), so the grant is the namespace prefix; each function gets only the namespaces it needs."),
			AppliesTo: &[]interface{}{jsii.String("Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + SecretPrefix + "platform/*"),
				jsii.String("Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + SecretPrefix + "psa/*")},
		}}, jsii.Bool(true))
	}

	syncWorker.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.SyncQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(workerBatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(syncMaxConcurrency),
	}))
	ticketWorker.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.TicketQ, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(workerBatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(ticketMaxConcurrency),
	}))

	s.HTTPAPI = newHTTPAPI(stack, cfg, api, webhook)
	newSchedule(stack, fanout, scheduleDLQ)

	for _, q := range []awssqs.Queue{syncDLQ, ticketDLQ, scheduleDLQ, fanoutFailures} {
		alarm(stack, s.AlarmTopic, *q.Node().Id()+"Depth", "Messages are waiting in a dead-letter queue: inspect and redrive them.",
			q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
			}), 1)
	}
	for _, q := range []struct {
		queue      awssqs.Queue
		maxSeconds float64
	}{{s.SyncQueue, syncOldestMessageSeconds}, {s.TicketQ, ticketOldestMessageSeconds}} {
		alarm(stack, s.AlarmTopic, *q.queue.Node().Id()+"OldestMessage", "Messages wait too long in a work queue: its worker is failing, throttled or stalled.",
			q.queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{
				Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
			}), q.maxSeconds)
	}
	alarm(stack, s.AlarmTopic, "HttpApi5xx", "The HTTP API answers 5xx: a dependency is down or a function fails.",
		s.HTTPAPI.MetricServerError(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
		}), apiServerErrorsPer5Minutes)
	for _, name := range Functions {
		f := s.Functions[name]
		opts := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
		alarm(stack, s.AlarmTopic, functionID(name)+"Errors", "The "+name+" function reported errors.", f.MetricErrors(opts), 1)
		alarm(stack, s.AlarmTopic, functionID(name)+"Throttles", "The "+name+" function was throttled.", f.MetricThrottles(opts), 1)
	}
	alarm(stack, s.AlarmTopic, "BudgetDeferrals", "Syncs are being deferred by the per-tenant PSA request budget.",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(MetricsNamespace),
			MetricName: jsii.String(BudgetDeferralsMetric),
			Period:     awscdk.Duration_Hours(jsii.Number(1)),
			Statistic:  jsii.String("Sum"),
		}), budgetDeferralsPerHour)

	alarm(stack, s.AlarmTopic, "Degraded", "Functions carry on after failed AWS calls (see the logs' operation and err): work is done worse or slower.",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(MetricsNamespace),
			MetricName: jsii.String(DegradedMetric),
			Period:     awscdk.Duration_Hours(jsii.Number(1)),
			Statistic:  jsii.String("Sum"),
		}), degradedPerHour)

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       s.HTTPAPI.ApiEndpoint(),
		Description: jsii.String("Base URL of the psabridge REST API (admin, platform and webhook routes under /v1)."),
	})
	awscdk.NewCfnOutput(stack, jsii.String("WebhookUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(*s.HTTPAPI.ApiEndpoint() + "/v1/webhooks/alerts"),
		Description: jsii.String("URL the platform posts signed alerts to."),
	})
	awscdk.NewCfnOutput(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{Value: s.AlarmTopic.TopicArn()})
	return s
}

func newTable(stack awscdk.Stack) awsdynamodb.Table {
	def := schema.Definition()
	key := func(k schema.KeyAttribute) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(k.Name), Type: awsdynamodb.AttributeType_STRING}
	}
	t := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: key(def.Keys[0]),
		SortKey:      key(def.Keys[1]),
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
		TimeToLiveAttribute: jsii.String(def.TTLAttribute),
	})
	for _, ix := range def.GlobalIndexes {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   key(ix.Keys[0]),
			SortKey:        key(ix.Keys[1]),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return t
}

// newWorkQueue declares a FIFO work queue and its FIFO dead-letter queue.
// Senders set deduplication ids (run+org, alert id), so content-based
// deduplication stays off.
func newWorkQueue(stack awscdk.Stack, id string, workerTimeoutSeconds float64) (awssqs.Queue, awssqs.Queue) {
	dlq := awssqs.NewQueue(stack, jsii.String(id+"DLQ"), &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		Encryption:                awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:                jsii.Bool(true),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(14)),
	})
	q := awssqs.NewQueue(stack, jsii.String(id+"Queue"), &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		Encryption:                awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:                jsii.Bool(true),
		VisibilityTimeout:         awscdk.Duration_Seconds(jsii.Number(visibilityFactor * workerTimeoutSeconds)),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:           &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(maxReceiveCount)},
	})
	return q, dlq
}

// newStandardDLQ declares a standard queue that collects failed deliveries.
func newStandardDLQ(stack awscdk.Stack, id, why string) awssqs.Queue {
	q := awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(q, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"), Reason: jsii.String(why),
	}}, jsii.Bool(false))
	return q
}

func functionID(name string) string {
	ids := map[string]string{FnAPI: "Api", FnWebhook: "Webhook", FnFanout: "Fanout", FnSyncWorker: "SyncWorker", FnTicketWorker: "TicketWorker"}
	return ids[name]
}

// newFunction declares one Go function from <assetDir>/<name>.zip with its
// own role (no managed policies: logging is granted on its own log group).
func newFunction(stack awscdk.Stack, name, assetDir string, env map[string]*string, opts func(*awslambda.FunctionProps)) awslambda.Function {
	id := functionID(name)
	settings := functionSettings[name]
	logs := awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("psabridge " + name + " function"),
	})
	logs.GrantWrite(role)
	props := &awslambda.FunctionProps{
		Description:   jsii.String("psabridge " + name),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, name+".zip")), nil),
		MemorySize:    jsii.Number(settings.MemoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(settings.TimeoutSeconds)),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Environment:   &env,
		// The functions never call themselves; Lambda stops a loop if a bug does.
		RecursiveLoop: awslambda.RecursiveLoop_TERMINATE,
	}
	if opts != nil {
		opts(props)
	}
	return awslambda.NewFunction(stack, jsii.String(id), props)
}

func secretArn(stack awscdk.Stack, name string) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(SecretPrefix + name),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// accessLogs implements awsapigatewayv2.IAccessLogSettings.
type accessLogs struct {
	dest   awsapigatewayv2.IAccessLogDestination
	format awsapigateway.AccessLogFormat
}

func (a *accessLogs) Destination() awsapigatewayv2.IAccessLogDestination { return a.dest }
func (a *accessLogs) Format() awsapigateway.AccessLogFormat              { return a.format }

// accessLogFormat is one JSON line per request. The authorizer error and
// integration error fields explain 401s and 5xx without function logs.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",` +
	`"method":"$context.httpMethod","routeKey":"$context.routeKey","path":"$context.path","status":"$context.status",` +
	`"protocol":"$context.protocol","responseLength":"$context.responseLength","latencyMs":"$context.responseLatency",` +
	`"integrationLatencyMs":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage",` +
	`"authorizerError":"$context.authorizer.error","userArn":"$context.identity.userArn"}`

// API throttling for the whole stage: well above one platform's usage
// batches and admin traffic, low enough to cap a runaway client's cost.
const (
	apiRateLimit  = 200
	apiBurstLimit = 400
)

func newHTTPAPI(stack awscdk.Stack, cfg Config, api, webhook awslambda.Function) awsapigatewayv2.HttpApi {
	httpAPI := awsapigatewayv2.NewHttpApi(stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("psabridge REST API, platform routes and alert webhook"),
		CreateDefaultStage: jsii.Bool(false),
	})
	accessLogGroup := awslogs.NewLogGroup(stack, jsii.String("HttpApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	awsapigatewayv2.NewHttpStage(stack, jsii.String("HttpApiStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    httpAPI,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(apiRateLimit),
			BurstLimit: jsii.Number(apiBurstLimit),
		},
		AccessLogSettings: &accessLogs{
			dest:   awsapigatewayv2.NewLogGroupLogDestination(accessLogGroup),
			format: awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
		},
	})

	v2 := &awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()}
	apiIntegration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiIntegration"), api, v2)
	webhookIntegration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("WebhookIntegration"), webhook, v2)
	jwt := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("AdminJwt"), jsii.String(cfg.JWTIssuer),
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings(cfg.JWTAudience)})
	none := awsapigatewayv2.NewHttpNoneAuthorizer()

	route := func(path string, methods []awsapigatewayv2.HttpMethod, integ awsapigatewayv2.HttpRouteIntegration, auth awsapigatewayv2.IHttpRouteAuthorizer, noAuthReason string) {
		routes := httpAPI.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path: jsii.String(path), Methods: &methods, Integration: integ, Authorizer: auth,
		})
		if noAuthReason == "" {
			return
		}
		for _, r := range *routes {
			cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
				Id: jsii.String("AwsSolutions-APIG4"), Reason: jsii.String(noAuthReason),
			}}, jsii.Bool(true))
		}
	}
	anyMethod := []awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY}
	post := []awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST}
	const signed = "Platform-signed route: the handler verifies the X-Psabridge-Signature HMAC over the raw body with the tenant's signing secret (±300 s), so API Gateway cannot authorize it."
	route("/v1/{proxy+}", anyMethod, apiIntegration, jwt, "")
	route("/v1/platform/{proxy+}", anyMethod, apiIntegration, awsapigatewayv2authorizers.NewHttpIamAuthorizer(), "")
	route("/v1/usage", post, apiIntegration, none, signed)
	route("/v1/orgs/{org}", []awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_PUT}, apiIntegration, none, signed)
	route("/v1/webhooks/alerts", post, webhookIntegration, none, signed)
	route("/v1/openapi.json", []awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET}, apiIntegration, none,
		"The OpenAPI document is public by design: it describes the API and holds no tenant data.")
	return httpAPI
}

// newSchedule declares the hourly EventBridge Scheduler tick. It is the
// L1 resource with its own role because the L2 Lambda target also grants
// invoke on every version (<arn>:*), which Scheduler never needs.
func newSchedule(stack awscdk.Stack, fanout awslambda.Function, dlq awssqs.Queue) {
	role := awsiam.NewRole(stack, jsii.String("ScheduleRole"), &awsiam.RoleProps{
		// Confused-deputy guard: only schedules of this account may assume it.
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("psabridge hourly sync tick: invoke fanout, dead-letter to its queue"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &[]*string{fanout.FunctionArn()},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"), Resources: &[]*string{dlq.QueueArn()},
	}))
	awsscheduler.NewCfnSchedule(stack, jsii.String("SyncTick"), &awsscheduler.CfnScheduleProps{
		Description:                jsii.String("Hourly billing sync tick: start the daily runs of the tenants whose run time came; one sync message per mapped org."),
		ScheduleExpression:         jsii.String(FanoutSchedule),
		ScheduleExpressionTimezone: jsii.String(ScheduleTimeZone),
		FlexibleTimeWindow:         &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:                      jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     fanout.FunctionArn(),
			RoleArn: role.RoleArn(),
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(scheduleRetryAttempts),
				MaximumEventAgeInSeconds: jsii.Number(scheduleMaxEventAgeSeconds),
			},
			DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
			// The scheduled time travels with every delivery, retries included,
			// so the fan-out starts the tenants of the tick's own hour.
			Input: jsii.String(fanoutevent.ScheduleInput),
		},
	})
}

// Scheduler retries a failed invoke (throttled, service error) this often
// within this age before the event goes to the schedule's DLQ.
const (
	scheduleRetryAttempts      = 3
	scheduleMaxEventAgeSeconds = 2 * 60 * 60
)

func newAlarmTopic(stack awscdk.Stack, email string) awssns.Topic {
	t := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("psabridge alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(t, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SNS2"),
		Reason: jsii.String("The topic carries only CloudWatch alarm state changes (no tenant data). CloudWatch cannot publish to a topic encrypted " +
			"with the AWS managed aws/sns key, and a customer managed key adds cost and a key policy to get wrong for no confidentiality gain."),
	}}, jsii.Bool(false))
	if email != "" {
		t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return t
}

func alarm(stack awscdk.Stack, topic awssns.Topic, id, description string, metric awscloudwatch.IMetric, threshold float64) {
	a := awscloudwatch.NewAlarm(stack, jsii.String(id+"Alarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
}

// checkConfig reports the context values a deployment cannot do without.
func checkConfig(cfg Config) error {
	if cfg.JWTIssuer == "" || cfg.JWTAudience == "" {
		return fmt.Errorf("set the JWT authorizer's issuer and audience: cdk synth|deploy -c jwtIssuer=https://… -c jwtAudience=… (see docs/DEPLOY.md)")
	}
	return nil
}
