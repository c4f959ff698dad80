package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/billing"
)

// Demo seeds the demo tenants and exercises the product through the public
// HTTP API only: an operator provisions each tenant, the platform registers
// orgs and posts a month of usage (signed), and the tenant's admin (a dev
// token) connects the PSA, maps orgs, sets billing and alert rules, runs a
// sync and reads its report; then the platform posts an alert stream.
type Demo struct {
	Stack *Stack
	Plan  Plan
	// Out receives the progress lines and the report.
	Out io.Writer
	// RealPSA replaces the sandbox for a provider: the PUT /v1/integration
	// body to use instead (see RealPSAFromEnv). Such a tenant's orgs are
	// registered and get usage, but none is mapped (the demo never writes to
	// a real PSA's contracts) and it gets no demo alert.
	RealPSA map[string]map[string]any
}

// TenantResult is what the demo made of one tenant.
type TenantResult struct {
	ID       string
	Name     string
	Provider string
	// Sandbox is false when the tenant uses a real PSA.
	Sandbox bool
	// Kept is true when the tenant existed already (-persist).
	Kept bool
	// SigningSecret signs platform requests (usage, orgs, alerts).
	SigningSecret string
	// AdminToken is a billing-admin dev token of the tenant.
	AdminToken string
	// Observations is how many usage observations were accepted.
	Observations int
	Orgs, Mapped int
}

// Result is what the demo did.
type Result struct {
	Tenants []TenantResult
	Syncs   []SyncResult
	Alerts  []AlertResult
}

// Tenant returns the result of tenant id.
func (r Result) Tenant(id string) (TenantResult, bool) {
	for _, t := range r.Tenants {
		if t.ID == id {
			return t, true
		}
	}
	return TenantResult{}, false
}

// RealPSAFromEnv reads the environment variables that point a demo tenant at
// a real PSA instead of the sandbox (documented in docs/LOCAL.md):
//
//	PSABRIDGE_AUTOTASK_USERNAME, PSABRIDGE_AUTOTASK_SECRET, PSABRIDGE_AUTOTASK_INTEGRATION_CODE
//	PSABRIDGE_CONNECTWISE_SITE, PSABRIDGE_CONNECTWISE_COMPANY_ID, PSABRIDGE_CONNECTWISE_PUBLIC_KEY,
//	PSABRIDGE_CONNECTWISE_PRIVATE_KEY, PSABRIDGE_CONNECTWISE_CLIENT_ID
//	PSABRIDGE_HALOPSA_HOST, PSABRIDGE_HALOPSA_CLIENT_ID, PSABRIDGE_HALOPSA_CLIENT_SECRET
//	and, optional, PSABRIDGE_HALOPSA_TENANT
//
// A provider is switched only when all of its required variables are set;
// an error names the missing ones when only some are (an optional one alone
// counts as some).
func RealPSAFromEnv(getenv func(string) string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, p := range []struct {
		provider string
		fields   [][2]string // body field, variable: all required
		optional [][2]string
	}{
		{"autotask", [][2]string{{"username", "PSABRIDGE_AUTOTASK_USERNAME"}, {"secret", "PSABRIDGE_AUTOTASK_SECRET"},
			{"integrationCode", "PSABRIDGE_AUTOTASK_INTEGRATION_CODE"}}, nil},
		{"connectwise", [][2]string{{"site", "PSABRIDGE_CONNECTWISE_SITE"}, {"companyId", "PSABRIDGE_CONNECTWISE_COMPANY_ID"},
			{"publicKey", "PSABRIDGE_CONNECTWISE_PUBLIC_KEY"}, {"privateKey", "PSABRIDGE_CONNECTWISE_PRIVATE_KEY"},
			{"clientId", "PSABRIDGE_CONNECTWISE_CLIENT_ID"}}, nil},
		{"halopsa", [][2]string{{"host", "PSABRIDGE_HALOPSA_HOST"}, {"clientId", "PSABRIDGE_HALOPSA_CLIENT_ID"},
			{"clientSecret", "PSABRIDGE_HALOPSA_CLIENT_SECRET"}}, [][2]string{{"tenant", "PSABRIDGE_HALOPSA_TENANT"}}},
	} {
		body := map[string]any{"provider": p.provider}
		var missing []string
		for _, f := range p.fields {
			if v := getenv(f[1]); v != "" {
				body[f[0]] = v
			} else {
				missing = append(missing, f[1])
			}
		}
		set := len(p.fields) - len(missing)
		for _, f := range p.optional {
			if v := getenv(f[1]); v != "" {
				body[f[0]] = v
				set++
			}
		}
		switch {
		case len(missing) == 0:
			out[p.provider] = body
		case set == 0:
		default:
			return nil, fmt.Errorf("devstack: a real %s PSA needs %s too", p.provider, strings.Join(missing, ", "))
		}
	}
	return out, nil
}

