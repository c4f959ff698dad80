package main

import (
	"fmt"
	"testing"

	"github.com/psabridge/psabridge/shared/metrics"
)

// The stack's sizing and alarm choices, asserted against what they are for
// (AWS limits, the product's promises), not against the values stack.go
// happens to hold: a change that breaks an intent fails here.
const (
	// API Gateway HTTP API integrations time out at 30 s: a function that
	// runs longer is answered 503 by the gateway while it goes on working.
	httpIntegrationTimeoutSeconds = 30
	// The webhook does one conditional put, a cached secret read and one
	// SQS send; the platform retries a delivery that takes longer than 10 s.
	webhookMaxTimeoutSeconds = 10
	// Lambda's own bounds.
	lambdaMaxTimeoutSeconds = 900
	lambdaMinMemoryMB       = 128
	// Below 256 MB Lambda's CPU share makes TLS handshakes to the PSAs and
	// the AWS endpoints slow; the functions are I/O-bound, so more than
	// 1 GB only costs.
	minMemoryMB = 256
	maxMemoryMB = 1024
	// SQS: a visibility timeout of at most 12 hours; AWS asks for at least
	// six times the function timeout on a Lambda event source, and at least
	// five receives before a DLQ so throttled polls never dead-letter a good
	// message.
	sqsMaxVisibilitySeconds  = 12 * 60 * 60
	esmVisibilityFactor      = 6
	minMaxReceiveCount       = 5
	esmMinMaximumConcurrency = 2 // the event source mapping's lower bound
	// Each concurrent sync worker works one tenant's PSA; past 50 the
	// account's DynamoDB and Secrets Manager request rates, not the PSAs,
	// become the limit. Tickets are rarer than sync messages.
	maxSyncConcurrency = 50
	// An alert must be a ticket within half an hour; a sync message may wait
	// out one budget window (an hour) and its retries, but not half a day.
	maxTicketAgeAlarmSeconds = 30 * 60
	maxSyncAgeAlarmSeconds   = 4 * 60 * 60
	// Every dead-letter message, function error and throttle is a page.
	pageOnFirst = 1
	// A degraded call now and then is a blip; one every few runs an hour is
	// a dependency or a missing grant failing every time.
	maxDegradedPerHour = 10
	// A handful of 5xx in five minutes is an outage; one is not.
	maxHTTP5xxAlarm = 10
)

func TestSizingIntent(t *testing.T) {
	fns := functionByName(t)
	timeout := func(id string) float64 { return fns[id].Properties["Timeout"].(float64) }
	for _, fn := range Functions {
		id := functionID(fn)
		p := fns[id].Properties
		if m := p["MemorySize"].(float64); m < lambdaMinMemoryMB || m < minMemoryMB || m > maxMemoryMB {
			t.Errorf("%s memory %v MB: want %d–%d MB", id, m, minMemoryMB, maxMemoryMB)
		}
		if to := timeout(id); to <= 0 || to > lambdaMaxTimeoutSeconds {
			t.Errorf("%s timeout %v s: want within Lambda's 1–%d s", id, to, lambdaMaxTimeoutSeconds)
		}
	}
	if to := timeout("Api"); to >= httpIntegrationTimeoutSeconds {
		t.Errorf("Api timeout %v s: want below the HTTP API's %d s integration timeout", to, httpIntegrationTimeoutSeconds)
	}
	if to := timeout("Webhook"); to > webhookMaxTimeoutSeconds {
		t.Errorf("Webhook timeout %v s: want at most %d s", to, webhookMaxTimeoutSeconds)
	}
	ids, queues := ofType("AWS::SQS::Queue")
	byName := map[string]map[string]any{}
	for i, id := range ids {
		byName[name(id)] = queues[i].Properties
	}
	for _, q := range []struct{ queue, worker string }{{"SyncQueue", "SyncWorker"}, {"TicketQueue", "TicketWorker"}} {
		p := byName[q.queue]
		vt := p["VisibilityTimeout"].(float64)
		if vt < esmVisibilityFactor*timeout(q.worker) || vt > sqsMaxVisibilitySeconds {
			t.Errorf("%s visibility %v s: want ≥ %d × %s timeout (%v s) and ≤ %d s", q.queue, vt, esmVisibilityFactor, q.worker, timeout(q.worker), sqsMaxVisibilitySeconds)
		}
		if n := p["RedrivePolicy"].(map[string]any)["maxReceiveCount"].(float64); n < minMaxReceiveCount {
			t.Errorf("%s maxReceiveCount %v: want at least %d", q.queue, n, minMaxReceiveCount)
		}
	}
	_, mappings := ofType("AWS::Lambda::EventSourceMapping")
	conc := map[string]float64{}
	for _, m := range mappings {
		sc, _ := m.Properties["ScalingConfig"].(map[string]any)
		c, _ := sc["MaximumConcurrency"].(float64)
		conc[render(m.Properties["FunctionName"])] = c
	}
	if c := conc["SyncWorker"]; c < esmMinMaximumConcurrency || c > maxSyncConcurrency {
		t.Errorf("SyncWorker MaximumConcurrency %v: want %d–%d", c, esmMinMaximumConcurrency, maxSyncConcurrency)
	}
	if c := conc["TicketWorker"]; c < esmMinMaximumConcurrency || c > conc["SyncWorker"] {
		t.Errorf("TicketWorker MaximumConcurrency %v: want %d up to the sync worker's %v", c, esmMinMaximumConcurrency, conc["SyncWorker"])
	}
}

