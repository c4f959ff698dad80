package alerting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func validAlert() alerting.Alert {
	return alerting.Alert{ID: "al-1", Type: alerting.UserLockout, Severity: alerting.Warning, Org: "org-1",
		Status: alerting.Open, OccurredAt: time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC), Title: "User jdoe locked out",
		Details: json.RawMessage(`{"user":"jdoe","attempts":5}`)}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*alerting.Alert)
		ok     bool
	}{
		{"OK", func(*alerting.Alert) {}, true},
		{"OKUnknownType", func(a *alerting.Alert) { a.Type = "printer_on_fire" }, true},
		{"OKNoDetails", func(a *alerting.Alert) { a.Details = nil }, true},
		{"OKNullDetails", func(a *alerting.Alert) { a.Details = json.RawMessage("null") }, true},
		{"OKLongestID", func(a *alerting.Alert) { a.ID = strings.Repeat("a", alerting.MaxIDLength) }, true},
		{"ErrIDTooLong", func(a *alerting.Alert) { a.ID = strings.Repeat("a", alerting.MaxIDLength+1) }, false},
		{"ErrIDEmpty", func(a *alerting.Alert) { a.ID = "" }, false},
		{"ErrIDSlash", func(a *alerting.Alert) { a.ID = "a/b" }, false},
		{"ErrNoType", func(a *alerting.Alert) { a.Type = "" }, false},
		{"ErrSeverity", func(a *alerting.Alert) { a.Severity = "fatal" }, false},
		{"ErrOrg", func(a *alerting.Alert) { a.Org = "" }, false},
		{"ErrStatus", func(a *alerting.Alert) { a.Status = "closed" }, false},
		{"ErrNoTime", func(a *alerting.Alert) { a.OccurredAt = time.Time{} }, false},
		{"ErrDetailsArray", func(a *alerting.Alert) { a.Details = json.RawMessage(`[1]`) }, false},
		{"ErrTitleTooLong", func(a *alerting.Alert) { a.Title = strings.Repeat("x", alerting.MaxTitleLength+1) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validAlert()
			tc.mutate(&a)
			err := a.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got code %s, want invalid", apperr.CodeOf(err))
			}
		})
	}
}

func TestKeys(t *testing.T) {
	a := validAlert()
	a.ID = strings.Repeat("z", alerting.MaxIDLength)
	if n := len(a.ExternalKey()); n > 100 {
		t.Fatalf("got external key of %d characters, want ≤ 100 (ConnectWise externalXRef)", n)
	}
	b := a
	b.OccurredAt = a.OccurredAt.In(mustLoc(t, "Asia/Tokyo"))
	if a.OccurrenceKey() != b.OccurrenceKey() || a.QueueDedup("t1") != b.QueueDedup("t1") {
		t.Fatalf("got different keys for one instant in two zones")
	}
	repeat := a
	repeat.OccurredAt = a.OccurredAt.Add(time.Minute)
	resolved := a
	resolved.Status = alerting.Resolved
	for name, other := range map[string]alerting.Alert{"Repeat": repeat, "Resolved": resolved} {
		if other.QueueDedup("t1") == a.QueueDedup("t1") {
			t.Fatalf("%s: got the same dedup id as the first occurrence", name)
		}
		if other.QueueGroup("t1") != a.QueueGroup("t1") || other.ExternalKey() != a.ExternalKey() {
			t.Fatalf("%s: got another group or external key, want the stream's", name)
		}
	}
	if a.QueueDedup("t1") == a.QueueDedup("t2") || a.QueueGroup("t1") == a.QueueGroup("t2") {
		t.Fatalf("got equal keys for two tenants")
	}
	if g := a.QueueGroup(strings.Repeat("t", 63)); len(g) > 128 {
		t.Fatalf("got group id of %d characters, want ≤ 128", len(g))
	}
	if d := a.QueueDedup("t1"); len(d) > 128 {
		t.Fatalf("got dedup id of %d characters, want ≤ 128", len(d))
	}
	if !strings.HasPrefix(a.OccurrenceKey(), "2026-03-07T15:00:00.000000000Z#") {
		t.Fatalf("got occurrence key %q, want the fixed-width time first", a.OccurrenceKey())
	}
}