func (d *Demo) printf(format string, args ...any) {
	if d.Out != nil {
		fmt.Fprintf(d.Out, format, args...)
	}
}

// Run runs the demo.
func (d *Demo) Run(ctx context.Context) (Result, error) {
	var res Result
	op, err := d.Stack.OperatorToken()
	if err != nil {
		return res, err
	}
	c := &Client{Base: d.Stack.APIURL, Now: d.Stack.now}
	// A tenant that cannot be seeded (say, a real PSA refusing the
	// credentials) is reported; the other tenant's demo goes on.
	var failed []error
	plans := map[string]PlanTenant{}
	for _, pt := range d.Plan.Tenants {
		tr, err := d.seedTenant(ctx, c, op, pt)
		if err != nil {
			failed = append(failed, fmt.Errorf("demo tenant %s: %w", pt.ID, err))
			d.printf("  %-17s failed: %v\n", pt.ID, err)
			if ctx.Err() != nil {
				return res, errors.Join(failed...)
			}
			continue
		}
		res.Tenants = append(res.Tenants, tr)
		plans[pt.ID] = pt
	}
	header := false
	for _, tr := range res.Tenants {
		if !tr.Sandbox || tr.Kept {
			continue
		}
		if !header {
			header = true
			d.printf("\nBilling sync (POST /v1/sync-runs; workers behind the FIFO sync queue):\n")
		}
		sr, err := d.runSync(ctx, c, tr)
		if err != nil {
			// Go on with the alert: one broken part should not hide the others.
			failed = append(failed, fmt.Errorf("demo sync of %s: %w", tr.ID, err))
			d.printf("  %-17s sync failed: %v\n", tr.ID, err)
			continue
		}
		res.Syncs = append(res.Syncs, sr)
	}
	if d.Out != nil && len(res.Syncs) > 0 {
		fmt.Fprintln(d.Out)
		PrintReport(d.Out, d.Stack, res.Syncs)
	}
	for _, tr := range res.Tenants {
		pt := plans[tr.ID]
		if pt.Alert == nil || !tr.Sandbox || tr.Kept {
			continue
		}
		d.printf("\nAlert ticketing (%s):\n", pt.ID)
		ar, err := d.runAlert(ctx, c, pt, tr)
		if err != nil {
			failed = append(failed, fmt.Errorf("demo alert of %s: %w", pt.ID, err))
			d.printf("  %-17s alert failed: %v\n", pt.ID, err)
			continue
		}
		res.Alerts = append(res.Alerts, ar)
		if d.Out != nil {
			PrintAlert(d.Out, d.Stack, pt, ar)
		}
	}
	return res, errors.Join(failed...)
}

