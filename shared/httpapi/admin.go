package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
)

// billingAdmin guards fn with the billing role (the role of every tenant
// admin route).
func (h *Handler) billingAdmin(fn http.HandlerFunc) http.HandlerFunc {
	return h.admin(h.cfg.BillingRole, fn)
}

// tenantOf returns the tenant of the authenticated caller.
func tenantOf(r *http.Request) string { return PrincipalOf(r.Context()).Tenant }

// etag renders a stored version as a strong ETag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: ok=false when absent; AnyVersion for "*".
// Invalid when it is not an ETag this API issued.
func ifMatch(r *http.Request) (version int64, ok bool, err error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, false, nil
	}
	if v == "*" {
		return anyVersion, true, nil
	}
	v = strings.TrimPrefix(v, "W/")
	n, perr := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if perr != nil || n < 0 || !strings.HasPrefix(v, `"`) {
		return 0, false, apperr.New(apperr.Invalid, `If-Match must be an ETag from this API, like "3"`)
	}
	return n, true, nil
}

// ifMatchOr is the version If-Match asks for, or fallback when the request
// has no If-Match. Invalid as ifMatch.
func ifMatchOr(r *http.Request, fallback int64) (int64, error) {
	version, guarded, err := ifMatch(r)
	if err != nil {
		return 0, err
	}
	if !guarded {
		return fallback, nil
	}
	return version, nil
}

// anyVersion is If-Match: * (app.AnyVersion, which mirrors
// dynamo.AnyVersion without tying handlers to it).
const anyVersion = app.AnyVersion

// writeVersioned writes v with its version as the ETag.
func writeVersioned(w http.ResponseWriter, status int, version int64, v any) {
	w.Header().Set("ETag", etag(version))
	writeJSON(w, status, v)
}

// pathID parses a positive PSA id from the path. NotFound for anything
// else: no PSA object has such an id.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, "%s must be a positive PSA id", name)
	}
	return id, nil
}
