package ticketing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/iamcalls/iamcallstest"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/autotask"
	"github.com/psabridge/psabridge/shared/psa/connectwise"
	"github.com/psabridge/psabridge/shared/psa/halopsa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/ticketing"
)

// TestMain records the AWS calls of the webhook and the ticket worker
// (iamcallstest: infra/testdata/aws-calls-ticketing.json; after a change in
// them, rerun the package with -update-aws-calls).
func TestMain(m *testing.M) { iamcallstest.Main(m, "ticketing") }

// The fixture's tenant and time zone (the sample events in
// events/ticketworker use the same tenant).
const (
	tenant   = "demo-msp"
	timeZone = "America/Chicago"
)

// The fixture's Autotask API user.
const (
	atUser   = "api@demo-msp.example"
	atSecret = "at-s3cret"
	atCode   = "TRACKING-DEMO"
)

// The fixture's ConnectWise login and lookups. Ids are far from 1, 2, 3, and
// the rule's picks are never the sandbox's defaults, so a field the client
// drops shows up as a wrong value.
const (
	cwCompany  = "demo-msp"
	cwPublic   = "cw-pub"
	cwPrivate  = "cw-priv"
	cwClientID = "5d0e9a31-0000-4000-8000-00000000c11d"

	cwBoardHelpDesk = 60 // the default board
	cwBoardAlerts   = 61 // the rule's board
	cwStatusHDNew   = 601
	cwStatusHDDone  = 602
	cwStatusNew     = 611 // the alerts board's default status
	cwStatusTriage  = 613 // the rule's status
	cwStatusClosed  = 612 // the rule's complete status (a closed status of the board)
	cwPrioHigh      = 804 // the rule's priority
	cwPrioNormal    = 805 // the default priority
	cwSourceEmail   = 902 // the default source
	cwSourceRMM     = 903 // the rule's source
)

// The fixture's HaloPSA API application and lookups, non-default ids as
// for ConnectWise.
const (
	haloClientID     = "halo-app-demo-msp"
	haloClientSecret = "halo-s3cret"

	haloTeamDesk     = 71 // the default team
	haloTeamAlerts   = 72 // the rule's team (queue)
	haloTypeIncident = 81 // the default ticket type
	haloTypeAlert    = 82 // the rule's ticket type
	haloPrioHigh     = 91 // the rule's priority
	haloPrioNormal   = 93 // the default priority
	haloStatusNew    = 4101
	haloStatusTriage = 4102 // the rule's status
	haloStatusClosed = 4109 // the rule's complete status
)

// sandboxPSA is one PSA dialect as the tests drive it: the sandbox instance
// with companies 1001…, the integration and credentials pointing at it, a
// client dialer, the tenant's ticket rule in that PSA's ids, and a
// provider-neutral view of the tickets and notes the sandbox holds.
type sandboxPSA struct {
	name     string
	provider psa.Provider
	// rule is the ticket rule for backup_failed and user_lockout (the
	// fixture sets Type).
	rule alerting.Rule
	// lane is the rule's queue (Autotask), board (ConnectWise) or team
	// (HaloPSA).
	lane        int64
	seed        func(sb *sandbox.Server, orgs int)
	connect     func(srvURL string) (integration.Integration, psa.Credentials)
	dial        func(c psa.Credentials, ep psa.Endpoints, o psahttp.Options) (psa.Client, error)
	ticketsMade func(sb *sandbox.Server) int
	ticket      func(sb *sandbox.Server, id int64) (ticketView, bool)
	notes       func(sb *sandbox.Server) []noteView
}

// ticketView is a sandbox ticket in provider-neutral terms.
type ticketView struct {
	ID, CompanyID                   int64
	Title, Description, ExternalKey string
	StatusID, PriorityID, SourceID  int64
	// LaneID is the Autotask queue, the ConnectWise board or the HaloPSA
	// team; IssueTypeID the HaloPSA ticket type (0 for the others, whose
	// rules here set none).
	LaneID      int64
	IssueTypeID int64
	Due         time.Time
	// Closed is the ConnectWise and HaloPSA closed flag; for Autotask,
	// whether the status is the rule's complete status.
	Closed bool
}

// noteView is a sandbox ticket note in provider-neutral terms.
type noteView struct {
	TicketID int64
	Text     string
}

// sandboxPSAs are the PSAs every ticketing test runs against.
var sandboxPSAs = []sandboxPSA{autotaskPSA(), connectwisePSA(), haloPSA()}

// forEachPSA runs test as a subtest per PSA.
func forEachPSA(t *testing.T, test func(t *testing.T, p sandboxPSA)) {
	t.Helper()
	for _, p := range sandboxPSAs {
		t.Run(p.name, func(t *testing.T) { test(t, p) })
	}
}