// seedTenant provisions a tenant and seeds it.
func (d *Demo) seedTenant(ctx context.Context, c *Client, operator string, pt PlanTenant) (TenantResult, error) {
	tr := TenantResult{ID: pt.ID, Name: pt.Name, Provider: pt.Provider(), Sandbox: d.RealPSA[pt.Provider()] == nil}
	opAPI, err := c.API(operator)
	if err != nil {
		return tr, err
	}
	prov, err := opAPI.CreateTenantWithResponse(ctx, apiclient.TenantRequest{Id: pt.ID})
	var tenant *apiclient.Tenant
	if err == nil {
		tenant = prov.JSON201
	} else if StatusOf(err) == http.StatusConflict {
		// Kept from an earlier run (.local/ persistence): a new signing
		// secret is the only way to learn one again.
		tr.Kept = true
		var rot *apiclient.RotateSigningSecretResponse
		if rot, err = opAPI.RotateSigningSecretWithResponse(ctx, pt.ID); err == nil {
			tenant = rot.JSON200
		}
	}
	if err != nil {
		return tr, err
	}
	if tenant == nil {
		return tr, fmt.Errorf("provisioning %s: the API's answer has no signing secret", pt.ID)
	}
	tr.SigningSecret = tenant.SigningSecret.Value
	if tr.AdminToken, err = d.Stack.AdminToken(pt.ID); err != nil {
		return tr, err
	}
	if tr.Kept {
		d.printf("  %-17s kept from .local/: signing secret rotated (operator token); admin token issued\n", pt.ID)
	} else {
		d.printf("  %-17s provisioned (operator token); admin token issued\n", pt.ID)
	}

	api, err := c.API(tr.AdminToken)
	if err != nil {
		return tr, err
	}
	// overwrite runs an update; a kept tenant's resources have a stored
	// version, which the demo overwrites (If-Match: *) when it is refused.
	overwrite := func(update func(ifMatch *string) error) error {
		err := update(nil)
		if StatusOf(err) == http.StatusPreconditionFailed {
			star := "*"
			err = update(&star)
		}
		return err
	}

	// The admin connects the PSA; psabridge verifies the credentials
	// against it before storing anything.
	integ := map[string]any{}
	for k, v := range pt.Integration {
		integ[k] = v
	}
	if real := d.RealPSA[tr.Provider]; real != nil {
		integ = real
	} else {
		integ["endpoints"] = d.Stack.SandboxEndpoints()
	}
	integReq, err := requestBody[apiclient.IntegrationRequest]("the integration of "+pt.ID, integ)
	if err != nil {
		return tr, err
	}
	if err := overwrite(func(ifMatch *string) error {
		_, err := api.PutIntegrationWithResponse(ctx, &apiclient.PutIntegrationParams{IfMatch: ifMatch}, integReq)
		return err
	}); err != nil {
		return tr, err
	}
	typesResp, err := api.ListPsaCompanyTypesWithResponse(ctx)
	if err != nil {
		return tr, err
	}
	var types []apiclient.CompanyType
	if typesResp.JSON200 != nil {
		types = typesResp.JSON200.CompanyTypes
	}
	chosen := pt.CompanyTypeIDs
	if !tr.Sandbox {
		chosen = nil
		for _, ct := range types {
			if n := strings.ToLower(ct.Name); strings.Contains(n, "customer") || strings.Contains(n, "client") {
				chosen = append(chosen, ct.Id)
			}
		}
		if len(chosen) == 0 && len(types) > 0 {
			chosen = []int64{types[0].Id}
		}
	}
	if err := overwrite(func(ifMatch *string) error {
		_, err := api.PutIntegrationCompanyTypesWithResponse(ctx, &apiclient.PutIntegrationCompanyTypesParams{IfMatch: ifMatch},
			apiclient.CompanyTypesRequest{CompanyTypeIds: chosen})
		return err
	}); err != nil {
		return tr, err
	}
	settings, err := requestBody[apiclient.PatchBillingSettingsApplicationMergePatchPlusJSONRequestBody]("the billing settings of "+pt.ID, pt.BillingSettings)
	if err != nil {
		return tr, err
	}
	if err := overwrite(func(ifMatch *string) error {
		_, err := api.PatchBillingSettingsWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, &apiclient.PatchBillingSettingsParams{IfMatch: ifMatch}, settings)
		return err
	}); err != nil {
		return tr, err
	}
	ticketingOn := func() error {
		return overwrite(func(ifMatch *string) error {
			_, err := api.PutTicketingWithResponse(ctx, &apiclient.PutTicketingParams{IfMatch: ifMatch}, apiclient.Ticketing{Enabled: true})
			return err
		})
	}
	where := "the sandbox"
	if !tr.Sandbox {
		where = "a REAL " + tr.Provider
	}
	d.printf("  %-17s %s integration verified against %s; %d of %d company types chosen; billing settings saved\n",
		pt.ID, tr.Provider, where, len(chosen), len(types))

	if tr.Kept {
		// Orgs, usage, mappings and rules are in DynamoDB already. The
		// sandbox, though, starts from its seed every time, so a demo sync
		// would compare it with writes it no longer holds: skip the demo
		// (the weekly drift check brings such lines back to target).
		if err := ticketingOn(); err != nil {
			return tr, err
		}
		d.printf("  %-17s orgs, usage, mappings and rules kept; no demo sync or alert for a kept tenant\n", pt.ID)
		return tr, nil
	}

	// The platform registers the orgs and reports a month of usage.
	for _, o := range pt.Orgs {
		body, _ := json.Marshal(apiclient.OrgRegistration{Name: o.Name})
		if err := c.Signed(ctx, http.MethodPut, "/v1/orgs/"+o.ID, pt.ID, tr.SigningSecret, body, nil); err != nil {
			return tr, err
		}
	}
	tr.Orgs = len(pt.Orgs)
	n, err := d.postUsage(ctx, c, pt, tr.SigningSecret)
	if err != nil {
		return tr, err
	}
	tr.Observations = n
	d.printf("  %-17s %d orgs registered, %d observations posted over a simulated month (%d signed requests)\n",
		pt.ID, len(pt.Orgs), n, UsageDays)
	if !tr.Sandbox {
		// Never map demo orgs onto a real PSA's contracts.
		d.printf("  %-17s real PSA: orgs left unmapped (map them with PUT /v1/orgs/{org}/mapping, then run a dry run)\n", pt.ID)
		return tr, nil
	}

	// The admin maps orgs to companies, contracts and lines (checked
	// against the PSA), switches ticketing on and sets alert rules.
	for _, o := range pt.Orgs {
		if o.Mapping == nil {
			continue
		}
		mapping, err := requestBody[apiclient.MappingRequest]("the mapping of "+o.ID, o.Mapping)
		if err != nil {
			return tr, err
		}
		if err := overwrite(func(ifMatch *string) error {
			_, err := api.PutMappingWithResponse(ctx, o.ID, &apiclient.PutMappingParams{IfMatch: ifMatch}, mapping)
			return err
		}); err != nil {
			return tr, err
		}
		tr.Mapped++
	}
	if err := ticketingOn(); err != nil {
		return tr, err
	}
	var ruleTypes []string
	for _, raw := range pt.AlertRules {
		// The plan names the type in the rule; the API takes it from the path.
		rule, err := requestBody[apiclient.AlertRuleRequest]("an alert rule of "+pt.ID, raw)
		if err != nil {
			return tr, err
		}
		var typ string
		if rule.AlertType != nil {
			typ = *rule.AlertType
		}
		rule.AlertType = nil
		if err := overwrite(func(ifMatch *string) error {
			_, err := api.PutAlertRuleWithResponse(ctx, apiclient.PutAlertRuleParamsAlertType(typ), &apiclient.PutAlertRuleParams{IfMatch: ifMatch}, rule)
			return err
		}); err != nil {
			return tr, err
		}
		ruleTypes = append(ruleTypes, typ)
	}
	d.printf("  %-17s %d orgs mapped (%d left unmapped); ticketing on; alert rules: %s\n",
		pt.ID, tr.Mapped, len(pt.Orgs)-tr.Mapped, strings.Join(ruleTypes, ", "))
	return tr, nil
}

