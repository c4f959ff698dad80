package dynamo_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// The stored layout is a contract with every item already in a table: the
// golden files under testdata/layout pin each item kind's keys and
// attribute names (nested documents included). Rewrite them only for a
// deliberate layout change that comes with a migration:
//
//	go test ./shared/dynamo -run TestLayout -update
var update = flag.Bool("update", false, "rewrite testdata/layout from what the store writes now")

// layoutNow is the fixed clock of the layout tests, so TTLs and timestamps
// in the golden items are stable.
var layoutNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// layoutCase is one item kind: write stores a value in the kind's items of
// tenant, read reads it back as the domain value the layout must keep.
type layoutCase struct {
	kind  string
	write func(ctx context.Context, s *dynamo.Store, tenant string) error
	read  func(ctx context.Context, s *dynamo.Store, tenant string) (any, error)
}

var layoutRun = billing.Run{ID: "20260314T150926Z-abc123", Kind: billing.Scheduled, Status: billing.Running,
	StartedAt: layoutNow, Month: "2026-03", Counts: billing.Counts{Total: 2}}

var layoutEntries = []billing.Entry{
	{Org: "o1", Product: billing.Users, CompanyID: 11, ContractID: 22, LineID: 33, Code: "updated", Level: "info",
		Message: "5 → 7", Before: &billing.LineValue{Quantity: 5, UnitCost: 2.5}, After: &billing.LineValue{Quantity: 7, UnitCost: 2.5}, At: layoutNow},
	{Org: "o2", Code: "not_mapped", Level: "warning", Message: "org is not mapped", At: layoutNow},
}

var layoutAlert = alerting.Record{
	Alert: alerting.Alert{ID: "al-1", Type: "backup_failed", Severity: alerting.Error, Org: "o1", Status: alerting.Open,
		OccurredAt: layoutNow.Add(-time.Minute), Title: "Backup failed", Details: json.RawMessage(`{"job":"nightly"}`)},
	State: alerting.State("ticketed"), Decision: alerting.Decision("open"), TicketID: 4711, ReceivedAt: layoutNow, UpdatedAt: layoutNow,
}

