// Package billingsync runs the billing sync: the fan-out that, on each
// hourly tick (billing.TickEvery), starts the daily run of every tenant
// whose run time came, and on request a tenant's manual or dry run, and
// queues one message per mapped org; and the worker that brings each org's
// PSA service lines to their targets. It is written against small
// interfaces (storage, queue, PSA connector, budget store): the adapters
// are dynamo.Store (storage and budget counters), sqsqueue.Sender (the FIFO
// sync queue) and integration.Connector (the tenant's PSA client); the
// wiring is package compose, for the Lambda functions and for
// `make run`.
package billingsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/fanoutevent"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/queue"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// Message is the body of one sync queue message: one org of one run.
type Message struct {
	Tenant string        `json:"tenant"`
	Run    string        `json:"run"`
	Org    string        `json:"org"`
	DryRun bool          `json:"dryRun,omitempty"`
	Month  billing.Month `json:"month"`
	// Try counts the org's tries that failed transiently before this
	// message (0 from the fan-out; a re-queued copy carries the next).
	Try int `json:"try,omitempty"`
	// NotBefore, on a copy the worker re-queued, is when the org may be
	// tried again (a deferral's resume time or a retry's backoff).
	NotBefore *time.Time `json:"notBefore,omitempty"`
}

// DecodeMessage decodes a sync message strictly (strictjson: exactly one
// JSON object, no unknown fields or duplicate keys, valid UTF-8) and checks
// that tenant, run, org and month are there and try is not negative.
// Errors are Invalid: retrying cannot mend the message.
func DecodeMessage(body string) (Message, error) {
	var m Message
	if err := strictjson.Decode([]byte(body), &m); err != nil {
		return Message{}, err
	}
	if m.Tenant == "" || m.Run == "" || m.Org == "" || m.Try < 0 {
		return Message{}, apperr.New(apperr.Invalid, "sync message: tenant, run and org are required (try ≥ 0)")
	}
	if _, err := billing.ParseMonth(string(m.Month)); err != nil {
		return Message{}, apperr.New(apperr.Invalid, "sync message: month must be YYYY-MM")
	}
	return m, nil
}

// outMessage is the queue message of m. Every message of a tenant shares
// one FIFO group (the tenant), so a tenant's PSA traffic is serialised.
// The deduplication id is the run and key (the org, for a re-queued copy
// also its try and resume time).
func outMessage(m Message, key string) queue.Message {
	body, _ := json.Marshal(m)
	return queue.Message{Body: string(body), GroupID: m.Tenant, DedupID: dedupID(m.Run, key)}
}

// Queue sends messages to the FIFO sync queue, all of them or an error
// (sqsqueue.Sender adapted).
type Queue interface {
	Send(ctx context.Context, msgs []queue.Message) error
}

// MappedOrg is one entry of the mapped-org index.
type MappedOrg struct {
	Tenant  string
	Org     string
	Mapping billing.Mapping
}

// FanoutStore is the storage the fan-out needs (*dynamo.Store through
// syncstore.Adapter).
type FanoutStore interface {
	// MappedOrgs lists the mapped orgs of one index shard (0 ≤ shard <
	// Shards), of one tenant when tenant is not empty.
	MappedOrgs(ctx context.Context, shard int, tenant string, each func(MappedOrg) error) error
	CreateRun(ctx context.Context, tenant string, r billing.Run, date string) (billing.Run, bool, error)
	SetRunTotal(ctx context.Context, tenant, id string, total int64) error
	FinishRunIfDone(ctx context.Context, tenant, runID string) (billing.Run, error)
	Runs(ctx context.Context, tenant string, limit int) ([]billing.Run, error)
	BillingSettings(ctx context.Context, tenant string) (billing.Settings, error)
	Integration(ctx context.Context, tenant string) (integration.Integration, error)
	HighWaterMarks(ctx context.Context, tenant string, month billing.Month, keys []billing.LineKey) (map[billing.LineKey]int64, error)
	LineMemories(ctx context.Context, tenant string, keys []billing.LineKey) (map[billing.LineKey]billing.LineMemory, error)
}

