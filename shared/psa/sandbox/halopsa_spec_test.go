package sandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// haloSpecFile is Halo's API definition in ../shared/specs.
const haloSpecFile = "halopsa-v2.swagger.json"

// haloSpec is the part of the definition the sandbox's answers are held
// against: the operations' summaries and request bodies, and the
// components.
type haloSpec struct {
	Paths map[string]map[string]struct {
		Summary     string `json:"summary"`
		RequestBody struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadHaloSpec(tb testing.TB) *haloSpec {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(psatest.MustSpecDir(tb, haloSpecFile), haloSpecFile))
	if err != nil {
		tb.Fatal(err)
	}
	var s haloSpec
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	return &s
}

var haloSummaryRE = regexp.MustCompile(`^(?:List of|Get one) (\w+)$`)

// component names the schema an answer of method on path is held
// against: the one the GET operation's summary names ("List of Area"),
// the item schema of a POST's array body (a write answers what it
// saved), or, for the two operations the definition leaves without a
// summary, the schema of their collection.
func (s *haloSpec) component(tb testing.TB, method, path string) string {
	tb.Helper()
	op, ok := s.Paths[path][strings.ToLower(method)]
	if !ok {
		tb.Fatalf("%s %s is not in the definition", method, path)
	}
	if m := haloSummaryRE.FindStringSubmatch(op.Summary); m != nil {
		return m[1]
	}
	if body, ok := op.RequestBody.Content["application/json"]; ok {
		if items, ok := body.Schema["items"].(map[string]any); ok {
			ref, _ := items["$ref"].(string)
			return strings.TrimPrefix(ref, "#/components/schemas/")
		}
	}
	if name := map[string]string{"/Agent/me": "Uname", "/ItemGroup": "ItemGroup"}[path]; name != "" {
		return name
	}
	tb.Fatalf("%s %s names no schema", method, path)
	return ""
}

// check holds v against schema (a component or an inline schema) and
// returns what does not conform, with JSON paths. Objects are closed
// (Halo's components say additionalProperties: false); formats int32,
// int64, double, date-time and uuid are checked.
func (s *haloSpec) check(schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		return s.check(s.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], v, at)
	}
	if v == nil {
		if n, _ := schema["nullable"].(bool); n {
			return nil
		}
		return []string{at + ": null, not nullable"}
	}
	bad := func(want string) []string { return []string{fmt.Sprintf("%s: %T %v, want %s", at, v, v, want)} }
	switch schema["type"] {
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || (schema["format"] == "int32" && (f > math.MaxInt32 || f < math.MinInt32)) {
			return bad("an " + fmt.Sprint(schema["format"]))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return bad("a number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		switch schema["format"] {
		case "uuid":
			if !regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`).MatchString(str) {
				return bad("a uuid")
			}
		case "date-time":
			if _, err := time.Parse("2006-01-02T15:04:05", str); err != nil {
				if _, err := time.Parse(time.RFC3339, str); err != nil {
					return bad("a date-time")
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return bad("an array")
		}
		items, _ := schema["items"].(map[string]any)
		var errs []string
		for i, el := range arr {
			errs = append(errs, s.check(items, el, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return errs
	default:
		props, isObject := schema["properties"].(map[string]any)
		if !isObject {
			return nil // a free-form schema
		}
		m, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		var errs []string
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, ok := props[k].(map[string]any)
			if !ok {
				if ap, _ := schema["additionalProperties"].(bool); !ap {
					errs = append(errs, at+"."+k+": not a property of the schema")
				}
				continue
			}
			errs = append(errs, s.check(p, m[k], at+"."+k)...)
		}
		return errs
	}
	return nil
}

// TestHaloAnswersConformToSpec drives every route of the dialect and holds
// each answer against the component Halo's definition names for it, inside
// the list envelope of docs/HALOPSA.md section 2.1.
func TestHaloAnswersConformToSpec(t *testing.T) {
	spec := loadHaloSpec(t)
	f := mustHaloFixture(t, haloSeed())
	_, created, _ := f.do(t, "POST", "/Tickets", `[{"client_id":25001,"summary":"Disk full","third_party_id_string":"k","deadlinedate":"2026-12-03T17:00:00"}]`)
	tid := jsonNum(int64(obj(t, created)["id"].(float64)))
	for _, tc := range []struct {
		method, path, specPath, body, key string
	}{
		{"GET", "/Client?pageinate=true&page_size=3", "/Client", "", "clients"},
		{"GET", "/Client/25001", "/Client/{id}", "", ""},
		{"GET", "/TopLevel", "/TopLevel", "", "tree"},
		{"GET", "/ClientContract?includeinactive=true", "/ClientContract", "", "contracts"},
		{"GET", "/ClientContract/811", "/ClientContract/{id}", "", ""},
		{"GET", "/RecurringInvoice?includelines=true&pageinate=true&page_size=100&page_no=1", "/RecurringInvoice", "", "invoices"},
		{"GET", "/RecurringInvoice/-4101", "/RecurringInvoice/{id}", "", ""},
		{"POST", "/RecurringInvoice/updatelines", "/RecurringInvoice/updatelines", `[{"id":77001,"ihid":-4101,"qty_order":12,"unit_cost":17.5}]`, ""},
		{"POST", "/RecurringInvoice/updatelines", "/RecurringInvoice/updatelines", `[{"ihid":-4101,"_itemid":5502,"qty_order":1},{"id":77002,"ihid":-4101,"qty_order":2}]`, "[]"},
		{"POST", "/RecurringInvoice", "/RecurringInvoice", `[{"client_id":25002,"lines":[{"_itemid":5502,"qty_order":2}]}]`, ""},
		{"GET", "/Item?includeactive=false&includeinactive=true", "/Item", "", "items"},
		{"GET", "/Item/5501", "/Item/{id}", "", ""},
		{"POST", "/Item", "/Item", `[{"name":"EDR","isrecurringitem":true,"recurringprice":9,"item_default_billing_period":2}]`, ""},
		{"GET", "/ItemGroup", "/ItemGroup", "", "[]"},
		{"GET", "/Tickets?client_id=25001&open_only=true&pageinate=true&page_size=100&page_no=1", "/Tickets", "", "tickets"},
		{"GET", "/Tickets/" + tid, "/Tickets/{id}", "", ""},
		{"POST", "/Tickets", "/Tickets", `[{"id":` + tid + `,"status_id":22}]`, ""},
		{"POST", "/Actions", "/Actions", `[{"ticket_id":` + tid + `,"outcome":"Private Note","note":"n","hiddenfromuser":true}]`, ""},
		{"GET", "/Actions?ticket_id=" + tid + "&excludesys=true", "/Actions", "", "actions"},
		{"GET", "/Actions?ticket_id=" + tid, "/Actions", "", "actions"},
		{"GET", "/Status?type=ticket", "/Status", "", "[]"},
		{"GET", "/Priority", "/Priority", "", "[]"},
		{"GET", "/TicketType", "/TicketType", "", "[]"},
		{"GET", "/Team?type=reqs", "/Team", "", "[]"},
		{"GET", "/Team/91", "/Team/{id}", "", ""},
		{"GET", "/Agent", "/Agent", "", "[]"},
		{"GET", "/Agent/me", "/Agent/me", "", ""},
		{"GET", "/Outcome", "/Outcome", "", "[]"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body, _ := f.do(t, tc.method, tc.path, tc.body)
			if status/100 != 2 {
				t.Fatalf("got %d %v", status, body)
			}
			item := map[string]any{"$ref": "#/components/schemas/" + spec.component(t, tc.method, tc.specPath)}
			var errs []string
			switch tc.key {
			case "": // the object itself
				errs = spec.check(item, body, "$")
			case "[]": // a bare array
				errs = spec.check(map[string]any{"type": "array", "items": item}, body, "$")
			default: // the list envelope
				env := map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
					"record_count": map[string]any{"type": "integer", "format": "int32"},
					"page_no":      map[string]any{"type": "integer", "format": "int32"},
					"page_size":    map[string]any{"type": "integer", "format": "int32"},
					tc.key:         map[string]any{"type": "array", "items": item},
				}}
				if _, ok := obj(t, body)[tc.key].([]any); !ok {
					t.Fatalf("got %v, want an array under %q", body, tc.key)
				}
				errs = spec.check(env, body, "$")
			}
			for _, e := range errs {
				t.Error(e)
			}
		})
	}
}

// TestHaloSpecCheckFails shows the checker catches what it must: an
// unknown property, a wrong type, a string id where an integer is due.
func TestHaloSpecCheckFails(t *testing.T) {
	spec := loadHaloSpec(t)
	area := map[string]any{"$ref": "#/components/schemas/Area"}
	for _, v := range []map[string]any{
		{"id": 1.0, "name": "x", "client_name": "not an Area field"},
		{"id": "1", "name": "x"},
		{"id": 1.5, "name": "x"},
		{"id": 1.0, "inactive": "no"},
	} {
		if errs := spec.check(area, v, "$"); len(errs) == 0 {
			t.Errorf("got no error for %v", v)
		}
	}
	if errs := spec.check(area, map[string]any{"id": 1.0, "name": "x", "toplevel_id": nil}, "$"); len(errs) != 0 {
		t.Errorf("got %v for a valid Area", errs)
	}
}
