package devstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/jsonmerge"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/signature"
)

// Client calls psabridge's public HTTP API the way outside callers do: admin
// and operator routes with a bearer token, platform routes signed with the
// tenant's signing secret.
type Client struct {
	// Base is the API's base URL, e.g. "http://127.0.0.1:8080".
	Base string
	// HTTP sends the requests (default: a client with a 30 s timeout).
	HTTP *http.Client
	// Now is the signing clock (default clock.Now).
	Now func() time.Time
}

// APIError is a non-2xx answer of the API.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// StatusOf returns the HTTP status of the *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return clock.Now()
}

// Call sends a JSON request with a bearer token and decodes a JSON answer
// into out (when out is not nil). header adds request headers (If-Match).
// A non-2xx answer is an *APIError.
func (c *Client) Call(ctx context.Context, method, path, token string, body, out any, header ...string) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	resp, err := c.send(ctx, method, path, raw, h)
	if err != nil {
		return err
	}
	return decodeInto(resp, out)
}

// Raw sends a request with a bearer token and returns the answer's body as
// is (e.g. CSV). A non-2xx answer is an *APIError.
func (c *Client) Raw(ctx context.Context, method, path, token, accept string) ([]byte, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	if accept != "" {
		h.Set("Accept", accept)
	}
	resp, err := c.send(ctx, method, path, nil, h)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Signed sends body signed as the platform of tenant with secret (header
// X-Psabridge-Signature over the raw body, X-Psabridge-Tenant) and decodes a
// JSON answer into out (when not nil). A non-2xx answer is an *APIError.
func (c *Client) Signed(ctx context.Context, method, path, tenant, secret string, body []byte, out any) error {
	h := http.Header{}
	h.Set(signature.TenantHeader, tenant)
	h.Set(signature.Header, signature.Sign(body, c.now(), secret))
	resp, err := c.send(ctx, method, path, body, h)
	if err != nil {
		return err
	}
	return decodeInto(resp, out)
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, h http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header = h
	if body != nil && req.Header.Get("Content-Type") == "" {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = jsonmerge.MediaType // the API's PATCH takes a JSON Merge Patch
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	return b, nil
}

func decodeInto(b []byte, out any) error {
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

// UsageBody returns the body of a usage request from a sample file's
// content: either the body itself ({"observations":[…]}) or an API Gateway
// v2 request event (whose "body" is used, base64-decoded when flagged).
func UsageBody(sample []byte) ([]byte, error) {
	var ev struct {
		Body            *string         `json:"body"`
		IsBase64Encoded bool            `json:"isBase64Encoded"`
		Observations    json.RawMessage `json:"observations"`
	}
	if err := json.Unmarshal(sample, &ev); err != nil {
		return nil, fmt.Errorf("sample is not JSON: %w", err)
	}
	switch {
	case ev.Observations != nil:
		return sample, nil
	case ev.Body != nil && ev.IsBase64Encoded:
		return decodeBase64(*ev.Body)
	case ev.Body != nil:
		return []byte(*ev.Body), nil
	}
	return nil, fmt.Errorf("sample has neither \"observations\" nor an API Gateway \"body\"")
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("sample body is not base64: %w", err)
	}
	return b, nil
}

// PostUsageSample signs the usage request in the sample file at path (see
// UsageBody) as tenant's platform with secret, posts it to the API at base
// and returns the API's answer. The sample is first re-dated to now
// (samples.Redate), so its observations count in the current billing
// month whatever day it is posted. A non-2xx answer is an *APIError.
func PostUsageSample(ctx context.Context, base, tenant, secret, path string) (json.RawMessage, error) {
	sample, err := samples.LoadFile(path, clock.Now())
	if err != nil {
		return nil, err
	}
	body, err := UsageBody(sample.JSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out json.RawMessage
	err = (&Client{Base: base}).Signed(ctx, http.MethodPost, "/v1/usage", tenant, secret, body, &out)
	return out, err
}
