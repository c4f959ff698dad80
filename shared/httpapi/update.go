package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/jsonmerge"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// Updates, the API's one convention (README "Updating resources"):
//   - GET answers with the resource's version in the body and as the ETag.
//   - PUT replaces the resource. Whatever GET returned can be PUT back
//     unchanged: read-only fields (version, updatedAt, state, …) are
//     accepted, and `version` is checked like If-Match (both given: they
//     must agree).
//   - PATCH with Content-Type application/merge-patch+json (RFC 7396)
//     changes only the fields it names: it is applied to what GET returns
//     and the result goes through the PUT's checks, guarded by the version
//     read (or the caller's If-Match).

// versioned is the `version` member every PUT body may carry: the version
// GET returned, checked like If-Match.
type versioned struct {
	Version *int64 `json:"version"`
}

// expectedVersion is the version a write must find: the body's `version`
// or If-Match; guarded is false when the request gave neither. Invalid
// when If-Match is malformed, the version negative, or the two disagree.
func expectedVersion(r *http.Request, body versioned) (version int64, guarded bool, err error) {
	version, guarded, err = ifMatch(r)
	switch {
	case err != nil:
		return 0, false, err
	case body.Version == nil:
		return version, guarded, nil
	case *body.Version < 0:
		return 0, false, apperr.New(apperr.Invalid, "version must be the version GET returned (0 or more)")
	case guarded && version != anyVersion && version != *body.Version:
		return 0, false, apperr.New(apperr.Invalid, "version %d and If-Match %s disagree", *body.Version, r.Header.Get("If-Match"))
	}
	return *body.Version, true, nil
}

// expectedVersionOr is expectedVersion with fallback when unguarded.
func expectedVersionOr(r *http.Request, body versioned, fallback int64) (int64, error) {
	version, guarded, err := expectedVersion(r, body)
	if err != nil {
		return 0, err
	}
	if !guarded {
		return fallback, nil
	}
	return version, nil
}

// representation reads a resource as its GET answers it, with its version.
type representation func(r *http.Request) (body any, version int64, err error)

// mergePatch serves PATCH on a resource: it applies the request's JSON
// Merge Patch to the resource's representation and hands the result to
// put, the resource's PUT handler, with If-Match set to the version read
// (unless the caller sent one), so a concurrent edit is 412, not lost.
// Invalid for another Content-Type or a patch that is not a JSON object.
func (h *Handler) mergePatch(get representation, put http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != jsonmerge.MediaType {
			h.fail(w, r, apperr.New(apperr.Invalid, "PATCH takes a JSON Merge Patch: send Content-Type %s", jsonmerge.MediaType))
			return
		}
		var patch map[string]json.RawMessage
		if err := readJSON(r, &patch); err != nil {
			h.fail(w, r, err)
			return
		}
		if patch == nil {
			h.fail(w, r, apperr.New(apperr.Invalid, "a merge patch must be a JSON object"))
			return
		}
		cur, version, err := get(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			h.fail(w, r, apperr.Wrap(err, apperr.Internal, "encode the resource"))
			return
		}
		if _, ok := patch["version"]; !ok {
			// The guard is the caller's If-Match, else the version read;
			// the representation's own version must not stand in for it.
			patch["version"] = json.RawMessage("null")
			if strings.TrimSpace(r.Header.Get("If-Match")) == "" {
				r.Header.Set("If-Match", etag(version))
			}
		}
		raw, _ := json.Marshal(patch) // re-encoded: the strict decode vetted it
		merged, err := jsonmerge.Apply(doc, raw)
		if err != nil {
			h.fail(w, r, apperr.Wrap(err, apperr.Internal, "apply the merge patch"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(merged))
		put(w, r)
	}
}

// readFull reads a PUT body that replaces a whole resource: it decodes the
// body strictly into v and checks that every member of required is there,
// since an omitted field would otherwise be reset to its default without
// a word. Invalid lists every missing member.
func readFull(r *http.Request, v any, required ...string) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := strictjson.Decode(b, v); err != nil {
		return err
	}
	var present map[string]json.RawMessage
	if err := strictjson.Decode(b, &present); err != nil {
		return err
	}
	var p apperr.Problems
	for _, name := range required {
		if _, ok := present[name]; !ok {
			p.Add(name, "%s is required: PUT replaces the whole resource (PATCH with %s changes some fields)", name, jsonmerge.MediaType)
		}
	}
	return p.Err()
}
