package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Write is one entry of the write log: the fields this system wrote to an
// Encompass user, by canonical v3 name, and their new values. The poller
// reads it to tell changes made by provisioning from external ones.
type Write struct {
	LoginID    string
	UserID     string
	EmployeeID string
	EventID    string
	At         time.Time
	Fields     map[string]string
	// From holds the values the written fields replace, and Action what the
	// write does (created, updated, disabled...): the intent of the write,
	// recorded before it is made, so that an attempt that resumes a crashed
	// one can publish what it did.
	From   map[string]string
	Action string
}

func writePK(loginID string) string { return "USER#" + strings.ToLower(loginID) }

const writeSKPrefix = "WRITE#"

// RecordWrite stores w under pk USER#<lower(loginId)>, sk
// WRITE#<At>#<eventId>, kept for the write TTL (WithWriteTTL). At defaults
// to now. Recording the same write twice overwrites it.
func (s *Store) RecordWrite(ctx context.Context, w Write) error {
	if w.LoginID == "" {
		return fmt.Errorf("state: record write: empty login id")
	}
	if w.At.IsZero() {
		w.At = s.now()
	}
	item := key(writePK(w.LoginID), writeSKPrefix+fmtTime(w.At)+"#"+w.EventID)
	item["loginId"] = str(w.LoginID)
	item["at"] = str(w.At.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(s.now().Add(s.writeTTL).Unix())
	for name, v := range map[string]string{"userId": w.UserID, "employeeId": w.EmployeeID, "eventId": w.EventID, "action": w.Action} {
		if v != "" {
			item[name] = str(v)
		}
	}
	item["fields"] = strMapAttr(w.Fields)
	if len(w.From) > 0 {
		item["from"] = strMapAttr(w.From)
	}
	if err := s.put(ctx, item); err != nil {
		return fmt.Errorf("state: record write for %s: %w", w.LoginID, err)
	}
	return nil
}

// WritesSince returns the writes to loginID (case-insensitive) made at or
// after since, oldest first. Expired entries not yet deleted by DynamoDB are
// left out.
func (s *Store) WritesSince(ctx context.Context, loginID string, since time.Time) ([]Write, error) {
	var out []Write
	for w, err := range queryItems(ctx, s, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   str(writePK(loginID)),
			":from": str(writeSKPrefix + fmtTime(since)),
		},
		ConsistentRead: aws.Bool(true),
	}, s.liveWrite(loginID)) {
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	sortWrites(out)
	return out, nil
}

// liveWrite decodes a write-log item of loginID and leaves out one expired
// but not yet deleted by DynamoDB.
func (s *Store) liveWrite(loginID string) func(map[string]types.AttributeValue) (Write, bool, error) {
	return func(item map[string]types.AttributeValue) (Write, bool, error) {
		w, ttl, err := decodeWrite(item, loginID)
		return w, err != nil || !expired(ttl, s.now()), err
	}
}

func decodeWrite(item map[string]types.AttributeValue, loginID string) (Write, int64, error) {
	r := &itemReader{item: item, what: "write item " + writePK(loginID)}
	w := Write{
		LoginID:    r.str("loginId", true),
		UserID:     r.str("userId", false),
		EmployeeID: r.str("employeeId", false),
		EventID:    r.str("eventId", false),
		At:         r.time("at", true),
		Fields:     r.strMap("fields"),
		From:       r.strMap("from"),
		Action:     r.str("action", false),
	}
	return w, r.int(AttrTTL, false), r.err
}

// WriteOf returns the write an HRIS event recorded for loginID
// (case-insensitive), if any: what an attempt of the event set out to
// write. It reads the login's write log (a few items) with one query.
func (s *Store) WriteOf(ctx context.Context, loginID, eventID string) (Write, bool, error) {
	var out Write
	var found bool
	for w, err := range queryItems(ctx, s, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :w)"),
		FilterExpression:          aws.String("eventId = :ev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(writePK(loginID)), ":w": str(writeSKPrefix), ":ev": str(eventID)},
		ConsistentRead:            aws.Bool(true),
	}, s.liveWrite(loginID)) {
		if err != nil {
			return Write{}, false, err
		}
		// The latest write of the event wins: sort keys are in time order.
		out, found = w, true
	}
	return out, found, nil
}
