package billingsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/queue"
)

// WorkerStore is the storage the worker needs (*dynamo.Store through
// syncstore.Adapter).
type WorkerStore interface {
	// BatchStart reads what a batch of a run starts from in one round
	// trip, strongly consistent.
	BatchStart(ctx context.Context, tenant, runID string, orgs []string) (BatchStart, error)
	OrgsByID(ctx context.Context, tenant string, ids []string) (map[string]billing.Org, error)
	// LineInputs reads the month's HWMs of keys and their line memories in
	// one round trip; keys without one are absent from each map.
	LineInputs(ctx context.Context, tenant string, month billing.Month, keys []billing.LineKey) (map[billing.LineKey]int64, map[billing.LineKey]billing.LineMemory, error)
	PutLineMemories(ctx context.Context, tenant string, mems map[billing.LineKey]billing.LineMemory) error
	OrgOutcomes(ctx context.Context, tenant, runID string, orgs []string) (map[string]billing.OutcomeState, error)
	RecordOutcomes(ctx context.Context, tenant, runID string, changes []billing.OutcomeChange) error
	FinishRunIfDone(ctx context.Context, tenant, runID string) (billing.Run, error)
	// PutEntries records a run's entries; a dry run's (dryRun) do not
	// become the org lines' last sync entries.
	PutEntries(ctx context.Context, tenant, runID string, dryRun bool, entries []billing.Entry) error
	// PutMapping stores an org's mapping if its version is still ifVersion
	// (PreconditionFailed otherwise): the worker points a mapping at a line
	// it created.
	PutMapping(ctx context.Context, tenant, org string, m billing.Mapping, ifVersion int64) (billing.Mapping, error)
	HealthStore
	LineSnapshotStore
}

// BatchStart is what a batch of a run starts from.
type BatchStart struct {
	// Outcomes are the orgs' recorded outcomes in the run (absent: none).
	Outcomes map[string]billing.OutcomeState
	// Settings are the tenant's billing settings (the defaults when none
	// are stored).
	Settings billing.Settings
	// Orgs are the batch's orgs that exist.
	Orgs map[string]billing.Org
	// Integration is the tenant's integration, nil when it has none.
	Integration *integration.Integration
}

// Connector hands out a tenant's PSA client (*integration.Connector).
type Connector interface {
	// ClientOf returns the client for the tenant's integration in, as
	// just read from the store.
	ClientOf(ctx context.Context, tenant string, in integration.Integration) (psa.Client, error)
}

// errNoIntegration is the Connector's answer for a tenant without an
// integration.
var errNoIntegration = apperr.New(apperr.NotFound, "no PSA integration is configured")

// MaxReceives is the queue's maxReceiveCount: on the last delivery a
// transient failure or a deferral becomes the org's final outcome, so a run
// always finishes and the DLQ only holds messages a crash kept from that.
// It also bounds an org's tries after transient failures across the copies
// the worker re-queues (Message.Try).
const MaxReceives = 5

// Budget is the tenant's PSA request budget the Connector's clients spend
// (*budget.Budget, whose Dialer builds them).
type Budget interface {
	// Exhausted reports whether the tenant's budget for this hour is known
	// to be spent, so the worker defers before sending.
	Exhausted(tenant string) bool
	// Flush gives back what a batch reserved and did not spend.
	Flush(ctx context.Context, tenant string) error
}

// errBudgetSpent marks work the worker deferred itself, without asking the
// PSA, because the budget is known to be spent.
var errBudgetSpent = apperr.New(apperr.Transient, "the tenant's PSA request budget for this hour is spent")

// MaxInlineWait is the longest Retry-After the PSA clients wait out inside
// one invocation (psahttp.Retrier's MaxDelay); a longer one defers the org.
const MaxInlineWait = 30 * time.Second

// RetryBackoff is the wait before an org's first retry after a transient
// PSA failure; it doubles with every further try (30 s, 1, 2, 4 min).
const RetryBackoff = 30 * time.Second

