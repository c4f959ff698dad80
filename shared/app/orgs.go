package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
)

// BilledMonthStore is what the orgs view and the reconciliation read of a
// billing month (*dynamo.Store).
type BilledMonthStore interface {
	// BillingSettings are the tenant's settings (defaults when none are
	// stored).
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
	// Orgs lists the tenant's registered orgs, with their mappings.
	Orgs(ctx context.Context, tenant string) ([]billing.Org, error)
	// MonthUsage lists the month's high-water marks of every org and
	// product (orgs known from usage only included).
	MonthUsage(ctx context.Context, tenant string, month billing.Month) ([]billing.HighWaterMark, error)
	// LatestRunHealth is the mapping health the newest run recorded;
	// false when no run recorded any.
	LatestRunHealth(ctx context.Context, tenant string) (billing.RunHealth, bool, error)
}

// LastEntryStore reads the newest run entry of every org line.
type LastEntryStore interface {
	// LastEntries is the newest run entry of every org line (one Query).
	LastEntries(ctx context.Context, tenant string) ([]billing.LastEntry, error)
}

// OrgsStore is what the orgs view reads.
type OrgsStore interface {
	BilledMonthStore
	LastEntryStore
}

// billedMonth is what the orgs view and the reconciliation read from the
// store for one billing month: the tenant's billing settings, the month,
// its orgs, the month's HWMs and the mapping health the newest run
// recorded.
type billedMonth struct {
	settings billing.Settings
	month    billing.Month
	orgs     []billing.Org
	usage    []billing.HighWaterMark
	recorded billing.RunHealth
	// found is false when no run recorded health yet.
	found bool
}

// readBilledMonth reads a tenant's billedMonth: the month is period
// ("YYYY-MM") or, when period is empty, the month the next sync bills at
// now. Invalid when period is malformed; store errors as they are.
func readBilledMonth(ctx context.Context, s BilledMonthStore, tenant, period string, now time.Time) (billedMonth, error) {
	var m billedMonth
	var err error
	if m.settings, err = s.BillingSettings(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	m.month = m.settings.BilledMonth(now)
	if period != "" {
		if m.month, err = billing.ParseMonth(period); err != nil {
			return billedMonth{}, err
		}
	}
	if m.orgs, err = s.Orgs(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	if m.usage, err = s.MonthUsage(ctx, tenant, m.month); err != nil {
		return billedMonth{}, err
	}
	if m.recorded, m.found, err = s.LatestRunHealth(ctx, tenant); err != nil {
		return billedMonth{}, err
	}
	return m, nil
}

// healthOf is the recorded health of a mapped org's mapping, false when no
// run checked the mapping since it was saved.
func (m billedMonth) healthOf(o billing.Org) (billing.Health, bool) {
	if !m.found {
		return billing.Health{}, false
	}
	return m.recorded.Covers(o.ID, o.Mapping.UpdatedAt)
}

// Unchecked is RecordedHealth.Status of a mapping no run checked since it
// was saved.
const Unchecked = "unchecked"

// RecordedHealth is a mapped org's mapping health as the sync last
// recorded it (no PSA request).
type RecordedHealth struct {
	// Status is ok, warning or broken (billing.HealthStatus), or
	// Unchecked.
	Status    string
	Codes     []billing.ProblemCode
	CheckedAt *time.Time
}

// OrgSummary is one org of the orgs view.
type OrgSummary struct {
	ID   string
	Name string
	// State and Mapping: an org known from usage only is unmapped, without
	// a mapping.
	State   billing.MappingState
	Mapping *billing.Mapping
	// Usage is the billed month's HWM of every product with usage.
	Usage map[billing.Product]int64
	// Health is set for a mapped org only.
	Health *RecordedHealth
	// LastSync is the org's entries of the newest run that recorded one
	// (one per line, or one for the whole org when the run skipped it);
	// empty when no run recorded any.
	LastSync []billing.LastEntry
}

// Orgs is the orgs view: every org of a tenant with its mapping, usage,
// recorded health and last sync.
type Orgs struct {
	Store OrgsStore
	Now   func() time.Time
}

// List lists the tenant's orgs, registered or known from usage, sorted by
// id, with their mapping state and the HWMs of the month the next sync
// bills, which it returns too. Store errors as they are.
func (s *Orgs) List(ctx context.Context, tenant string) (billing.Month, []OrgSummary, error) {
	now := clock.Now
	if s.Now != nil {
		now = s.Now
	}
	m, err := readBilledMonth(ctx, s.Store, tenant, "", now())
	if err != nil {
		return "", nil, err
	}
	last, err := s.Store.LastEntries(ctx, tenant)
	if err != nil {
		return "", nil, err
	}
	out := make([]OrgSummary, 0, len(m.orgs))
	for _, o := range m.orgs {
		out = append(out, OrgSummary{ID: o.ID, Name: o.Name, State: o.State(), Mapping: o.Mapping, Usage: map[billing.Product]int64{},
			Health: recordedHealth(o, m), LastSync: []billing.LastEntry{}})
	}
	for _, u := range m.usage {
		if !slices.ContainsFunc(out, func(v OrgSummary) bool { return v.ID == u.Org }) {
			out = append(out, OrgSummary{ID: u.Org, State: billing.Unmapped, Usage: map[billing.Product]int64{}, LastSync: []billing.LastEntry{}})
		}
	}
	byID := map[string]*OrgSummary{}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	for _, u := range m.usage {
		byID[u.Org].Usage[u.Product] = u.Value
	}
	for org, entries := range lastSyncs(last) {
		if v, ok := byID[org]; ok {
			v.LastSync = entries
		}
	}
	slices.SortFunc(out, func(a, b OrgSummary) int { return strings.Compare(a.ID, b.ID) })
	return m.month, out, nil
}

// recordedHealth is the recorded health of an org's mapping; nil when it
// is not mapped.
func recordedHealth(o billing.Org, m billedMonth) *RecordedHealth {
	if o.State() != billing.Mapped {
		return nil
	}
	if hl, ok := m.healthOf(o); ok {
		at := hl.CheckedAt
		return &RecordedHealth{Status: string(hl.Status), Codes: hl.Codes(), CheckedAt: &at}
	}
	return &RecordedHealth{Status: Unchecked, Codes: []billing.ProblemCode{}}
}

// lastSyncs groups the stored last entries by org and keeps, per org, only
// those of its newest run: a line dropped from the mapping, or an org-level
// entry (not mapped, no integration) a later run superseded, keeps its old
// item until Retention, and would otherwise show as current.
func lastSyncs(last []billing.LastEntry) map[string][]billing.LastEntry {
	newest := map[string]billing.LastEntry{}
	for _, e := range last {
		if n, ok := newest[e.Org]; !ok || e.At.After(n.At) || (e.At.Equal(n.At) && e.RunID > n.RunID) {
			newest[e.Org] = e
		}
	}
	out := map[string][]billing.LastEntry{}
	for _, e := range last {
		if e.RunID == newest[e.Org].RunID {
			out[e.Org] = append(out[e.Org], e)
		}
	}
	return out
}
