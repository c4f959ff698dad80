package lambdaruntime_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/fanoutevent"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/signature"
)

// The Autotask API user of the samples' tenant in the sandbox.
const (
	atUser   = "api@smoke.example"
	atSecret = "at-smoke-s3cret"
	atCode   = "TRACKING-SMOKE"
)

// initialUnits is every seeded line's quantity before a sync writes it.
const initialUnits = 1

// ticketRule is the tenant's rule for the alert types in ruledTypes (Autotask
// picklist ids the sandbox accepts).
var ticketRule = alerting.Rule{Enabled: true, PriorityID: 4, StatusID: 1, SourceID: 8, QueueID: 8, DueDays: 2,
	TitlePrefix: "[RMM] ", MinSeverity: alerting.Warning, CloseOnResolve: true, CompleteStatusID: 5}

// ruledTypes are the alert types with a ticket rule; the samples' other
// types are skipped by the ticket worker.
var ruledTypes = []alerting.Type{alerting.BackupFailed, alerting.UserLockout}

// demoOrg is one org the samples name, mapped to its own sandbox company,
// contract and users line.
type demoOrg struct {
	id                       string
	company, contract, line  int64
	hwm, nonBillable, target int64
}

// demoTenant is the one tenant every sample of the seeded functions names,
// seeded in DynamoDB (integration with ticketing on, billing settings, ticket
// rules, mappings, usage HWMs), Secrets Manager (PSA credentials, platform
// signing secret) and the Autotask sandbox, through the same stores and
// secret prefix as the binaries.
type demoTenant struct {
	name    string
	orgs    map[string]*demoOrg
	signing string
	store   *dynamo.Store
	sb      *sandbox.Server
}

// sampleRefs is what the samples of the seeded functions name: the tenant,
// its orgs, and the sync messages' runs and month.
type sampleRefs struct {
	tenants map[string]bool
	orgs    []string
	month   billing.Month
}

func (r *sampleRefs) add(tenant, org string) {
	r.tenants[tenant] = true
	if org != "" && !slices.Contains(r.orgs, org) {
		r.orgs = append(r.orgs, org)
	}
}

// MustSampleRefs reads events/{webhook,syncworker,ticketworker} and returns
// the tenant and orgs they name; it fails unless they name exactly one
// tenant and the sync messages one month.
func MustSampleRefs(tb testing.TB) sampleRefs {
	tb.Helper()
	refs := sampleRefs{tenants: map[string]bool{}}
	for _, fn := range []string{"webhook", "syncworker", "ticketworker"} {
		for _, raw := range MustSamples(tb, fn) {
			if fn == "webhook" {
				var ev events.APIGatewayV2HTTPRequest
				mustUnmarshal(tb, raw, &ev)
				var a alerting.Alert
				mustUnmarshal(tb, []byte(ev.Body), &a)
				refs.add(ev.Headers[strings.ToLower(signature.TenantHeader)], a.Org)
				continue
			}
			var ev events.SQSEvent
			mustUnmarshal(tb, raw, &ev)
			for _, rec := range ev.Records {
				var m struct {
					Tenant string         `json:"tenant"`
					Org    string         `json:"org"`
					Month  billing.Month  `json:"month"`
					Alert  alerting.Alert `json:"alert"`
				}
				mustUnmarshal(tb, []byte(rec.Body), &m)
				refs.add(m.Tenant, m.Org+m.Alert.Org)
				if m.Month != "" {
					if refs.month != "" && refs.month != m.Month {
						tb.Fatalf("events/%s: sync messages name months %s and %s", fn, refs.month, m.Month)
					}
					refs.month = m.Month
				}
			}
		}
	}
	if len(refs.tenants) != 1 || refs.tenants[""] {
		tb.Fatalf("the webhook and worker samples must name one tenant: got %v", refs.tenants)
	}
	if refs.month == "" {
		tb.Fatal("events/syncworker names no month")
	}
	slices.Sort(refs.orgs)
	return refs
}

