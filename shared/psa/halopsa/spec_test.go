package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// specFile is Halo's own API definition (../shared/specs beside the
// repository; never copied in).
const specFile = "halopsa-v2.swagger.json"

// spec is the loaded, normalised definition with a path-only router.
type spec struct {
	doc *openapi3.T
	rtr routers.Router
}

// paramTypes maps the definition's invalid parameter types (C# names) to
// OpenAPI ones. List<int> is sent comma-separated, so it is a string.
var paramTypes = map[string]string{
	"int": "integer", "bool": "boolean", "double": "number", "List<int>": "string",
	"DateTime": "string", "obj": "object",
}

// normalise rewrites the definition so kin-openapi can load it: parameter
// types named in C# ("int", "bool", "double", "List<int>"…) become OpenAPI
// types, parameters without a schema get a string one, and parameters
// declared twice on one operation (e.g. debug on GET /Tickets/{id}) keep
// their first declaration. It returns how many parameters it changed.
func normalise(raw []byte) ([]byte, int, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, err
	}
	changed := 0
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			params, _ := o["parameters"].([]any)
			seen := map[string]bool{}
			kept := params[:0]
			for _, p := range params {
				pm, _ := p.(map[string]any)
				key := fmt.Sprint(pm["in"], "/", pm["name"])
				if seen[key] {
					changed++
					continue
				}
				seen[key] = true
				sch, _ := pm["schema"].(map[string]any)
				if sch == nil {
					pm["schema"] = map[string]any{"type": "string"}
					changed++
				} else if t, ok := sch["type"].(string); ok && paramTypes[t] != "" {
					sch["type"] = paramTypes[t]
					changed++
				}
				kept = append(kept, pm)
			}
			if params != nil {
				o["parameters"] = kept
			}
		}
	}
	out, err := json.Marshal(doc)
	return out, changed, err
}

