package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// alertView is one alert occurrence in GET /v1/alerts.
type alertView struct {
	ID         string            `json:"id"`
	Type       alerting.Type     `json:"type"`
	Severity   alerting.Severity `json:"severity"`
	Org        string            `json:"org"`
	Status     alerting.Status   `json:"status"`
	State      alerting.State    `json:"state"`
	Decision   alerting.Decision `json:"decision"`
	Reason     alerting.Reason   `json:"reason,omitempty"`
	TicketID   int64             `json:"ticketId,omitempty"`
	Error      string            `json:"error,omitempty"`
	OccurredAt time.Time         `json:"occurredAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
}

type alertsPage struct {
	Alerts     []alertView `json:"alerts"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// defaultAlertsLimit is the page size when the caller names none.
const defaultAlertsLimit = 50

// getAlerts lists the caller's tenant's alert occurrences, newest first,
// with their decision, ticket and any PSA error. Query: org, state
// (queued|done|skipped|failed), cursor, limit (1-100).
func (h *Handler) getAlerts(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Alerts == nil {
		h.fail(w, r, apperr.New(apperr.Internal, "alert storage is not configured"))
		return
	}
	q := r.URL.Query()
	f := alerting.Filter{Org: q.Get("org"), State: alerting.State(q.Get("state"))}
	if f.Org != "" && !billing.ValidOrgID(f.Org) {
		h.fail(w, r, apperr.New(apperr.Invalid, "org must be 1-128 letters, digits, '.', '_', ':' or '-'"))
		return
	}
	if f.State != "" && !f.State.Valid() {
		h.fail(w, r, apperr.New(apperr.Invalid, "state must be queued, done, skipped or failed"))
		return
	}
	limit := defaultAlertsLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			h.fail(w, r, apperr.New(apperr.Invalid, "limit must be between 1 and 100"))
			return
		}
		limit = n
	}
	recs, next, err := h.cfg.Alerts.Alerts(r.Context(), tenantOf(r), f, q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page := alertsPage{Alerts: make([]alertView, len(recs)), NextCursor: next}
	for i, rec := range recs {
		page.Alerts[i] = alertView{ID: rec.ID, Type: rec.Type, Severity: rec.Severity, Org: rec.Org, Status: rec.Status,
			State: rec.State, Decision: rec.Decision, Reason: rec.Reason, TicketID: rec.TicketID, Error: rec.Error,
			OccurredAt: rec.OccurredAt, UpdatedAt: rec.UpdatedAt}
	}
	writeJSON(w, http.StatusOK, page)
}
