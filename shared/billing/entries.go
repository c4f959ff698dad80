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
	Quantity int64   `json:"quantity"`
	UnitCost float64 `json:"unitCost"`
}

// Entry is the record of one org line in a run: what was found, what was
// done, and for problems what the admin should know (the PSA's own words
// for rejections).
type Entry struct {
	Org        string     `json:"org"`
	Product    Product    `json:"product"`
	CompanyID  int64      `json:"companyId"`
	ContractID int64      `json:"contractId"`
	LineID     int64      `json:"lineId"`
	Code       Code       `json:"code"`
	Level      Level      `json:"level"`
	Message    string     `json:"message"`
	Before     *LineValue `json:"before,omitempty"`
	After      *LineValue `json:"after,omitempty"`
	At         time.Time  `json:"at"`
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
