package dynamo_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/localaws"
)

func TestMain(m *testing.M) { localaws.Main(m) }

func ny(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := billing.LoadLocation("America/New_York")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func TestRecordObservation(t *testing.T) {
	ctx := context.Background()
	store := dynamotest.NewStore(t, nil)
	loc := ny(t)
	at := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	for _, o := range []billing.Observation{
		{Org: "o1", Product: billing.Users, Value: 10, ObservedAt: at("2026-11-02T10:00:00Z")},
		{Org: "o1", Product: billing.Users, Value: 7, ObservedAt: at("2026-11-03T10:00:00Z")},
		{Org: "o1", Product: billing.Users, Value: 12, ObservedAt: at("2026-11-30T23:30:00-05:00")}, // November in New York
		{Org: "o1", Product: billing.Users, Value: 3, ObservedAt: at("2026-12-01T06:00:00Z")},       // December: starts anew
		{Org: "o2", Product: "storage_gb", Value: 100, ObservedAt: at("2026-11-05T10:00:00Z")},
	} {
		if _, err := store.RecordObservation(ctx, "t1", loc, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.HighWaterMarks(ctx, "t1", []dynamo.UsageKey{
		{"o1", billing.Users, "2026-11"}, {"o1", billing.Users, "2026-12"}, {"o2", "storage_gb", "2026-11"}, {"o3", billing.Users, "2026-11"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[dynamo.UsageKey]int64{
		{"o1", billing.Users, "2026-11"}: 12, {"o1", billing.Users, "2026-12"}: 3, {"o2", "storage_gb", "2026-11"}: 100,
	} {
		if got[k].Value != want {
			t.Errorf("%v: got %d, want %d", k, got[k].Value, want)
		}
	}
	if _, ok := got[dynamo.UsageKey{"o3", billing.Users, "2026-11"}]; ok {
		t.Error("got an HWM for o3, want none")
	}
	month, err := store.MonthUsage(ctx, "t1", "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if len(month) != 2 {
		t.Fatalf("got %d november items, want 2", len(month))
	}
	other, err := store.MonthUsage(ctx, "t2", "2026-11")
	if err != nil || len(other) != 0 {
		t.Fatalf("tenant t2: got %d items, %v; want none", len(other), err)
	}
}

// TestRecordObservationConcurrent: 50 goroutines post interleaved values for
// the same org and month; the stored HWM is the true maximum.
func TestRecordObservationConcurrent(t *testing.T) {
	ctx := context.Background()
	store := dynamotest.NewStore(t, nil)
	loc := ny(t)
	base := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want int64
	)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 10 {
				v := r.Int64N(100_000)
				mu.Lock()
				want = max(want, v)
				mu.Unlock()
				o := billing.Observation{Org: "hot", Product: billing.Users, Value: v, ObservedAt: base.Add(time.Duration(g*10+i) * time.Second)}
				if _, err := store.RecordObservation(ctx, "t1", loc, o); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := store.HighWaterMarks(ctx, "t1", []dynamo.UsageKey{{"hot", billing.Users, "2026-11"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := got[dynamo.UsageKey{"hot", billing.Users, "2026-11"}].Value; g != want {
		t.Fatalf("got hwm %d, want %d", g, want)
	}
}

// BenchmarkIngest records observations and reports DynamoDB requests per
// observation, counted by middleware on the SDK client.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	var counter awsconfig.RequestCounter
	store := dynamotest.NewStore(b, &counter)
	loc := ny(b)
	base := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	counter.Reset()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for j := range 1000 {
			o := billing.Observation{Org: "org-" + string(rune('a'+j%26)), Product: billing.Users, Value: int64((i*1000 + j) % 97), ObservedAt: base}
			if _, err := store.RecordObservation(ctx, "t1", loc, o); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(counter.Total())/float64(n), "ddb-req/obs")
}
