package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// atRow is one Autotask entity as the API serialises it: canonical field
// names (camelCase, as in the swagger models) to JSON values. Integers are
// int64, decimals float64, datetimes RFC 3339 strings, absent values nil.
type atRow map[string]any

// atQuery is a parsed Autotask query body ({"MaxRecords","IncludeFields","filter"}).
// Autotask's deserialiser ignores the case of the keys, so both the swagger's
// "maxRecords" and the docs' "MaxRecords" are accepted.
type atQuery struct {
	MaxRecords    int
	IncludeFields []string
	Filter        []atFilter
}

// atFilter is one filter expression; And/Or groups carry Items.
type atFilter struct {
	Op    string     `json:"op"`
	Field string     `json:"field"`
	Value any        `json:"value"`
	UDF   bool       `json:"udf"`
	Items []atFilter `json:"items"`
}

// atError is a validation failure answered as HTTP 500 {"errors":[…]}.
type atError struct{ msg string }

func (e atError) Error() string { return e.msg }

func atErrorf(format string, args ...any) atError { return atError{fmt.Sprintf(format, args...)} }

// parseATQuery decodes a query body, applying Autotask's MaxRecords rule.
func parseATQuery(body []byte) (atQuery, error) {
	q := atQuery{MaxRecords: 500}
	if len(strings.TrimSpace(string(body))) == 0 {
		return q, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return q, atErrorf("Error reading the query: %v", err)
	}
	for k, v := range raw {
		switch strings.ToLower(k) {
		case "maxrecords":
			var n int
			if err := json.Unmarshal(v, &n); err != nil {
				return q, atErrorf("maxCountOfRecordsToReturn must be between 1 and 500")
			}
			q.MaxRecords = n
		case "includefields":
			if err := json.Unmarshal(v, &q.IncludeFields); err != nil {
				return q, atErrorf("IncludeFields must be an array of field names")
			}
		case "filter":
			if err := json.Unmarshal(v, &q.Filter); err != nil {
				return q, atErrorf("Error reading the filter: %v", err)
			}
		}
	}
	if q.MaxRecords < 1 || q.MaxRecords > 500 {
		return q, atErrorf("maxCountOfRecordsToReturn must be between 1 and 500")
	}
	return q, nil
}

// atPredicate tests one row.
type atPredicate func(atRow) bool

// compileFilter turns a filter list (implicitly AND) into a predicate,
// resolving field names case-insensitively against the entity's fields and
// rejecting what Autotask rejects: unknown fields and operators, non-boolean
// values for boolean fields, more than 500 OR conditions.
func compileFilter(entity string, fields []atFieldDef, fs []atFilter) (atPredicate, error) {
	ors := 0
	p, err := compileGroup(entity, fields, fs, "and", &ors)
	if err != nil {
		return nil, err
	}
	if ors > 500 {
		return nil, atErrorf("Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions.")
	}
	return p, nil
}