// TestDueDate: 17:00 local, dueDays calendar days later, across both
// daylight-saving changes and time zones.
func TestDueDate(t *testing.T) {
	ny, syd, utc := mustLoc(t, "America/New_York"), mustLoc(t, "Australia/Sydney"), time.UTC
	for _, tc := range []struct {
		name string
		now  time.Time
		days int
		loc  *time.Location
		want time.Time
	}{
		{"SameDay", time.Date(2026, 6, 10, 13, 0, 0, 0, time.UTC), 0, ny, time.Date(2026, 6, 10, 21, 0, 0, 0, time.UTC)},
		{"SameDayAfterFiveRollsOver", time.Date(2026, 6, 10, 22, 0, 0, 0, time.UTC), 0, ny, time.Date(2026, 6, 11, 21, 0, 0, 0, time.UTC)},
		{"NextDay", time.Date(2026, 6, 10, 13, 0, 0, 0, time.UTC), 1, ny, time.Date(2026, 6, 11, 21, 0, 0, 0, time.UTC)},
		// 2026-03-08 02:00 EST → EDT: due 17:00 EDT = 21:00 UTC, the day before 22:00 UTC.
		{"AcrossSpringForward", time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC), 1, ny, time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)},
		{"BeforeSpringForward", time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC), 1, ny, time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC)},
		// 2026-11-01 02:00 EDT → EST.
		{"AcrossFallBack", time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC), 1, ny, time.Date(2026, 11, 1, 22, 0, 0, 0, time.UTC)},
		{"AcrossFallBackWeek", time.Date(2026, 10, 28, 15, 0, 0, 0, time.UTC), 7, ny, time.Date(2026, 11, 4, 22, 0, 0, 0, time.UTC)},
		// Local date differs from the UTC date: 02:00 UTC is still yesterday in New York.
		{"LocalDateNotUTCDate", time.Date(2026, 6, 11, 2, 0, 0, 0, time.UTC), 1, ny, time.Date(2026, 6, 11, 21, 0, 0, 0, time.UTC)},
		// Sydney leaves daylight time on 2026-04-05 (AEDT +11 → AEST +10).
		{"SouthernFallBack", time.Date(2026, 4, 3, 23, 0, 0, 0, time.UTC), 2, syd, time.Date(2026, 4, 6, 7, 0, 0, 0, time.UTC)},
		{"UTCMonthEnd", time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC), 1, utc, time.Date(2026, 2, 1, 17, 0, 0, 0, time.UTC)},
		{"LeapDay", time.Date(2028, 2, 28, 9, 0, 0, 0, time.UTC), 1, utc, time.Date(2028, 2, 29, 17, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := alerting.DueDate(tc.now, tc.days, tc.loc)
			if !got.Equal(tc.want) {
				t.Fatalf("got %s, want %s", got.UTC(), tc.want)
			}
			if h := got.In(tc.loc).Hour(); h != alerting.EndOfBusinessDay {
				t.Fatalf("got local hour %d, want %d", h, alerting.EndOfBusinessDay)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct {
		name   string
		prefix string
		title  string
		p      psa.Provider
		want   string
	}{
		{"PrefixAndTitle", "[Alert] ", "Disk key decrypted", psa.Autotask, "[Alert] Disk key decrypted"},
		{"NoTitleUsesType", "", "  ", psa.ConnectWise, "user_lockout"},
		{"ConnectWiseLimit", "[A] ", long, psa.ConnectWise, "[A] " + strings.Repeat("é", 95) + "…"},
		{"AutotaskLimit", "[A] ", long, psa.Autotask, "[A] " + strings.Repeat("é", 250) + "…"},
		{"HaloPSALimit", "[A] ", long, psa.HaloPSA, "[A] " + strings.Repeat("é", 250) + "…"},
		{"ExactlyAtLimit", "", strings.Repeat("x", 100), psa.ConnectWise, strings.Repeat("x", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validAlert()
			a.Title = tc.title
			got := alerting.Title(tc.prefix, a, tc.p.TitleLimit())
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > tc.p.TitleLimit() {
				t.Fatalf("got %d characters, want ≤ %d", n, tc.p.TitleLimit())
			}
		})
	}
}

func TestDescription(t *testing.T) {
	a := validAlert()
	got := alerting.Description(a, "https://portal.example.com/alerts")
	for _, want := range []string{"User jdoe locked out", "Severity: warning", "Org: org-1", "  attempts: 5\n", "  user: jdoe\n",
		"Alert key: psabridge:al-1", "Link: https://portal.example.com/alerts?alert=al-1&org=org-1"} {
		if !strings.Contains(got, want) {
			t.Fatalf("got description %q, want it to contain %q", got, want)
		}
	}
	if strings.Index(got, "attempts") > strings.Index(got, "user:") {
		t.Fatalf("got details out of key order: %q", got)
	}
	if strings.Contains(alerting.Description(a, ""), "Link:") {
		t.Fatalf("got a link line without a link base")
	}
	a.Details = json.RawMessage(`{"blob":"` + strings.Repeat("x", 9000) + `"}`)
	if n := utf8.RuneCountInString(alerting.Description(a, "")); n > alerting.MaxDescription {
		t.Fatalf("got %d characters, want ≤ %d", n, alerting.MaxDescription)
	}
}

func TestSpec(t *testing.T) {
	a := validAlert()
	r := alerting.Rule{Type: a.Type, Enabled: true, PriorityID: 4, StatusID: 1, QueueID: 8, SourceID: 8, ResourceID: 29, RoleID: 3,
		CategoryID: 4, IssueTypeID: 11, DueDays: 1, TitlePrefix: "[RMM] "}
	now := time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC)
	s := alerting.Spec(a, r, 77, psa.Autotask, now, mustLoc(t, "America/New_York"), "")
	want := psa.TicketSpec{CompanyID: 77, Title: "[RMM] User jdoe locked out", ExternalKey: "psabridge:al-1", StatusID: 1, PriorityID: 4,
		SourceID: 8, QueueID: 8, ResourceID: 29, RoleID: 3, CategoryID: 4, IssueTypeID: 11, Due: time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)}
	s.Description = ""
	if !s.Due.Equal(want.Due) {
		t.Fatalf("got due %s, want %s", s.Due, want.Due)
	}
	s.Due = want.Due
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
}

func TestNoteText(t *testing.T) {
	a := validAlert()
	if n := alerting.NoteText(a); n.Title != "Alert repeated" || !strings.Contains(n.Text, "user: jdoe") {
		t.Fatalf("got %+v, want a repeat note with details", n)
	}
	a.Status = alerting.Resolved
	if n := alerting.NoteText(a); n.Title != "Alert resolved" {
		t.Fatalf("got %+v, want a resolution note", n)
	}
}
