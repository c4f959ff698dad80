package devstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/psabridge/psabridge/shared/apiclient"
)

// API returns the generated client (shared/apiclient) of the API at c.Base,
// sending token as the bearer token when it is not empty. Its calls fail
// the way Client's do: a non-2xx answer is an *APIError (see StatusOf), so
// a caller checks one error and then reads the answer's 2xx body.
func (c *Client) API(token string) (*apiclient.ClientWithResponses, error) {
	opts := []apiclient.ClientOption{apiclient.WithHTTPClient(apiErrors{c.httpClient()})}
	if token != "" {
		opts = append(opts, apiclient.WithRequestEditorFn(apiclient.Bearer(token)))
	}
	return apiclient.NewClientWithResponses(strings.TrimRight(c.Base, "/"), opts...)
}

// apiErrors sends the generated client's requests and turns a non-2xx
// answer into an *APIError, because the generated methods return every
// status as a success.
type apiErrors struct{ http *http.Client }

func (d apiErrors) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.http.Do(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return resp, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return nil, &APIError{Method: req.Method, Path: req.URL.RequestURI(), Status: resp.StatusCode, Body: string(b)}
}

// requestBody converts v (a plan's JSON object) into the generated request
// type T. A field T does not know is an error rather than dropped, so a
// demo plan that drifts from the OpenAPI document fails loudly.
func requestBody[T any](what string, v any) (T, error) {
	var out T
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return out, fmt.Errorf("%s: %w", what, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("%s does not fit the API's request type: %w", what, err)
	}
	return out, nil
}
