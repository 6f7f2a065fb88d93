package state

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultRejectedTTL is how long the full body of a rejected message is kept:
// long enough for an operator to read the rejection event, fix the source and
// replay the body.
const DefaultRejectedTTL = 30 * 24 * time.Hour

// MaxRejectedBodyBytes is the largest body PutRejectedBody stores: SQS
// bodies are at most 256 KiB, and a DynamoDB item may hold 400 KB, keys and
// the other attributes included.
const MaxRejectedBodyBytes = 384 << 10

const rejectedSKPrefix = "BODY"

func rejectedPK(eventID string) string { return "REJECTED#" + eventID }

// rejectedSK keys the body by SQS message id too, so that two different
// messages with one event id (a producer resending a corrected body after
// SQS's de-duplication window) never overwrite each other, while the
// redelivery of one message overwrites its own copy.
func rejectedSK(messageID string) string {
	if messageID == "" {
		return rejectedSKPrefix
	}
	return rejectedSKPrefix + "#" + messageID
}

// ItemRef locates one item of the state table; rejection events carry it as
// messageStoredAt.
type ItemRef struct {
	Table string `json:"table"`
	PK    string `json:"pk"`
	SK    string `json:"sk"`
}

// PutRejectedBody stores the full original body of a rejected message (pk
// REJECTED#<eventId>, sk BODY#<messageId>, kept for ttl; use
// DefaultRejectedTTL), because an EventBridge event cannot carry a body of
// up to 256 KiB. The body is a binary attribute, so it comes back
// byte-identical whatever it contains. It returns where the item is.
func (s *Store) PutRejectedBody(ctx context.Context, eventID, messageID string, body []byte, ttl time.Duration) (ItemRef, error) {
	if eventID == "" {
		return ItemRef{}, fmt.Errorf("state: store rejected body: empty event id")
	}
	if len(body) > MaxRejectedBodyBytes {
		return ItemRef{}, fmt.Errorf("state: store rejected body of %s: %d bytes, over the %d-byte limit", eventID, len(body), MaxRejectedBodyBytes)
	}
	if ttl <= 0 {
		ttl = DefaultRejectedTTL
	}
	now := s.now()
	ref := ItemRef{Table: s.table, PK: rejectedPK(eventID), SK: rejectedSK(messageID)}
	item := key(ref.PK, ref.SK)
	item["eventId"] = str(eventID)
	if messageID != "" {
		item["messageId"] = str(messageID)
	}
	// DynamoDB refuses an empty binary value in older APIs; an empty body is
	// never oversized, but keep the item valid anyway.
	if len(body) > 0 {
		item["body"] = &types.AttributeValueMemberB{Value: body}
	}
	item["bytes"] = num(int64(len(body)))
	item["storedAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(now.Add(ttl).Unix())
	s.count("PutItem")
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return ItemRef{}, fmt.Errorf("state: store rejected body of %s: %w", eventID, err)
	}
	return ref, nil
}

// GetRejectedBody reads a body stored by PutRejectedBody (operators replaying
// a rejection, and tests).
func (s *Store) GetRejectedBody(ctx context.Context, eventID, messageID string) ([]byte, bool, error) {
	got, err := s.getItem(ctx, rejectedPK(eventID), rejectedSK(messageID))
	if err != nil {
		return nil, false, fmt.Errorf("state: get rejected body of %s: %w", eventID, err)
	}
	if len(got) == 0 {
		return nil, false, nil
	}
	r := &itemReader{item: got, what: "rejected body " + rejectedPK(eventID)}
	n := r.int("bytes", true)
	if r.err != nil {
		return nil, false, r.err
	}
	var body []byte
	if av, ok := got["body"]; ok {
		b, ok := av.(*types.AttributeValueMemberB)
		if !ok {
			r.fail("body", "want binary, got %T", av)
			return nil, false, r.err
		}
		body = b.Value
	}
	if int64(len(body)) != n {
		r.fail("body", "%d bytes, but the item says %d", len(body), n)
		return nil, false, r.err
	}
	return body, true, nil
}
