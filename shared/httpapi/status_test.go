package httpapi_test

import (
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/httpapi"
)

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		code apperr.Code
		want int
	}{
		{apperr.Invalid, 400}, {apperr.Unauthorized, 401}, {apperr.Forbidden, 403}, {apperr.NotFound, 404},
		{apperr.Conflict, 409}, {apperr.PreconditionFailed, 412}, {apperr.TooLarge, 413}, {apperr.MethodNotAllowed, 405}, {apperr.Rejected, 422},
		{apperr.Transient, 503}, {apperr.Internal, 500}, {"unheard_of", 500},
	} {
		t.Run(string(tc.code), func(t *testing.T) {
			if got := httpapi.HTTPStatus(tc.code); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}
