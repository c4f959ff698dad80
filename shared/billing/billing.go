// Package billing holds psabridge's billing rules: observations of usage,
// billing months in a tenant's time zone, the monthly high-water mark (HWM),
// and the billed quantity. It is pure: no AWS, no HTTP.
package billing

import (
	"fmt"
	"regexp"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// Product is what is billed per org, e.g. "users" (seats) or "storage_gb".
type Product string

// Users is the default product: seats.
const Users Product = "users"

var productPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Valid reports whether p is a well-formed product key.
func (p Product) Valid() bool { return productPattern.MatchString(string(p)) }

// DefaultTimeZone is the billing time zone of a tenant that chose none.
const DefaultTimeZone = "America/New_York"

// Observation says: org Org had Value of Product at ObservedAt.
type Observation struct {
	Org        string    `json:"org"`
	Product    Product   `json:"product"`
	Value      int64     `json:"value"`
	ObservedAt time.Time `json:"observedAt"`
}

var orgPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidOrgID reports whether id is a well-formed org id: 1–128 characters of
// letters, digits, '.', '_', ':' and '-', starting with a letter or digit.
func ValidOrgID(id string) bool { return orgPattern.MatchString(id) }

// MaxValue bounds an observed value; anything larger is a platform bug.
const MaxValue = 10_000_000

// Validate checks an observation. It returns an apperr.Invalid error naming
// the first problem. A zero Product is read as Users.
func (o *Observation) Validate(now time.Time) error {
	if o.Product == "" {
		o.Product = Users
	}
	switch {
	case !ValidOrgID(o.Org):
		return apperr.New(apperr.Invalid, "org must be 1-128 letters, digits, '.', '_', ':' or '-'")
	case !o.Product.Valid():
		return apperr.New(apperr.Invalid, "product must be lower-case letters, digits and '_' (at most 40)")
	case o.Value < 0 || o.Value > MaxValue:
		return apperr.New(apperr.Invalid, "value must be between 0 and %d", MaxValue)
	case o.ObservedAt.IsZero():
		return apperr.New(apperr.Invalid, "observedAt is required (RFC 3339)")
	case o.ObservedAt.After(now.Add(24 * time.Hour)):
		return apperr.New(apperr.Invalid, "observedAt is more than a day in the future")
	}
	return nil
}

// Month is a billing month, "2026-11".
type Month string

// LoadLocation returns the time zone named tz, or the default for "".
// Invalid when tz is not an IANA name.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "unknown time zone %q", tz)
	}
	return loc, nil
}

// MonthOf returns the billing month that contains t in loc.
// 2026-11-30T23:30-05:00 is November in New York and December in UTC.
func MonthOf(t time.Time, loc *time.Location) Month {
	return Month(t.In(loc).Format("2006-01"))
}

// ParseMonth parses "YYYY-MM". Invalid otherwise.
func ParseMonth(s string) (Month, error) {
	if _, err := time.Parse("2006-01", s); err != nil || len(s) != 7 {
		return "", apperr.New(apperr.Invalid, "period must be YYYY-MM")
	}
	return Month(s), nil
}

// Start returns the first instant of the month in loc.
func (m Month) Start(loc *time.Location) time.Time {
	t, err := time.ParseInLocation("2006-01", string(m), loc)
	if err != nil {
		panic(fmt.Sprintf("billing: bad month %q", m))
	}
	return t
}

// Prev returns the month before m.
func (m Month) Prev() Month {
	return Month(m.Start(time.UTC).AddDate(0, -1, 0).Format("2006-01"))
}

// HighWaterMark is the highest value observed for (org, product) in a month.
type HighWaterMark struct {
	Org     string  `json:"org"`
	Product Product `json:"product"`
	Month   Month   `json:"month"`
	// Value is the highest value observed this month; HWMAt when it was first seen.
	Value int64     `json:"value"`
	HWMAt time.Time `json:"hwmAt"`
	// Last is the latest observation's value and time.
	LastValue int64     `json:"lastValue"`
	LastAt    time.Time `json:"lastAt"`
}

// Raise applies an observation of the same month to h and reports whether the
// HWM rose. A lower or equal value never lowers it. (The store does the same
// thing atomically with a conditional update; this is the rule it follows.)
func (h *HighWaterMark) Raise(o Observation) bool {
	if o.ObservedAt.After(h.LastAt) || h.LastAt.IsZero() {
		h.LastValue, h.LastAt = o.Value, o.ObservedAt
	}
	if h.HWMAt.IsZero() || o.Value > h.Value {
		h.Value, h.HWMAt = o.Value, o.ObservedAt
		return true
	}
	return false
}

// Quantity is the billed quantity: the HWM less the non-billable users,
// never below zero.
func Quantity(hwm, nonBillable int64) int64 {
	return max(0, hwm-nonBillable)
}
