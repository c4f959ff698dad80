package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/psa"
)

// The line snapshot a run shares between its batches.
//
//	PK                SK         item
//	T#<t>#RUN#<run>   LINES      readAt, effective (RFC 3339), parts (N),
//	                             missing (JSON refs), states (JSON array of
//	                             psa.LineState, the first part) (TTL)
//	T#<t>#RUN#<run>   LINES#<i>  states (JSON array, part i ≥ 1) (TTL)
//
// A DynamoDB item holds at most 400 KB, so the states are cut into parts of
// at most snapshotPartBytes of JSON (about 2,000 lines each); the parts are
// written before the head, so a reader that finds the head finds them all.

const (
	skLines = "LINES"
	// snapshotPartBytes bounds the JSON of one part, well under the item
	// limit of 400 KB with the keys and other attributes.
	snapshotPartBytes = 300_000
	// snapshotTTL: a snapshot serves one run (minutes); it expires soon.
	snapshotTTL = 48 * time.Hour
)

// PutLineSnapshot records the line snapshot of a run, replacing any.
func (s *Store) PutLineSnapshot(ctx context.Context, tenant, runID string, snap billing.LineSnapshot) error {
	parts, err := snapshotParts(snap.States, snapshotPartBytes)
	if err != nil {
		return err
	}
	missing, err := json.Marshal(snap.Missing)
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "encode line snapshot")
	}
	pk := runChildPK(tenant, runID)
	for i := len(parts) - 1; i >= 0; i-- {
		item := key(pk, skLines)
		if i > 0 {
			item = key(pk, skLines+"#"+strconv.Itoa(i))
		} else {
			item["readAt"] = &types.AttributeValueMemberS{Value: snap.ReadAt.UTC().Format(time.RFC3339Nano)}
			item["effective"] = &types.AttributeValueMemberS{Value: snap.Effective.Format(time.RFC3339)}
			item["parts"] = &types.AttributeValueMemberN{Value: strconv.Itoa(len(parts))}
			item["missing"] = &types.AttributeValueMemberS{Value: string(missing)}
		}
		item["states"] = &types.AttributeValueMemberS{Value: string(parts[i])}
		item[schema.TTLAttribute] = s.ttl(snapshotTTL)
		if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
			return classify(err, "write line snapshot")
		}
	}
	return nil
}

// LineSnapshot returns the line snapshot a run recorded; found false when
// none is (or a part is not readable yet).
func (s *Store) LineSnapshot(ctx context.Context, tenant, runID string) (billing.LineSnapshot, bool, error) {
	pk := runChildPK(tenant, runID)
	head, err := s.consistentGet(ctx, pk, skLines)
	if err != nil || head == nil {
		return billing.LineSnapshot{}, false, err
	}
	var snap billing.LineSnapshot
	str := func(name string) string {
		if v, ok := head[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	if snap.ReadAt, err = time.Parse(time.RFC3339Nano, str("readAt")); err != nil {
		return billing.LineSnapshot{}, false, apperr.Wrap(err, apperr.Internal, "decode line snapshot")
	}
	if snap.Effective, err = time.Parse(time.RFC3339, str("effective")); err != nil {
		return billing.LineSnapshot{}, false, apperr.Wrap(err, apperr.Internal, "decode line snapshot")
	}
	if m := str("missing"); m != "" {
		if err := json.Unmarshal([]byte(m), &snap.Missing); err != nil {
			return billing.LineSnapshot{}, false, apperr.Wrap(err, apperr.Internal, "decode line snapshot")
		}
	}
	item := head
	for i := 0; i < int(num(head, "parts")); i++ {
		if i > 0 {
			if item, err = s.consistentGet(ctx, pk, skLines+"#"+strconv.Itoa(i)); err != nil || item == nil {
				return billing.LineSnapshot{}, false, err
			}
		}
		b, _ := item["states"].(*types.AttributeValueMemberS)
		if b == nil {
			return billing.LineSnapshot{}, false, nil
		}
		var part []psa.LineState
		if err := json.Unmarshal([]byte(b.Value), &part); err != nil {
			return billing.LineSnapshot{}, false, apperr.Wrap(err, apperr.Internal, "decode line snapshot")
		}
		snap.States = append(snap.States, part...)
	}
	return snap, true, nil
}

// consistentGet reads one item with a strongly consistent read (nil when
// there is none).
func (s *Store) consistentGet(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, classify(err, "read")
	}
	return out.Item, nil
}

// snapshotParts encodes states as JSON arrays of at most max bytes each
// (a state is never split; there is always at least one part).
func snapshotParts(states []psa.LineState, max int) ([][]byte, error) {
	var parts [][]byte
	var cur bytes.Buffer
	cur.WriteByte('[')
	for _, st := range states {
		b, err := json.Marshal(st)
		if err != nil {
			return nil, apperr.Wrap(err, apperr.Internal, "encode line snapshot")
		}
		if cur.Len() > 1 && cur.Len()+len(b)+2 > max {
			cur.WriteByte(']')
			parts = append(parts, bytes.Clone(cur.Bytes()))
			cur.Reset()
			cur.WriteByte('[')
		}
		if cur.Len() > 1 {
			cur.WriteByte(',')
		}
		cur.Write(b)
	}
	cur.WriteByte(']')
	return append(parts, cur.Bytes()), nil
}