// Fanout starts runs and queues their orgs.
type Fanout struct {
	Store  FanoutStore
	Queue  Queue
	Shards int
	Now    func() time.Time
	Log    *slog.Logger
	// Metrics receives the Degraded count of errors the fan-out carries on
	// after (nil emits none; they are logged either way).
	Metrics *metrics.Emitter
	// Invoke, when set, hands run-now requests to the fan-out function
	// (asynchronous Lambda invocation) instead of queueing the orgs in the
	// caller's process: StartRun stores the run and returns at once.
	Invoke func(ctx context.Context, req StartRequest) error
}

func (f *Fanout) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return clock.Now()
}

func (f *Fanout) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

// listMapped reads every shard of the index in parallel (of one tenant when
// tenant is set) and groups the orgs by tenant. Every shard is read; the
// first error to occur is returned.
func (f *Fanout) listMapped(ctx context.Context, tenant string) (map[string][]MappedOrg, error) {
	var mu sync.Mutex // guards byTenant
	byTenant := map[string][]MappedOrg{}
	var g errgroup.Group
	for i := range max(f.Shards, 1) {
		g.Go(func() error {
			var local []MappedOrg
			err := f.Store.MappedOrgs(ctx, i, tenant, func(m MappedOrg) error {
				local = append(local, m)
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			for _, m := range local {
				byTenant[m.Tenant] = append(byTenant[m.Tenant], m)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for t := range byTenant {
		sort.Slice(byTenant[t], func(i, j int) bool { return byTenant[t][i].Org < byTenant[t][j].Org })
	}
	return byTenant, nil
}

// Scheduled handles one hourly tick of the schedule, at tick (the
// scheduler's scheduled time, not the delivery time): it starts the
// scheduled run of every tenant with mapped orgs whose local run time
// (billing settings runAt and timeZone, default 12:00 America/New_York)
// fell in the hour up to tick, at most one per tenant and local day (the
// run is created with a SCHED#<day> marker in one conditional write, so a
// re-delivered tick, or a run time moved within the day, finds the day's
// run and only re-queues its orgs, which the workers recognise as done).
// It returns the runs, and the first error after trying every tenant.
func (f *Fanout) Scheduled(ctx context.Context, tick time.Time) ([]billing.Run, error) {
	byTenant, err := f.listMapped(ctx, "")
	if err != nil {
		return nil, err
	}
	tenants := make([]string, 0, len(byTenant))
	for t := range byTenant {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	var runs []billing.Run
	var first error
	for _, t := range tenants {
		r, due, err := f.startIfDue(ctx, t, tick, byTenant[t])
		if err != nil {
			f.log().ErrorContext(ctx, "fan-out failed", "tenant", t, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		if due {
			runs = append(runs, r)
		}
	}
	return runs, first
}

// startIfDue starts the tenant's scheduled run if its local run time has
// come at tick; due false when it has not.
func (f *Fanout) startIfDue(ctx context.Context, tenant string, tick time.Time, orgs []MappedOrg) (billing.Run, bool, error) {
	set, err := f.Store.BillingSettings(ctx, tenant)
	if err != nil {
		return billing.Run{}, false, err
	}
	sched, err := billing.ScheduleOf(set)
	if err != nil {
		return billing.Run{}, false, err
	}
	day, due := sched.Due(tick, billing.TickEvery)
	if !due {
		return billing.Run{}, false, nil
	}
	now := f.now()
	// The month billed is the tick's, not the delivery's: a tick of the
	// month's last evening retried after midnight still bills that month.
	r := billing.Run{ID: billing.NewRunID(now), Kind: billing.Scheduled, Status: billing.Running, StartedAt: now.UTC(), Month: set.BilledMonth(tick)}
	r, err = f.startRun(ctx, tenant, r, string(day), set, orgs)
	return r, true, err
}

// NewManualRun returns the run record of a run started now by an admin
// (kind manual or dry_run), not yet stored.
func (f *Fanout) NewManualRun(dryRun bool) billing.Run {
	kind := billing.Manual
	if dryRun {
		kind = billing.DryRun
	}
	return billing.Run{ID: billing.NewRunID(f.now()), Kind: kind, DryRun: dryRun, Status: billing.Running, StartedAt: f.now().UTC()}
}

// StartRun starts a manual or dry run of one tenant now and returns its id
// (httpapi.RunStarter). The orgs are queued before it returns. Conflict
// when a run of the tenant is still running (one started less than six hours
// ago).
func (f *Fanout) StartRun(ctx context.Context, tenant string, dryRun bool) (string, error) {
	if err := f.checkNoneRunning(ctx, tenant); err != nil {
		return "", err
	}
	if f.Invoke == nil {
		r, err := f.Manual(ctx, tenant, f.NewManualRun(dryRun))
		return r.ID, err
	}
	set, err := f.Store.BillingSettings(ctx, tenant)
	if err != nil {
		return "", err
	}
	r := f.NewManualRun(dryRun)
	r.Tenant, r.Month = tenant, set.BilledMonth(f.now())
	// Stored now so the run is visible at once; the fan-out finds it, sets
	// its total and queues the orgs.
	if _, _, err := f.Store.CreateRun(ctx, tenant, r, ""); err != nil {
		return "", err
	}
	if err := f.Invoke(ctx, StartRequest{Tenant: tenant, DryRun: dryRun, RunID: r.ID}); err != nil {
		return "", err
	}
	return r.ID, nil
}

func (f *Fanout) checkNoneRunning(ctx context.Context, tenant string) error {
	latest, err := f.Store.Runs(ctx, tenant, 1)
	if err != nil {
		return err
	}
	if len(latest) == 1 && latest[0].Status == billing.Running && f.now().Sub(latest[0].StartedAt) < 6*time.Hour {
		return apperr.New(apperr.Conflict, "run %s is still running", latest[0].ID)
	}
	return nil
}

// Manual starts run r (from NewManualRun, e.g. created by the API and passed
// in an asynchronous invocation) of one tenant: it stores the run unless it
// exists, lists the tenant's mapped orgs and queues them.
func (f *Fanout) Manual(ctx context.Context, tenant string, r billing.Run) (billing.Run, error) {
	byTenant, err := f.listMapped(ctx, tenant)
	if err != nil {
		return billing.Run{}, err
	}
	set, err := f.Store.BillingSettings(ctx, tenant)
	if err != nil {
		return billing.Run{}, err
	}
	return f.startRun(ctx, tenant, r, "", set, byTenant[tenant])
}

// startRun creates (or finds) the run, sets its total, and queues its orgs,
// those whose lines need a PSA read first (see order).
func (f *Fanout) startRun(ctx context.Context, tenant string, r billing.Run, date string, set billing.Settings, orgs []MappedOrg) (billing.Run, error) {
	r.Tenant = tenant
	if r.Month == "" {
		r.Month = set.BilledMonth(f.now())
	}
	r.Counts.Total = int64(len(orgs))
	stored, created, err := f.Store.CreateRun(ctx, tenant, r, date)
	if err != nil && !(date == "" && apperr.Is(err, apperr.Conflict)) {
		return billing.Run{}, err
	}
	if err == nil {
		r = stored
	}
	if !created && r.Status != billing.Running {
		return r, nil // the day's run is finished: nothing to re-queue
	}
	if err := f.Store.SetRunTotal(ctx, tenant, r.ID, int64(len(orgs))); err != nil {
		return r, err
	}
	orgs = f.order(ctx, tenant, set, r.Month, orgs)
	msgs := make([]queue.Message, len(orgs))
	for i, o := range orgs {
		msgs[i] = outMessage(Message{Tenant: tenant, Run: r.ID, Org: o.Org, DryRun: r.DryRun, Month: r.Month}, o.Org)
	}
	if err := f.Queue.Send(ctx, msgs); err != nil {
		return r, err
	}
	if len(orgs) == 0 {
		return f.Store.FinishRunIfDone(ctx, tenant, r.ID)
	}
	f.log().InfoContext(ctx, "run started", "tenant", tenant, "run", r.ID, "kind", r.Kind, "orgs", len(orgs))
	return r, nil
}

// dedupID is the FIFO deduplication id of a key in a run (at most 128
// characters of alphanumerics and punctuation): run:key, or its SHA-256 when
// longer, so two keys never share one by truncation.
func dedupID(run, key string) string {
	id := run + ":" + key
	if len(id) > 128 {
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:])
	}
	return id
}

// order puts the orgs whose lines need a PSA read before writing (changed
// targets on delta-writing PSAs, drift checks due) first, so the workers'
// batched reads cover ten such orgs at once instead of one in every batch.
// It only orders: the worker decides again. Any failure leaves the order
// as it is, and is logged (operation "fanout.order") and counted
// (metrics.Degraded): the run goes on, but more slowly.
func (f *Fanout) order(ctx context.Context, tenant string, set billing.Settings, month billing.Month, orgs []MappedOrg) []MappedOrg {
	if len(orgs) <= 10 {
		return orgs
	}
	unordered := func(what string, err error) []MappedOrg {
		metrics.Degrade(ctx, f.log(), f.Metrics, "fanout.order", "orgs queued unordered: "+what+" failed", err, "tenant", tenant)
		return orgs
	}
	in, err := f.Store.Integration(ctx, tenant)
	if err != nil {
		return unordered("reading the integration", err)
	}
	var keys []billing.LineKey
	for _, o := range orgs {
		for _, l := range o.Mapping.Lines {
			keys = append(keys, billing.LineKey{Org: o.Org, Product: l.Product})
		}
	}
	hwms, err := f.Store.HighWaterMarks(ctx, tenant, month, keys)
	if err != nil {
		return unordered("reading the HWMs", err)
	}
	mems, err := f.Store.LineMemories(ctx, tenant, keys)
	if err != nil {
		return unordered("reading the line memories", err)
	}
	now := f.now()
	needs := make(map[string]bool, len(orgs))
	for _, o := range orgs {
		for _, l := range o.Mapping.Lines {
			if billing.PlanOf(tenant, o.Org, o.Mapping, l, month, set, TraitsOf(in.Provider), hwms, mems, now).Read {
				needs[o.Org] = true
			}
		}
	}
	out := make([]MappedOrg, 0, len(orgs))
	for _, pass := range []bool{true, false} {
		for _, o := range orgs {
			if needs[o.Org] == pass {
				out = append(out, o)
			}
		}
	}
	return out
}

// TraitsOf returns the plan rules of a PSA. ConnectWise and HaloPSA write
// absolute values, but both take a write of a line that no longer bills
// (a cancelled addition; an inactive recurring invoice line or one of a
// disabled recurring invoice, docs/HALOPSA.md §5.3), so a changed line is
// read first.
func TraitsOf(p psa.Provider) billing.Traits {
	if p == psa.Autotask {
		return billing.Traits{DeltaWrites: true, MonthlyPeriods: true}
	}
	return billing.Traits{CancelledTakesWrites: true}
}

// StartRequest is the fan-out's run-now input, sent by the API as an
// asynchronous invocation (decoded strictly by fanoutevent).
type StartRequest = fanoutevent.RunNow

// Result is the fan-out's answer: the runs it started or found.
type Result struct {
	Runs []RunStarted `json:"runs"`
}

// RunStarted names one run of a fan-out.
type RunStarted struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
	Orgs   int64  `json:"orgs"`
}

// HandleEvent is the fan-out's Lambda handler. A scheduled tick (the
// schedule target's fanoutevent.ScheduleInput, filled in by EventBridge
// Scheduler) starts the scheduled runs of the tenants whose local run time
// came in the hour up to the tick's scheduled time, however late the
// delivery; a run-now request starts that tenant's run with the given id.
// Any other event starts nothing: it is logged as an error and the Invalid
// error returned, so Lambda counts the failure and, after its retries, puts
// the event in the fan-out's on-failure queue. Its work ends
// deadline.Margin before the function's timeout, so every store and queue
// call is cut off before Lambda would kill the function mid-call.
func (f *Fanout) HandleEvent(ctx context.Context, raw json.RawMessage) (Result, error) {
	ctx, cancel := deadline.Reserve(ctx, deadline.Margin, 0)
	defer cancel()
	res := Result{Runs: []RunStarted{}}
	ev, err := fanoutevent.Decode(raw)
	if err != nil {
		f.log().ErrorContext(ctx, "fan-out event refused: nothing started", "err", err, "event", psa.Truncate(string(raw), 512))
		return res, err
	}
	var runs []billing.Run
	if t := ev.Tick; t != nil {
		f.log().InfoContext(ctx, "scheduled tick", "scheduledTime", t.ScheduledTime, "attempt", t.Attempt, "execution", t.ExecutionID)
		runs, err = f.Scheduled(ctx, t.ScheduledTime)
	} else {
		r := f.NewManualRun(ev.RunNow.DryRun)
		r.ID = ev.RunNow.RunID
		var one billing.Run
		one, err = f.Manual(ctx, ev.RunNow.Tenant, r)
		if one.ID != "" {
			runs = append(runs, one)
		}
	}
	for _, r := range runs {
		res.Runs = append(res.Runs, RunStarted{Tenant: r.Tenant, ID: r.ID, Orgs: r.Counts.Total})
	}
	return res, err
}