// Visibility changes when a received sync queue message comes back
// (sqsqueue.Visibility: ChangeMessageVisibility; the ESM emulator in tests).
type Visibility interface {
	// Hide keeps a received message invisible for d from now (0: visible
	// at once; at most 12 hours).
	Hide(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Worker brings the lines of a batch of orgs to their targets.
type Worker struct {
	Store     WorkerStore
	Connector Connector
	// Budget, when set, is the PSA request budget the Connector's clients
	// are dialled with; the worker stops before sending once it is spent.
	Budget Budget
	// Metrics receives SyncEntries, BudgetDeferrals and the Degraded count
	// of errors the worker carries on after (metrics.Degrade); nil emits none.
	Metrics     *metrics.Emitter
	Now         func() time.Time
	Log         *slog.Logger
	MaxReceives int
	// Requeue, when set, is the sync queue: an org that must wait is
	// queued again as a copy with a NotBefore at the end of its tenant's
	// message group and its message acknowledged, so it does not hold the
	// group (docs/SYNC.md, "Waiting"). Without it (or when sending fails)
	// the message itself is hidden until then and reported failed.
	Requeue Queue
	// Visibility, when set, hides messages that must wait; without it a
	// failed message waits out the queue's visibility timeout.
	Visibility Visibility

	health healthMemo
}

// Delivery is one received queue message.
type Delivery struct {
	ID            string
	Body          string
	ReceiveCount  int
	ReceiptHandle string
	msg           Message
}

// HandleSQS is the Lambda handler of the sync queue (ReportBatchItemFailures).
// The batch's work ends deadline.Margin before the function's timeout, so
// what ran out of time is reported as failed instead of being killed.
func (w *Worker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx, cancel := deadline.Reserve(ctx, deadline.Margin, 0)
	defer cancel()
	ds := make([]Delivery, len(ev.Records))
	for i, r := range ev.Records {
		ds[i] = Delivery{ID: r.MessageId, Body: r.Body, ReceiveCount: atoi(r.Attributes["ApproximateReceiveCount"]), ReceiptHandle: r.ReceiptHandle}
	}
	var resp events.SQSEventResponse
	for _, id := range w.Handle(ctx, ds) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return clock.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}

func (w *Worker) maxReceives() int {
	if w.MaxReceives > 0 {
		return w.MaxReceives
	}
	return MaxReceives
}

// lastDelivery: the message will not be received again (the queue's
// maxReceiveCount), or the org has had its last try.
func (w *Worker) lastDelivery(d Delivery) bool {
	return d.ReceiveCount >= w.maxReceives() || d.msg.Try+1 >= w.maxReceives()
}

// Handle processes a batch and returns the ids of the deliveries to retry.
// A malformed message is logged and reported failed, made visible again at
// once, so the queue's redrive moves it to the dead-letter queue after
// maxReceiveCount receives: never acknowledged, never holding its group for
// long. A re-queued copy received before its NotBefore is hidden until then
// and reported failed.
func (w *Worker) Handle(ctx context.Context, ds []Delivery) []string {
	type groupKey struct{ tenant, run string }
	var order []groupKey
	groups := map[groupKey][]Delivery{}
	var failed []string
	now := w.now()
	for _, d := range ds {
		msg, err := DecodeMessage(d.Body)
		if err != nil {
			w.log().ErrorContext(ctx, "malformed sync message: reported failed, for the dead-letter queue", "message", d.ID, "err", err)
			w.hide(ctx, d, 0)
			failed = append(failed, d.ID)
			continue
		}
		d.msg = msg
		if nb := msg.NotBefore; nb != nil && nb.After(now) {
			w.hide(ctx, d, nb.Sub(now))
			failed = append(failed, d.ID)
			continue
		}
		k := groupKey{d.msg.Tenant, d.msg.Run}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	for _, k := range order {
		failed = append(failed, w.handleRun(ctx, k.tenant, k.run, groups[k])...)
	}
	return failed
}

// lineWork is one line of an org in the batch.
type lineWork struct {
	key   billing.LineKey
	ref   psa.LineRef
	plan  billing.LinePlan
	mem   *billing.LineMemory
	entry billing.Entry
	// blocked: the mapping's health stops this line (entry filled).
	blocked bool
	// note is appended to the entry's message (health warnings).
	note string
	// catalogItem is the PSA catalog item the product's line must bill
	// (0: not checked).
	catalogItem int64
	// create: the tenant creates missing lines (at catalogCost when it set
	// no cost of its own).
	create      bool
	catalogCost float64
	org         *orgWork
	// result
	outcome   billing.Outcome
	transient bool
	deferred  bool
	// resumeAt: when a deferred line may be tried again; retryAfter: the
	// wait a transient failure asked for.
	resumeAt   time.Time
	retryAfter time.Duration
	newMem     *billing.LineMemory
	// shared is the line's state from the run's line snapshot, when it
	// stands in for a read (sharedlines.go).
	shared *sharedRead
}

type orgWork struct {
	d     Delivery
	org   billing.Org
	lines []*lineWork
	// skip is set when the org has no lines to work on (not mapped, no
	// integration…): its single entry; wait says when to come back if it
	// is deferred or transient.
	skip *billing.Entry
	wait waitFor
}

// handleRun processes the deliveries of one run of one tenant.
func (w *Worker) handleRun(ctx context.Context, tenant, runID string, ds []Delivery) (retry []string) {
	log := w.log().With("tenant", tenant, "run", runID)
	// all reports the whole batch failed after a store error (logged with
	// it): the messages come back after the visibility timeout.
	all := func(what string, err error) []string {
		log.WarnContext(ctx, what+" failed; the batch is tried again", "err", err)
		ids := make([]string, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
		}
		return ids
	}
	now := w.now()
	orgIDs := make([]string, len(ds))
	for i, d := range ds {
		orgIDs[i] = d.msg.Org
	}
	bs, err := w.Store.BatchStart(ctx, tenant, runID, orgIDs)
	if err != nil {
		return all("reading the batch's outcomes, orgs and settings", err)
	}
	prev := bs.Outcomes
	var work []*orgWork
	for _, d := range ds {
		if prev[d.msg.Org].Final {
			continue // delivered again after it was done
		}
		work = append(work, &orgWork{d: d})
	}
	if len(work) == 0 {
		return nil
	}
	dryRun, month := work[0].d.msg.DryRun, work[0].d.msg.Month

	set := bs.Settings
	if w.Budget != nil {
		defer func() {
			if err := w.Budget.Flush(ctx, tenant); err != nil {
				// The unspent reservation stays taken until the hour ends.
				metrics.Degrade(ctx, log, w.Metrics, "syncworker.budget_flush", "releasing budget failed; the unspent requests stay reserved until the hour ends", err)
			}
		}()
	}
	orgs := bs.Orgs
	var client psa.Client
	var in integration.Integration
	if bs.Integration == nil {
		err = errNoIntegration
	} else {
		in = *bs.Integration
		client, err = w.Connector.ClientOf(ctx, tenant, in)
	}
	if err != nil {
		for _, o := range work {
			if org, ok := orgs[o.d.msg.Org]; ok && org.State() == billing.Mapped {
				o.org = org // its lines' entries say why it waits
			}
			e, wt := w.failureEntry(tenant, o.d.msg.Org, "", err, now)
			if apperr.Is(err, apperr.NotFound) {
				e.Code, e.Level, e.Message = billing.CodeNoIntegration, billing.Error, "the tenant has no PSA integration"
			}
			o.skip, o.wait = &e, wt
		}
		return w.finish(ctx, log, tenant, runID, work, prev, nil)
	}
	var keys []billing.LineKey
	for _, o := range work {
		org, ok := orgs[o.d.msg.Org]
		if !ok || org.State() != billing.Mapped {
			e := billing.Entry{Org: o.d.msg.Org, Code: billing.CodeNotMapped, Level: billing.Info, At: now,
				Message: "the org is no longer mapped; nothing was written"}
			o.skip = &e
			continue
		}
		o.org = org
		for _, l := range org.Mapping.Lines {
			keys = append(keys, billing.LineKey{Org: org.ID, Product: l.Product})
		}
	}
	effective := set.EffectiveDateOf(now, month)
	// Mapping health before anything is read or written for the lines.
	health := map[string]billing.Health{}
	var catalog map[billing.Product]int64
	var products billing.Catalog
	var tenantMaps map[string]billing.Mapping
	if mapped := mappingsOf(work); len(mapped) > 0 {
		var rh *runHealth
		rh, tenantMaps, err = w.runHealth(ctx, tenant, runID, client, effective, now)
		if err == nil {
			catalog, products = rh.catalog, rh.products
			health, err = w.orgHealth(ctx, rh, client, mapped, now)
		}
		if err != nil {
			if !apperr.IsTransient(err) && apperr.CodeOf(err) == apperr.Internal {
				return all("reading mapping health", err) // the store failed
			}
			for _, o := range work {
				if o.skip == nil {
					e, wt := w.failureEntry(tenant, o.d.msg.Org, "", err, now)
					o.skip, o.wait = &e, wt
				}
			}
			return w.finish(ctx, log, tenant, runID, work, prev, nil)
		}
	}
	hwms, mems, err := w.Store.LineInputs(ctx, tenant, month, keys)
	if err != nil {
		return all("reading high-water marks and line memories", err)
	}

	// Plan every line, then read the ones that need it in one batched read
	// (or take them from the run's line snapshot).
	var reads []*lineWork
	for _, o := range work {
		if o.skip != nil {
			continue
		}
		m := o.org.Mapping
		for _, l := range m.Lines {
			k := billing.LineKey{Org: o.org.ID, Product: l.Product}
			lw := &lineWork{key: k, ref: psa.LineRef{ContractID: m.ContractID, LineID: l.LineID},
				plan:  billing.PlanOf(tenant, o.org.ID, *m, l, month, set, TraitsOf(in.Provider), hwms, mems, now),
				entry: billing.Entry{Org: o.org.ID, Product: l.Product, CompanyID: m.CompanyID, ContractID: m.ContractID, LineID: l.LineID}}
			if v, ok := mems[k]; ok {
				lw.mem = &v
			}
			hl := health[o.org.ID]
			lw.note = warnings(hl)
			if p, ok := blocking(hl, l.Product); ok {
				lw.blocked = true
				lw.entry.At = now
				healthEntry(lw, p)
			}
			lw.catalogItem = catalog[l.Product]
			lw.create, lw.org = set.CreateMissingLines, o
			if cp, ok := products.Product(l.Product); ok {
				lw.catalogCost = cp.UnitCost
			}
			if !lw.blocked && lw.plan.Skip == "" && lw.plan.Read {
				reads = append(reads, lw)
			}
			o.lines = append(o.lines, lw)
		}
	}
	var states map[psa.LineRef]psa.LineState
	var readErr error
	if len(reads) > 0 && w.budgetSpent(tenant) {
		readErr = errBudgetSpent
	} else if len(reads) > 0 {
		var shared *sharedLines
		// Only a first attempt may use the snapshot (sharedLines.use), so
		// a batch of later attempts does not read the tenant for nothing.
		if sharesLineReads(in.Provider) && slices.ContainsFunc(reads, func(lw *lineWork) bool { return firstAttempt(lw.org.d) }) {
			var err error
			if shared, err = w.runLines(ctx, tenant, runID, client, tenantMaps, effective, now); err != nil {
				// The batch reads its own lines, as without a snapshot.
				metrics.Degrade(ctx, log, w.Metrics, "syncworker.line_snapshot", "the run's line snapshot failed; the batch reads its own lines", err)
			}
		}
		var refs []psa.LineRef
		for _, lw := range reads {
			if r, ok := shared.use(lw, lw.org.d, effective, now); ok {
				lw.shared = &r
			} else {
				refs = append(refs, lw.ref)
			}
		}
		if len(refs) > 0 {
			states, readErr = client.ReadLines(ctx, refs, effective)
		}
	}
	for _, o := range work {
		for _, lw := range o.lines {
			if lw.blocked {
				continue
			}
			w.doLine(ctx, tenant, client, lw, states, readErr, month, effective, dryRun)
			lw.entry.Message += lw.note
		}
	}
	return w.finish(ctx, log, tenant, runID, work, prev, nil)
}

func (w *Worker) budgetSpent(tenant string) bool {
	return w.Budget != nil && w.Budget.Exhausted(tenant)
}

// doLine decides one line, writes it if needed, and fills its entry,
// outcome and new memory.
func (w *Worker) doLine(ctx context.Context, tenant string, client psa.LineSyncer, lw *lineWork,
	states map[psa.LineRef]psa.LineState, readErr error, month billing.Month, effective time.Time, dryRun bool) {
	now := w.now()
	lw.entry.At = now
	var current *billing.LineValue
	var state psa.LineState
	if lw.plan.Skip == "" && lw.plan.Read {
		var st psa.LineState
		ok, readAt := false, now
		if r := lw.shared; r != nil {
			st, ok, readAt = r.state, r.exists, r.readAt
		} else if readErr != nil {
			w.fail(tenant, lw, readErr)
			return
		} else {
			st, ok = states[lw.ref]
		}
		if !ok {
			w.missingLine(ctx, tenant, client, lw, month, effective, dryRun)
			return
		}
		// A cancelled line, or one of a cancelled or ended contract, is
		// never written (ConnectWise would take the PATCH).
		if p := billing.CheckLineState(billing.Mapping{ContractID: lw.ref.ContractID}, billing.LineMapping{Product: lw.key.Product, LineID: lw.ref.LineID},
			st, map[billing.Product]int64{lw.key.Product: lw.catalogItem}); p != nil {
			healthEntry(lw, *p)
			return
		}
		if !st.Starts.IsZero() {
			lw.note = fmt.Sprintf("; the line starts billing on %s", st.Starts.Format(time.DateOnly)) + lw.note
		}
		state = st
		current = readValue(st, lw)
		if !dryRun {
			lw.newMem = &billing.LineMemory{ContractID: lw.ref.ContractID, LineID: lw.ref.LineID, Month: month, Value: *current, VerifiedAt: readAt}
			if lw.mem != nil {
				lw.newMem.WrittenAt = lw.mem.WrittenAt
			}
		}
	}
	d := billing.Decide(lw.plan, lw.mem, current, lw.key.Product, dryRun)
	lw.entry.Code, lw.entry.Level, lw.entry.Message = d.Code, billing.InfoOf(d.Code).Level, d.Message
	lw.entry.Before, lw.outcome = d.Before, d.Outcome
	if d.Code != billing.CodeNoUsage {
		after := d.After
		lw.entry.After = &after
	}
	if !d.Write {
		return
	}
	if w.budgetSpent(tenant) {
		w.fail(tenant, lw, errBudgetSpent)
		return
	}
	err := client.SetLine(ctx, psa.LineUpdate{Ref: lw.ref, Current: state, Quantity: d.After.Quantity, UnitCost: d.After.UnitCost, EffectiveDate: effective})
	if apperr.Is(err, apperr.NotFound) && lw.create {
		// Written without a read (ConnectWise): the line is gone.
		w.missingLine(ctx, tenant, client, lw, month, effective, dryRun)
		return
	}
	if err != nil {
		lw.entry.Before, lw.entry.After = d.Before, nil
		w.fail(tenant, lw, err)
		return
	}
	m := billing.LineMemory{ContractID: lw.ref.ContractID, LineID: lw.ref.LineID, Month: month, Value: d.After, WrittenAt: now}
	if lw.newMem != nil {
		m.VerifiedAt = lw.newMem.VerifiedAt
	} else if lw.mem != nil {
		m.VerifiedAt = lw.mem.VerifiedAt
	}
	lw.newMem = &m
}

// readValue is the value of a read line that the decision compares with the
// target: the line's value on the effective date, or, when a later row of
// the month holds something else (Autotask splits a period at every
// adjustment's date), that row's, so a line is unchanged only when every
// row is at the target. Without a cost of the tenant's, the cost on the
// effective date is the one kept. The entry names the later rows.
func readValue(st psa.LineState, lw *lineWork) *billing.LineValue {
	cost := lw.plan.Target.UnitCost
	if lw.plan.KeepCost {
		cost = st.UnitCost
	}
	row, _ := st.FirstOff(lw.plan.Target.Quantity, cost)
	v := billing.LineValue{Quantity: row.Quantity, UnitCost: row.UnitCost}
	if lw.plan.KeepCost {
		v.UnitCost = st.UnitCost
	}
	var later []string
	for _, r := range st.Later {
		later = append(later, fmt.Sprintf("%s from %s", billing.LineValue{Quantity: r.Quantity, UnitCost: r.UnitCost}, r.Start.Format(time.DateOnly)))
	}
	if len(later) > 0 {
		lw.note = "; the PSA's month held further rows: " + strings.Join(later, ", ") + lw.note
	}
	return &v
}

// missingLine handles a mapped line the PSA does not have. Unless the
// tenant creates missing lines it is line_missing and nothing is written.
// Otherwise the line is created on the mapped contract, billing the
// product's pushed catalog item (catalog_item_missing without one), at the
// target, and the org's mapping is pointed at it. A line the contract
// already has for that catalog item is taken instead of adding a second
// (a create whose mapping update was lost, or retried after an ambiguous
// failure, is not repeated).
func (w *Worker) missingLine(ctx context.Context, tenant string, client psa.LineSyncer, lw *lineWork,
	month billing.Month, effective time.Time, dryRun bool) {
	lw.newMem = nil
	lw.outcome, lw.entry.Before, lw.entry.After = billing.OutcomeFailed, nil, nil
	switch {
	case !lw.create:
		lw.entry.Code, lw.entry.Level = billing.CodeLineMissing, billing.Error
		lw.entry.Message = "the mapped line does not exist on the mapped contract; nothing was written"
		return
	case lw.catalogItem == 0:
		lw.entry.Code, lw.entry.Level = billing.CodeNoCatalogItem, billing.Error
		lw.entry.Message = fmt.Sprintf("the mapped line does not exist on the mapped contract, and %s has no pushed catalog item to create it with; nothing was written", lw.key.Product)
		return
	}
	target := lw.plan.Target
	if lw.plan.KeepCost && !lw.plan.Known {
		target.UnitCost = lw.catalogCost // the PSA has no cost to keep
	}
	if dryRun {
		lw.entry.Code, lw.entry.Level, lw.outcome = billing.CodeWouldCreate, billing.Info, billing.OutcomeUpdated
		lw.entry.After = &target
		lw.entry.Message = fmt.Sprintf("the mapped line does not exist on the mapped contract; would create a %s line (catalog item %d) with %s", lw.key.Product, lw.catalogItem, target)
		return
	}
	if w.budgetSpent(tenant) {
		w.fail(tenant, lw, errBudgetSpent)
		return
	}
	lines, err := client.Lines(ctx, lw.ref.ContractID)
	if err != nil {
		w.fail(tenant, lw, err)
		return
	}
	old := lw.ref.LineID
	i := slices.IndexFunc(lines, func(l psa.ServiceLine) bool { return l.ServiceID == lw.catalogItem && !l.Cancelled })
	var line psa.ServiceLine
	if i >= 0 {
		line = lines[i]
		err = client.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: lw.ref.ContractID, LineID: line.ID},
			Quantity: target.Quantity, UnitCost: target.UnitCost, EffectiveDate: effective})
	} else if !w.budgetSpent(tenant) {
		line, err = client.CreateLine(ctx, lw.ref.ContractID, lw.catalogItem, target.Quantity, target.UnitCost, effective)
	} else {
		err = errBudgetSpent
	}
	if err != nil {
		w.fail(tenant, lw, err)
		return
	}
	lw.ref.LineID, lw.entry.LineID = line.ID, line.ID
	lw.entry.After, lw.outcome = &target, billing.OutcomeUpdated
	lw.entry.Code, lw.entry.Level = billing.CodeLineCreated, billing.Info
	lw.entry.Message = fmt.Sprintf("the mapped line %d does not exist on the mapped contract; created line %d (catalog item %d) with %s and mapped %s to it",
		old, line.ID, lw.catalogItem, target, lw.key.Product)
	if i >= 0 {
		lw.entry.Code, lw.entry.Level = billing.CodeLineRelinked, billing.Warning
		lw.entry.Message = fmt.Sprintf("the mapped line %d does not exist on the mapped contract, which has line %d for catalog item %d; mapped %s to it and set it to %s",
			old, line.ID, lw.catalogItem, lw.key.Product, target)
	}
	lw.newMem = &billing.LineMemory{ContractID: lw.ref.ContractID, LineID: line.ID, Month: month, Value: target, WrittenAt: w.now()}
	if err := w.relink(ctx, tenant, lw, old); err != nil {
		// The line exists in the PSA; the next delivery finds it and
		// tries the mapping again.
		lw.entry.Message += "; saving the mapping failed (" + apperr.MessageOf(err) + "), tried again"
		lw.transient = true
		lw.newMem = nil
	}
}

