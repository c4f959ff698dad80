package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/psa"
)

// EndOfBusinessDay is the local hour at which a ticket falls due.
const EndOfBusinessDay = 17

// DueDate is dueDays calendar days after now's date in loc, at 17:00 local
// time: the wall clock holds across daylight-saving changes. When that is
// not after now (dueDays 0 after 17:00), it moves to the next day.
func DueDate(now time.Time, dueDays int, loc *time.Location) time.Time {
	local := now.In(loc)
	y, m, d := local.Date()
	due := time.Date(y, m, d+dueDays, EndOfBusinessDay, 0, 0, 0, loc)
	if !due.After(now) {
		due = time.Date(y, m, d+dueDays+1, EndOfBusinessDay, 0, 0, 0, loc)
	}
	return due
}

// Title is the rule's prefix and the alert's title (its type when the
// platform gave none), cut to limit characters with an ellipsis.
func Title(prefix string, a Alert, limit int) string {
	t := strings.TrimSpace(a.Title)
	if t == "" {
		t = string(a.Type)
	}
	return psa.Truncate(prefix+t, limit)
}

// MaxDescription bounds ticket descriptions and notes (Autotask's
// description takes 8,000 characters).
const MaxDescription = 8000

// Link is where the platform shows an alert: linkBase with the alert's id
// as query parameter "alert" (and "org"), or "" without a base.
func Link(linkBase string, a Alert) string {
	if linkBase == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(linkBase, "?") {
		sep = "&"
	}
	return linkBase + sep + "alert=" + url.QueryEscape(a.ID) + "&org=" + url.QueryEscape(a.Org)
}

// Description is the ticket's body: the alert's facts, its details one per
// line in key order, the external key and the link back to the platform.
func Description(a Alert, linkBase string) string {
	var b strings.Builder
	if t := strings.TrimSpace(a.Title); t != "" {
		b.WriteString(t + "\n\n")
	}
	fmt.Fprintf(&b, "Alert type: %s\nSeverity: %s\nOrg: %s\nOccurred: %s\n", a.Type, a.Severity, a.Org,
		a.OccurredAt.UTC().Format(time.RFC3339))
	writeDetails(&b, a.Details)
	fmt.Fprintf(&b, "\nAlert key: %s\n", a.ExternalKey())
	if l := Link(linkBase, a); l != "" {
		fmt.Fprintf(&b, "Link: %s\n", l)
	}
	return psa.Truncate(b.String(), MaxDescription)
}

// NoteMarker is the token NoteText ends with: it names occurrence a alone
// (its OccurrenceKey, hashed so any PSA's query language takes it), so the
// worker can look for the note (psa.Client.HasNote) before adding it and a
// note whose answer was lost is never added twice.
func NoteMarker(a Alert) string { return "psabridge-note-" + digest(a.OccurrenceKey())[:24] }

// NoteText is the note added for a repeat or, without closeOnResolve, a
// resolution. Its last line is NoteMarker(a).
func NoteText(a Alert) psa.Note {
	var b strings.Builder
	title := "Alert repeated"
	if a.Status == Resolved {
		title = "Alert resolved"
	}
	fmt.Fprintf(&b, "%s at %s (severity %s).\n", title, a.OccurredAt.UTC().Format(time.RFC3339), a.Severity)
	if t := strings.TrimSpace(a.Title); t != "" {
		b.WriteString(t + "\n")
	}
	writeDetails(&b, a.Details)
	marker := "\n" + NoteMarker(a)
	return psa.Note{Title: title, Text: psa.Truncate(b.String(), MaxDescription-utf8.RuneCountInString(marker)) + marker}
}

// writeDetails renders a details object as "key: value" lines, keys sorted,
// values as compact JSON unless they are strings.
func writeDetails(b *strings.Builder, details json.RawMessage) {
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(details)) == 0 || json.Unmarshal(details, &obj) != nil || len(obj) == 0 {
		return
	}
	b.WriteString("\nDetails:\n")
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var s string
		if json.Unmarshal(obj[k], &s) != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, obj[k]) == nil {
				s = buf.String()
			} else {
				s = string(obj[k])
			}
		}
		fmt.Fprintf(b, "  %s: %s\n", k, s)
	}
}

// Spec is the ticket to open for an alert under rule on companyID, due
// rule.DueDays after now in loc. Title limits come from the provider.
func Spec(a Alert, rule Rule, companyID int64, p psa.Provider, now time.Time, loc *time.Location, linkBase string) psa.TicketSpec {
	return psa.TicketSpec{
		CompanyID:   companyID,
		Title:       Title(rule.TitlePrefix, a, p.TitleLimit()),
		Description: Description(a, linkBase),
		ExternalKey: a.ExternalKey(),
		StatusID:    rule.StatusID,
		PriorityID:  rule.PriorityID,
		SourceID:    rule.SourceID,
		QueueID:     rule.QueueID,
		BoardID:     rule.BoardID,
		ResourceID:  rule.ResourceID,
		RoleID:      rule.RoleID,
		CategoryID:  rule.CategoryID,
		IssueTypeID: rule.IssueTypeID,
		Due:         DueDate(now, rule.DueDays, loc),
	}
}
