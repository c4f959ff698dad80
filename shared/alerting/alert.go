package alerting

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// Status is an alert's state on the platform.
type Status string

// The alert statuses.
const (
	Open     Status = "open"
	Resolved Status = "resolved"
)

// Valid reports whether s is open or resolved.
func (s Status) Valid() bool { return s == Open || s == Resolved }

// Alert is one platform alert as posted to the webhook. The same ID names an
// alert stream: it is posted open, possibly again (a repeat, with a later
// OccurredAt), and finally resolved.
type Alert struct {
	ID         string    `json:"id"`
	Type       Type      `json:"type"`
	Severity   Severity  `json:"severity"`
	Org        string    `json:"org"`
	Status     Status    `json:"status"`
	OccurredAt time.Time `json:"occurredAt"`
	Title      string    `json:"title"`
	// Details are the platform's free-form facts, kept verbatim (a JSON
	// object) and shown in the ticket description.
	Details json.RawMessage `json:"details,omitempty"`
}

// Limits of an alert's fields.
const (
	// MaxIDLength keeps ExternalKey within ConnectWise's 100-character
	// externalXRef (Autotask's externalID is longer).
	MaxIDLength     = 100 - len(ExternalKeyPrefix)
	MaxTitleLength  = 1000
	MaxDetailsBytes = 16 << 10
	maxOrgLength    = 128
)

// ExternalKeyPrefix starts every external key, so psabridge's tickets are
// recognisable in the PSA.
const ExternalKeyPrefix = "psabridge:"

var (
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	orgPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// Validate checks an alert's shape. An unknown Type is valid (such alerts
// are stored and acknowledged but never ticketed). Invalid names the first
// problem.
func (a *Alert) Validate() error {
	switch {
	case len(a.ID) == 0 || len(a.ID) > MaxIDLength || !idPattern.MatchString(a.ID):
		return apperr.New(apperr.Invalid, "id must be 1-%d letters, digits, '.', '_', ':' or '-'", MaxIDLength)
	case a.Type == "" || len(a.Type) > 64:
		return apperr.New(apperr.Invalid, "type must be 1-64 characters")
	case !a.Severity.Valid():
		return apperr.New(apperr.Invalid, "severity must be info, warning, error or critical")
	case len(a.Org) > maxOrgLength || !orgPattern.MatchString(a.Org):
		return apperr.New(apperr.Invalid, "org must be 1-128 letters, digits, '.', '_', ':' or '-'")
	case !a.Status.Valid():
		return apperr.New(apperr.Invalid, "status must be open or resolved")
	case a.OccurredAt.IsZero() || a.OccurredAt.Year() < 2000 || a.OccurredAt.Year() > 9999:
		return apperr.New(apperr.Invalid, "occurredAt must be an RFC 3339 time")
	case len(a.Title) > MaxTitleLength:
		return apperr.New(apperr.Invalid, "title must be at most %d bytes", MaxTitleLength)
	case len(a.Details) > MaxDetailsBytes:
		return apperr.New(apperr.Invalid, "details must be at most %d bytes", MaxDetailsBytes)
	}
	if d := bytes.TrimSpace(a.Details); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(d, &obj); err != nil {
			return apperr.New(apperr.Invalid, "details must be a JSON object")
		}
	}
	return nil
}

// Ticketable reports whether alerts of this type can ever become tickets.
func (a Alert) Ticketable() bool { return a.Type.Known() }

// ExternalKey is the key of the alert stream in the PSA (Autotask
// externalID, ConnectWise externalXRef): the same for every delivery,
// repeat and resolution of the alert, at most 100 characters.
func (a Alert) ExternalKey() string { return ExternalKeyPrefix + a.ID }

// occurredKey renders OccurredAt with a fixed width, so keys sort by time
// and one instant written with different offsets is the same occurrence.
const occurredKey = "2006-01-02T15:04:05.000000000Z"

// OccurrenceKey identifies one delivery-independent occurrence of an alert:
// its time, id and status. A replay of the same request has the same key; a
// repeat (a later OccurredAt) or the resolution has another. Keys sort by
// OccurredAt.
func (a Alert) OccurrenceKey() string {
	return a.OccurredAt.UTC().Format(occurredKey) + "#" + a.ID + "#" + string(a.Status)
}

// QueueGroup is the FIFO message group of the alert's ticket work: tenant +
// org + type, so open, repeats and resolution of a stream stay in order
// while other streams run in parallel. At most 128 characters.
func (a Alert) QueueGroup(tenant string) string {
	return tenant + ":" + digest(a.Org, string(a.Type))[:40]
}

// QueueDedup is the FIFO deduplication id of one occurrence: tenant + id +
// status (+ occurrence time, so a repeat is not dropped as a duplicate).
func (a Alert) QueueDedup(tenant string) string {
	return digest(tenant, a.OccurrenceKey())
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Message is the ticket queue's message body: one alert occurrence of a
// tenant.
type Message struct {
	Tenant string `json:"tenant"`
	Alert  Alert  `json:"alert"`
}