// relink points the org's mapping of lw's product from line old to lw's
// line, with optimistic concurrency: after a concurrent change it reads the
// mapping again and leaves it alone when the product no longer maps to old.
func (w *Worker) relink(ctx context.Context, tenant string, lw *lineWork, old int64) error {
	org := lw.org
	for attempt := 0; ; attempt++ {
		m := *org.org.Mapping
		m.Lines = slices.Clone(m.Lines)
		i := slices.IndexFunc(m.Lines, func(l billing.LineMapping) bool { return l.Product == lw.key.Product && l.LineID == old })
		if i < 0 || m.ContractID != lw.ref.ContractID {
			lw.entry.Message += "; the mapping was changed meanwhile and was left as it is"
			return nil
		}
		m.Lines[i].LineID = lw.ref.LineID
		saved, err := w.Store.PutMapping(ctx, tenant, org.org.ID, m, m.Version)
		if err == nil {
			org.org.Mapping = &saved
			return nil
		}
		if !apperr.Is(err, apperr.PreconditionFailed) || attempt >= 3 {
			return err
		}
		cur, err := w.Store.OrgsByID(ctx, tenant, []string{org.org.ID})
		if err != nil {
			return err
		}
		o, ok := cur[org.org.ID]
		if !ok || o.Mapping == nil {
			lw.entry.Message += "; the mapping was removed meanwhile"
			return nil
		}
		org.org = o
	}
}

