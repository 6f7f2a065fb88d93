package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// A token unique to this call: when the put's answer is lost and the SDK
	// sends it again, the resend finds its own token and succeeds, instead of
	// failing its condition and reading as a redelivery (which would answer
	// 200 and never publish).
	token, err := newToken()
	if err != nil {
		return false, fmt.Errorf("state: claim webhook %s: %w", eventID, err)
	}
	item["claimToken"] = str(token)
	s.count("PutItem")
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #ttl < :nowSec OR #tok = :tok"),
		ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL, "#tok": "claimToken"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":nowSec": num(now.Unix()), ":tok": str(token)},
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

// newToken returns 128 random bits in hex.
func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random claim token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
