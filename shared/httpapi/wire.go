package httpapi

import (
	"time"

	"github.com/psabridge/psabridge/shared/billing"
)

// The API's wire types: what the JSON of a response looks like is decided
// here (and in openapi.json), mapped from the domain types, so a domain or
// storage struct can change without changing the API. Every response is
// checked against openapi.json by the tests.

// mappingView is an org's mapping (GET/PUT/PATCH/DELETE …/mapping, and the
// mapping of GET /v1/orgs).
type mappingView struct {
	CompanyID        int64             `json:"companyId"`
	ContractID       int64             `json:"contractId"`
	Lines            []lineMappingView `json:"lines"`
	NonBillableUsers int64             `json:"nonBillableUsers"`
	State            string            `json:"state"`
	// Seen is the company's and contract's names as the PSA had them when
	// the mapping was saved.
	Seen      mappedNamesView `json:"seen"`
	Version   int64           `json:"version"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// lineMappingView is one mapped line: the product it bills and the PSA line.
type lineMappingView struct {
	Product string `json:"product"`
	LineID  int64  `json:"lineId"`
}

// mappedNamesView is billing.MappedNames on the wire.
type mappedNamesView struct {
	Company  string `json:"company,omitempty"`
	Contract string `json:"contract,omitempty"`
}

func mappingViewOf(m billing.Mapping) mappingView {
	v := mappingView{CompanyID: m.CompanyID, ContractID: m.ContractID, NonBillableUsers: m.NonBillableUsers, State: string(m.State),
		Seen: mappedNamesView{Company: m.Seen.Company, Contract: m.Seen.Contract}, Version: m.Version, UpdatedAt: m.UpdatedAt}
	if m.Lines != nil {
		v.Lines = make([]lineMappingView, len(m.Lines))
		for i, l := range m.Lines {
			v.Lines[i] = lineMappingView{Product: string(l.Product), LineID: l.LineID}
		}
	}
	return v
}

// entryView is one run entry (GET …/entries, and lastSync in GET /v1/orgs).
type entryView struct {
	Org        string         `json:"org"`
	Product    string         `json:"product"`
	CompanyID  int64          `json:"companyId"`
	ContractID int64          `json:"contractId"`
	LineID     int64          `json:"lineId"`
	Code       string         `json:"code"`
	Level      string         `json:"level"`
	Message    string         `json:"message"`
	Before     *lineValueView `json:"before,omitempty"`
	After      *lineValueView `json:"after,omitempty"`
	At         time.Time      `json:"at"`
}

// lastEntryView is an org line's newest entry, with its run.
type lastEntryView struct {
	entryView
	RunID string `json:"runId"`
}

// lineValueView is what a line holds: quantity and unit cost.
type lineValueView struct {
	Quantity int64   `json:"quantity"`
	UnitCost float64 `json:"unitCost"`
}

func lineValueViewOf(v *billing.LineValue) *lineValueView {
	if v == nil {
		return nil
	}
	return &lineValueView{Quantity: v.Quantity, UnitCost: v.UnitCost}
}

func entryViewOf(e billing.Entry) entryView {
	return entryView{Org: e.Org, Product: string(e.Product), CompanyID: e.CompanyID, ContractID: e.ContractID, LineID: e.LineID,
		Code: string(e.Code), Level: string(e.Level), Message: e.Message, Before: lineValueViewOf(e.Before), After: lineValueViewOf(e.After), At: e.At}
}

// runSummary is a run as GET /v1/sync-runs lists it (and the base of
// runDetail).
type runSummary struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	DryRun     bool       `json:"dryRun"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Month      string     `json:"month"`
	Counts     runCounts  `json:"counts"`
	// ResumeAt: when the run's deferred orgs are tried again.
	ResumeAt *time.Time `json:"resumeAt,omitempty"`
}

// runCounts are a run's orgs by outcome.
type runCounts struct {
	Total     int64 `json:"total"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Skipped   int64 `json:"skipped"`
	Failed    int64 `json:"failed"`
	Deferred  int64 `json:"deferred"`
}

func runSummaryOf(r billing.Run) runSummary {
	k := r.Counts
	return runSummary{ID: r.ID, Kind: string(r.Kind), DryRun: r.DryRun, Status: string(r.Status), StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Month: string(r.Month), ResumeAt: r.ResumeAt,
		Counts: runCounts{Total: k.Total, Updated: k.Updated, Unchanged: k.Unchanged, Skipped: k.Skipped, Failed: k.Failed, Deferred: k.Deferred}}
}