// fail records a PSA failure of a line: deferred until the next budget
// window when the budget is spent, or until the PSA's Retry-After when it
// asked for a longer wait than an invocation can sit out; retried when
// transient; otherwise final with the code of the error.
func (w *Worker) fail(tenant string, lw *lineWork, err error) {
	e, wt := w.failureEntry(tenant, lw.entry.Org, lw.key.Product, err, lw.entry.At)
	lw.entry.Code, lw.entry.Level, lw.entry.Message = e.Code, e.Level, e.Message
	lw.outcome = billing.InfoOf(e.Code).Outcome
	lw.transient = e.Code == billing.CodePSAUnavailable
	lw.deferred = e.Code == billing.CodeDeferred
	lw.resumeAt, lw.retryAfter = wt.resumeAt, wt.retryAfter
}

// waitFor is how long a failed org waits: until resumeAt when deferred, or
// at least retryAfter (the PSA's hint) before a retry.
type waitFor struct {
	resumeAt   time.Time
	retryAfter time.Duration
}

// failureEntry maps a PSA failure to its entry (problemEntry) and, for the
// ones that wait, to when: a spent budget defers the org to the next budget
// window; a transient failure whose Retry-After is longer than an
// invocation may wait (MaxInlineWait: an hourly cap, say) defers it until
// then; any other transient failure is retried after a backoff.
func (w *Worker) failureEntry(tenant, org string, p billing.Product, err error, at time.Time) (billing.Entry, waitFor) {
	e := w.problemEntry(org, p, err, at)
	now := w.now()
	var wt waitFor
	switch ra := apperr.RetryAfterOf(err); {
	case errors.Is(err, errBudgetSpent) || (apperr.IsTransient(err) && w.budgetSpent(tenant)):
		wt.resumeAt = w.budgetWindowEnd(now)
		e.Code, e.Level = billing.CodeDeferred, billing.Warning
		e.Message = "the tenant's PSA request budget for this hour is spent; the org resumes at " + wt.resumeAt.UTC().Format(time.RFC3339)
	case apperr.IsTransient(err) && ra > MaxInlineWait:
		wt.resumeAt = now.Add(ra)
		e.Code, e.Level = billing.CodeDeferred, billing.Warning
		e.Message = fmt.Sprintf("the PSA asked to wait %s (%s); the org resumes at %s", ra, apperr.MessageOf(err), wt.resumeAt.UTC().Format(time.RFC3339))
	case apperr.IsTransient(err):
		wt.retryAfter = ra
	}
	return e, wt
}

