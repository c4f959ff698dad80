package billingsync_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/budget"
)

type okTransport struct{}

func (okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// TestBudgetChangeTakesEffectAtNextRequest spends a tenant's budget of 2
// requests an hour (counted in DynamoDB Local), then raises it to 5 within
// the same hour: once the batch that found it spent is done (Flush), the
// next request goes out at once, and the new limit holds.
func TestBudgetChangeTakesEffectAtNextRequest(t *testing.T) {
	e := MustEnv(t)
	var limit atomic.Int64
	limit.Store(2)
	b := &budget.Budget{Store: e.store, Block: 1, Now: e.clock.Now,
		Limits: func(context.Context, string) (int, error) { return int(limit.Load()), nil }}
	rt := b.Transport("t-budget", psa.Autotask, okTransport{})
	send := func() error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://psa.invalid/", nil)
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for i, want := range []bool{true, true, false} {
		if err := send(); (err == nil) != want {
			t.Fatalf("request %d under a budget of 2: got %v, want sent %v", i+1, err, want)
		}
	}
	if err := b.Flush(context.Background(), "t-budget"); err != nil {
		t.Fatal(err)
	}
	limit.Store(5)
	for i, want := range []bool{true, true, true, false} {
		if err := send(); (err == nil) != want {
			t.Fatalf("request %d after raising the budget to 5: got %v, want sent %v", i+1, err, want)
		}
	}
}
