package billing

import (
	"strings"
	"time"
)

// Level is an entry's severity.
type Level string

// The entry levels.
const (
	Info    Level = "info"
	Warning Level = "warning"
	Error   Level = "error"
)

// LineValue is a line's billed quantity and unit cost.
type LineValue struct {
	Quantity int64   `json:"quantity" dynamodbav:"Quantity"`
	UnitCost float64 `json:"unitCost" dynamodbav:"UnitCost"`
}

// Entry is the record of one org line in a run: what was found, what was
// done, and for problems what the admin should know (the PSA's own words
// for rejections).
type Entry struct {
	Org        string     `json:"org" dynamodbav:"Org"`
	Product    Product    `json:"product" dynamodbav:"Product"`
	CompanyID  int64      `json:"companyId" dynamodbav:"CompanyID"`
	ContractID int64      `json:"contractId" dynamodbav:"ContractID"`
	LineID     int64      `json:"lineId" dynamodbav:"LineID"`
	Code       Code       `json:"code" dynamodbav:"Code"`
	Level      Level      `json:"level" dynamodbav:"Level"`
	Message    string     `json:"message" dynamodbav:"Message"`
	Before     *LineValue `json:"before,omitempty" dynamodbav:"Before"`
	After      *LineValue `json:"after,omitempty" dynamodbav:"After"`
	At         time.Time  `json:"at" dynamodbav:"At"`
}

// LastEntry is the newest entry of one org line from a real (not dry) run,
// and the run that wrote it.
type LastEntry struct {
	// Entry is embedded untagged: its attributes sit beside RunID in the
	// stored document, named by Entry's own dynamodbav tags.
	Entry
	RunID string `json:"runId" dynamodbav:"RunID"`
}

// EntryFilter selects entries: by level, by code, and by a text that must
// occur (case-insensitively) in the org, product or message. Zero fields
// select everything.
type EntryFilter struct {
	Level Level
	Code  Code
	Query string
}

// Match reports whether e passes the filter.
func (f EntryFilter) Match(e Entry) bool {
	if f.Level != "" && e.Level != f.Level {
		return false
	}
	if f.Code != "" && e.Code != f.Code {
		return false
	}
	if f.Query != "" {
		q := strings.ToLower(f.Query)
		hay := strings.ToLower(e.Org + "\x00" + string(e.Product) + "\x00" + e.Message)
		if !strings.Contains(hay, q) {
			return false
		}
	}
	return true
}