// budgetWindowEnd is when the tenant's budget window after now begins (the
// budget counts per UTC hour).
func (w *Worker) budgetWindowEnd(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(time.Hour)
}

// problemEntry maps an error to an entry: the retry-or-record mapping of
// the worker, with the PSA's own words for rejections.
func (w *Worker) problemEntry(org string, p billing.Product, err error, at time.Time) billing.Entry {
	e := billing.Entry{Org: org, Product: p, At: at, Level: billing.Error, Message: apperr.MessageOf(err)}
	switch apperr.CodeOf(err) {
	case apperr.Transient:
		e.Code, e.Level = billing.CodePSAUnavailable, billing.Warning
	case apperr.Rejected, apperr.Invalid, apperr.Conflict:
		e.Code = billing.CodePSARejected
	case apperr.Unauthorized:
		e.Code = billing.CodePSAUnauthorized
	case apperr.Forbidden:
		e.Code = billing.CodePSAForbidden
	case apperr.NotFound:
		e.Code = billing.CodeLineMissing
	default:
		e.Code, e.Message = billing.CodeInternal, "unexpected error"
	}
	for _, d := range apperr.DetailsOf(err) {
		e.Message += ": " + d
	}
	return e
}

// wait is an org that must be tried again later: at notBefore, as try.
type wait struct {
	o         *orgWork
	notBefore time.Time
	try       int
}