func autotaskPSA() sandboxPSA {
	rule := alerting.Rule{Enabled: true, PriorityID: 4, StatusID: 1, SourceID: 8, QueueID: 8, DueDays: 2,
		TitlePrefix: "[RMM] ", MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: 5}
	return sandboxPSA{
		name: "Autotask", provider: psa.Autotask, rule: rule, lane: rule.QueueID,
		seed: func(sb *sandbox.Server, orgs int) {
			seed := sandbox.AutotaskSeed{Username: atUser, Secret: atSecret, IntegrationCode: atCode}
			for i := 1; i <= orgs; i++ {
				seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{ID: companyOf(i), Name: fmt.Sprintf("Client %d", i), Type: 1})
			}
			sb.Autotask.AddInstance(seed)
		},
		connect: func(srvURL string) (integration.Integration, psa.Credentials) {
			return integration.Integration{Provider: psa.Autotask, Username: atUser, IntegrationCode: atCode,
					Endpoints: psa.Endpoints{AutotaskZoneURL: srvURL + "/autotask/atservicesrest/"}},
				psa.Credentials{Provider: psa.Autotask, Username: atUser, Secret: atSecret, IntegrationCode: atCode}
		},
		dial: func(c psa.Credentials, ep psa.Endpoints, o psahttp.Options) (psa.Client, error) {
			return autotask.New(autotask.Config{Credentials: c, Endpoints: ep, Options: o})
		},
		ticketsMade: func(sb *sandbox.Server) int { return sb.Autotask.TicketsCreated(atUser) },
		ticket: func(sb *sandbox.Server, id int64) (ticketView, bool) {
			t, ok := sb.Autotask.Ticket(atUser, id)
			due, _ := time.Parse(time.RFC3339, t.DueDateTime)
			return ticketView{ID: t.ID, CompanyID: t.CompanyID, Title: t.Title, Description: t.Description, ExternalKey: t.ExternalID,
				StatusID: t.Status, PriorityID: t.Priority, SourceID: t.Source, LaneID: t.QueueID, Due: due, Closed: t.Status == rule.CompleteStatusID}, ok
		},
		notes: func(sb *sandbox.Server) []noteView {
			var out []noteView
			for _, n := range sb.Autotask.Notes(atUser) {
				out = append(out, noteView{TicketID: n.TicketID, Text: n.Title + "\n" + n.Description})
			}
			return out
		},
	}
}

func connectwisePSA() sandboxPSA {
	rule := alerting.Rule{Enabled: true, PriorityID: cwPrioHigh, StatusID: cwStatusTriage, SourceID: cwSourceRMM, BoardID: cwBoardAlerts, DueDays: 2,
		TitlePrefix: "[RMM] ", MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: cwStatusClosed}
	return sandboxPSA{
		name: "ConnectWise", provider: psa.ConnectWise, rule: rule, lane: rule.BoardID,
		seed: func(sb *sandbox.Server, orgs int) {
			seed := sandbox.ConnectWiseSeed{CompanyID: cwCompany, CompanyName: "Demo MSP", PublicKey: cwPublic, PrivateKey: cwPrivate, ClientID: cwClientID,
				Boards: []sandbox.CWOption{{ID: cwBoardHelpDesk, Name: "Help Desk", Default: true}, {ID: cwBoardAlerts, Name: "Alerts"}},
				Statuses: []sandbox.CWBoardItem{
					{ID: cwStatusHDNew, BoardID: cwBoardHelpDesk, Name: "New", Default: true},
					{ID: cwStatusHDDone, BoardID: cwBoardHelpDesk, Name: "Closed", Closed: true},
					{ID: cwStatusNew, BoardID: cwBoardAlerts, Name: "New", Default: true},
					{ID: cwStatusTriage, BoardID: cwBoardAlerts, Name: "Triage"},
					{ID: cwStatusClosed, BoardID: cwBoardAlerts, Name: "Closed", Closed: true},
				},
				Priorities: []sandbox.CWOption{{ID: cwPrioHigh, Name: "Priority 1 - Critical"}, {ID: cwPrioNormal, Name: "Priority 3 - Normal", Default: true}},
				Sources:    []sandbox.CWOption{{ID: cwSourceEmail, Name: "Email", Default: true}, {ID: cwSourceRMM, Name: "RMM"}},
			}
			for i := 1; i <= orgs; i++ {
				seed.Companies = append(seed.Companies, sandbox.CWCompany{ID: companyOf(i), Identifier: fmt.Sprintf("Client%d", i), Name: fmt.Sprintf("Client %d", i)})
			}
			sb.ConnectWise.AddInstance(seed)
		},
		connect: func(srvURL string) (integration.Integration, psa.Credentials) {
			const site = "na.myconnectwise.net"
			return integration.Integration{Provider: psa.ConnectWise, Site: site, CompanyID: cwCompany, ClientID: cwClientID,
					Endpoints: psa.Endpoints{ConnectWiseLoginURL: srvURL + "/connectwise/"}},
				psa.Credentials{Provider: psa.ConnectWise, Site: site, CompanyID: cwCompany, PublicKey: cwPublic, PrivateKey: cwPrivate, ClientID: cwClientID}
		},
		dial: func(c psa.Credentials, ep psa.Endpoints, o psahttp.Options) (psa.Client, error) {
			return connectwise.New(connectwise.Config{Credentials: c, Endpoints: ep, Options: o})
		},
		ticketsMade: func(sb *sandbox.Server) int { return len(sb.ConnectWise.Tickets(cwCompany)) },
		ticket: func(sb *sandbox.Server, id int64) (ticketView, bool) {
			for _, t := range sb.ConnectWise.Tickets(cwCompany) {
				if t.ID == id {
					return ticketView{ID: t.ID, CompanyID: t.CompanyID, Title: t.Summary, Description: t.InitialDescription, ExternalKey: t.ExternalXRef,
						StatusID: t.StatusID, PriorityID: t.PriorityID, SourceID: t.SourceID, LaneID: t.BoardID, Due: t.RequiredDate, Closed: t.Closed}, true
				}
			}
			return ticketView{}, false
		},
		notes: func(sb *sandbox.Server) []noteView {
			var out []noteView
			for _, n := range sb.ConnectWise.Notes(cwCompany) {
				out = append(out, noteView{TicketID: n.TicketID, Text: n.Text})
			}
			return out
		},
	}
}

