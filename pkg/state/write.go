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
	for name, v := range map[string]string{"userId": w.UserID, "employeeId": w.EmployeeID, "eventId": w.EventID} {
		if v != "" {
			item[name] = str(v)
		}
	}
	fields := make(map[string]types.AttributeValue, len(w.Fields))
	for k, v := range w.Fields {
		fields[k] = str(v)
	}
	item["fields"] = &types.AttributeValueMemberM{Value: fields}
	s.count("PutItem")
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("state: record write for %s: %w", w.LoginID, err)
	}
	return nil
}

// WritesSince returns the writes to loginID (case-insensitive) made at or
// after since, oldest first. Expired entries not yet deleted by DynamoDB are
// left out.
func (s *Store) WritesSince(ctx context.Context, loginID string, since time.Time) ([]Write, error) {
	var out []Write
	var decodeErr error
	nowSec := s.now().Unix()
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   str(writePK(loginID)),
			":from": str(writeSKPrefix + fmtTime(since)),
		},
		ConsistentRead: aws.Bool(true),
	}, func(item map[string]types.AttributeValue) bool {
		r := &itemReader{item: item, what: "write item " + writePK(loginID)}
		w := Write{
			LoginID:    r.str("loginId", true),
			UserID:     r.str("userId", false),
			EmployeeID: r.str("employeeId", false),
			EventID:    r.str("eventId", false),
			At:         r.time("at", true),
			Fields:     r.strMap("fields"),
		}
		ttl := r.int(AttrTTL, false)
		if r.err != nil {
			decodeErr = r.err
			return false
		}
		if ttl > 0 && ttl < nowSec {
			return true
		}
		out = append(out, w)
		return true
	})
	if err != nil {
		return nil, err
	}
	if decodeErr != nil {
		return nil, decodeErr
	}
	sortWrites(out)
	return out, nil
}