// finish records entries, line memories and outcomes of the orgs, makes
// the orgs that must wait come back later (see requeue) and returns the
// deliveries to report failed.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, tenant, runID string, work []*orgWork,
	prev map[string]billing.OutcomeState, _ error) []string {
	now := w.now()
	var waits []wait
	var entries []billing.Entry
	mems := map[billing.LineKey]billing.LineMemory{}
	var changes []billing.OutcomeChange
	deferrals := 0
	// batch counts this call's orgs by outcome (retried ones as "retry").
	batch := map[string]int{}
	for _, o := range work {
		last := w.lastDelivery(o.d)
		var outcomes []billing.Outcome
		transient, deferred := false, false
		var resumeAt time.Time
		retryAfter := RetryBackoff << min(o.d.msg.Try, 8)
		if o.skip != nil {
			entries = append(entries, w.skipEntries(o)...)
			outcomes = append(outcomes, billing.InfoOf(o.skip.Code).Outcome)
			transient = o.skip.Code == billing.CodePSAUnavailable
			deferred = o.skip.Code == billing.CodeDeferred
			resumeAt, retryAfter = o.wait.resumeAt, max(retryAfter, o.wait.retryAfter)
		}
		for _, lw := range o.lines {
			entries = append(entries, lw.entry)
			outcomes = append(outcomes, lw.outcome)
			transient = transient || lw.transient
			deferred = deferred || lw.deferred
			if lw.resumeAt.After(resumeAt) {
				resumeAt = lw.resumeAt
			}
			retryAfter = max(retryAfter, lw.retryAfter)
			if lw.newMem != nil {
				mems[lw.key] = *lw.newMem
			}
		}
		next := billing.OutcomeState{Outcome: billing.OrgOutcome(outcomes), Final: true}
		switch {
		case deferred && !last:
			// Deferral is not a failure: the org keeps its tries.
			waits = append(waits, wait{o: o, notBefore: resumeAt, try: o.d.msg.Try})
			next = billing.OutcomeState{Outcome: billing.OutcomeDeferred, ResumeAt: resumeAt.UTC()}
			deferrals++
		case transient && !last:
			waits = append(waits, wait{o: o, notBefore: now.Add(retryAfter), try: o.d.msg.Try + 1})
			batch["retry"]++
			log.WarnContext(ctx, "org failed", "org", o.d.msg.Org, "code", problemCodes(o), "final", false)
			continue // no outcome yet; the entries say why meanwhile
		case transient:
			next.Outcome = billing.OutcomeFailed
		}
		batch[string(next.Outcome)]++
		switch next.Outcome {
		case billing.OutcomeDeferred:
			log.WarnContext(ctx, "org deferred", "org", o.d.msg.Org, "code", problemCodes(o), "final", next.Final)
		case billing.OutcomeFailed:
			log.WarnContext(ctx, "org failed", "org", o.d.msg.Org, "code", problemCodes(o), "final", true)
		}
		changes = append(changes, billing.OutcomeChange{Org: o.d.msg.Org, Prev: prev[o.d.msg.Org], Next: next})
	}
	allIDs := func() []string {
		ids := make([]string, len(work))
		for i, o := range work {
			ids[i] = o.d.ID
		}
		return ids
	}
	if len(mems) > 0 {
		if err := w.Store.PutLineMemories(ctx, tenant, mems); err != nil {
			log.WarnContext(ctx, "saving line memories failed", "err", err)
			return allIDs()
		}
	}
	// One run per call: its messages all carry the run's dry-run flag.
	dryRun := len(work) > 0 && work[0].d.msg.DryRun
	if err := w.Store.PutEntries(ctx, tenant, runID, dryRun, entries); err != nil {
		log.WarnContext(ctx, "saving entries failed", "err", err)
		return allIDs()
	}
	// The copies go out before the outcomes are recorded: a crash in
	// between leaves the message to come back and send them again (the
	// deduplication id drops the second copy), never a deferred org
	// without a message.
	retry := w.requeue(ctx, log, now, waits)
	if err := w.recordOutcomes(ctx, tenant, runID, changes); err != nil {
		if _, rerr := w.Store.FinishRunIfDone(ctx, tenant, runID); apperr.Is(rerr, apperr.NotFound) {
			// The run is gone (the integration's data was cleared): nothing
			// to record, and retrying cannot help.
			log.WarnContext(ctx, "run no longer exists; messages dropped")
			return nil
		}
		log.WarnContext(ctx, "recording outcomes failed", "err", err)
		return allIDs()
	}
	run, err := w.Store.FinishRunIfDone(ctx, tenant, runID)
	if err != nil {
		// The outcomes are recorded; if this was the run's last batch, the
		// run shows running until another batch of it (or the fan-out of a
		// redelivered tick) finishes it.
		metrics.Degrade(ctx, log, w.Metrics, "syncworker.finish_run", "finishing run failed; it shows running until another batch of it finishes it", err)
	}
	w.logBatch(ctx, log, batch, run, err == nil)
	if w.Metrics != nil {
		byCode := map[billing.Code]int{}
		for _, e := range entries {
			byCode[e.Code]++
		}
		for c, n := range byCode {
			w.Metrics.Count(metrics.SyncEntries, float64(n), map[string]string{"Code": string(c)})
		}
		if deferrals > 0 {
			w.Metrics.Count(metrics.BudgetDeferrals, float64(deferrals), nil)
		}
	}
	return retry
}

