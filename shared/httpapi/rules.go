package httpapi

import (
	"net/http"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
)

type rulesResponse struct {
	// AlertTypes are the types a rule can be configured for.
	AlertTypes []alerting.Type `json:"alertTypes"`
	Rules      []ruleView      `json:"rules"`
}

func (h *Handler) getAlertRules(w http.ResponseWriter, r *http.Request) {
	rules, err := h.rules.List(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]ruleView, len(rules))
	for i, rule := range rules {
		views[i] = ruleViewOf(rule)
	}
	writeJSON(w, http.StatusOK, rulesResponse{AlertTypes: alerting.KnownTypes, Rules: views})
}

// getAlertRule answers one alert type's rule; a type without a rule yet
// answers the rule it would have (off, version 0).
func (h *Handler) getAlertRule(w http.ResponseWriter, r *http.Request) {
	rule, version, err := h.alertRule(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, version, rule)
}

// alertRule is the representation of the path's alert type's rule (GET's
// body, PATCH's base). NotFound for an unknown type.
func (h *Handler) alertRule(r *http.Request) (any, int64, error) {
	rule, err := h.rules.Rule(r.Context(), tenantOf(r), alerting.Type(r.PathValue("alertType")))
	if err != nil {
		return nil, 0, err
	}
	return ruleViewOf(rule), rule.Version, nil
}

// ruleRequest is a rule as GET returns it (ruleView); alertType, if given,
// must be the path's.
type ruleRequest struct {
	versioned
	AlertType        alerting.Type     `json:"alertType"`
	Enabled          bool              `json:"enabled"`
	PriorityID       int64             `json:"priorityId"`
	StatusID         int64             `json:"statusId"`
	SourceID         int64             `json:"sourceId"`
	QueueID          int64             `json:"queueId"`
	ResourceID       int64             `json:"resourceId"`
	RoleID           int64             `json:"roleId"`
	BoardID          int64             `json:"boardId"`
	CategoryID       int64             `json:"categoryId"`
	IssueTypeID      int64             `json:"issueTypeId"`
	DueDays          int               `json:"dueDays"`
	TitlePrefix      string            `json:"titlePrefix"`
	MinSeverity      alerting.Severity `json:"minSeverity"`
	CloseOnResolve   bool              `json:"closeOnResolve"`
	CompleteStatusID int64             `json:"completeStatusId"`
}

// putAlertRule stores the ticket rule of one alert type
// (app.Rules.Put: its shape and every id checked against the PSA).
func (h *Handler) putAlertRule(w http.ResponseWriter, r *http.Request) {
	t := alerting.Type(r.PathValue("alertType"))
	if !t.Known() {
		h.fail(w, r, apperr.New(apperr.NotFound, "unknown alert type %q", t))
		return
	}
	var req ruleRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.AlertType != "" && req.AlertType != t {
		h.fail(w, r, apperr.New(apperr.Invalid, "alertType %q is not the path's %q", req.AlertType, t))
		return
	}
	rule := alerting.Rule{Type: t, Enabled: req.Enabled, PriorityID: req.PriorityID, StatusID: req.StatusID, SourceID: req.SourceID,
		QueueID: req.QueueID, ResourceID: req.ResourceID, RoleID: req.RoleID, BoardID: req.BoardID, CategoryID: req.CategoryID,
		IssueTypeID: req.IssueTypeID, DueDays: req.DueDays, TitlePrefix: req.TitlePrefix, MinSeverity: req.MinSeverity,
		CloseOnResolve: req.CloseOnResolve, CompleteStatusID: req.CompleteStatusID}
	version, err := expectedVersionOr(r, req.versioned, anyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.rules.Put(r.Context(), tenantOf(r), rule, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, ruleViewOf(saved))
}