func layoutCases() []layoutCase {
	return []layoutCase{
		{kind: "tenant",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.CreateTenant(ctx, t)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.Tenant(ctx, t) }},
		{kind: "org",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				if err := s.RegisterOrg(ctx, t, "o1", "Acme"); err != nil {
					return err
				}
				_, err := s.PutMapping(ctx, t, "o1", billing.Mapping{CompanyID: 11, ContractID: 22,
					Lines:            []billing.LineMapping{{Product: billing.Users, LineID: 33}, {Product: "storage_gb", LineID: 34}},
					NonBillableUsers: 2, State: billing.Mapped, Seen: billing.MappedNames{Company: "Acme Inc", Contract: "Managed"}}, 0)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.Org(ctx, t, "o1") }},
		{kind: "usage",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.RecordObservation(ctx, t, time.UTC, billing.Observation{Org: "o1", Product: billing.Users, Value: 42, ObservedAt: layoutNow})
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				return s.MonthUsage(ctx, t, "2026-03")
			}},
		{kind: "settings",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				set := billing.DefaultSettings()
				set.TimeZone, set.CreateMissingLines, set.ZeroDeprovisioned = "Europe/Berlin", true, true
				set.UnitCost = map[billing.Product]float64{billing.Users: 3.5}
				set.OrgUnitCost = map[string]map[billing.Product]float64{"o1": {billing.Users: 3}}
				set.BudgetPerHour, set.RunAt = 1200, "06:30"
				_, err := s.PutBillingSettings(ctx, t, set, 0)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.BillingSettings(ctx, t) }},
		{kind: "integration",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.PutIntegration(ctx, t, integration.Integration{Provider: psa.Autotask, Username: "api@example.com",
					IntegrationCode: "TRACK", Endpoints: psa.Endpoints{AutotaskZoneURL: "http://127.0.0.1:1/"},
					CompanyTypeIDs: []int64{1, 3}, TicketingEnabled: true, VerifiedAt: layoutNow, CredentialsUpdatedAt: layoutNow}, 0)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.Integration(ctx, t) }},
		{kind: "rule",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.PutAlertRule(ctx, t, alerting.Rule{Type: "backup_failed", Enabled: true, PriorityID: 1, StatusID: 2,
					SourceID: 3, QueueID: 4, DueDays: 2, TitlePrefix: "[psabridge]", MinSeverity: alerting.Warning,
					CloseOnResolve: true, CompleteStatusID: 5}, 0)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.AlertRules(ctx, t) }},
		{kind: "catalog",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.PutCatalog(ctx, t, billing.Catalog{Products: []billing.CatalogProduct{{Key: billing.Users, Name: "Seats",
					Period: psa.CatalogPeriod("monthly"), UnitCost: 2, UnitPrice: 5, BillingCodeID: 9,
					Push: billing.PushStatus{State: billing.PushError, ItemID: 77, Message: "rejected", Details: []string{"name taken"}, PushedAt: layoutNow}}}}, 0)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.Catalog(ctx, t) }},
		{kind: "runhealth",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.PutRunHealth(ctx, t, layoutRun.ID, billing.RunHealth{CheckedAt: layoutNow, Orgs: map[string]billing.Health{
					"o1": {Status: billing.HealthBroken, CheckedAt: layoutNow, Problems: []billing.Problem{{Code: "line_missing",
						Severity: billing.SeverityError, Product: billing.Users, CompanyID: 11, ContractID: 22, LineID: 33}}}}})
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				h, _, err := s.RunHealth(ctx, t, layoutRun.ID)
				return h, err
			}},
		{kind: "linesnapshot",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				return s.PutLineSnapshot(ctx, t, layoutRun.ID, billing.LineSnapshot{ReadAt: layoutNow, Effective: layoutNow.Truncate(24 * time.Hour),
					States: []psa.LineState{{Ref: psa.LineRef{ContractID: 22, LineID: 33}, ServiceID: 900, Quantity: 7, UnitCost: 2.5, UnitPrice: 12,
						Later: []psa.LineRow{{Start: layoutNow.Add(48 * time.Hour), Quantity: 9, UnitCost: 2.5, UnitPrice: 12}}}},
					Missing: []psa.LineRef{{ContractID: 22, LineID: 34}}})
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				snap, _, err := s.LineSnapshot(ctx, t, layoutRun.ID)
				return snap, err
			}},
		{kind: "run",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, _, err := s.CreateRun(ctx, t, layoutRun, "2026-03-14")
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) { return s.Run(ctx, t, layoutRun.ID) }},
		{kind: "outcome",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				if _, _, err := s.CreateRun(ctx, t, layoutRun, ""); err != nil {
					return err
				}
				return s.RecordOutcomes(ctx, t, layoutRun.ID, []dynamo.OutcomeChange{
					{Org: "o1", Next: dynamo.OrgOutcomeState{Outcome: billing.OutcomeDeferred}}})
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				return s.OrgOutcomes(ctx, t, layoutRun.ID, []string{"o1"})
			}},
		{kind: "entry",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				return s.PutEntries(ctx, t, layoutRun.ID, false, layoutEntries)
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				entries, err := s.Entries(ctx, t, layoutRun.ID, billing.EntryFilter{})
				if err != nil {
					return nil, err
				}
				last, err := s.LastEntries(ctx, t)
				return []any{entries, last}, err
			}},
		{kind: "linememory",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				return s.PutLineMemories(ctx, t, map[dynamo.LineKey]billing.LineMemory{{Org: "o1", Product: billing.Users}: {
					ContractID: 22, LineID: 33, Month: "2026-03", Value: billing.LineValue{Quantity: 7, UnitCost: 2.5},
					WrittenAt: layoutNow, VerifiedAt: layoutNow.Add(-time.Hour)}})
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				return s.LineMemories(ctx, t, []dynamo.LineKey{{Org: "o1", Product: billing.Users}})
			}},
		{kind: "alert",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				return s.RecordAlertOutcome(ctx, t, layoutAlert, alerting.Stream{AlertID: layoutAlert.ID, TicketID: 4711, TicketOpen: true})
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				r, err := s.Alert(ctx, t, layoutAlert.Alert)
				if err != nil {
					return nil, err
				}
				st, err := s.AlertStream(ctx, t, layoutAlert.ID)
				return []any{r, st}, err
			}},
		{kind: "budget",
			write: func(ctx context.Context, s *dynamo.Store, t string) error {
				_, err := s.ReserveBudget(ctx, t, layoutNow, 3, 10)
				return err
			},
			read: func(ctx context.Context, s *dynamo.Store, t string) (any, error) {
				return s.BudgetUsed(ctx, t, layoutNow)
			}},
	}
}

