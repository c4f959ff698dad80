// Package jsonmerge applies a JSON Merge Patch (RFC 7396) to a JSON
// document: the body of a PATCH with Content-Type
// application/merge-patch+json. It is pure: no HTTP, no storage.
package jsonmerge

import (
	"bytes"
	"encoding/json"
)

// MediaType is the media type of a JSON Merge Patch.
const MediaType = "application/merge-patch+json"

// Apply returns doc with patch merged in, by RFC 7396: an object member of
// the patch replaces the document's member of that name, recursively for
// objects; a null member removes it; a patch that is not an object replaces
// the whole document. Both inputs must be JSON (the caller decodes the
// patch strictly first); the error is the JSON decoder's.
func Apply(doc, patch []byte) ([]byte, error) {
	p, err := decode(patch)
	if err != nil {
		return nil, err
	}
	d, err := decode(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(merge(d, p)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decode reads one JSON value, numbers kept as written (an int64 id over
// 2^53 must not pass through a float64).
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// merge is RFC 7396's MergePatch(Target, Patch).
func merge(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for name, value := range p {
		if value == nil {
			delete(t, name)
			continue
		}
		t[name] = merge(t[name], value)
	}
	return t
}