func TestAlarmIntent(t *testing.T) {
	ids, qs := ofType("AWS::SQS::Queue")
	visibility := map[string]float64{}
	for i, id := range ids {
		visibility[name(id)], _ = qs[i].Properties["VisibilityTimeout"].(float64)
	}
	_, alarms := ofType("AWS::CloudWatch::Alarm")
	seen := 0
	for _, a := range alarms {
		p := a.Properties
		key := fmt.Sprintf("%v/%v", p["Namespace"], p["MetricName"])
		dim := ""
		for _, d := range list(p["Dimensions"]) {
			dim = render(d.(map[string]any)["Value"])
		}
		th := p["Threshold"].(float64)
		if p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["TreatMissingData"] != "notBreaching" {
			t.Errorf("%s %s: got %v, missing data %v; want ≥ threshold, missing data not breaching", key, dim, p["ComparisonOperator"], p["TreatMissingData"])
		}
		check := func(ok bool, want string) {
			seen++
			if !ok {
				t.Errorf("%s %s: threshold %v, want %s", key, dim, th, want)
			}
		}
		switch key {
		case "AWS/SQS/ApproximateNumberOfMessagesVisible", "AWS/Lambda/Errors", "AWS/Lambda/Throttles":
			check(th == pageOnFirst, "a page on the first one")
		case "AWS/SQS/ApproximateAgeOfOldestMessage":
			switch dim {
			case "SyncQueue.QueueName":
				check(th > visibility["SyncQueue"] && th <= maxSyncAgeAlarmSeconds, fmt.Sprintf("above one visibility timeout (%v s; a single retry is no page) and at most %d s", visibility["SyncQueue"], maxSyncAgeAlarmSeconds))
			case "TicketQueue.QueueName":
				check(th > visibility["TicketQueue"] && th <= maxTicketAgeAlarmSeconds, fmt.Sprintf("above one visibility timeout (%v s) and at most %d s", visibility["TicketQueue"], maxTicketAgeAlarmSeconds))
			default:
				t.Errorf("age alarm on %s: want only the work queues", dim)
			}
		case "AWS/ApiGateway/5xx":
			check(th > pageOnFirst && th <= maxHTTP5xxAlarm && p["Period"] == float64(300) && p["Statistic"] == "Sum", fmt.Sprintf("a sum over 5 minutes, above one and at most %d", maxHTTP5xxAlarm))
		case MetricsNamespace + "/" + BudgetDeferralsMetric:
			check(th > pageOnFirst, "above one: a few deferrals are the budget working")
		case MetricsNamespace + "/" + metrics.Degraded:
			check(th > pageOnFirst && th <= maxDegradedPerHour && p["Period"] == float64(3600), fmt.Sprintf("an hourly sum above one and at most %d", maxDegradedPerHour))
		default:
			t.Errorf("alarm %s %s: no stated intent for its threshold", key, dim)
		}
	}
	if seen == 0 {
		t.Fatal("no alarms checked")
	}
}
