package psatest

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// CheckRequest holds the request of a recorded exchange against a vendor
// definition whose router was built without servers: path is the request's
// path below the definition's base. The operation must exist, every query
// parameter must be one it declares, and the request must match its
// schemas; each failure is reported on tb under name. It returns the
// validation input (with the operation's route) for checking the answer,
// or nil when the definition does not know the operation.
func CheckRequest(tb testing.TB, rtr routers.Router, name, path string, x Exchange) *openapi3filter.RequestValidationInput {
	tb.Helper()
	req, _ := http.NewRequest(x.Method, "http://vendor"+path+"?"+x.URL.RawQuery, bytes.NewReader(x.ReqBody))
	req.Header = x.ReqHeader.Clone()
	rt, params, err := rtr.FindRoute(req)
	if err != nil {
		tb.Errorf("%s: the vendor definition does not recognise the request: %v", name, err)
		return nil
	}
	declared := map[string]bool{}
	for _, ps := range []openapi3.Parameters{rt.PathItem.Parameters, rt.Operation.Parameters} {
		for _, p := range ps {
			if p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = true
			}
		}
	}
	for k := range x.URL.Query() {
		if !declared[k] {
			tb.Errorf("%s: query parameter %q is not in the definition", name, k)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: rt,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		tb.Errorf("%s: the request does not match the definition: %v", name, err)
	}
	return in
}
