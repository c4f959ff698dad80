package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Runs and their entries.
//
//	PK                   SK                     item
//	T#<t>                RUN#<run>              run: kind, status, month, counts (numbers, ADDed)
//	T#<t>                SCHED#<YYYY-MM-DD>     marker: the scheduled run of that day
//	T#<t>#RUN#<run>      E#<org>#<product>      entry of one org line (TTL)
//	T#<t>#RUN#<run>      O#<org>                the org's outcome in the run (TTL)
//
// Entries and outcomes are children of the run item (ChildPartition), so a
// run's entries are one Query and the integration purge removes them.

const (
	skRun   = "RUN#"
	skSched = "SCHED#"
)

func runSK(id string) string { return skRun + id }

func runChildPK(tenant, id string) string { return ChildPartition(tenant, runSK(id)) }

func entrySK(org string, p billing.Product) string { return "E#" + org + "#" + string(p) }

func outcomeSK(org string) string { return "O#" + org }

// CreateRun stores a new run in status running. For a scheduled run, date
// ("2026-11-15", the tenant's local day) makes it idempotent: the first call
// of the day writes a SCHED marker and the run in one transaction; a later
// call returns the day's existing run with created false.
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) CreateRun(ctx context.Context, tenant string, r billing.Run, date string) (billing.Run, bool, error) {
	r.Tenant = tenant
	item := s.runItem(tenant, r)
	if date == "" {
		_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": schema.PartitionKey}})
		if err != nil {
			return billing.Run{}, false, classify(err, "create run")
		}
		return r, true, nil
	}
	marker := key(tenantPK(tenant), skSched+date)
	marker["runId"] = &types.AttributeValueMemberS{Value: r.ID}
	marker[schema.TTLAttribute] = s.ttl(Retention)
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: marker,
			ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": schema.PartitionKey}}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: item}},
	}})
	err = classify(err, "create run")
	if apperr.Is(err, apperr.Conflict) {
		out, gerr := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantPK(tenant), skSched+date), ConsistentRead: aws.Bool(true)})
		if gerr != nil {
			return billing.Run{}, false, classify(gerr, "read schedule marker")
		}
		existing, rerr := s.Run(ctx, tenant, str(out.Item, "runId"))
		return existing, false, rerr
	}
	if err != nil {
		return billing.Run{}, false, err
	}
	return r, true, nil
}

func (s *Store) runItem(tenant string, r billing.Run) map[string]types.AttributeValue {
	item := key(tenantPK(tenant), runSK(r.ID))
	item["runId"] = &types.AttributeValueMemberS{Value: r.ID}
	item["kind"] = &types.AttributeValueMemberS{Value: string(r.Kind)}
	item["dryRun"] = &types.AttributeValueMemberBOOL{Value: r.DryRun}
	item["status"] = &types.AttributeValueMemberS{Value: string(r.Status)}
	item["month"] = &types.AttributeValueMemberS{Value: string(r.Month)}
	item["startedAt"] = &types.AttributeValueMemberS{Value: r.StartedAt.UTC().Format(time.RFC3339Nano)}
	c := r.Counts
	for name, v := range map[string]int64{"total": c.Total, "updated": c.Updated, "unchanged": c.Unchanged,
		"skipped": c.Skipped, "failed": c.Failed, "deferred": c.Deferred, "done": c.Done} {
		item[name] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	item[schema.TTLAttribute] = s.ttl(Retention)
	return item
}

func runFromItem(tenant string, item map[string]types.AttributeValue) billing.Run {
	r := billing.Run{
		ID: str(item, "runId"), Tenant: tenant, Kind: billing.RunKind(str(item, "kind")),
		Status: billing.RunStatus(str(item, "status")), Month: billing.Month(str(item, "month")),
		StartedAt: tm(item, "startedAt"),
		Counts: billing.Counts{Total: num(item, "total"), Updated: num(item, "updated"), Unchanged: num(item, "unchanged"),
			Skipped: num(item, "skipped"), Failed: num(item, "failed"), Deferred: num(item, "deferred"), Done: num(item, "done")},
	}
	if b, ok := item["dryRun"].(*types.AttributeValueMemberBOOL); ok {
		r.DryRun = b.Value
	}
	if f := tm(item, "finishedAt"); !f.IsZero() {
		r.FinishedAt = &f
	}
	if t := tm(item, "resumeAt"); !t.IsZero() && r.Status == billing.Running && r.Counts.Deferred > 0 {
		r.ResumeAt = &t
	}
	return r
}

// Run returns one run of a tenant. NotFound when there is none.
func (s *Store) Run(ctx context.Context, tenant, id string) (billing.Run, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantPK(tenant), runSK(id)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return billing.Run{}, classify(err, "read run")
	}
	if out.Item == nil {
		return billing.Run{}, apperr.New(apperr.NotFound, "run %q not found", id)
	}
	return runFromItem(tenant, out.Item), nil
}

