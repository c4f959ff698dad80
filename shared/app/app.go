// Package app is psabridge's service floor: the application workflows the
// REST API (httpapi) and the workers call, each written against small
// interfaces typed with domain types (billing, alerting, integration, psa,
// queue, signature), never against an adapter. The composition root
// (shared/compose) hands them the adapters.
//
// A transport decodes a request, calls one service method and encodes the
// answer in its own wire types; what a workflow decides, reads and writes
// is here. Errors are apperr's codes, documented per method.
package app