// problemCodes are the codes of an org's entries that are not plain
// success, comma-separated (what a failed or deferred org's log line names).
func problemCodes(o *orgWork) string {
	var codes []string
	add := func(e billing.Entry) {
		if e.Level != billing.Info && !slices.Contains(codes, string(e.Code)) {
			codes = append(codes, string(e.Code))
		}
	}
	if o.skip != nil {
		add(*o.skip)
	}
	for _, lw := range o.lines {
		add(lw.entry)
	}
	return strings.Join(codes, ",")
}

// logBatch logs one line per batch: this batch's orgs by outcome and the
// run's progress (done/total, estimated finish); and one line when the
// run has finished, with its counts and duration.
func (w *Worker) logBatch(ctx context.Context, log *slog.Logger, batch map[string]int, run billing.Run, known bool) {
	args := []any{"updated", batch[string(billing.OutcomeUpdated)], "unchanged", batch[string(billing.OutcomeUnchanged)],
		"skipped", batch[string(billing.OutcomeSkipped)], "failed", batch[string(billing.OutcomeFailed)],
		"deferred", batch[string(billing.OutcomeDeferred)], "retry", batch["retry"]}
	if !known {
		log.InfoContext(ctx, "run batch", args...)
		return
	}
	done, total := run.Progress()
	args = append(args, "done", done, "total", total)
	if at, ok := run.EstimatedFinish(w.now()); ok {
		args = append(args, "estimatedFinish", at.UTC().Format(time.RFC3339))
	}
	log.InfoContext(ctx, "run batch", args...)
	if run.Status == billing.Running || run.FinishedAt == nil {
		return
	}
	k := run.Counts
	log.InfoContext(ctx, "run finished", "status", run.Status, "total", k.Total, "updated", k.Updated, "unchanged", k.Unchanged,
		"skipped", k.Skipped, "failed", k.Failed, "deferred", k.Deferred,
		"durationMs", run.FinishedAt.Sub(run.StartedAt).Milliseconds())
}

