// Package httpapi is psabridge's REST API as one http.Handler: served by
// net/http locally and wrapped for API Gateway (payload v2) in Lambda.
//
// Three kinds of caller, three kinds of authentication:
//   - tenant admins (portal, scripts): a JWT whose claims give the tenant and
//     roles, checked by an Authenticator; the tenant always comes from it;
//   - the vendor's platform (usage, org registration): requests signed with
//     the tenant's signing secret (package signature);
//   - the vendor's operators (tenant provisioning): IAM in AWS, an operator
//     token locally.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/secrets"
)

// MaxBodyBytes bounds every request body; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// Store is what the API needs from storage (implemented by *dynamo.Store).
type Store interface {
	CreateTenant(ctx context.Context, tenant string) (dynamo.Tenant, error)
	Tenant(ctx context.Context, tenant string) (dynamo.Tenant, error)
	RecordObservation(ctx context.Context, tenant string, loc *time.Location, o billing.Observation) (bool, error)
	RegisterOrg(ctx context.Context, tenant, org, name string) error
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
}

// Secrets is what the API needs from the secret store (implemented by
// *secrets.Store).
type Secrets interface {
	SigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error)
	FreshSigningSecrets(ctx context.Context, tenant string) ([]secrets.SigningSecret, error)
	PutSigningSecrets(ctx context.Context, tenant string, list []secrets.SigningSecret) error
}

// Config wires the API's dependencies.
type Config struct {
	Store   Store
	Secrets Secrets
	// Auth authenticates admins and operators.
	Auth Authenticator
	// BillingRole is the role an admin needs for integration routes.
	BillingRole string
	Logger      *slog.Logger
	Now         func() time.Time
}

// Handler serves the REST API.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
	now func() time.Time
}

// New returns the API handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.BillingRole == "" {
		h.cfg.BillingRole = "billing-admin"
	}
	h.routesPlatform()
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, apperr.New(apperr.NotFound, "no such route"))
	})
	return h
}

// ServeHTTP serves one request. Panics in handlers become 500 with a generic
// message (the panic is logged).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(r.Context(), "panic", "panic", p, "path", r.URL.Path)
			h.fail(w, r, apperr.New(apperr.Internal, "internal error"))
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	h.mux.ServeHTTP(w, r)
}

// errorBody is the JSON error shape of every non-2xx response.
type errorBody struct {
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
	Details []string    `json:"details,omitempty"`
}

// fail writes err as {"code","message","details"} with the status of its
// code. Internal errors are logged and never shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		h.log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	} else {
		h.log.InfoContext(r.Context(), "request refused", "code", code, "err", err, "method", r.Method, "path", r.URL.Path)
	}
	if d := apperr.RetryAfterOf(err); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	writeJSON(w, apperr.HTTPStatus(code), errorBody{Code: code, Message: apperr.MessageOf(err), Details: apperr.DetailsOf(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the whole body (bounded by MaxBodyBytes). TooLarge when over.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apperr.New(apperr.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "could not read the request body")
	}
	return b, nil
}

// decodeJSON decodes body into v strictly: unknown fields, trailing data and
// type mismatches are Invalid with a message that names the problem.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			return apperr.New(apperr.Invalid, "field %q has the wrong type", ute.Field)
		case errors.As(err, &se):
			return apperr.New(apperr.Invalid, "malformed JSON at offset %d", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apperr.New(apperr.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.EOF):
			return apperr.New(apperr.Invalid, "request body is empty")
		default:
			return apperr.New(apperr.Invalid, "malformed JSON body")
		}
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "trailing data after the JSON body")
	}
	return nil
}

// readJSON reads and strictly decodes the body.
func readJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}
