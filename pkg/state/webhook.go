package state

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func webhookPK(id string) string { return "WEBHOOK#" + id }

const webhookSK = "WEBHOOK"

// ClaimWebhook records a webhook delivery's eventId (pk WEBHOOK#<eventId>,
// kept for ttl; use DefaultWebhookTTL). It returns false when the id was
// claimed before: a redelivery, answered 200 without publishing again. If
// publishing then fails, call ReleaseWebhook so that Encompass's retry is
// handed on. Items past their ttl count as absent.
func (s *Store) ClaimWebhook(ctx context.Context, eventID string, ttl time.Duration) (bool, error) {
	if eventID == "" {
		return false, fmt.Errorf("state: claim webhook: empty event id")
	}
	if ttl <= 0 {
		ttl = DefaultWebhookTTL
	}
	now := s.now()
	item := key(webhookPK(eventID), webhookSK)
	item["eventId"] = str(eventID)
	item["receivedAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(now.Add(ttl).Unix())
	s.count("PutItem")
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #ttl < :nowSec"),
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":nowSec": num(now.Unix())},
	})
	if err != nil {
		if isConditionFailed(err) {
			return false, nil
		}
		return false, fmt.Errorf("state: claim webhook %s: %w", eventID, err)
	}
	return true, nil
}

// ReleaseWebhook deletes a webhook claim (publishing failed; the retry must
// run). Releasing an absent claim is not an error.
func (s *Store) ReleaseWebhook(ctx context.Context, eventID string) error {
	s.count("DeleteItem")
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       key(webhookPK(eventID), webhookSK),
	}); err != nil {
		return fmt.Errorf("state: release webhook %s: %w", eventID, err)
	}
	return nil
}
