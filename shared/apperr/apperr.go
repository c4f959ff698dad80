// Package apperr is psabridge's one error vocabulary.
//
// Every error that crosses a package boundary carries a Code from the small
// set below and a message that is safe to show to a user. The code is mapped
// in exactly two places: to an HTTP status by the REST API (httpapi's status
// table), and to retry-or-record by the SQS workers (IsTransient).
package apperr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Code classifies an error. The string values are stable: they appear in API
// responses and in run entries.
type Code string

// The codes. Keep the set small; a caller decides on the code, never on the text.
const (
	// Invalid: the caller sent something malformed (HTTP 400).
	Invalid Code = "invalid"
	// Unauthorized: no or bad credentials (HTTP 401).
	Unauthorized Code = "unauthorized"
	// Forbidden: authenticated but not allowed (HTTP 403).
	Forbidden Code = "forbidden"
	// NotFound: the thing does not exist for this tenant (HTTP 404).
	NotFound Code = "not_found"
	// Conflict: the request conflicts with stored state (HTTP 409).
	Conflict Code = "conflict"
	// PreconditionFailed: an If-Match version is stale (HTTP 412).
	PreconditionFailed Code = "precondition_failed"
	// TooLarge: the request body is over the limit (HTTP 413).
	TooLarge Code = "too_large"
	// MethodNotAllowed: the path exists, but not for this HTTP method (HTTP
	// 405; the API lists the methods it has in Allow).
	MethodNotAllowed Code = "method_not_allowed"
	// Rejected: a PSA refused the request for a business reason; Details
	// hold the vendor's own words (HTTP 422).
	Rejected Code = "rejected"
	// Transient: try again later; nothing is wrong with the request (HTTP 503).
	Transient Code = "transient"
	// Internal: a bug or an unexpected failure; the message is generic (HTTP 500).
	Internal Code = "internal"
)

// Error is the error type of psabridge. Message is safe to show to a user;
// Err, the cause, is for logs only.
type Error struct {
	Code    Code
	Message string
	// Details are further user-safe lines, e.g. a PSA's own error texts,
	// kept verbatim.
	Details []string
	// Fields are the problems of an Invalid request, one per field, all of
	// them (see Problems).
	Fields []FieldError
	// RetryAfter, for Transient errors, is how long the other side asked us
	// to wait (zero when it did not say).
	RetryAfter time.Duration
	// Err is the underlying cause. Never shown to users.
	Err error
}

// Error returns the code, the message and the cause, for logs.
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a code and a user-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a code and message around a cause. The cause
// stays out of user-facing text.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the user-safe message of err: the message of the first
// *Error in its chain, or a generic text that reveals nothing.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// DetailsOf returns the user-safe details of the first *Error in err's chain.
func DetailsOf(err error) []string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Details
	}
	return nil
}

// FieldsOf returns the field problems of the first *Error in err's chain.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Fields
	}
	return nil
}

// FieldError is one problem with one field of a request. Field is the
// field's JSON path ("budgetPerHour", "unitCost.users", "lines[1].product");
// Message says what is wrong with its value, user-safe.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problems collects every field problem of a request, so the caller hears
// of all of them at once rather than one per attempt.
type Problems []FieldError

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// AddErr records err's message as a problem with field; a nil err adds
// nothing. Err's own field problems, if any, are kept under field.
func (p *Problems) AddErr(field string, err error) {
	switch fs := FieldsOf(err); {
	case err == nil:
	case len(fs) > 0:
		for _, f := range fs {
			*p = append(*p, FieldError{Field: joinField(field, f.Field), Message: f.Message})
		}
	default:
		*p = append(*p, FieldError{Field: field, Message: MessageOf(err)})
	}
}

func joinField(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	}
	return parent + "." + child
}

// Err returns nil when there is no problem, else an Invalid *Error whose
// Fields are all the problems and whose Message joins their messages.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	msgs := make([]string, len(p))
	for i, f := range p {
		msgs[i] = f.Message
	}
	return &Error{Code: Invalid, Message: strings.Join(msgs, "; "), Fields: slices.Clone(p)}
}

// RetryAfterOf returns the wait the other side asked for, if any.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// IsTransient reports whether err should be retried later. This is the one
// place the workers map codes to retry-or-record.
func IsTransient(err error) bool { return Is(err, Transient) }
