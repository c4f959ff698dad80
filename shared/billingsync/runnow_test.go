package billingsync_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestRunNowInvokesFanout: with Invoke set (the API in AWS), StartRun stores
// the run and hands it to the fan-out function instead of queueing; the
// function's event then queues the orgs into that same run.
func TestRunNowInvokesFanout(t *testing.T) {
	e := MustEnv(t)
	tf := e.MustTenant("at-now", psa.Autotask, 12, 0, nil)
	ctx := context.Background()
	var invoked []billingsync.StartRequest
	api := *e.fanout
	api.Queue = nil // the API process has no queue in AWS
	api.Store = syncstore.Adapter{Store: dynamotest.As(e.store, "api")}
	api.Invoke = func(_ context.Context, req billingsync.StartRequest) error {
		invoked = append(invoked, req)
		return nil
	}
	id, err := api.StartRun(ctx, tf.name, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(invoked) != 1 || invoked[0].RunID != id || invoked[0].Tenant != tf.name {
		t.Fatalf("got invocations %+v, want one for run %s of %s", invoked, id, tf.name)
	}
	r, err := e.store.Run(ctx, tf.name, id)
	if err != nil || r.Status != billing.Running {
		t.Fatalf("right after StartRun: got %+v, %v; want a stored running run", r, err)
	}
	payload, err := json.Marshal(invoked[0])
	if err != nil {
		t.Fatal(err)
	}
	e.MustDrain(1, nil, func() {
		res, err := e.fanout.HandleEvent(ctx, payload)
		if err != nil || len(res.Runs) != 1 || res.Runs[0].ID != id || res.Runs[0].Orgs != 12 {
			t.Errorf("fan-out: got %+v, %v; want run %s with 12 orgs", res, err, id)
		}
	})
	r, err = e.store.Run(ctx, tf.name, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != billing.Succeeded || r.Counts.Total != 12 {
		t.Fatalf("got %s with total %d, want succeeded with 12", r.Status, r.Counts.Total)
	}
	MustCountsAddUp(t, r)
	e.MustAllAtTarget(t)
}
