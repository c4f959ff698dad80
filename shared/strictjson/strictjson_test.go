package strictjson_test

import (
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/strictjson"
)

type alert struct {
	ID      string         `json:"id"`
	N       int            `json:"n"`
	Details map[string]any `json:"details"`
	List    []string       `json:"list"`
}

// TestDecode: one table for every rule; a refusal is Invalid and its
// message names the problem.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body   string
		allowUnknown bool
		wantMsg      string // "" = accepted
	}{
		{"OK", `{"id":"a","n":1,"details":{"x":[1,{"y":null}]},"list":["é","\u00e9","\ud83d\ude00"]}`, false, ""},
		{"OKSurroundingWhitespace", " \n{\"id\":\"a\"}\n\t ", false, ""},
		{"OKSameKeyInSiblingObjects", `{"details":{"a":{"k":1},"b":{"k":2}},"list":[]}`, false, ""},
		{"OKSameKeyAtTwoDepths", `{"id":"x","details":{"id":"y"}}`, false, ""},
		{"OKUnknownFieldAllowed", `{"id":"a","later":{"z":1}}`, true, ""},
		{"ErrEmpty", ``, false, "empty"},
		{"ErrWhitespaceOnly", " \n ", false, "empty"},
		{"ErrTrailingCloser", `{"id":"a"}}`, false, "trailing data"},
		{"ErrTrailingClosers", `{"id":"a"}]]]`, false, "trailing data"},
		{"ErrTrailingValue", `{"id":"a"} {"id":"b"}`, false, "trailing data"},
		{"ErrTrailingGarbage", `{"id":"a"}x`, false, "trailing data"},
		{"ErrTrailingCloserAllowUnknown", `{"id":"a"}}`, true, "trailing data"},
		{"ErrDuplicateKey", `{"id":"a","id":"b"}`, false, `duplicate key "id"`},
		{"ErrDuplicateKeyEscaped", `{"id":"a","\u0069d":"b"}`, false, `duplicate key "id"`},
		{"ErrDuplicateKeyNested", `{"details":{"x":1,"y":[{"k":1,"k":2}]}}`, false, `duplicate key "k"`},
		{"ErrDuplicateKeyAllowUnknown", `{"later":1,"later":2}`, true, `duplicate key "later"`},
		{"ErrInvalidUTF8InValue", "{\"id\":\"a\xff\"}", false, "not valid UTF-8"},
		{"ErrInvalidUTF8InKey", "{\"details\":{\"\xc3\x28\":1}}", false, "not valid UTF-8"},
		{"ErrInvalidUTF8Overlong", "{\"id\":\"\xc0\xaf\"}", false, "not valid UTF-8"},
		{"ErrInvalidUTF8EncodedSurrogate", "{\"id\":\"\xed\xa0\x80\"}", false, "not valid UTF-8"},
		{"ErrLoneHighSurrogate", `{"id":"\ud83d"}`, false, "surrogate"},
		{"ErrLoneHighSurrogateThenText", `{"id":"\ud83dx"}`, false, "surrogate"},
		{"ErrHighThenHighSurrogate", `{"id":"\ud83d\ud83d"}`, false, "surrogate"},
		{"ErrLoneLowSurrogate", `{"id":"\ude00"}`, false, "surrogate"},
		{"ErrLoneSurrogateInKey", `{"details":{"\udfff":1}}`, false, "surrogate"},
		{"OKEscapedBackslashBeforeU", `{"id":"\\ud83d"}`, false, ""},
		{"ErrUnknownField", `{"id":"a","secret":"x"}`, false, `unknown field "secret"`},
		{"ErrWrongType", `{"id":1}`, false, `field "id" has the wrong type`},
		{"ErrWrongTopLevelType", `[1,2]`, false, "must be a JSON object"},
		{"ErrMalformed", `{"id":}`, false, "malformed JSON"},
		{"ErrTruncated", `{"id":"a"`, false, "ends too early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v alert
			decode := strictjson.Decode
			if tc.allowUnknown {
				decode = strictjson.DecodeAllowingUnknownFields
			}
			err := decode([]byte(tc.body), &v)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
			if msg := apperr.MessageOf(err); !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("got message %q, want it to contain %q", msg, tc.wantMsg)
			}
		})
	}
}

// TestDecodeKeepsValues: what was accepted is decoded as sent.
func TestDecodeKeepsValues(t *testing.T) {
	var v alert
	if err := strictjson.Decode([]byte(`{"id":"\ud83d\ude00é","list":["a"]}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != "😀é" || len(v.List) != 1 {
		t.Fatalf("got %+v, want id 😀é and one list item", v)
	}
}

// TestCheckScalars: any single JSON value passes Check, not just objects.
func TestCheckScalars(t *testing.T) {
	for _, ok := range []string{`null`, `1`, `"s"`, `true`, `[]`, `{}`} {
		if err := strictjson.Check([]byte(ok)); err != nil {
			t.Errorf("%s: got %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{`1 2`, `"s""t"`, `null null`, `[]]`} {
		if err := strictjson.Check([]byte(bad)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: got %v, want invalid", bad, err)
		}
	}
}

// BenchmarkDecode measures a usage-sized body (1,000 observations).
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"observations":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"org":"org-123456","product":"users","value":42,"observedAt":"2026-11-21T10:00:00Z"}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	type obs struct {
		Org        string  `json:"org"`
		Product    string  `json:"product"`
		Value      float64 `json:"value"`
		ObservedAt string  `json:"observedAt"`
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v struct {
			Observations []obs `json:"observations"`
		}
		if err := strictjson.Decode(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}