// haloDateTime is how Halo writes a date-time: ISO 8601 without a zone
// ("2023-06-22T14:00:19.463", UTC), which the definition calls date-time
// and an RFC 3339 check would refuse. Zoned forms pass too.
var haloDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$`)

var (
	specOnce   sync.Once
	loadedSpec *spec
	specErr    error
)

// MustSpec loads and normalises Halo's definition, once per test binary
// (it takes seconds).
func MustSpec(tb testing.TB) *spec {
	tb.Helper()
	specOnce.Do(func() { loadedSpec, specErr = loadSpec(tb) })
	if specErr != nil {
		tb.Fatal(specErr)
	}
	return loadedSpec
}

func loadSpec(tb testing.TB) (*spec, error) {
	dir := psatest.MustSpecDir(tb, specFile)
	raw, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return nil, err
	}
	norm, changed, err := normalise(raw)
	if err != nil {
		return nil, fmt.Errorf("normalising %s: %w", specFile, err)
	}
	if changed < 2000 {
		return nil, fmt.Errorf("normalised only %d parameters: is %s still Halo's document?", changed, specFile)
	}
	openapi3.DefineStringFormatValidator("date-time", openapi3.NewRegexpFormatValidator(haloDateTime.String()))
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(norm)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", specFile, err)
	}
	// Route on the path only (the file names no host but /api).
	doc.Servers = nil
	rtr, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router for %s: %w", specFile, err)
	}
	return &spec{doc: doc, rtr: rtr}, nil
}

// schema returns a component schema by name.
func (s *spec) schema(tb testing.TB, name string) *openapi3.Schema {
	tb.Helper()
	ref := s.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		tb.Fatalf("the definition has no schema %s", name)
	}
	return ref.Value
}

// answerSchemas name the component an answer holds where the operation's
// summary does not ("List of Area", "Get one InvoiceHeader"): operations
// without a summary.
var answerSchemas = map[string]struct {
	name string
	list bool
}{
	"GET /Agent/me":  {"Uname", false},
	"GET /ItemGroup": {"ItemGroup", true},
}

var summaryEntity = regexp.MustCompile(`^(?:List of|Get one) (\w+)$`)

// answerSchema returns the component an operation answers, and whether
// the answer is a list. POST answers are the saved object of the posted
// array's item schema.
func (s *spec) answerSchema(tb testing.TB, method, tmpl string, op *openapi3.Operation) (*openapi3.Schema, string, bool) {
	tb.Helper()
	if a, ok := answerSchemas[method+" "+tmpl]; ok {
		return s.schema(tb, a.name), a.name, a.list
	}
	if m := summaryEntity.FindStringSubmatch(op.Summary); m != nil {
		return s.schema(tb, m[1]), m[1], strings.HasPrefix(op.Summary, "List of")
	}
	if method == http.MethodPost && op.RequestBody != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema.Value.Items != nil {
			it := mt.Schema.Value.Items
			return it.Value, strings.TrimPrefix(it.Ref, "#/components/schemas/"), false
		}
	}
	tb.Fatalf("%s %s: the definition does not say what it answers; add it to answerSchemas", method, tmpl)
	return nil, "", false
}

// validateExchange holds one recorded API exchange (path below /api)
// against the definition: the operation exists, every query parameter is
// declared and well-typed, the body matches the operation's schema (whose
// objects allow no unknown property), and a 2xx answer holds the
// operation's component, alone or as a list (a bare array, or Halo's
// envelope with record_count). It returns the operation's template.
func (s *spec) validateExchange(t *testing.T, name, path string, x psatest.Exchange) string {
	t.Helper()
	in := psatest.CheckRequest(t, s.rtr, name, path, x)
	if in == nil {
		return ""
	}
	rt := in.Route
	if x.Status < 200 || x.Status > 299 {
		return rt.Path
	}
	sch, entity, isList := s.answerSchema(t, x.Method, rt.Path, rt.Operation)
	var body any
	if err := json.Unmarshal(x.RespBody, &body); err != nil {
		t.Errorf("%s: the answer is not JSON: %v", name, err)
		return rt.Path
	}
	var items []any
	switch b := body.(type) {
	case []any:
		items = b
		if !isList && x.Method != http.MethodPost {
			t.Errorf("%s: a single %s answered as an array", name, entity)
		}
	case map[string]any:
		if !isList {
			items = []any{b}
			break
		}
		var arrays []string
		for k, v := range b {
			switch vv := v.(type) {
			case []any:
				arrays = append(arrays, k)
				items = vv
			case float64:
				if k != "record_count" && k != "page_no" && k != "page_size" {
					t.Errorf("%s: envelope field %q", name, k)
				}
			default:
				t.Errorf("%s: envelope field %q is not a list or a count", name, k)
			}
		}
		if len(arrays) != 1 {
			t.Errorf("%s: the list envelope holds %d arrays, want 1", name, len(arrays))
		}
		if _, ok := b["record_count"].(float64); !ok {
			t.Errorf("%s: the list envelope has no record_count", name)
		}
	default:
		t.Errorf("%s: the answer is neither an object nor an array", name)
	}
	for i, it := range items {
		if err := sch.VisitJSON(it, openapi3.MultiErrors()); err != nil {
			t.Errorf("%s: answer row %d is not a valid %s: %v", name, i, entity, err)
		}
	}
	return rt.Path
}

// TestSpecNormalised: the definition loads once normalised, and the
// normalisation is what makes it load (the raw file does not).
func TestSpecNormalised(t *testing.T) {
	s := MustSpec(t)
	if n := len(s.doc.Paths.Map()); n != 808 {
		t.Errorf("%d paths, want 808", n)
	}
	// What the normalisation rewrites is not OpenAPI: a schema typed as
	// Halo's definition types its parameters does not validate.
	for raw := range paramTypes {
		var sch openapi3.Schema
		if err := json.Unmarshal([]byte(`{"type":"`+raw+`"}`), &sch); err == nil {
			if err := sch.Validate(context.Background()); err == nil {
				t.Errorf("type %q validates: the normalisation may no longer be needed", raw)
			}
		}
	}
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"2026-01-31T00:00:00", true}, {"2023-06-22T14:00:19.463", true}, {"2026-01-31T00:00:00Z", true},
		{"2026-01-31", false}, {"31/01/2026 00:00", false}, {time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), true},
	} {
		if haloDateTime.MatchString(tc.value) != tc.ok {
			t.Errorf("date-time %q: match %v, want %v", tc.value, !tc.ok, tc.ok)
		}
	}
}
