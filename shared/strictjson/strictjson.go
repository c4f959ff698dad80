// Package strictjson is psabridge's one JSON decoder for input from outside:
// request bodies of the REST API, the usage and org registration routes and
// the alert webhook. encoding/json alone is lenient where a hostile or buggy
// caller can hurt: it keeps the last of two equal keys, replaces invalid
// UTF-8 with U+FFFD (so what is stored differs from what was signed, and
// raw alert details pass through unchanged into SQS, which refuses them),
// and Decoder.More accepts trailing closers such as `{…}}`.
//
// Every function here returns an *apperr.Error with code Invalid and a
// message that names the problem (and, where it helps, the byte offset).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/apperr"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// Check reports whether data is exactly one JSON value (surrounding
// whitespace allowed) whose strings and keys are all valid UTF-8, with no
// lone UTF-16 surrogate escapes and no object holding the same key twice (at
// any depth; keys are compared after unescaping). Invalid names the first
// problem; nil otherwise.
func Check(data []byte) error {
	if err := scan(data); err != nil {
		return err
	}
	// The scanner checks structure, strings and keys; encoding/json checks
	// the rest of the grammar (numbers, literals).
	if !json.Valid(data) {
		return syntaxError(json.Unmarshal(data, new(any)))
	}
	return nil
}

// scan is Check without the grammar of numbers and literals, which a
// decoder checks anyway.
func scan(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return apperr.New(apperr.Invalid, "request body is empty")
	}
	if !utf8.Valid(data) {
		// Outside strings, a non-ASCII byte is a syntax error anyway, so
		// an invalid sequence can only sit in a string or a key.
		return apperr.New(apperr.Invalid, "the body is not valid UTF-8 (at offset %d)", firstInvalidUTF8(data))
	}
	s := scanner{data: data}
	if err := s.value(0); err != nil {
		return err
	}
	s.space()
	if s.pos < len(data) {
		return apperr.New(apperr.Invalid, "trailing data after the JSON value (at offset %d)", s.pos)
	}
	return nil
}

// scanner walks one JSON value. It is a hand-written pass rather than
// json.Decoder.Token, which is several times slower on a 1 MB usage body.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) malformed() error {
	if s.pos >= len(s.data) {
		return apperr.New(apperr.Invalid, "malformed JSON: the body ends too early")
	}
	return apperr.New(apperr.Invalid, "malformed JSON at offset %d", s.pos)
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return apperr.New(apperr.Invalid, "the JSON body is nested too deeply")
	}
	s.space()
	if s.pos >= len(s.data) {
		return s.malformed()
	}
	switch s.data[s.pos] {
	case '{':
		return s.object(depth)
	case '[':
		s.pos++
		s.space()
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.space()
			if s.pos >= len(s.data) {
				return s.malformed()
			}
			switch s.data[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.malformed()
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	default:
		// A number or literal: its characters, checked by json.Valid.
		start := s.pos
		for s.pos < len(s.data) && strings.IndexByte("0123456789+-.eEtruefalsn", s.data[s.pos]) >= 0 {
			s.pos++
		}
		if s.pos == start {
			return s.malformed()
		}
		return nil
	}
}

func (s *scanner) object(depth int) error {
	s.pos++ // '{'
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	var keys []string // linear search: objects here have few keys
	var many map[string]struct{}
	for {
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.malformed()
		}
		at := s.pos
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := string(raw)
		if escaped {
			if json.Unmarshal(s.data[at:s.pos], &key) != nil {
				return s.malformed()
			}
		}
		dup := false
		if many != nil {
			_, dup = many[key]
			many[key] = struct{}{}
		} else {
			dup = slices.Contains(keys, key)
			keys = append(keys, key)
			if len(keys) > 16 {
				many = make(map[string]struct{}, 2*len(keys))
				for _, k := range keys {
					many[k] = struct{}{}
				}
			}
		}
		if dup {
			return apperr.New(apperr.Invalid, "duplicate key %q (at offset %d)", key, at)
		}
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.malformed()
		}
		s.pos++
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.malformed()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.malformed()
		}
	}
}

// str consumes a string at s.pos (on its opening quote) and returns its raw
// contents and whether it holds escapes. A \u escape of a UTF-16 surrogate
// must be a high one followed by an escaped low one: encoding/json would
// silently turn a lone one into U+FFFD.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	s.pos++ // '"'
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw = s.data[start:s.pos]
			s.pos++
			return raw, escaped, nil
		case c < 0x20:
			return nil, false, s.malformed()
		case c != '\\':
			s.pos++
			continue
		}
		escaped = true
		if s.pos+1 >= len(s.data) {
			return nil, false, s.malformed()
		}
		if s.data[s.pos+1] != 'u' {
			s.pos += 2 // a one-character escape (json.Valid checks which)
			continue
		}
		r, ok := hex4(s.data, s.pos+2)
		if !ok {
			return nil, false, s.malformed()
		}
		switch {
		case !utf16.IsSurrogate(r):
			s.pos += 6
		case r < 0xdc00 && s.pos+11 < len(s.data) && s.data[s.pos+6] == '\\' && s.data[s.pos+7] == 'u':
			if low, ok := hex4(s.data, s.pos+8); ok && low >= 0xdc00 && low <= 0xdfff {
				s.pos += 12
				continue
			}
			fallthrough
		default:
			return nil, false, apperr.New(apperr.Invalid, "a string holds an unpaired UTF-16 surrogate escape (at offset %d)", s.pos)
		}
	}
	return nil, false, s.malformed()
}

// Decode checks data (see Check) and decodes it into v, refusing fields v
// does not have. Invalid names the problem: unknown field, wrong type,
// malformed JSON, empty body, trailing data, invalid UTF-8 or a duplicate
// key.
func Decode(data []byte, v any) error { return decode(data, v, false) }

// DecodeAllowingUnknownFields is Decode that ignores fields v does not have:
// for senders that may add fields before psabridge knows them (the platform's
// alerts), so that a new field never loses a delivery. Every other rule of
// Decode holds.
func DecodeAllowingUnknownFields(data []byte, v any) error { return decode(data, v, true) }

func decode(data []byte, v any, allowUnknown bool) error {
	if err := scan(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return apperr.New(apperr.Invalid, "field %q has the wrong type", ute.Field)
		case errors.As(err, &ute):
			return apperr.New(apperr.Invalid, "the body must be a JSON %s", jsonKind(v))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apperr.New(apperr.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return syntaxError(err)
		}
	}
	return nil
}

// jsonKind names the JSON type a Go destination expects, for messages.
func jsonKind(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "value"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "object"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "array"
	default:
		return t.Kind().String()
	}
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return apperr.New(apperr.Invalid, "malformed JSON at offset %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON: the body ends too early")
	default:
		return apperr.New(apperr.Invalid, "malformed JSON body")
	}
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// hex4 parses the four hex digits at data[at:].
func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