func haloPSA() sandboxPSA {
	rule := alerting.Rule{Enabled: true, PriorityID: haloPrioHigh, StatusID: haloStatusTriage, QueueID: haloTeamAlerts, IssueTypeID: haloTypeAlert,
		DueDays: 2, TitlePrefix: "[RMM] ", MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: haloStatusClosed}
	teams := []sandbox.HaloOption{{ID: haloTeamDesk, Name: "Service Desk", Default: true}, {ID: haloTeamAlerts, Name: "Alerts"}}
	return sandboxPSA{
		name: "HaloPSA", provider: psa.HaloPSA, rule: rule, lane: rule.QueueID,
		seed: func(sb *sandbox.Server, orgs int) {
			seed := sandbox.HaloPSASeed{ClientID: haloClientID, ClientSecret: haloClientSecret, Teams: teams,
				TicketTypes: []sandbox.HaloOption{{ID: haloTypeIncident, Name: "Incident", Default: true}, {ID: haloTypeAlert, Name: "Alert"}},
				Priorities:  []sandbox.HaloOption{{ID: haloPrioHigh, Name: "Critical"}, {ID: haloPrioNormal, Name: "Normal", Default: true}},
				TopLevels:   []sandbox.HaloOption{{ID: 1, Name: "Managed"}}}
			for i := 1; i <= orgs; i++ {
				seed.Clients = append(seed.Clients, sandbox.HaloClient{ID: companyOf(i), Name: fmt.Sprintf("Client %d", i), TopLevelID: 1})
			}
			sb.HaloPSA.AddInstance(seed)
		},
		connect: func(srvURL string) (integration.Integration, psa.Credentials) {
			const host = "demo-msp.halopsa.com"
			return integration.Integration{Provider: psa.HaloPSA, Host: host, ClientID: haloClientID,
					Endpoints: psa.Endpoints{HaloPSAAuthURL: srvURL + "/halopsa/auth/", HaloPSAAPIURL: srvURL + "/halopsa/api/"}},
				psa.Credentials{Provider: psa.HaloPSA, Host: host, ClientID: haloClientID, ClientSecret: haloClientSecret}
		},
		dial: func(c psa.Credentials, ep psa.Endpoints, o psahttp.Options) (psa.Client, error) {
			return halopsa.New(halopsa.Config{Credentials: c, Endpoints: ep, Options: o})
		},
		ticketsMade: func(sb *sandbox.Server) int { return sb.HaloPSA.TicketsCreated(haloClientID) },
		ticket: func(sb *sandbox.Server, id int64) (ticketView, bool) {
			t, ok := sb.HaloPSA.Ticket(haloClientID, id)
			var lane int64
			for _, o := range teams {
				if o.Name == t.Team {
					lane = o.ID
				}
			}
			return ticketView{ID: t.ID, CompanyID: t.ClientID, Title: t.Summary, Description: t.Details, ExternalKey: t.Refs["third_party_id_string"],
				StatusID: t.StatusID, PriorityID: t.PriorityID, LaneID: lane, IssueTypeID: t.TicketTypeID, Due: t.DeadlineDate, Closed: t.Closed}, ok
		},
		notes: func(sb *sandbox.Server) []noteView {
			var out []noteView
			for _, a := range sb.HaloPSA.Actions(haloClientID) {
				out = append(out, noteView{TicketID: a.TicketID, Text: a.Note})
			}
			return out
		},
	}
}

