package jsonmerge_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/psabridge/psabridge/shared/jsonmerge"
)

// TestApply runs the examples of RFC 7396, Appendix A, and the one of
// section 3.
func TestApply(t *testing.T) {
	for _, tc := range []struct{ name, doc, patch, want string }{
		{"ReplaceMember", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"AddMember", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"RemoveMember", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"RemoveOneOfTwo", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"ArrayReplacesString", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"StringReplacesArray", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"Nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"ArrayWhole", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"ArrayDoc", `["a","b"]`, `["c","d"]`, `["c","d"]`},
		{"ObjectOverArray", `{"a":"b"}`, `["c"]`, `["c"]`},
		{"NullDoc", `{"a":"foo"}`, `null`, `null`},
		{"StringDoc", `{"a":"foo"}`, `"bar"`, `"bar"`},
		{"KeepsNullInPatchedNew", `{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{"ArrayToObject", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{"DeepNewObject", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{"Section3", `{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonmerge.Apply([]byte(tc.doc), []byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("result %s: %v", got, err)
			}
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("BigIntegerKept", func(t *testing.T) {
		got, err := jsonmerge.Apply([]byte(`{"id":9007199254740993,"a":1}`), []byte(`{"a":2}`))
		if want := `{"a":2,"id":9007199254740993}`; err != nil || string(got) != want {
			t.Fatalf("got %s (%v), want %s", got, err, want)
		}
	})
	t.Run("ErrPatch", func(t *testing.T) {
		if _, err := jsonmerge.Apply([]byte(`{}`), []byte(`{"a":`)); err == nil {
			t.Fatal("got nil, want the decoder's error")
		}
	})
}
