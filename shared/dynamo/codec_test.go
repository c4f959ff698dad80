package dynamo

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/billing"
)

// TestCodecs: the hand-written codecs write what attributevalue writes for
// the same values, and read back what attributevalue reads, for values
// that exercise every field (nil and set pointers, zero and zoned times,
// fractional costs, empty and several lines).
func TestCodecs(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 123456789, time.UTC)
	zoned := time.Date(2026, 7, 1, 9, 0, 0, 0, time.FixedZone("", -5*3600))
	marshal := func(v any) map[string]types.AttributeValue {
		t.Helper()
		m, err := attributevalue.MarshalMap(v)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	entries := []billing.Entry{
		{Org: "o1", Product: billing.Users, CompanyID: 11, ContractID: 22, LineID: 33, Code: "updated", Level: "info",
			Message: "5 → 7", Before: &billing.LineValue{Quantity: 5, UnitCost: 2.5}, After: &billing.LineValue{Quantity: 7, UnitCost: 4.25}, At: at},
		{Org: "o2", Code: "not_mapped", Level: "warning", Message: "org is not mapped", At: zoned},
		{Org: "o3", Product: "storage_gb", After: &billing.LineValue{Quantity: 1 << 40, UnitCost: 0.1}},
	}
	for _, e := range entries {
		if got, want := entryDoc(e, 0), marshal(e); !reflect.DeepEqual(got, want) {
			t.Errorf("entryDoc(%+v):\n got %#v\nwant %#v", e, got, want)
		}
		if got, want := lastEntryDoc(e, "run-1"), marshal(billing.LastEntry{Entry: e, RunID: "run-1"}); !reflect.DeepEqual(got, want) {
			t.Errorf("lastEntryDoc(%+v):\n got %#v\nwant %#v", e, got, want)
		}
	}
	mems := []billing.LineMemory{
		{ContractID: 22, LineID: 33, Month: "2026-03", Value: billing.LineValue{Quantity: 7, UnitCost: 4.25}, WrittenAt: at, VerifiedAt: zoned},
		{ContractID: 1, LineID: 2, Month: "2026-12"},
	}
	for _, m := range mems {
		doc := lineMemoryDoc(m)
		if want := marshal(m); !reflect.DeepEqual(doc, want) {
			t.Errorf("lineMemoryDoc(%+v):\n got %#v\nwant %#v", m, doc, want)
		}
		var want billing.LineMemory
		if err := attributevalue.UnmarshalMap(doc, &want); err != nil {
			t.Fatal(err)
		}
		if got, err := lineMemoryFromDoc(doc); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("lineMemoryFromDoc: got %+v %v, want %+v", got, err, want)
		}
	}
	maps := []billing.Mapping{
		{CompanyID: 11, ContractID: 22, Lines: []billing.LineMapping{{Product: billing.Users, LineID: 33}, {Product: "storage_gb", LineID: 34}},
			NonBillableUsers: 2, State: billing.Mapped, Seen: billing.MappedNames{Company: "Acme", Contract: "Managed"}, Version: 3, UpdatedAt: at},
		{CompanyID: 1, ContractID: 2, Lines: []billing.LineMapping{}, State: billing.Unmapped},
		{},
	}
	for _, m := range maps {
		doc := marshal(m)
		var want billing.Mapping
		if err := attributevalue.UnmarshalMap(doc, &want); err != nil {
			t.Fatal(err)
		}
		if got, err := mappingFromDoc(doc); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("mappingFromDoc: got %+v %v, want %+v", got, err, want)
		}
	}
	// Attributes of another type are errors, as attributevalue has them.
	bad := []map[string]types.AttributeValue{
		{"CompanyID": avS("11")},
		{"CompanyID": &types.AttributeValueMemberN{Value: "1.5"}},
		{"Lines": avS("users")},
		{"Lines": &types.AttributeValueMemberL{Value: []types.AttributeValue{avS("users")}}},
		{"Seen": avS("Acme")},
		{"UpdatedAt": avS("yesterday")},
	}
	for _, doc := range bad {
		var m billing.Mapping
		if err := attributevalue.UnmarshalMap(doc, &m); err == nil {
			t.Fatalf("attributevalue decodes %#v: the case does not show a difference", doc)
		}
		if _, err := mappingFromDoc(doc); err == nil {
			t.Errorf("mappingFromDoc(%#v): got no error", doc)
		}
	}
	if _, err := lineMemoryFromDoc(map[string]types.AttributeValue{"Value": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"UnitCost": avS("x")}}}); err == nil {
		t.Error("lineMemoryFromDoc with a string cost: got no error")
	}
}