// scheduledRunAt is the local run time (HH:MM in tz) at which the scheduled
// fan-out sample, re-dated like every sample, is the tenant's tick.
func (r sampleRefs) scheduledRunAt(tb testing.TB, tz string) string {
	tb.Helper()
	ev, err := fanoutevent.Decode(MustSamples(tb, "fanout")["scheduled.json"])
	if err != nil || ev.Tick == nil {
		tb.Fatalf("the scheduled sample is not a scheduled tick: %v", err)
	}
	loc, err := billing.LoadLocation(tz)
	if err != nil {
		tb.Fatal(err)
	}
	return ev.Tick.ScheduledTime.In(loc).Format("15:04")
}

func (r sampleRefs) tenant() string {
	for t := range r.tenants {
		return t
	}
	return ""
}

// MustSamples returns the sample events of a function by file name,
// re-dated to the test clock (samples.Load).
func MustSamples(tb testing.TB, function string) map[string][]byte {
	tb.Helper()
	all, err := samples.Load(function, clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, s := range all {
		out[s.Name] = s.JSON
	}
	return out
}

func mustUnmarshal(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%v in %.200s", err, b)
	}
}

// MustDemoTenant seeds the samples' tenant for the functions of fe, its
// PSA an Autotask instance of sb (served at sandboxURL).
func MustDemoTenant(tb testing.TB, fe FunctionEnv, refs sampleRefs, sb *sandbox.Server, sandboxURL string) *demoTenant {
	tb.Helper()
	c := ctx(tb)
	d := &demoTenant{name: refs.tenant(), orgs: map[string]*demoOrg{}, signing: "whsec_smoke_" + fe.Run, store: fe.Store, sb: sb}
	seed := sandbox.AutotaskSeed{Username: atUser, Secret: atSecret, IntegrationCode: atCode,
		Services: []sandbox.AutotaskService{{ID: 900, Name: "Seats", UnitPrice: 12, UnitCost: 3}}}
	for i, id := range refs.orgs {
		o := &demoOrg{id: id, company: int64(20001 + i), contract: int64(50001 + i), line: int64(70001 + i),
			hwm: int64(10 + 3*i), nonBillable: int64(i % 2)}
		o.target = billing.Quantity(o.hwm, o.nonBillable)
		d.orgs[id] = o
		seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{ID: o.company, Name: "Client " + id, Type: 1})
		seed.Contracts = append(seed.Contracts, sandbox.AutotaskContract{ID: o.contract, CompanyID: o.company, Name: "Seats " + id})
		seed.ContractServices = append(seed.ContractServices, sandbox.AutotaskContractService{ID: o.line, ContractID: o.contract,
			ServiceID: 900, UnitPrice: 12, UnitCost: 3, Units: initialUnits})
	}
	sb.Autotask.AddInstance(seed)

	now := clock.Now().UTC()
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("seed %s: %v", what, err)
		}
	}
	must("PSA credentials", fe.Secrets.PutPSACredentials(c, d.name,
		psa.Credentials{Provider: psa.Autotask, Username: atUser, Secret: atSecret, IntegrationCode: atCode}))
	must("signing secret", fe.Secrets.PutSigningSecrets(c, d.name,
		[]secrets.SigningSecret{{ID: "smoke", Value: d.signing, CreatedAt: now}}))
	_, err := fe.Store.PutIntegration(c, d.name, integration.Integration{Provider: psa.Autotask, Username: atUser, IntegrationCode: atCode,
		TicketingEnabled: true, CredentialsUpdatedAt: now, Endpoints: psa.Endpoints{AutotaskZoneURL: sandboxURL + "/autotask/atservicesrest/"}}, 0)
	must("integration", err)
	set := billing.DefaultSettings()
	set.RunAt = refs.scheduledRunAt(tb, set.TimeZone)
	_, err = fe.Store.PutBillingSettings(c, d.name, set, 0)
	must("billing settings", err)
	for _, typ := range ruledTypes {
		r := ticketRule
		r.Type = typ
		_, err := fe.Store.PutAlertRule(c, d.name, r, 0)
		must("rule "+string(typ), err)
	}
	loc, err := billing.LoadLocation(set.TimeZone)
	must("time zone", err)
	// Observed inside the samples' month, whenever the test runs.
	observedAt := refs.month.Start(loc).Add(36 * time.Hour)
	for _, o := range d.orgs {
		m := billing.Mapping{CompanyID: o.company, ContractID: o.contract, NonBillableUsers: o.nonBillable, State: billing.Mapped,
			Lines: []billing.LineMapping{{Product: billing.Users, LineID: o.line}}}
		_, err := fe.Store.PutMapping(c, d.name, o.id, m, 0)
		must("mapping "+o.id, err)
		_, err = fe.Store.RecordObservation(c, d.name, loc, billing.Observation{Org: o.id, Product: billing.Users, Value: o.hwm, ObservedAt: observedAt})
		must("usage "+o.id, err)
	}
	return d
}

