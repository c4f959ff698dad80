package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
)

type alertsBody struct {
	Alerts []struct {
		ID       string `json:"id"`
		Org      string `json:"org"`
		State    string `json:"state"`
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
		TicketID int64  `json:"ticketId"`
		Error    string `json:"error"`
	} `json:"alerts"`
	NextCursor string `json:"nextCursor"`
}

func TestGetAlerts(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	t0 := a.Now.Add(-time.Hour)
	for i := range 7 {
		al := alerting.Alert{ID: fmt.Sprintf("al-%d", i), Type: alerting.UserLockout, Severity: alerting.Error, Org: fmt.Sprintf("org-%d", i%2),
			Status: alerting.Open, OccurredAt: t0.Add(time.Duration(i) * time.Minute)}
		rec := alerting.NewRecord(al, a.Now)
		if i == 6 {
			rec.State, rec.Decision, rec.TicketID = alerting.Done, alerting.OpenTicket, 321
		}
		if i == 5 {
			rec.State, rec.Decision, rec.Error = alerting.Failed, alerting.OpenTicket, "rejected: Value 99 is not a valid priority."
		}
		if _, _, err := a.Store.PutAlert(ctx, "acme-msp", rec); err != nil {
			t.Fatal(err)
		}
	}
	admin := a.token("acme-msp", "billing-admin")
	get := func(t *testing.T, token, query string) (int, alertsBody) {
		t.Helper()
		rec := a.do("GET", "/v1/alerts"+query, token, nil, nil)
		var body alertsBody
		if rec.Code == http.StatusOK {
			mustDecode(t, rec.Body, &body)
		}
		return rec.Code, body
	}
	t.Run("OK", func(t *testing.T) {
		code, body := get(t, admin, "")
		if code != 200 || len(body.Alerts) != 7 || body.NextCursor != "" {
			t.Fatalf("got %d with %d alerts, want 200 with 7", code, len(body.Alerts))
		}
		if first := body.Alerts[0]; first.ID != "al-6" || first.State != "done" || first.Decision != "open" || first.TicketID != 321 {
			t.Fatalf("got %+v first, want al-6 done on ticket 321 (newest first)", first)
		}
		if f := body.Alerts[1]; f.State != "failed" || !strings.Contains(f.Error, "not a valid priority") {
			t.Fatalf("got %+v, want the PSA's error shown", f)
		}
	})
	t.Run("FiltersAndPaging", func(t *testing.T) {
		var ids []string
		cursor := ""
		for range 10 {
			code, body := get(t, admin, "?org=org-0&state=queued&limit=2&cursor="+url.QueryEscape(cursor))
			if code != 200 || len(body.Alerts) > 2 {
				t.Fatalf("got %d with %d alerts, want 200 with ≤ 2", code, len(body.Alerts))
			}
			for _, al := range body.Alerts {
				ids = append(ids, al.ID)
			}
			if cursor = body.NextCursor; cursor == "" {
				break
			}
		}
		if got := strings.Join(ids, ","); got != "al-4,al-2,al-0" {
			t.Fatalf("got %s, want al-4,al-2,al-0", got)
		}
	})
	for _, tc := range []struct {
		name  string
		token string
		query string
		want  int
	}{
		{"ErrNoToken", "", "", 401},
		{"ErrBadToken", "x.y.z", "", 401},
		{"ErrWrongRole", a.token("acme-msp", "viewer"), "", 403},
		{"ErrState", admin, "?state=bogus", 400},
		{"ErrOrg", admin, "?org=" + url.QueryEscape("a/b"), 400},
		{"ErrLimit", admin, "?limit=0", 400},
		{"ErrCursor", admin, "?cursor=%25%25", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := get(t, tc.token, tc.query); code != tc.want {
				t.Fatalf("got %d, want %d", code, tc.want)
			}
		})
	}
	t.Run("OtherTenantSeesNothing", func(t *testing.T) {
		code, body := get(t, a.token("other-msp", "billing-admin"), "")
		if code != 200 || len(body.Alerts) != 0 {
			t.Fatalf("got %d with %d alerts, want 200 with none of acme-msp's", code, len(body.Alerts))
		}
	})
}
