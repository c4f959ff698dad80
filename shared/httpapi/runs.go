package httpapi

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// Sync runs: start one now, list them, read one (the progress view), and
// read or export its entries. Runs are started through Config.Runs (the
// billing sync's fan-out); they are read from the store.

// RunLog reads runs and their entries (implemented by *dynamo.Store).
type RunLog interface {
	// Runs lists a tenant's newest runs, newest first.
	Runs(ctx context.Context, tenant string, limit int) ([]billing.Run, error)
	// Run reads one run; NotFound when the tenant has no such run.
	Run(ctx context.Context, tenant, id string) (billing.Run, error)
	// Entries lists a run's entries that match a filter.
	Entries(ctx context.Context, tenant, runID string, f billing.EntryFilter) ([]billing.Entry, error)
}

// runLog is Config.RunLog; Internal when the API was built without one.
func (h *Handler) runLog() (RunLog, error) {
	if h.cfg.RunLog == nil {
		return nil, apperr.New(apperr.Internal, "run log not configured")
	}
	return h.cfg.RunLog, nil
}

// postRun starts a run now (app.RunNow.Start): 202 with its id.
func (h *Handler) postRun(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DryRun bool `json:"dryRun"`
	}
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := h.runNow.Start(r.Context(), tenantOf(r), req.DryRun)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": string(billing.Running)})
}

func (h *Handler) getRuns(w http.ResponseWriter, r *http.Request) {
	log, err := h.runLog()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, err := log.Runs(r.Context(), PrincipalOf(r.Context()).Tenant, 50)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]runSummary, len(runs))
	for i, run := range runs {
		views[i] = runSummaryOf(run)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": views})
}

func (h *Handler) getRun(w http.ResponseWriter, r *http.Request) {
	run, _, err := h.tenantRun(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOfRun(run, h.now()))
}

// runView is a run as GET /v1/sync-runs/{id} shows it: the run, how many
// of its orgs have an outcome of how many (billing.Run.Progress), and,
// while it is running and once an org has an outcome, when it should
// finish at the pace so far (billing.Run.EstimatedFinish), never before
// the resume time of its deferred orgs.
type runView struct {
	runSummary
	Progress        runProgress `json:"progress"`
	EstimatedFinish *time.Time  `json:"estimatedFinish,omitempty"`
}

// runProgress is a run's orgs with an outcome (updated, unchanged,
// skipped, failed or deferred) of its total.
type runProgress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

func viewOfRun(run billing.Run, now time.Time) runView {
	v := runView{runSummary: runSummaryOf(run)}
	v.Progress.Done, v.Progress.Total = run.Progress()
	if at, ok := run.EstimatedFinish(now); ok {
		if run.ResumeAt != nil && at.Before(*run.ResumeAt) {
			at = *run.ResumeAt
		}
		at = at.UTC().Truncate(time.Second)
		v.EstimatedFinish = &at
	}
	return v
}

// tenantRun reads the run named in the path, of the caller's tenant only.
func (h *Handler) tenantRun(r *http.Request) (billing.Run, RunLog, error) {
	log, err := h.runLog()
	if err != nil {
		return billing.Run{}, nil, err
	}
	id := r.PathValue("id")
	if len(id) > 64 {
		return billing.Run{}, nil, apperr.New(apperr.NotFound, "run not found")
	}
	run, err := log.Run(r.Context(), PrincipalOf(r.Context()).Tenant, id)
	return run, log, err
}

// getRunEntries lists a run's entries, filtered by level, code and a text
// (q); with Accept: text/csv as a CSV export.
func (h *Handler) getRunEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := billing.EntryFilter{Level: billing.Level(q.Get("level")), Code: billing.Code(q.Get("code")), Query: q.Get("q")}
	switch f.Level {
	case "", billing.Info, billing.Warning, billing.Error:
	default:
		h.fail(w, r, apperr.New(apperr.Invalid, "level must be info, warning or error"))
		return
	}
	if f.Code != "" && billing.InfoOf(f.Code).Code == "" {
		h.fail(w, r, apperr.New(apperr.Invalid, "unknown entry code %q", f.Code))
		return
	}
	if len(f.Query) > 200 {
		h.fail(w, r, apperr.New(apperr.Invalid, "q is longer than 200 characters"))
		return
	}
	run, log, err := h.tenantRun(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	entries, err := log.Entries(r.Context(), PrincipalOf(r.Context()).Tenant, run.ID, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/csv") {
		writeEntriesCSV(w, run.ID, entries)
		return
	}
	views := make([]entryView, len(entries))
	for i, e := range entries {
		views[i] = entryViewOf(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": views})
}

// EntryCSVHeader is the header row of the entries CSV export.
var EntryCSVHeader = []string{"org", "product", "companyId", "contractId", "lineId", "code", "level", "message",
	"beforeQuantity", "beforeUnitCost", "afterQuantity", "afterUnitCost", "at"}

func writeEntriesCSV(w http.ResponseWriter, runID string, entries []billing.Entry) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="sync-run-`+runID+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(EntryCSVHeader)
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	val := func(v *billing.LineValue) (string, string) {
		if v == nil {
			return "", ""
		}
		return num(v.Quantity), strconv.FormatFloat(v.UnitCost, 'f', -1, 64)
	}
	for _, e := range entries {
		bq, bc := val(e.Before)
		aq, ac := val(e.After)
		_ = cw.Write([]string{cell(e.Org), cell(string(e.Product)), num(e.CompanyID), num(e.ContractID), num(e.LineID),
			string(e.Code), string(e.Level), cell(e.Message), bq, bc, aq, ac, e.At.UTC().Format(time.RFC3339)})
	}
	cw.Flush()
}

// cell defuses text a spreadsheet would run as a formula (a PSA's error
// text or an org id starting with = + - @ opens as a formula otherwise).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
