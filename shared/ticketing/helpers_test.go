package ticketing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/autotask"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/ticketing"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// The fixture's tenant and its Autotask API user (the sample events in
// events/ticketworker use the same tenant).
const (
	tenant   = "demo-msp"
	atUser   = "api@demo-msp.example"
	atSecret = "at-s3cret"
	atCode   = "TRACKING-DEMO"
	timeZone = "America/Chicago"
)

// The rule the fixture configures for backup_failed and user_lockout.
var testRule = alerting.Rule{Enabled: true, PriorityID: 4, StatusID: 1, SourceID: 8, QueueID: 8, DueDays: 2,
	TitlePrefix: "[RMM] ", MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: 5}

// fixture is a tenant on DynamoDB Local with an Autotask sandbox, the
// integration (ticketing on), rules, mapped orgs org-1…org-N on companies
// 1001…, and a worker.
type fixture struct {
	sb     *sandbox.Server
	store  *dynamo.Store
	worker *ticketing.Worker
	now    time.Time
}

// staticCredentials hands out the sandbox's credentials.
type staticCredentials struct{ c psa.Credentials }

func (s staticCredentials) PSACredentials(context.Context, string) (psa.Credentials, error) {
	return s.c, nil
}

func (s staticCredentials) FreshPSACredentials(context.Context, string) (psa.Credentials, error) {
	return s.c, nil
}

func companyOf(org int) int64 { return int64(1000 + org) }

func mustFixture(tb testing.TB, orgs int) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{sb: sandbox.New(), store: dynamotest.NewStore(tb, nil), now: time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC)}
	seed := sandbox.AutotaskSeed{Username: atUser, Secret: atSecret, IntegrationCode: atCode}
	for i := 1; i <= orgs; i++ {
		seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{ID: companyOf(i), Name: fmt.Sprintf("Client %d", i), Type: 1})
	}
	f.sb.Autotask.AddInstance(seed)
	srv := httptest.NewServer(f.sb)
	tb.Cleanup(srv.Close)
	in := integration.Integration{Provider: psa.Autotask, Username: atUser, IntegrationCode: atCode, TicketingEnabled: true,
		Endpoints: psa.Endpoints{AutotaskZoneURL: srv.URL + "/autotask/atservicesrest/"}}
	if _, err := f.store.PutIntegration(ctx, tenant, in, 0); err != nil {
		tb.Fatal(err)
	}
	set := billing.DefaultSettings()
	set.TimeZone = timeZone
	if _, err := f.store.PutBillingSettings(ctx, tenant, set, 0); err != nil {
		tb.Fatal(err)
	}
	for _, t := range []alerting.Type{alerting.BackupFailed, alerting.UserLockout} {
		r := testRule
		r.Type = t
		if _, err := f.store.PutAlertRule(ctx, tenant, r, 0); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 1; i <= orgs; i++ {
		m := billing.Mapping{CompanyID: companyOf(i), ContractID: 1, Lines: []billing.LineMapping{{Product: billing.Users, LineID: 1}}, State: billing.Mapped}
		if _, err := f.store.PutMapping(ctx, tenant, fmt.Sprintf("org-%d", i), m, 0); err != nil {
			tb.Fatal(err)
		}
	}
	creds := psa.Credentials{Provider: psa.Autotask, Username: atUser, Secret: atSecret, IntegrationCode: atCode}
	conn := &integration.Connector{Store: f.store, Credentials: staticCredentials{creds},
		Dial: func(_ string, c psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			return autotask.New(autotask.Config{Credentials: c, Endpoints: ep,
				HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 10*time.Second),
				Retry:      psahttp.Retrier{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
				Now:        func() time.Time { return f.now }})
		}}
	f.worker = &ticketing.Worker{Store: f.store, PSA: conn, LinkBase: "https://portal.example.com/alerts", Backoff: time.Millisecond,
		Now: func() time.Time { return f.now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return f
}

// alert returns an occurrence of alert id on org-<org>.
func alert(id string, org int, typ alerting.Type, sev alerting.Severity, st alerting.Status, at time.Time) alerting.Alert {
	return alerting.Alert{ID: id, Type: typ, Severity: sev, Org: fmt.Sprintf("org-%d", org), Status: st, OccurredAt: at,
		Title: "Backup job failed on srv-" + id, Details: json.RawMessage(`{"job":"nightly","host":"srv-1"}`)}
}

// mustEvent wraps messages into an SQS event as Lambda delivers it.
func mustEvent(tb testing.TB, msgs ...alerting.Message) events.SQSEvent {
	tb.Helper()
	var ev events.SQSEvent
	for i, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m-%d", i), Body: string(b),
			Attributes: map[string]string{"MessageGroupId": m.Alert.QueueGroup(m.Tenant)}, EventSource: "aws:sqs"})
	}
	return ev
}

// mustStore stores the occurrence as the webhook would.
func (f *fixture) mustStore(tb testing.TB, a alerting.Alert) alerting.Message {
	tb.Helper()
	if _, err := f.store.PutAlert(context.Background(), tenant, alerting.NewRecord(a, f.now)); err != nil {
		tb.Fatal(err)
	}
	return alerting.Message{Tenant: tenant, Alert: a}
}

// mustHandle stores the occurrences and runs them through the handler in
// one batch, failing on any batch item failure.
func (f *fixture) mustHandle(tb testing.TB, alerts ...alerting.Alert) {
	tb.Helper()
	var msgs []alerting.Message
	for _, a := range alerts {
		msgs = append(msgs, f.mustStore(tb, a))
	}
	resp, err := f.worker.Handle(context.Background(), mustEvent(tb, msgs...))
	if err != nil || len(resp.BatchItemFailures) > 0 {
		tb.Fatalf("got %v and failures %+v, want none", err, resp.BatchItemFailures)
	}
}

// mustRecord returns the stored record of an occurrence.
func (f *fixture) mustRecord(tb testing.TB, a alerting.Alert) alerting.Record {
	tb.Helper()
	r, err := f.store.Alert(context.Background(), tenant, a)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
