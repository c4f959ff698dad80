package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Alert items:
//
//	PK      SK                                            item
//	T#<t>   ALERT#<occurredAt>#<alert id>#<status>        one alert occurrence and its outcome
//	T#<t>   ASTREAM#<alert id>                            the stream's ticket and state
//
// The occurrence key comes from the request body alone, so a replayed
// request hits the same item and the conditional put detects it; keys sort
// by time, so the newest alerts list first. Both kinds expire after
// Retention (attribute expiresAt).
const (
	skAlert  = "ALERT#"
	skStream = "ASTREAM#"
)

func alertSK(a alerting.Alert) string { return skAlert + a.OccurrenceKey() }

func streamSK(alertID string) string { return skStream + alertID }

// PutAlert stores a new alert occurrence with a conditional put (one
// DynamoDB request) and returns it with created true. When the occurrence
// is already stored (a replay) it changes nothing and returns the stored
// record, read from the failed condition (no second request), with created
// false.
//
// Errors: Transient when DynamoDB is unavailable; Internal otherwise.
func (s *Store) PutAlert(ctx context.Context, tenant string, r alerting.Record) (stored alerting.Record, created bool, err error) {
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: s.alertItem(tenant, r),
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item != nil {
		return recordFromItem(ccf.Item), false, nil
	}
	if err = classify(err, "store alert"); err != nil {
		return alerting.Record{}, false, err
	}
	return r, true, nil
}

// MarkAlertEnqueued records that an occurrence was handed to the ticket
// queue (Record.Enqueued), so later replays are acknowledged without
// queueing it again. It never creates an item: marking an occurrence that
// is gone is Conflict.
//
// Errors: Conflict when the occurrence is not stored; Transient when
// DynamoDB is unavailable.
func (s *Store) MarkAlertEnqueued(ctx context.Context, tenant string, a alerting.Alert) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), alertSK(a)),
		UpdateExpression:          aws.String("SET enqueued = :t"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	return classify(err, "mark alert enqueued")
}

// Alert returns a stored occurrence (consistent read). NotFound when none.
func (s *Store) Alert(ctx context.Context, tenant string, a alerting.Alert) (alerting.Record, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), alertSK(a)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return alerting.Record{}, classify(err, "read alert")
	}
	if out.Item == nil {
		return alerting.Record{}, apperr.New(apperr.NotFound, "alert %q not found", a.ID)
	}
	return recordFromItem(out.Item), nil
}

// AlertStream returns what is known of an alert stream: the zero Stream
// (Version 0) when nothing is.
func (s *Store) AlertStream(ctx context.Context, tenant, alertID string) (alerting.Stream, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), streamSK(alertID)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return alerting.Stream{}, classify(err, "read alert stream")
	}
	st := alerting.Stream{AlertID: alertID}
	if out.Item != nil {
		st.TicketID = num(out.Item, "ticketId")
		if b, ok := out.Item["ticketOpen"].(*types.AttributeValueMemberBOOL); ok {
			st.TicketOpen = b.Value
		}
		st.ResolvedAt = tm(out.Item, "resolvedAt")
		st.Version = num(out.Item, "version")
	}
	return st, nil
}

// RecordAlertOutcome writes an occurrence's outcome and its stream's new
// state in one transaction, so a crash never leaves one without the other.
// The stream is written only if its stored version is still st.Version.
//
// Errors: Conflict when the stream changed meanwhile; Transient when
// DynamoDB is busy.
func (s *Store) RecordAlertOutcome(ctx context.Context, tenant string, r alerting.Record, st alerting.Stream) error {
	stream := key(tenantPK(tenant), streamSK(r.ID))
	stream["ticketId"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(st.TicketID, 10)}
	stream["ticketOpen"] = &types.AttributeValueMemberBOOL{Value: st.TicketOpen}
	if !st.ResolvedAt.IsZero() {
		stream["resolvedAt"] = &types.AttributeValueMemberS{Value: st.ResolvedAt.UTC().Format(time.RFC3339Nano)}
	}
	stream["version"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(st.Version+1, 10)}
	stream[schema.TTLAttribute] = s.ttl(Retention)
	put := &types.Put{TableName: aws.String(s.Table), Item: stream}
	if st.Version == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(version)")
	} else {
		put.ConditionExpression = aws.String("version = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{
			":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(st.Version, 10)}}
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: s.alertItem(tenant, r)}},
		{Put: put},
	}})
	return classify(err, "record alert outcome")
}