// fixture is a tenant on DynamoDB Local with a PSA sandbox, the
// integration (ticketing on), the PSA's rule for backup_failed and
// user_lockout, mapped orgs org-1…org-N on companies 1001…, and a worker.
type fixture struct {
	psa    sandboxPSA
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

func mustFixture(tb testing.TB, p sandboxPSA, orgs int) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{psa: p, sb: sandbox.New(), store: dynamotest.NewStore(tb, nil), now: time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC)}
	p.seed(f.sb, orgs)
	srv := httptest.NewServer(f.sb)
	tb.Cleanup(srv.Close)
	in, creds := p.connect(srv.URL)
	in.TicketingEnabled = true
	if _, err := f.store.PutIntegration(ctx, tenant, in, 0); err != nil {
		tb.Fatal(err)
	}
	set := billing.DefaultSettings()
	set.TimeZone = timeZone
	if _, err := f.store.PutBillingSettings(ctx, tenant, set, 0); err != nil {
		tb.Fatal(err)
	}
	for _, t := range []alerting.Type{alerting.BackupFailed, alerting.UserLockout} {
		r := p.rule
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
	now := func() time.Time { return f.now }
	// The worker's own store: its AWS calls are the ticket worker's in
	// the record of AWS calls (TestMain).
	ws := dynamotest.As(f.store, "ticketworker")
	conn := &integration.Connector{Store: ws, Credentials: staticCredentials{creds},
		Dial: func(_ string, c psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			return p.dial(c, ep, psahttp.Options{HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 10*time.Second),
				Retry: psahttp.Retrier{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}, Now: now})
		}}
	f.worker = &ticketing.Worker{Store: ws, PSA: conn, LinkBase: "https://portal.example.com/alerts", Retry: psahttp.Retrier{BaseDelay: time.Millisecond},
		Now: now, Logger: slog.New(slog.DiscardHandler)}
	return f
}

// ticketsMade is how many tickets the worker created in the PSA.
func (f *fixture) ticketsMade() int { return f.psa.ticketsMade(f.sb) }

// mustTicket returns a ticket of the sandbox.
func (f *fixture) mustTicket(tb testing.TB, id int64) ticketView {
	tb.Helper()
	t, ok := f.psa.ticket(f.sb, id)
	if !ok {
		tb.Fatalf("ticket %d: not in the %s sandbox", id, f.psa.name)
	}
	return t
}

// due is when tickets opened now under the fixture's rule fall due.
func (f *fixture) due(tb testing.TB) time.Time {
	tb.Helper()
	return alerting.DueDate(f.now, f.psa.rule.DueDays, mustLoc(tb, timeZone))
}

// checkOpened fails unless t is the ticket the rule opens for a on
// org-<org>'s company: company, title (prefix + alert title within the
// PSA's limit), external key, status, priority, source, queue or board, due
// date and the link back to the platform.
func (f *fixture) checkOpened(tb testing.TB, t ticketView, a alerting.Alert, org int) {
	tb.Helper()
	r := f.psa.rule
	want := ticketView{ID: t.ID, CompanyID: companyOf(org), Title: alerting.Title(r.TitlePrefix, a, f.psa.provider.TitleLimit()),
		Description: t.Description, ExternalKey: a.ExternalKey(), StatusID: r.StatusID, PriorityID: r.PriorityID, SourceID: r.SourceID,
		LaneID: f.psa.lane, IssueTypeID: r.IssueTypeID, Due: t.Due, Closed: false}
	if due := f.due(tb); !t.Due.Equal(due) {
		tb.Errorf("ticket %d: got due %s, want %s", t.ID, t.Due, due.UTC())
	}
	if t != want {
		tb.Errorf("ticket %d:\ngot  %+v\nwant %+v", t.ID, t, want)
	}
	if link := alerting.Link("https://portal.example.com/alerts", a); !strings.Contains(t.Description, link) {
		tb.Errorf("ticket %d: description %q lacks the link %s", t.ID, t.Description, link)
	}
}

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
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
	if _, _, err := f.store.PutAlert(context.Background(), tenant, alerting.NewRecord(a, f.now)); err != nil {
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