// TestLayout pins every item kind: what the store writes equals its golden
// file (key shapes, attribute names and values), and items in that layout,
// put straight into a table, read back as the same domain values. Renaming
// a stored field fails the first half; changing how an item is read fails
// the second.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	written := dynamotest.NewStore(t, nil)
	written.Now = func() time.Time { return layoutNow }
	fixtures := dynamotest.NewStore(t, nil)
	fixtures.Now = written.Now
	for _, c := range layoutCases() {
		t.Run(c.kind, func(t *testing.T) {
			tenant := "layout-" + c.kind
			if err := c.write(ctx, written, tenant); err != nil {
				t.Fatalf("write: %v", err)
			}
			items := mustTenantItems(t, written, tenant)
			got, err := json.MarshalIndent(items, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "layout", c.kind+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Fatalf("stored layout of %s changed (an attribute renamed, added or dropped?):\ngot  %s\nwant %s", c.kind, got, want)
			}

			t.Run("ReadsFixture", func(t *testing.T) {
				var stored []map[string]any
				if err := json.Unmarshal(want, &stored); err != nil {
					t.Fatal(err)
				}
				for _, it := range stored {
					item, err := attributeValues(it)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := fixtures.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(fixtures.Table), Item: item}); err != nil {
						t.Fatal(err)
					}
				}
				fromFixture, err := c.read(ctx, fixtures, tenant)
				if err != nil {
					t.Fatalf("read fixture: %v", err)
				}
				fromWrite, err := c.read(ctx, written, tenant)
				if err != nil {
					t.Fatalf("read written: %v", err)
				}
				g, _ := json.Marshal(fromFixture)
				w, _ := json.Marshal(fromWrite)
				if string(g) != string(w) || string(g) == "null" {
					t.Fatalf("read from fixture:\ngot  %s\nwant %s", g, w)
				}
			})
		})
	}
}

// mustTenantItems returns every item of tenant's partitions (T#<tenant> and
// T#<tenant>#…) in DynamoDB JSON, sorted by key.
func mustTenantItems(tb testing.TB, s *dynamo.Store, tenant string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	p := dynamodb.NewScanPaginator(s.DB, &dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		for _, item := range page.Items {
			pk := item[schema.PartitionKey].(*types.AttributeValueMemberS).Value
			if pk != "T#"+tenant && !strings.HasPrefix(pk, "T#"+tenant+"#") {
				continue
			}
			out = append(out, dynamoJSON(&types.AttributeValueMemberM{Value: item})["M"].(map[string]any))
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a[schema.PartitionKey], a[schema.SortKey]), fmt.Sprint(b[schema.PartitionKey], b[schema.SortKey]))
	})
	if len(out) == 0 {
		tb.Fatalf("no items stored for tenant %s", tenant)
	}
	return out
}

// dynamoJSON renders an attribute value as DynamoDB JSON ({"S": "…"}).
func dynamoJSON(av types.AttributeValue) map[string]any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = dynamoJSON(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			m[k] = dynamoJSON(e)
		}
		return map[string]any{"M": m}
	}
	panic(fmt.Sprintf("attribute type %T in a stored item", av))
}

// attributeValues parses an item in DynamoDB JSON, as dynamoJSON wrote it.
func attributeValues(item map[string]any) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		av, err := attributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func attributeValue(v any) (types.AttributeValue, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("not one typed value: %v", v)
	}
	for typ, x := range m {
		switch typ {
		case "S":
			return &types.AttributeValueMemberS{Value: x.(string)}, nil
		case "N":
			return &types.AttributeValueMemberN{Value: x.(string)}, nil
		case "BOOL":
			return &types.AttributeValueMemberBOOL{Value: x.(bool)}, nil
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: x.(bool)}, nil
		case "SS", "NS":
			var ss []string
			for _, e := range x.([]any) {
				ss = append(ss, e.(string))
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "L":
			var l []types.AttributeValue
			for _, e := range x.([]any) {
				av, err := attributeValue(e)
				if err != nil {
					return nil, err
				}
				l = append(l, av)
			}
			return &types.AttributeValueMemberL{Value: l}, nil
		case "M":
			mm, err := attributeValues(x.(map[string]any))
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberM{Value: mm}, nil
		}
		return nil, fmt.Errorf("unknown attribute type %q", typ)
	}
	panic("unreachable")
}