func compileGroup(entity string, fields []atFieldDef, fs []atFilter, op string, ors *int) (atPredicate, error) {
	preds := make([]atPredicate, 0, len(fs))
	for _, f := range fs {
		p, err := compileOne(entity, fields, f, ors)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	if op == "or" {
		*ors += len(preds)
		return func(r atRow) bool {
			for _, p := range preds {
				if p(r) {
					return true
				}
			}
			return len(preds) == 0
		}, nil
	}
	return func(r atRow) bool {
		for _, p := range preds {
			if !p(r) {
				return false
			}
		}
		return true
	}, nil
}

func compileOne(entity string, fields []atFieldDef, f atFilter, ors *int) (atPredicate, error) {
	op := strings.ToLower(f.Op)
	if op == "and" || op == "or" {
		return compileGroup(entity, fields, f.Items, op, ors)
	}
	if f.UDF {
		return nil, atErrorf("User-defined field %s does not exist on %s.", f.Field, entity)
	}
	def, ok := findField(fields, f.Field)
	if !ok {
		return nil, atErrorf("Unable to find %s in the %s entity.", f.Field, entity)
	}
	name := def.Name
	if def.Type == "boolean" && op != "exist" && op != "notexist" {
		if _, isBool := f.Value.(bool); !isBool {
			return nil, atErrorf("Value for %s must be true or false.", def.Name)
		}
	}
	switch op {
	case "exist":
		return func(r atRow) bool { return r[name] != nil && r[name] != "" }, nil
	case "notexist":
		return func(r atRow) bool { return r[name] == nil || r[name] == "" }, nil
	case "in", "notin":
		vals, ok := f.Value.([]any)
		if !ok {
			return nil, atErrorf("The value of an '%s' condition must be an array.", f.Op)
		}
		*ors += len(vals)
		set := make(map[string]struct{}, len(vals))
		for _, v := range vals {
			set[atKey(v)] = struct{}{}
		}
		neg := op == "notin"
		return func(r atRow) bool {
			_, hit := set[atKey(r[name])]
			return hit != neg
		}, nil
	case "eq", "noteq", "gt", "gte", "lt", "lte":
		want := f.Value
		return func(r atRow) bool {
			c, comparable := atCompare(r[name], want)
			switch op {
			case "eq":
				return comparable && c == 0
			case "noteq":
				return !comparable || c != 0
			case "gt":
				return comparable && c > 0
			case "gte":
				return comparable && c >= 0
			case "lt":
				return comparable && c < 0
			default:
				return comparable && c <= 0
			}
		}, nil
	case "contains", "beginswith", "endswith":
		want := strings.ToLower(fmt.Sprint(f.Value))
		return func(r atRow) bool {
			s, ok := r[name].(string)
			if !ok {
				return false
			}
			s = strings.ToLower(s)
			switch op {
			case "contains":
				return strings.Contains(s, want)
			case "beginswith":
				return strings.HasPrefix(s, want)
			default:
				return strings.HasSuffix(s, want)
			}
		}, nil
	}
	return nil, atErrorf("Invalid operator %q.", f.Op)
}

// atKey normalises a value for set membership: numbers by value, strings
// case-insensitively (SQL Server's default collation).
func atKey(v any) string {
	if f, ok := atNumber(v); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if s, ok := v.(string); ok {
		return "s:" + strings.ToLower(s)
	}
	return fmt.Sprint(v)
}

func atNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// atCompare orders a row value against a filter value: numbers by value,
// datetimes by instant, strings case-insensitively, booleans by equality.
func atCompare(have, want any) (int, bool) {
	if have == nil || want == nil {
		return 0, have == nil && want == nil
	}
	if a, ok := atNumber(have); ok {
		b, ok := atNumber(want)
		if !ok {
			if s, isStr := want.(string); isStr {
				f, err := strconv.ParseFloat(s, 64)
				b, ok = f, err == nil
			}
		}
		if !ok {
			return 0, false
		}
		return cmpFloat(a, b), true
	}
	if a, ok := have.(bool); ok {
		b, ok := want.(bool)
		if !ok || a != b {
			return 1, ok
		}
		return 0, true
	}
	hs, ok1 := have.(string)
	ws, ok2 := want.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	if ht, err := parseATTime(hs); err == nil {
		if wt, err := parseATTime(ws); err == nil {
			return ht.Compare(wt), true
		}
	}
	return strings.Compare(strings.ToLower(hs), strings.ToLower(ws)), true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseATTime accepts the datetime shapes Autotask accepts: RFC 3339, and
// the zone-less form its own samples use ("2090-09-01T00:00:00", read as UTC).
func parseATTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// project keeps the IncludeFields of a row (all fields when none are named).
func project(r atRow, fields []atFieldDef, include []string) atRow {
	if len(include) == 0 {
		return r
	}
	out := atRow{}
	for _, name := range include {
		if def, ok := findField(fields, name); ok {
			out[def.Name] = r[def.Name]
		}
	}
	return out
}
