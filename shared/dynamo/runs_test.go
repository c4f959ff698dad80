package dynamo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
)

func TestRunLifecycle(t *testing.T) {
	ctx := context.Background()
	s := dynamotest.NewStore(t, nil)
	now := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	r := billing.Run{ID: billing.NewRunID(now), Kind: billing.Scheduled, Status: billing.Running, StartedAt: now, Month: "2026-11", Counts: billing.Counts{Total: 2}}

	got, created, err := s.CreateRun(ctx, "t1", r, "2026-11-16")
	if err != nil || !created || got.ID != r.ID {
		t.Fatalf("create: got %v %v %v", got.ID, created, err)
	}
	t.Run("SameDayFindsTheRun", func(t *testing.T) {
		again := r
		again.ID = billing.NewRunID(now.Add(time.Second))
		got, created, err := s.CreateRun(ctx, "t1", again, "2026-11-16")
		if err != nil || created || got.ID != r.ID {
			t.Errorf("got %s created=%v (%v), want the existing %s", got.ID, created, err, r.ID)
		}
	})
	t.Run("OtherTenantSeesNothing", func(t *testing.T) {
		if _, err := s.Run(ctx, "t2", r.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("got %v, want not_found", err)
		}
	})
	t.Run("ConcurrentOutcomesCountOnce", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.RecordOutcomes(ctx, "t1", r.ID, []billing.OutcomeChange{{Org: "o1", Next: billing.OutcomeState{Outcome: billing.OutcomeUpdated, Final: true}}})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !apperr.Is(err, apperr.Conflict):
				t.Errorf("got %v, want nil or conflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of 4 concurrent deliveries recorded the outcome, want 1", ok)
		}
	})
	t.Run("DeferredThenFinal", func(t *testing.T) {
		deferred := billing.OutcomeState{Outcome: billing.OutcomeDeferred}
		if err := s.RecordOutcomes(ctx, "t1", r.ID, []billing.OutcomeChange{{Org: "o2", Next: deferred}}); err != nil {
			t.Fatal(err)
		}
		mid, _ := s.Run(ctx, "t1", r.ID)
		if mid.Counts.Deferred != 1 || mid.Status != billing.Running {
			t.Errorf("after deferral: got %s %+v, want running with 1 deferred", mid.Status, mid.Counts)
		}
		prev, err := s.OrgOutcomes(ctx, "t1", r.ID, []string{"o2"})
		if err != nil || prev["o2"] != deferred {
			t.Fatalf("outcomes: got %+v (%v)", prev, err)
		}
		if err := s.RecordOutcomes(ctx, "t1", r.ID, []billing.OutcomeChange{{Org: "o2", Prev: deferred, Next: billing.OutcomeState{Outcome: billing.OutcomeUnchanged, Final: true}}}); err != nil {
			t.Fatal(err)
		}
		done, err := s.FinishRunIfDone(ctx, "t1", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := billing.Counts{Total: 2, Updated: 1, Unchanged: 1, Done: 2}
		if done.Counts != want || done.Status != billing.Succeeded || done.FinishedAt == nil {
			t.Errorf("finished: got %s %+v, want succeeded %+v", done.Status, done.Counts, want)
		}
	})
}

func TestBudgetReservations(t *testing.T) {
	ctx := context.Background()
	s := dynamotest.NewStore(t, nil)
	hour := time.Date(2026, 11, 16, 17, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	got := make([]int, 6)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.ReserveBudget(ctx, "t1", hour, 20, 50)
			if err != nil {
				t.Error(err)
			}
			got[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 50 {
		t.Errorf("reserved by 6 workers asking 20 of 50: got %d (%v), want exactly 50", total, got)
	}
	if err := s.ReleaseBudget(ctx, "t1", hour, 15); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ReserveBudget(ctx, "t1", hour, 20, 50); n != 15 {
		t.Errorf("after releasing 15: got %d, want 15", n)
	}
	if n, _ := s.ReserveBudget(ctx, "t1", hour.Add(time.Hour), 20, 50); n != 20 {
		t.Errorf("next hour: got %d, want 20", n)
	}
}
