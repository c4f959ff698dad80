package dynamo

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// The store's multi-item reads and writes: one Query helper and one loop
// that retries what DynamoDB left unprocessed in a batch.

// maxBatchAttempts bounds the retries of unprocessed batch items.
const maxBatchAttempts = 9

// unprocessedBackoff waits before retry attempt (1, 2, …) of unprocessed
// batch items; Transient once the attempts are spent, or at once when ctx
// ends before the wait would (no try is started that has no time left).
func unprocessedBackoff(ctx context.Context, attempt int) error {
	if attempt >= maxBatchAttempts {
		return apperr.New(apperr.Transient, "storage is busy")
	}
	if err := deadline.Sleep(ctx, time.Duration(attempt*attempt)*20*time.Millisecond); err != nil {
		return apperr.Wrap(err, apperr.Transient, "storage is busy")
	}
	return nil
}

// batchGet reads keys with BatchGetItem, 100 a request, retrying
// unprocessed keys.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, each func(map[string]types.AttributeValue)) error {
	return s.batchGetRead(ctx, keys, readInput{}, each)
}

// readInput says how items are read.
type readInput struct {
	// consistent asks for strongly consistent reads.
	consistent bool
	// project, if set, reads only these attributes.
	project []string
}

// projection renders attribute names as a ProjectionExpression with
// placeholders (#p0, #p1…, added to names), so reserved words are safe.
func projection(attrs []string, names map[string]string) *string {
	if len(attrs) == 0 {
		return nil
	}
	ph := make([]string, len(attrs))
	for i, a := range attrs {
		ph[i] = "#p" + strconv.Itoa(i)
		names[ph[i]] = a
	}
	return aws.String(strings.Join(ph, ", "))
}

// batchGetRead is batchGet as r says.
func (s *Store) batchGetRead(ctx context.Context, keys []map[string]types.AttributeValue, r readInput, each func(map[string]types.AttributeValue)) error {
	ka := types.KeysAndAttributes{ConsistentRead: aws.Bool(r.consistent)}
	if len(r.project) > 0 {
		ka.ExpressionAttributeNames = map[string]string{}
		ka.ProjectionExpression = projection(r.project, ka.ExpressionAttributeNames)
	}
	for start := 0; start < len(keys); start += 100 {
		pending := keys[start:min(start+100, len(keys))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := unprocessedBackoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.Table: {Keys: pending, ConsistentRead: ka.ConsistentRead,
					ProjectionExpression: ka.ProjectionExpression, ExpressionAttributeNames: ka.ExpressionAttributeNames}},
			})
			if err != nil {
				return classify(err, "batch read")
			}
			for _, item := range out.Responses[s.Table] {
				each(item)
			}
			pending = out.UnprocessedKeys[s.Table].Keys
		}
	}
	return nil
}

// batchWrite sends write requests with BatchWriteItem, 25 a request,
// retrying unprocessed items.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for start := 0; start < len(reqs); start += 25 {
		pending := reqs[start:min(start+25, len(reqs))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := unprocessedBackoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.Table: pending}})
			if err != nil {
				return classify(err, "batch write")
			}
			pending = out.UnprocessedItems[s.Table]
		}
	}
	return nil
}

// batchPut writes whole items.
func (s *Store) batchPut(ctx context.Context, items []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	return s.batchWrite(ctx, reqs)
}

// batchDelete deletes items by key.
func (s *Store) batchDelete(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	return s.batchWrite(ctx, reqs)
}

// queryInput says which items of a partition a query reads.
type queryInput struct {
	// prefix, if set, keeps items whose sort key starts with it.
	prefix string
	// project, if set, reads only these attributes.
	project []string
	// consistent asks for a strongly consistent read (deletion sweeps,
	// which must not miss an item written just before).
	consistent bool
}

// query runs a Query over partition pk as q says, all pages.
func (s *Store) query(ctx context.Context, pk string, q queryInput, each func(map[string]types.AttributeValue)) error {
	names := map[string]string{"#pk": schema.PartitionKey}
	values := map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}
	cond := "#pk = :pk"
	if q.prefix != "" {
		cond += " AND begins_with(#sk, :prefix)"
		names["#sk"] = schema.SortKey
		values[":prefix"] = &types.AttributeValueMemberS{Value: q.prefix}
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(q.consistent),
	}
	in.ProjectionExpression = projection(q.project, names)
	in.ExpressionAttributeNames = names
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify(err, "query")
		}
		for _, item := range page.Items {
			each(item)
		}
	}
	return nil
}

// queryPrefix reads the items of pk whose sort key starts with prefix.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string, each func(map[string]types.AttributeValue)) error {
	return s.query(ctx, pk, queryInput{prefix: prefix}, each)
}