func (s *Store) alertItem(tenant string, r alerting.Record) map[string]types.AttributeValue {
	item := key(tenantPK(tenant), alertSK(r.Alert))
	sv := func(name, v string) {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	sv("id", r.ID)
	sv("type", string(r.Type))
	sv("severity", string(r.Severity))
	sv("org", r.Org)
	sv("status", string(r.Status))
	sv("occurredAt", r.OccurredAt.UTC().Format(time.RFC3339Nano))
	sv("title", r.Title)
	sv("details", string(r.Details))
	sv("state", string(r.State))
	sv("decision", string(r.Decision))
	sv("reason", string(r.Reason))
	sv("error", r.Error)
	sv("receivedAt", r.ReceivedAt.UTC().Format(time.RFC3339Nano))
	sv("updatedAt", r.UpdatedAt.UTC().Format(time.RFC3339Nano))
	if r.Enqueued {
		item["enqueued"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if r.TicketID != 0 {
		item["ticketId"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.TicketID, 10)}
	}
	item[schema.TTLAttribute] = s.ttl(Retention)
	return item
}

func recordFromItem(item map[string]types.AttributeValue) alerting.Record {
	r := alerting.Record{
		Alert: alerting.Alert{
			ID: str(item, "id"), Type: alerting.Type(str(item, "type")), Severity: alerting.Severity(str(item, "severity")),
			Org: str(item, "org"), Status: alerting.Status(str(item, "status")), OccurredAt: tm(item, "occurredAt"),
			Title: str(item, "title"),
		},
		State: alerting.State(str(item, "state")), Decision: alerting.Decision(str(item, "decision")),
		Reason: alerting.Reason(str(item, "reason")), TicketID: num(item, "ticketId"), Error: str(item, "error"),
		ReceivedAt: tm(item, "receivedAt"), UpdatedAt: tm(item, "updatedAt"),
	}
	if d := str(item, "details"); d != "" {
		r.Details = json.RawMessage(d)
	}
	if b, ok := item["enqueued"].(*types.AttributeValueMemberBOOL); ok {
		r.Enqueued = b.Value
	}
	return r
}

// AlertFilter narrows an alert listing (alerting.Filter).
type AlertFilter = alerting.Filter

// maxAlertQueries bounds the Query calls of one listing page, so a filter
// that matches little cannot make one request scan a whole partition; the
// caller continues from the returned cursor.
const maxAlertQueries = 10

// Alerts lists a tenant's alert occurrences, newest first, up to limit
// (1-100) per page. cursor is "" for the first page, then the returned
// next cursor; next is "" after the last page. The cursor only positions
// within the caller's own tenant.
//
// Errors: Invalid for a malformed cursor; Transient when DynamoDB is busy.
func (s *Store) Alerts(ctx context.Context, tenant string, f AlertFilter, cursor string, limit int) (out []alerting.Record, next string, err error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ScanIndexForward:       aws.Bool(false),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.PartitionKey, "#sk": schema.SortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: tenantPK(tenant)},
			":prefix": &types.AttributeValueMemberS{Value: skAlert},
		},
	}
	var conds []string
	if f.Org != "" {
		conds = append(conds, "#org = :org")
		in.ExpressionAttributeNames["#org"] = "org"
		in.ExpressionAttributeValues[":org"] = &types.AttributeValueMemberS{Value: f.Org}
	}
	if f.State != "" {
		conds = append(conds, "#state = :state")
		in.ExpressionAttributeNames["#state"] = "state"
		in.ExpressionAttributeValues[":state"] = &types.AttributeValueMemberS{Value: string(f.State)}
	}
	if len(conds) > 0 {
		in.FilterExpression = aws.String(strings.Join(conds, " AND "))
	}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(b), skAlert) {
			return nil, "", apperr.New(apperr.Invalid, "cursor is not valid")
		}
		in.ExclusiveStartKey = key(tenantPK(tenant), string(b))
	}
	for range maxAlertQueries {
		// Evaluate at most what still fits, so the page ends exactly at an
		// item the next cursor can start after.
		in.Limit = aws.Int32(int32(limit - len(out)))
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, "", classify(err, "list alerts")
		}
		for _, item := range page.Items {
			out = append(out, recordFromItem(item))
		}
		if page.LastEvaluatedKey == nil {
			return out, "", nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		if len(out) >= limit {
			break
		}
	}
	return out, base64.RawURLEncoding.EncodeToString([]byte(str(in.ExclusiveStartKey, schema.SortKey))), nil
}