// tenantLocation returns the time zone of a plan tenant's billing settings.
func tenantLocation(pt PlanTenant) (*time.Location, error) {
	var s struct {
		TimeZone string `json:"timeZone"`
	}
	_ = json.Unmarshal(pt.BillingSettings, &s)
	return billing.LoadLocation(s.TimeZone)
}

// postUsage posts the simulated month, one signed request per day with
// every org's observations of that day.
func (d *Demo) postUsage(ctx context.Context, c *Client, pt PlanTenant, secret string) (int, error) {
	// Usage arrives before the billing settings are saved, so the HWM
	// months are taken in the default zone; the demo's days are placed
	// inside the current month of both zones.
	loc, err := tenantLocation(pt)
	if err != nil {
		return 0, err
	}
	def, _ := billing.LoadLocation("")
	now := d.Stack.now()
	start := latestStart(now, loc, def)
	accepted := 0
	for day := range UsageDays {
		var req apiclient.UsageRequest
		at := start.Add(now.Sub(start) * time.Duration(day) / time.Duration(UsageDays-1)).Truncate(time.Second)
		if at.Before(start) {
			at = start
		}
		for _, o := range pt.Orgs {
			for p, v := range o.Usage {
				product := string(p)
				req.Observations = append(req.Observations, apiclient.Observation{Org: o.ID, Product: &product, Value: Series(v)[day], ObservedAt: at.UTC()})
			}
		}
		body, _ := json.Marshal(req)
		var resp apiclient.UsageResponse
		if err := c.Signed(ctx, http.MethodPost, "/v1/usage", pt.ID, secret, body, &resp); err != nil {
			return accepted, err
		}
		if len(resp.Rejected) > 0 {
			r := resp.Rejected[0]
			return accepted, fmt.Errorf("usage day %d: %d observations rejected, the first (#%d): %s %s", day, len(resp.Rejected), r.Index, r.Code, r.Message)
		}
		accepted += int(resp.Accepted)
	}
	return accepted, nil
}