// MustRun stores a run of the tenant, as the API or fan-out would before
// its orgs are queued.
func (d *demoTenant) MustRun(tb testing.TB, id string, dryRun bool, month billing.Month) {
	tb.Helper()
	kind := billing.Manual
	if dryRun {
		kind = billing.DryRun
	}
	r := billing.Run{ID: id, Kind: kind, DryRun: dryRun, Status: billing.Running, StartedAt: clock.Now().UTC(), Month: month}
	if _, _, err := d.store.CreateRun(ctx(tb), d.name, r, ""); err != nil {
		tb.Fatalf("create run %s: %v", id, err)
	}
}

// units is a seeded line's quantity in the sandbox now.
func (d *demoTenant) units(tb testing.TB, o *demoOrg) int64 {
	tb.Helper()
	n, ok := d.sb.Autotask.Units(atUser, o.line, clock.Now())
	if !ok {
		tb.Fatalf("%s: line %d is not in the sandbox", o.id, o.line)
	}
	return n
}

// org returns a seeded org named by a sample.
func (d *demoTenant) org(tb testing.TB, id string) *demoOrg {
	tb.Helper()
	o, ok := d.orgs[id]
	if !ok {
		tb.Fatalf("org %q is not seeded", id)
	}
	return o
}

// resign replaces the stale signature of a signed API Gateway sample with
// one made now with secret; unsigned samples are returned as they are.
func resign(tb testing.TB, event []byte, secret string) []byte {
	tb.Helper()
	b, err := samples.Resign(event, clock.Now(), secret)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// apiResponse decodes an API Gateway v2 response the shape check accepted.
func apiResponse(tb testing.TB, resp []byte) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	var r events.APIGatewayV2HTTPResponse
	mustUnmarshal(tb, resp, &r)
	return r
}

// batchFailures is the item identifiers of an SQS batch response.
func batchFailures(tb testing.TB, resp []byte) []string {
	tb.Helper()
	var r events.SQSEventResponse
	mustUnmarshal(tb, resp, &r)
	var out []string
	for _, f := range r.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// syncMessages returns the sync queue messages of an SQS sample event.
func syncMessages(tb testing.TB, event []byte) (events.SQSEvent, []map[string]any) {
	tb.Helper()
	var ev events.SQSEvent
	mustUnmarshal(tb, event, &ev)
	var out []map[string]any
	for _, r := range ev.Records {
		var m map[string]any
		mustUnmarshal(tb, []byte(r.Body), &m)
		out = append(out, m)
	}
	return ev, out
}

// liveVariant returns the sync sample as a live (not dry) run with id run:
// the samples are dry runs, which write nothing to the PSA.
func liveVariant(tb testing.TB, event []byte, run string) []byte {
	tb.Helper()
	ev, msgs := syncMessages(tb, event)
	for i, m := range msgs {
		m["run"], m["dryRun"] = run, false
		ev.Records[i].Body = string(mustMarshal(tb, m))
		ev.Records[i].MessageId = fmt.Sprintf("live-%d", i)
	}
	return mustMarshal(tb, ev)
}
