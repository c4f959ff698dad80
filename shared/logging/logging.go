// Package logging gives psabridge's functions their slog logger: JSON to
// stdout through a redacting handler, so secrets and credentials never reach
// the logs even when a caller slips.
//
// Two nets: attributes whose key looks secret ("secret", "password",
// "privateKey", "token", "authorization"…) are replaced whole; and any
// value registered with Redactor.Add (a credential the process has seen) is
// masked wherever it appears inside a message, a string or an error text.
package logging

import (
	"context"
	"fmt"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces a redacted value.
const Mask = "[REDACTED]"

// secretKey matches attribute keys that name a secret. Matched
// case-insensitively against the whole key, so "privateKey", "x-api-key",
// "signingSecret" and "Authorization" are all caught.
var secretKey = regexp.MustCompile(`(?i)(secret|passw|private.?key|api.?key|token|authorization|credential|signature|cookie)`)

// SecretKey reports whether an attribute key names a secret.
func SecretKey(key string) bool { return secretKey.MatchString(key) }

// minValueLen is the shortest registered value that is masked: shorter
// values would mask innocent substrings everywhere.
const minValueLen = 6

// Redactor holds the secret values to mask. Safe for concurrent use; the
// zero value masks nothing until Add is called.
type Redactor struct {
	mu     sync.RWMutex
	values []string
}

// Add registers values to mask from now on. Values shorter than six
// characters are ignored (they would mask innocent text).
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if len(v) >= minValueLen && !slices.Contains(r.values, v) {
			r.values = append(r.values, v)
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	slices.SortFunc(r.values, func(a, b string) int { return len(b) - len(a) })
}

// mask returns s with every registered value replaced.
func (r *Redactor) mask(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Handler is a slog.Handler that redacts, then passes records on.
type Handler struct {
	next     slog.Handler
	redactor *Redactor
}

// NewHandler wraps next. redactor may be nil (key-based redaction only).
func NewHandler(next slog.Handler, redactor *Redactor) *Handler {
	return &Handler{next: next, redactor: redactor}
}

// New returns a JSON logger on w (stdout in Lambda) with redaction.
func New(w io.Writer, level slog.Leveler, redactor *Redactor) *slog.Logger {
	return slog.New(NewHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), redactor))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler: it rebuilds the record with redacted
// message and attributes, and adds requestId, the Lambda request id, when
// ctx is an invocation's (lambdacontext), so every line of an invocation
// can be found from its CloudWatch REPORT line.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.redactor.mask(rec.Message), rec.PC)
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		out.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red), redactor: h.redactor}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), redactor: h.redactor}
}

// attr redacts one attribute, recursing into groups.
func (h *Handler) attr(a slog.Attr) slog.Attr {
	if SecretKey(a.Key) {
		return slog.String(a.Key, Mask)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		red := make([]any, len(group))
		for i, g := range group {
			red[i] = h.attr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindString:
		return slog.String(a.Key, h.redactor.mask(v.String()))
	case slog.KindAny:
		// Errors, structs, maps: render to text so a secret inside can be
		// masked; a struct's secret-named fields are unknown here, so the
		// registered values are the net for them.
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.redactor.mask(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.redactor.mask(x.String()))
		default:
			return slog.String(a.Key, h.redactor.mask(fmt.Sprintf("%+v", x)))
		}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
