package billingsync_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/billingsync"
	"github.com/psabridge/psabridge/shared/billingsync/syncstore"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
	"github.com/psabridge/psabridge/shared/sqsqueue"
)

// BenchmarkDailySync measures the PSA requests of one day's sync of 1,000
// mapped orgs per PSA, 10% of them with a changed HWM, on a day when a
// seventh of the lines are due for their weekly drift check (every line was
// verified the day before, so only the lines whose slot is today are due).
// It reports psa-req/org per PSA, and run-minutes: the
// simulated wall time of the day's run through the FIFO queue and event
// source mapping at the stack's settings (memQueue: 720 s visibility
// timeout, MaximumConcurrency 10, 250 ms a PSA request). Each iteration also
// runs a second day with 5% of PSA requests failing transiently (HTTP 500)
// and reports its run-minutes-5pct-faults, which must stay within twice
// the fault-free figure: a failing org must not stall its tenant's group.
// After the iterations it runs the first day of the next month (dated from
// the benchmark's clock), when every Autotask line starts a new unit period
// and needs a read, and reports that day's psa-req/org-first-of-month (the
// month's last day runs unmeasured first, so the drift checks are as due
// as on any other day). The log shows each measured day's requests by
// route. connectwise-line-floor-req/org is the least the rules allow on
// the measured days (connectWiseLineFloor): connectwise-psa-req/org less
// it is the bulk health reads.
//
// cpu-ms/org is this process's CPU time (user + system, getrusage) over the
// fault-free days, per org: the fan-out, the worker and the queue
// emulation. The PSA sandbox runs in another process, as DynamoDB Local
// and moto do, so none of their work is in it.
func BenchmarkDailySync(b *testing.B) {
	e := MustEnvSandboxProcess(b)
	at := e.MustTenant("at-bench", psa.Autotask, 1000, 0, nil)
	cw := e.MustTenant("cw-bench", psa.ConnectWise, 1000, 0, nil)
	halo := e.MustTenant("halo-bench", psa.HaloPSA, 1000, 0, nil)
	q := &memQueue{}
	f := *e.fanout
	f.Queue = q
	w := e.NewWorker() // one warm worker: its clients' zone and login lookups are done once
	day := func() time.Duration {
		if _, err := f.Scheduled(context.Background(), e.clock.Now()); err != nil {
			b.Fatal(err)
		}
		return q.mustDeliver(b, e, w)
	}
	day() // day 0: every line written and verified
	b.ResetTimer()
	var atReq, cwReq, cwFloor, haloReq int
	var clean, faulty, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e.clock.Set(start.Add(time.Duration(2*i+1) * 24 * time.Hour))
		changeTenPercent(e)
		e.psa.ResetCounts()
		runtime.GC() // the set-up's garbage is not the day's
		b.StartTimer()
		cpu0 := mustProcessCPU(b)
		clean += day()
		cpu += mustProcessCPU(b) - cpu0
		atReq += e.psa.Total("autotask")
		cwReq += e.psa.Total("connectwise")
		cwFloor += connectWiseLineFloor(cw, e.clock.Now())
		haloReq += e.psa.Total("halopsa")
		b.Logf("PSA requests by route, %s: %v", e.clock.Now().Format(time.DateOnly), e.psa.Counts())
		b.StopTimer()
		e.clock.Set(start.Add(time.Duration(2*i+2) * 24 * time.Hour))
		changeTenPercent(e)
		e.psa.SetFaults(sandbox.Faults{Seed: uint64(i + 1), Rate500: 0.05})
		faulty += day()
		e.psa.SetFaults(sandbox.Faults{})
		b.StartTimer()
	}
	b.StopTimer()
	first := firstOfNextMonth(e.clock.Now())
	e.clock.Set(first.AddDate(0, 0, -1))
	day()
	e.clock.Set(first)
	changeTenPercent(e)
	for _, t := range e.tenants {
		e.MustObserve(t, t.orgs) // every org reports usage in the new month
	}
	e.psa.ResetCounts()
	day()
	b.Logf("PSA requests by route, %s: %v", e.clock.Now().Format(time.DateOnly), e.psa.Counts())
	e.MustAllAtTarget(b)
	b.ReportMetric(float64(e.psa.Total("autotask"))/float64(len(at.orgs)), "autotask-psa-req/org-first-of-month")
	b.ReportMetric(float64(e.psa.Total("connectwise"))/float64(len(cw.orgs)), "connectwise-psa-req/org-first-of-month")
	b.ReportMetric(float64(e.psa.Total("halopsa"))/float64(len(halo.orgs)), "halopsa-psa-req/org-first-of-month")
	b.ReportMetric(float64(atReq)/float64(b.N*len(at.orgs)), "autotask-psa-req/org")
	b.ReportMetric(float64(cwReq)/float64(b.N*len(cw.orgs)), "connectwise-psa-req/org")
	b.ReportMetric(float64(haloReq)/float64(b.N*len(halo.orgs)), "halopsa-psa-req/org")
	b.ReportMetric(float64(cwFloor)/float64(b.N*len(cw.orgs)), "connectwise-line-floor-req/org")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N*(len(at.orgs)+len(cw.orgs)+len(halo.orgs))), "cpu-ms/org")
	b.ReportMetric(clean.Minutes()/float64(b.N), "run-minutes")
	b.ReportMetric(faulty.Minutes()/float64(b.N), "run-minutes-5pct-faults")
	if faulty > 2*clean {
		b.Errorf("run-minutes with 5%% PSA faults: %.2f, want at most twice the fault-free %.2f", faulty.Minutes()/float64(b.N), clean.Minutes()/float64(b.N))
	}
}