// Runs returns a tenant's most recent runs, newest first, at most limit
// (default 50).
func (s *Store) Runs(ctx context.Context, tenant string, limit int) ([]billing.Run, error) {
	if limit <= 0 {
		limit = 50
	}
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :p)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.PartitionKey, "#sk": schema.SortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: tenantPK(tenant)}, ":p": &types.AttributeValueMemberS{Value: skRun}},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, classify(err, "list runs")
	}
	runs := make([]billing.Run, 0, len(out.Items))
	for _, item := range out.Items {
		runs = append(runs, runFromItem(tenant, item))
	}
	return runs, nil
}

// SetRunTotal sets a run's total (the fan-out knows it once it has listed
// the tenant's mapped orgs) and finishes a run of no orgs at once.
func (s *Store) SetRunTotal(ctx context.Context, tenant, id string, total int64) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), runSK(id)),
		UpdateExpression:          aws.String("SET #t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberN{Value: strconv.FormatInt(total, 10)}},
	})
	return classify(err, "set run total")
}

// OrgOutcomeState is what a run recorded for an org so far.
type OrgOutcomeState = billing.OutcomeState

// OrgOutcomes returns the recorded outcomes of orgs in a run (BatchGetItem);
// orgs without one are absent.
func (s *Store) OrgOutcomes(ctx context.Context, tenant, runID string, orgs []string) (map[string]OrgOutcomeState, error) {
	pk := runChildPK(tenant, runID)
	keys := make([]map[string]types.AttributeValue, 0, len(orgs))
	seen := map[string]bool{}
	for _, o := range orgs {
		if !seen[o] {
			seen[o] = true
			keys = append(keys, key(pk, outcomeSK(o)))
		}
	}
	out := map[string]OrgOutcomeState{}
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) {
		out[strings.TrimPrefix(str(item, schema.SortKey), "O#")] = outcomeFromItem(item)
	})
	return out, err
}

func outcomeFromItem(item map[string]types.AttributeValue) OrgOutcomeState {
	st := OrgOutcomeState{Outcome: billing.Outcome(str(item, "outcome")), ResumeAt: tm(item, "resumeAt")}
	if b, ok := item["final"].(*types.AttributeValueMemberBOOL); ok {
		st.Final = b.Value
	}
	return st
}

// OutcomeChange moves an org from Prev (as read with OrgOutcomes; zero when
// none) to Next in a run.
type OutcomeChange = billing.OutcomeChange

// RecordOutcomes applies outcome changes and the matching run counter
// changes in one transaction, each change conditional on the outcome read
// before, so an org is counted exactly once on its final outcome however
// often its message is delivered. Changes from a final outcome are refused
// (Invalid); a change that is no change is dropped. A deferral's resume time
// is kept with the org's outcome, and the latest one of the changes becomes
// the run's resumeAt.
//
// Errors: Conflict when some outcome changed since it was read (read again
// and retry); Transient when DynamoDB is busy.
func (s *Store) RecordOutcomes(ctx context.Context, tenant, runID string, changes []OutcomeChange) error {
	var delta billing.Counts
	var items []types.TransactWriteItem
	var resumeAt time.Time
	pk := runChildPK(tenant, runID)
	for _, c := range changes {
		if c.Prev.Final {
			return apperr.New(apperr.Invalid, "org %s already has a final outcome", c.Org)
		}
		if c.Prev == c.Next {
			continue
		}
		if c.Prev.Outcome == billing.OutcomeDeferred {
			delta.Deferred--
		}
		delta.Add(c.Next.Outcome, c.Next.Final)
		put := types.Put{TableName: aws.String(s.Table), Item: key(pk, outcomeSK(c.Org))}
		put.Item["outcome"] = &types.AttributeValueMemberS{Value: string(c.Next.Outcome)}
		put.Item["final"] = &types.AttributeValueMemberBOOL{Value: c.Next.Final}
		if !c.Next.ResumeAt.IsZero() {
			put.Item["resumeAt"] = &types.AttributeValueMemberS{Value: c.Next.ResumeAt.UTC().Format(time.RFC3339Nano)}
			if c.Next.ResumeAt.After(resumeAt) {
				resumeAt = c.Next.ResumeAt
			}
		}
		put.Item[schema.TTLAttribute] = s.ttl(Retention)
		if c.Prev.Outcome == "" {
			put.ConditionExpression = aws.String("attribute_not_exists(outcome)")
		} else {
			put.ConditionExpression = aws.String("outcome = :o AND #f = :f")
			put.ExpressionAttributeNames = map[string]string{"#f": "final"}
			put.ExpressionAttributeValues = map[string]types.AttributeValue{
				":o": &types.AttributeValueMemberS{Value: string(c.Prev.Outcome)}, ":f": &types.AttributeValueMemberBOOL{Value: false}}
		}
		items = append(items, types.TransactWriteItem{Put: &put})
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) > 99 {
		return apperr.New(apperr.Invalid, "at most 99 outcome changes at once")
	}
	var parts []string
	values := map[string]types.AttributeValue{}
	names := map[string]string{}
	for name, v := range map[string]int64{"updated": delta.Updated, "unchanged": delta.Unchanged, "skipped": delta.Skipped,
		"failed": delta.Failed, "deferred": delta.Deferred, "done": delta.Done} {
		if v != 0 {
			parts = append(parts, "#"+name+" :"+name)
			names["#"+name] = name
			values[":"+name] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
		}
	}
	var expr []string
	if len(parts) > 0 {
		expr = append(expr, "ADD "+strings.Join(parts, ", "))
	}
	if !resumeAt.IsZero() {
		expr = append(expr, "SET resumeAt = :resumeAt")
		values[":resumeAt"] = &types.AttributeValueMemberS{Value: resumeAt.UTC().Format(time.RFC3339Nano)}
	}
	if len(expr) > 0 {
		names["#pk"] = schema.PartitionKey
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(tenantPK(tenant), runSK(runID)),
			UpdateExpression:          aws.String(strings.Join(expr, " ")),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}})
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return classify(err, "record outcomes")
}

