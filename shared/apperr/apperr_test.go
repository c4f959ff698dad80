package apperr_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

func TestClassification(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: secret-host-detail")
	wrapped := fmt.Errorf("reading lines: %w", &apperr.Error{Code: apperr.Transient, Message: "the PSA is busy",
		Details: []string{"Too many requests"}, RetryAfter: 7 * time.Second, Err: cause})
	for _, tc := range []struct {
		name      string
		err       error
		code      apperr.Code
		message   string
		details   int
		transient bool
	}{
		{"Nil", nil, "", "internal error", 0, false},
		{"PlainErrorIsInternal", cause, apperr.Internal, "internal error", 0, false},
		{"WrappedKeepsCode", wrapped, apperr.Transient, "the PSA is busy", 1, true},
		{"InternalHidesMessage", apperr.Wrap(cause, apperr.Internal, "boom at %s", "db"), apperr.Internal, "internal error", 0, false},
		{"Rejected", &apperr.Error{Code: apperr.Rejected, Message: "refused", Details: []string{"a", "b"}}, apperr.Rejected, "refused", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := apperr.CodeOf(tc.err); got != tc.code {
				t.Errorf("code: got %q, want %q", got, tc.code)
			}
			if got := apperr.MessageOf(tc.err); got != tc.message {
				t.Errorf("message: got %q, want %q", got, tc.message)
			}
			if got := len(apperr.DetailsOf(tc.err)); got != tc.details {
				t.Errorf("details: got %d, want %d", got, tc.details)
			}
			if got := apperr.IsTransient(tc.err); got != tc.transient {
				t.Errorf("transient: got %v, want %v", got, tc.transient)
			}
		})
	}
	if got := apperr.RetryAfterOf(wrapped); got != 7*time.Second {
		t.Fatalf("retry after: got %s, want 7s", got)
	}
	if !errors.Is(wrapped, cause) {
		t.Fatal("got a chain without the cause, want Unwrap to reach it")
	}
}

func TestProblems(t *testing.T) {
	t.Run("None", func(t *testing.T) {
		var p apperr.Problems
		if err := p.Err(); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
	t.Run("All", func(t *testing.T) {
		var p apperr.Problems
		p.Add("budgetPerHour", "budgetPerHour must be between %d and %d", 10, 10000)
		p.AddErr("timeZone", apperr.New(apperr.Invalid, "unknown time zone %q", "Mars/Base"))
		p.AddErr("ignored", nil)
		var nested apperr.Problems
		nested.Add("product", "product is required")
		p.AddErr("lines[1]", nested.Err())
		err := p.Err()
		want := []apperr.FieldError{
			{Field: "budgetPerHour", Message: "budgetPerHour must be between 10 and 10000"},
			{Field: "timeZone", Message: `unknown time zone "Mars/Base"`},
			{Field: "lines[1].product", Message: "product is required"},
		}
		if got := apperr.FieldsOf(err); !slices.Equal(got, want) {
			t.Errorf("fields: got %v, want %v", got, want)
		}
		if got := apperr.CodeOf(err); got != apperr.Invalid {
			t.Errorf("code: got %q, want invalid", got)
		}
		if got, want := apperr.MessageOf(err), `budgetPerHour must be between 10 and 10000; unknown time zone "Mars/Base"; product is required`; got != want {
			t.Errorf("message: got %q, want %q", got, want)
		}
	})
}
