package devstack

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/compose"
	"github.com/psabridge/psabridge/shared/psa/budget"
)

// stackClock is a settable clock for a whole stack.
type stackClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stackClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stackClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestBudgetSpent: `make run` dials the PSA as AWS does, so its API and its
// ticket worker spend the tenant's hourly PSA request budget. For each
// tenant with a demo alert (Autotask, HaloPSA), in an hour nothing has
// reserved from yet, a picker request through the API reserves the API's
// blocks, and a ticket the worker opens reserves the worker's.
func TestBudgetSpent(t *testing.T) {
	now := &stackClock{t: clock.Now().UTC()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", UseEnvAWS: true, Now: now.Now})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	res, _ := MustDemo(t, s)
	plan, _ := DemoPlan()
	if len(res.Alerts) == 0 {
		t.Fatalf("got no alert streams, want one per tenant with a demo alert")
	}
	for _, ar := range res.Alerts {
		t.Run(ar.Tenant, func(t *testing.T) {
			tenant := ar.Tenant
			tr, _ := res.Tenant(tenant)
			var pa *PlanAlert
			for _, pt := range plan.Tenants {
				if pt.ID == tenant {
					pa = pt.Alert
				}
			}

			now.Add(time.Hour) // a fresh hour: nothing reserved, nothing left over
			hour := now.Now()
			used := func() int {
				t.Helper()
				n, err := s.Store.BudgetUsed(context.Background(), tenant, hour)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := used(); n != 0 {
				t.Fatalf("got %d reserved in a fresh hour, want 0", n)
			}

			c := &Client{Base: s.APIURL, Now: now.Now}
			if err := c.Call(ctx, "GET", "/v1/psa/ticket-options", tr.AdminToken, nil, nil); err != nil {
				t.Fatalf("ticket options: %v", err)
			}
			// Whole API blocks: Autotask's ticket options fit in one,
			// HaloPSA's (a token and six lookups) take two.
			api := used()
			if api == 0 || api%compose.APIBudgetBlock != 0 {
				t.Fatalf("after an API request to the PSA: got %d reserved, want the API's blocks of %d", api, compose.APIBudgetBlock)
			}

			a := alerting.Alert{ID: "budget-check", Type: alerting.Type(pa.Type), Severity: alerting.Severity(pa.Severity), Org: pa.Org,
				Status: alerting.Open, OccurredAt: now.Now().Add(-time.Minute), Title: "Budget check"}
			if err := s.ticketWorker.Process(ctx, alerting.Message{Tenant: tenant, Alert: a}); err != nil {
				t.Fatalf("ticket worker: %v", err)
			}
			if rec, err := s.Store.Alert(ctx, tenant, a); err != nil || rec.Decision != alerting.OpenTicket || rec.TicketID == 0 {
				t.Fatalf("got %+v %v, want a ticket opened", rec, err)
			}
			if got, want := used(), api+budget.DefaultBlock; got != want {
				t.Fatalf("after the ticket worker opened a ticket: got %d reserved, want %d (the worker's block too)", got, want)
			}
		})
	}
}