// FinishRunIfDone marks a running run finished, with the status its counts
// give, once every org has a final outcome (done = total). It returns the
// run as stored afterwards. A run already finished is left alone.
func (s *Store) FinishRunIfDone(ctx context.Context, tenant, runID string) (billing.Run, error) {
	r, err := s.Run(ctx, tenant, runID)
	if err != nil || r.Status != billing.Running || r.Counts.Done < r.Counts.Total {
		return r, err
	}
	status := r.Counts.FinalStatus()
	now := s.now().UTC()
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), runSK(runID)),
		UpdateExpression:         aws.String("SET #s = :s, finishedAt = :now REMOVE resumeAt"),
		ConditionExpression:      aws.String("#s = :running AND done >= #t"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#t": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": &types.AttributeValueMemberS{Value: string(status)}, ":running": &types.AttributeValueMemberS{Value: string(billing.Running)},
			":now": &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return s.Run(ctx, tenant, runID)
	}
	if err != nil {
		return r, classify(err, "finish run")
	}
	r.Status, r.FinishedAt = status, &now
	return r, nil
}

// PutEntries stores entries of a run with BatchWriteItem (25 a request,
// unprocessed items retried). An entry replaces the earlier entry of the
// same org line, so a retried org shows its latest attempt. Each entry also
// becomes its org line's last entry (LastEntries), in the same batches.
func (s *Store) PutEntries(ctx context.Context, tenant, runID string, dryRun bool, entries []billing.Entry) error {
	pk := runChildPK(tenant, runID)
	items := make([]map[string]types.AttributeValue, 0, len(entries))
	ttl := s.ttl(Retention)
	for _, e := range entries {
		item := key(pk, entrySK(e.Org, e.Product))
		item["doc"] = &types.AttributeValueMemberM{Value: entryDoc(e, 0)}
		item[schema.TTLAttribute] = ttl
		items = append(items, item)
	}
	if dryRun {
		// A dry run changed nothing in the PSA: the orgs' last sync stays.
		return s.batchPut(ctx, items)
	}
	return s.batchPut(ctx, append(items, s.lastEntryItems(tenant, runID, entries)...))
}

// Entries returns a run's entries that match f, ordered by org and product.
func (s *Store) Entries(ctx context.Context, tenant, runID string, f billing.EntryFilter) ([]billing.Entry, error) {
	var out []billing.Entry
	var derr error
	err := s.queryPrefix(ctx, runChildPK(tenant, runID), "E#", func(item map[string]types.AttributeValue) {
		doc, ok := item["doc"].(*types.AttributeValueMemberM)
		if !ok {
			return
		}
		var e billing.Entry
		if err := attributevalue.UnmarshalMap(doc.Value, &e); err != nil {
			derr = apperr.Wrap(err, apperr.Internal, "decode entry")
			return
		}
		if f.Match(e) {
			out = append(out, e)
		}
	})
	if err == nil {
		err = derr
	}
	return out, err
}
