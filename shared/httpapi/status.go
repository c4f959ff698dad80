package httpapi

import (
	"net/http"

	"github.com/psabridge/psabridge/shared/apperr"
)

// statusOf is the one place the API maps error codes to HTTP statuses
// (the workers map them to retry-or-record with apperr.IsTransient).
var statusOf = map[apperr.Code]int{
	apperr.Invalid:            http.StatusBadRequest,
	apperr.Unauthorized:       http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.PreconditionFailed: http.StatusPreconditionFailed,
	apperr.TooLarge:           http.StatusRequestEntityTooLarge,
	apperr.MethodNotAllowed:   http.StatusMethodNotAllowed,
	apperr.Rejected:           http.StatusUnprocessableEntity,
	apperr.Transient:          http.StatusServiceUnavailable,
	apperr.Internal:           http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status of an error code: 500 for a code the
// table does not know.
func HTTPStatus(code apperr.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
