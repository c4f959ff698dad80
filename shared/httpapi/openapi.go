package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route: the one
// source the portal, scripts and the tests (which validate every response
// against it) share.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document (a copy).
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// getOpenAPI serves the document without authentication: it describes the
// API, it holds nothing of any tenant.
func (h *Handler) getOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
