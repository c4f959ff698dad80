package dynamo

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// Hand-written codecs of the documents the sync reads or writes for every
// org it works on (entries, last entries, line memories, mappings). They
// write exactly what attributevalue.MarshalMap writes for these types (the
// same attribute names, number and time formats, NULL for a nil pointer:
// TestLayout and TestCodecs pin both), and read what it reads, without
// its reflection on the sync's hot path.

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func avInt(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func avFloat(f float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}

// avTime is attributevalue's time encoding: RFC 3339 with nanoseconds, in
// the time's own zone.
func avTime(t time.Time) types.AttributeValue { return avS(t.Format(time.RFC3339Nano)) }

var avNull types.AttributeValue = &types.AttributeValueMemberNULL{Value: true}

func lineValueDoc(v billing.LineValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"Quantity": avInt(v.Quantity), "UnitCost": avFloat(v.UnitCost)}
}

func lineValuePtrAV(v *billing.LineValue) types.AttributeValue {
	if v == nil {
		return avNull
	}
	return &types.AttributeValueMemberM{Value: lineValueDoc(*v)}
}

// entryDoc is the stored document of a run entry; extra is room for more
// attributes (a last entry's RunID).
func entryDoc(e billing.Entry, extra int) map[string]types.AttributeValue {
	m := make(map[string]types.AttributeValue, 11+extra)
	m["Org"], m["Product"] = avS(e.Org), avS(string(e.Product))
	m["CompanyID"], m["ContractID"], m["LineID"] = avInt(e.CompanyID), avInt(e.ContractID), avInt(e.LineID)
	m["Code"], m["Level"], m["Message"] = avS(string(e.Code)), avS(string(e.Level)), avS(e.Message)
	m["Before"], m["After"] = lineValuePtrAV(e.Before), lineValuePtrAV(e.After)
	m["At"] = avTime(e.At)
	return m
}

// lastEntryDoc is the stored document of a LastEntry: the entry's
// attributes beside RunID.
func lastEntryDoc(e billing.Entry, runID string) map[string]types.AttributeValue {
	m := entryDoc(e, 1)
	m["RunID"] = avS(runID)
	return m
}

func lineMemoryDoc(m billing.LineMemory) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"ContractID": avInt(m.ContractID), "LineID": avInt(m.LineID), "Month": avS(string(m.Month)),
		"Value":     &types.AttributeValueMemberM{Value: lineValueDoc(m.Value)},
		"WrittenAt": avTime(m.WrittenAt), "VerifiedAt": avTime(m.VerifiedAt),
	}
}

// docReader reads attributes of a stored document as attributevalue
// decodes them into Go values: a missing or NULL attribute is the zero
// value, one of another type is an error (the first is kept in err).
type docReader struct {
	doc map[string]types.AttributeValue
	err error
}

func (r *docReader) fail(name string, av types.AttributeValue, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: %T is not %s", name, av, want)
	}
}

// get returns the attribute, nil when it is missing or NULL.
func (r *docReader) get(name string) types.AttributeValue {
	av := r.doc[name]
	if n, ok := av.(*types.AttributeValueMemberNULL); ok && n.Value {
		return nil
	}
	return av
}

func (r *docReader) str(name string) string {
	switch av := r.get(name).(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return av.Value
	default:
		r.fail(name, av, "a string")
		return ""
	}
}

func (r *docReader) number(name string) string {
	switch av := r.get(name).(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberN:
		return av.Value
	default:
		r.fail(name, av, "a number")
		return ""
	}
}

func (r *docReader) int(name string) int64 {
	s := r.number(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return n
}

func (r *docReader) float(name string) float64 {
	s := r.number(name)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return f
}

func (r *docReader) time(name string) time.Time {
	s := r.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return t
}

// sub returns a nested document (nil when missing or NULL).
func (r *docReader) sub(name string) map[string]types.AttributeValue {
	switch av := r.get(name).(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberM:
		return av.Value
	default:
		r.fail(name, av, "a map")
		return nil
	}
}

func (r *docReader) lineValue(name string) billing.LineValue {
	sub := docReader{doc: r.sub(name)}
	v := billing.LineValue{Quantity: sub.int("Quantity"), UnitCost: sub.float("UnitCost")}
	if sub.err != nil && r.err == nil {
		r.err = sub.err
	}
	return v
}

func lineMemoryFromDoc(doc map[string]types.AttributeValue) (billing.LineMemory, error) {
	r := docReader{doc: doc}
	m := billing.LineMemory{ContractID: r.int("ContractID"), LineID: r.int("LineID"), Month: billing.Month(r.str("Month")),
		Value: r.lineValue("Value"), WrittenAt: r.time("WrittenAt"), VerifiedAt: r.time("VerifiedAt")}
	if r.err != nil {
		return billing.LineMemory{}, apperr.Wrap(r.err, apperr.Internal, "decode line memory")
	}
	return m, nil
}

func mappingFromDoc(doc map[string]types.AttributeValue) (billing.Mapping, error) {
	r := docReader{doc: doc}
	m := billing.Mapping{CompanyID: r.int("CompanyID"), ContractID: r.int("ContractID"), NonBillableUsers: r.int("NonBillableUsers"),
		State: billing.MappingState(r.str("State")), Version: r.int("Version"), UpdatedAt: r.time("UpdatedAt")}
	seen := docReader{doc: r.sub("Seen")}
	m.Seen = billing.MappedNames{Company: seen.str("Company"), Contract: seen.str("Contract")}
	switch av := r.get("Lines").(type) {
	case nil:
	case *types.AttributeValueMemberL:
		m.Lines = make([]billing.LineMapping, len(av.Value))
		for i, el := range av.Value {
			l, ok := el.(*types.AttributeValueMemberM)
			if !ok {
				r.fail("Lines", el, "a list of maps")
				break
			}
			lr := docReader{doc: l.Value}
			m.Lines[i] = billing.LineMapping{Product: billing.Product(lr.str("Product")), LineID: lr.int("LineID")}
			if lr.err != nil && r.err == nil {
				r.err = lr.err
			}
		}
	default:
		r.fail("Lines", av, "a list")
	}
	for _, err := range []error{seen.err, r.err} {
		if err != nil {
			return billing.Mapping{}, apperr.Wrap(err, apperr.Internal, "decode mapping")
		}
	}
	return m, nil
}