// connectWiseLineFloor is the fewest line requests a ConnectWise day can
// make under psabridge's rules, bulk health reads aside: a PATCH per
// changed addition, and one additions read (they are listed per agreement,
// here one per org) for every line that is changed (never written
// unread, since a PATCH of a cancelled addition answers 200) or due for its
// weekly drift check (every line was read within the week, so those of
// today's slot).
func connectWiseLineFloor(t *tenantFixture, now time.Time) int {
	n := 0
	for i, o := range t.orgs {
		due := billing.DriftDue(now, now.Add(-24*time.Hour), billing.DriftKey(t.name, o.id, billing.Users, o.lineID))
		if changedDaily(i) {
			n += 2 // read, then PATCH
		} else if due {
			n++
		}
	}
	return n
}

// firstOfNextMonth is the tenants' run time (12:00 America/New_York, the
// default) on the first day of the month after t's.
func firstOfNextMonth(t time.Time) time.Time {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	y, m, _ := t.In(loc).Date()
	return time.Date(y, m+1, 1, 12, 0, 0, 0, loc)
}

// mustProcessCPU is the CPU time this process has used (user + system).
func mustProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingSQS answers SendMessageBatch with success and counts the calls
// and messages: the request count of the fan-out does not depend on the
// queue, and moto's FIFO bookkeeping grows with the queue's length, which
// would make 100,000 queued messages a benchmark of moto.
type countingSQS struct {
	calls, msgs atomic.Int64
}

func (c *countingSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.calls.Add(1)
	c.msgs.Add(int64(len(in.Entries)))
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

// BenchmarkFanout measures the fan-out of 100,000 mapped orgs (100 tenants
// of 1,000): DynamoDB requests per org (index queries, runs, settings, the
// batched reads that order the messages) on DynamoDB Local, and SQS
// requests per org (SendMessageBatch of ten).
func BenchmarkFanout(b *testing.B) {
	const tenants, perTenant = 100, 1000
	e := MustEnv(b)
	mustMappedIndex(b, e, tenants, perTenant)
	sqsAPI := &countingSQS{}
	f := &billingsync.Fanout{Store: syncstore.Adapter{Store: e.store},
		Queue:  syncstore.Queue{Sender: &sqsqueue.Sender{Client: sqsAPI, QueueURL: "counting"}},
		Shards: schema.MappedShards, Now: e.clock.Now}
	b.ResetTimer()
	var ddb, sqsCalls int64
	for i := 0; i < b.N; i++ {
		e.clock.Add(24 * time.Hour) // a new day: new runs
		e.counter.Reset()
		before := sqsAPI.calls.Load()
		runs, err := f.Scheduled(context.Background(), e.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) != tenants {
			b.Fatalf("runs: got %d, want %d", len(runs), tenants)
		}
		ddb += int64(e.counter.Total())
		sqsCalls += sqsAPI.calls.Load() - before
	}
	b.StopTimer()
	if got := sqsAPI.msgs.Load(); got != int64(b.N*tenants*perTenant) {
		b.Fatalf("messages sent: got %d, want %d", got, b.N*tenants*perTenant)
	}
	orgs := float64(b.N * tenants * perTenant)
	b.ReportMetric(float64(ddb)/orgs, "ddb-req/org")
	b.ReportMetric(float64(sqsCalls)/orgs, "sqs-req/org")
}

// mustMappedIndex writes mapped org items (with the index keys PutMapping
// sets) and settings for the tenants with BatchWriteItem, for speed.
func mustMappedIndex(tb testing.TB, e *env, tenants, perTenant int) {
	tb.Helper()
	ctx := context.Background()
	var items []map[string]types.AttributeValue
	for t := 0; t < tenants; t++ {
		tenant := fmt.Sprintf("tenant-%03d", t)
		if _, err := e.store.PutBillingSettings(ctx, tenant, billing.DefaultSettings(), 0); err != nil {
			tb.Fatal(err)
		}
		// An integration, so the fan-out also makes its ordering reads.
		if _, err := e.store.PutIntegration(ctx, tenant, integration.Integration{Provider: psa.Autotask}, 0); err != nil {
			tb.Fatal(err)
		}
		for i := 0; i < perTenant; i++ {
			org := fmt.Sprintf("org-%d", i)
			m, err := attributevalue.MarshalMap(billing.Mapping{CompanyID: int64(i + 1), ContractID: int64(i + 1), State: billing.Mapped, Version: 1,
				Lines: []billing.LineMapping{{Product: billing.Users, LineID: int64(i + 1)}}})
			if err != nil {
				tb.Fatal(err)
			}
			items = append(items, map[string]types.AttributeValue{
				schema.PartitionKey:       &types.AttributeValueMemberS{Value: "T#" + tenant},
				schema.SortKey:            &types.AttributeValueMemberS{Value: "ORG#" + org},
				"org":                     &types.AttributeValueMemberS{Value: org},
				"mapping":                 &types.AttributeValueMemberM{Value: m},
				"mappingVersion":          &types.AttributeValueMemberN{Value: "1"},
				schema.MappedPartitionKey: &types.AttributeValueMemberS{Value: "MAPPED#" + strconv.Itoa((t*perTenant+i)%schema.MappedShards)},
				schema.MappedSortKey:      &types.AttributeValueMemberS{Value: "T#" + tenant + "#O#" + org},
			})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	chunks := make(chan []map[string]types.AttributeValue)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				var reqs []types.WriteRequest
				for _, it := range chunk {
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
				}
				for len(reqs) > 0 {
					out, err := e.store.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.store.Table: reqs}})
					if err != nil {
						errs <- err
						return
					}
					reqs = out.UnprocessedItems[e.store.Table]
				}
			}
		}()
	}
	for i := 0; i < len(items); i += 25 {
		chunks <- items[i:min(i+25, len(items))]
	}
	close(chunks)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}
