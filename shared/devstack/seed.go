package devstack

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// demoPSA is the demo MSP's PSA data in the sandbox's JSON seed format
// (sandbox.Seed): a dozen companies of several types per PSA, recurring
// contracts / agreements with service lines, ticket picklists and lookups
// with non-default ids.
//
//go:embed demo-psa.json
var demoPSA []byte

// demoTenants is the demo plan: the three tenants (one per PSA) the demo
// seeds through the public API, their orgs, usage, mappings, settings,
// rules and alerts.
//
//go:embed demo-tenants.json
var demoTenants []byte

// NewSandbox returns a PSA sandbox loaded with the demo seed, or with the
// sandbox JSON seed file at path when path is not empty, and the seed.
func NewSandbox(path string) (*sandbox.Server, sandbox.Seed, error) {
	raw := demoPSA
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, sandbox.Seed{}, fmt.Errorf("devstack: PSA seed: %w", err)
		}
		raw = b
	}
	var seed sandbox.Seed
	if err := json.Unmarshal(raw, &seed); err != nil {
		return nil, sandbox.Seed{}, fmt.Errorf("devstack: PSA seed %s: %w", cmp.Or(path, "(embedded)"), err)
	}
	sb := sandbox.New()
	sb.Load(seed)
	return sb, seed, nil
}

// Plan is what the demo does, tenant by tenant.
type Plan struct {
	Tenants []PlanTenant `json:"tenants"`
}

// PlanTenant is one demo tenant. The JSON objects are the bodies of the
// corresponding API requests.
type PlanTenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Integration is the body of PUT /v1/integration, without endpoints
	// (the demo adds the sandbox's).
	Integration     map[string]any    `json:"integration"`
	CompanyTypeIDs  []int64           `json:"companyTypeIds"`
	BillingSettings json.RawMessage   `json:"billingSettings"`
	Orgs            []PlanOrg         `json:"orgs"`
	AlertRules      []json.RawMessage `json:"alertRules"`
	// Alert, when set, is posted open, open again and resolved.
	Alert *PlanAlert `json:"alert,omitempty"`
}

// Provider returns the tenant's PSA provider.
func (t PlanTenant) Provider() string {
	p, _ := t.Integration["provider"].(string)
	return p
}

// PlanOrg is one org of a demo tenant.
type PlanOrg struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Usage gives, per product, the start, peak and end values of the
	// simulated month; the month's HWM is the peak.
	Usage map[billing.Product][3]int64 `json:"usage"`
	// Mapping is the body of PUT /v1/orgs/{org}/mapping; nil leaves the org
	// unmapped.
	Mapping *PlanMapping `json:"mapping,omitempty"`
}

// PlanMapping is a mapping request body.
type PlanMapping struct {
	CompanyID        int64                 `json:"companyId"`
	ContractID       int64                 `json:"contractId"`
	Lines            []billing.LineMapping `json:"lines"`
	NonBillableUsers int64                 `json:"nonBillableUsers"`
}

// PlanAlert is the demo alert.
type PlanAlert struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Severity string         `json:"severity"`
	Org      string         `json:"org"`
	Title    string         `json:"title"`
	Details  map[string]any `json:"details"`
}

// DemoPlan returns the embedded demo plan.
func DemoPlan() (Plan, error) {
	var p Plan
	if err := json.Unmarshal(demoTenants, &p); err != nil {
		return Plan{}, fmt.Errorf("devstack: embedded demo plan: %w", err)
	}
	return p, nil
}

// UsageDays is how many observations per org and product the simulated
// month has.
const UsageDays = 30

// Series returns the simulated month of one product: UsageDays values rising
// from start to peak by mid-month and settling to end; its maximum is peak.
func Series(v [3]int64) []int64 {
	start, peak, end := v[0], v[1], v[2]
	out := make([]int64, UsageDays)
	mid := UsageDays / 2
	for i := range out {
		if i <= mid {
			out[i] = start + (peak-start)*int64(i)/int64(mid)
		} else {
			out[i] = peak + (end-peak)*int64(i-mid)/int64(UsageDays-1-mid)
		}
	}
	return out
}

// ObservedAt returns when day i of the simulated month was observed: the
// days are spread from the start of the current month in loc up to now, so
// every observation falls in the month the sync bills.
func ObservedAt(i int, now time.Time, loc *time.Location) time.Time {
	start := billing.MonthOf(now, loc).Start(loc)
	span := now.Sub(start)
	return start.Add(span * time.Duration(i) / time.Duration(UsageDays-1)).UTC().Truncate(time.Second)
}

// Target returns the quantity a mapped line should end at: the peak of its
// product less the org's non-billable users for the users product, never
// below zero.
func (o PlanOrg) Target(p billing.Product) int64 {
	hwm := Peak(o.Usage[p])
	if p == billing.Users && o.Mapping != nil {
		return billing.Quantity(hwm, o.Mapping.NonBillableUsers)
	}
	return hwm
}

// Peak returns the highest value of a product's simulated month: its HWM.
func Peak(v [3]int64) int64 { return slices.Max(Series(v)) }