// skipEntries are the entries of an org with no line worked on. An org that
// waits (deferred, or a transient failure before its lines were reached)
// gets its entry once per mapped line, so the entries of its later attempt
// replace them (entries are kept per org line) instead of leaving a stale
// org entry beside the lines' outcome; any other org gets one org entry.
func (w *Worker) skipEntries(o *orgWork) []billing.Entry {
	waits := o.skip.Code == billing.CodeDeferred || o.skip.Code == billing.CodePSAUnavailable
	if !waits || o.org.Mapping == nil || len(o.org.Mapping.Lines) == 0 {
		return []billing.Entry{*o.skip}
	}
	m := o.org.Mapping
	out := make([]billing.Entry, len(m.Lines))
	for i, l := range m.Lines {
		e := *o.skip
		e.Product, e.CompanyID, e.ContractID, e.LineID = l.Product, m.CompanyID, m.ContractID, l.LineID
		out[i] = e
	}
	return out
}

// requeue makes the orgs that must wait come back at their notBefore
// without holding up the rest of their tenant's message group: each goes
// back on the queue as a copy (Message.NotBefore, Message.Try) at the end of
// the group, and its delivery is acknowledged. A copy received early is
// hidden until its time (Handle). When the copies cannot be sent (or no
// Requeue is set), each delivery is hidden until its notBefore instead and
// reported failed. It returns the deliveries to report failed.
func (w *Worker) requeue(ctx context.Context, log *slog.Logger, now time.Time, waits []wait) []string {
	if len(waits) == 0 {
		return nil
	}
	if w.Requeue != nil {
		msgs := make([]queue.Message, len(waits))
		for i, wt := range waits {
			m := wt.o.d.msg
			m.Try = wt.try
			nb := wt.notBefore.UTC()
			m.NotBefore = &nb
			msgs[i] = outMessage(m, fmt.Sprintf("%s#%d@%d", m.Org, m.Try, nb.Unix()))
		}
		err := w.Requeue.Send(ctx, msgs)
		if err == nil {
			return nil
		}
		metrics.Degrade(ctx, log, w.Metrics, "syncworker.requeue", "re-queueing waiting orgs failed; their messages wait instead, holding their group", err, "orgs", len(waits))
	}
	var retry []string
	for _, wt := range waits {
		w.hide(ctx, wt.o.d, wt.notBefore.Sub(now))
		retry = append(retry, wt.o.d.ID)
	}
	return retry
}

// hide keeps a delivery invisible for d (capped at SQS's 12 hours less a
// margin for the time it has been received). Without Visibility, or when
// the call fails, the message waits out the queue's visibility timeout.
func (w *Worker) hide(ctx context.Context, d Delivery, wait time.Duration) {
	if w.Visibility == nil || d.ReceiptHandle == "" {
		return
	}
	wait = min(max(wait, 0), 11*time.Hour)
	if err := w.Visibility.Hide(ctx, d.ReceiptHandle, wait); err != nil {
		metrics.Degrade(ctx, w.log(), w.Metrics, "syncworker.hide", "hiding a sync message failed; it waits out the visibility timeout", err, "message", d.ID)
	}
}

// recordOutcomes applies the changes, re-reading the outcomes and retrying
// when another delivery of the same org got there first.
func (w *Worker) recordOutcomes(ctx context.Context, tenant, runID string, changes []billing.OutcomeChange) error {
	for attempt := 0; ; attempt++ {
		err := w.Store.RecordOutcomes(ctx, tenant, runID, changes)
		if err == nil || !apperr.Is(err, apperr.Conflict) || attempt >= 3 {
			return err
		}
		orgs := make([]string, len(changes))
		for i, c := range changes {
			orgs[i] = c.Org
		}
		cur, rerr := w.Store.OrgOutcomes(ctx, tenant, runID, orgs)
		if rerr != nil {
			return rerr
		}
		var next []billing.OutcomeChange
		for _, c := range changes {
			if p := cur[c.Org]; !p.Final {
				c.Prev = p
				next = append(next, c)
			}
		}
		changes = next
	}
}

// mappingsOf returns the mappings of the orgs of a batch that are mapped.
func mappingsOf(work []*orgWork) map[string]billing.Mapping {
	out := map[string]billing.Mapping{}
	for _, o := range work {
		if o.skip == nil && o.org.Mapping != nil {
			out[o.org.ID] = *o.org.Mapping
		}
	}
	return out
}