// latestStart returns the later of the current month's starts in the zones,
// so a time between it and now is in the current month of each.
func latestStart(now time.Time, locs ...*time.Location) time.Time {
	var s time.Time
	for _, loc := range locs {
		if t := billing.MonthOf(now, loc).Start(loc); t.After(s) {
			s = t
		}
	}
	return s
}

// PrintReady prints what a user needs after start: the API address, a dev
// admin token per tenant, the signing secrets and copy-paste commands.
func PrintReady(w io.Writer, s *Stack, res Result, elapsed time.Duration) {
	op, _ := s.OperatorToken()
	fmt.Fprintf(w, "\npsabridge is ready in %s.\n\n", elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  REST API + webhook  %s\n", s.APIURL)
	fmt.Fprintf(w, "  PSA sandbox         %s  (Autotask: /autotask/…, ConnectWise: /connectwise/…, HaloPSA: /halopsa/…)\n", s.SandboxURL)
	fmt.Fprintf(w, "  DynamoDB Local      %s  (table %s)\n", s.DynamoDBEndpoint, s.Table)
	fmt.Fprintf(w, "  moto (SQS, Secrets) %s\n\n", s.MotoEndpoint)
	fmt.Fprintf(w, "Operator token (POST /v1/platform/tenants):\n  %s\n\n", op)
	for _, t := range res.Tenants {
		where := "sandbox"
		if !t.Sandbox {
			where = "REAL PSA"
		}
		fmt.Fprintf(w, "Tenant %s — %s, %s %s\n", t.ID, t.Name, t.Provider, where)
		fmt.Fprintf(w, "  admin token     %s\n", t.AdminToken)
		fmt.Fprintf(w, "  signing secret  %s\n\n", t.SigningSecret)
	}
	if len(res.Tenants) == 0 {
		return
	}
	t := res.Tenants[0]
	runID := "<run id>"
	for _, r := range res.Syncs {
		if r.Tenant == t.ID {
			runID = r.Run.ID
		}
	}
	fmt.Fprintf(w, "Try it (tenant %s):\n\n", t.ID)
	fmt.Fprintf(w, "  TOKEN=%s\n\n", t.AdminToken)
	fmt.Fprintf(w, "  # list orgs with mapping state, this month's HWM and last sync entry\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/orgs\n\n", s.APIURL)
	fmt.Fprintf(w, "  # run a dry-run sync (answers 202 with the run id; GET /v1/sync-runs/{id} is its progress)\n")
	fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"dryRun\":true}' %s/v1/sync-runs\n\n", s.APIURL)
	fmt.Fprintf(w, "  # read a run's entries as CSV (the demo's run; use the dry run's id to see its \"would\" entries)\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Accept: text/csv' %s/v1/sync-runs/%s/entries\n\n", s.APIURL, runID)
	fmt.Fprintf(w, "  # send a signed usage request from events/ (as the platform)\n")
	fmt.Fprintf(w, "  go run ./functions/local -post-usage events/local/usage.json -api %s -tenant %s -secret %s\n\n", s.APIURL, t.ID, t.SigningSecret)
	fmt.Fprintf(w, "  # the high-water marks in DynamoDB Local\n")
	fmt.Fprintf(w, "  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 \\\n"+
		"  aws dynamodb query --endpoint-url %s --table-name %s \\\n"+
		"    --key-condition-expression 'PK = :pk AND begins_with(SK, :u)' \\\n"+
		"    --expression-attribute-values '{\":pk\":{\"S\":\"T#%s\"},\":u\":{\"S\":\"USAGE#\"}}' \\\n"+
		"    --query 'Items[].[SK.S,hwm.N,hwmAt.S]' --output text\n\n", s.DynamoDBEndpoint, s.Table, t.ID)
	fmt.Fprintf(w, "Ctrl-C stops everything.\n")
}
