package state

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func eventPK(id string) string { return "EVENT#" + id }

const eventSK = "EVENT"

// Claim states of an idempotency item.
const (
	claimInProgress = "in_progress"
	claimDone       = "done"
)

// ClaimEvent claims an HRIS event for processing (item pk EVENT#<eventId>,
// sk EVENT, kept for ttl; use DefaultEventTTL).
//
//   - (true, nil): this caller holds the claim and must end it with
//     CompleteEvent (outcome applied) or ReleaseEvent (retryable failure).
//   - (false, nil): the event was completed before: a duplicate.
//   - (false, ErrInProgress): another invocation claimed it less than the
//     lease ago (WithClaimLease) and has not completed it. It is not a
//     duplicate yet, so report the message as a retryable failure.
//
// owner identifies the claimant; pass the SQS message id, which is the same
// on every delivery of one message. An in-progress claim held by the same
// non-empty owner counts as claimed. This matters because the claim is a
// conditional put: when its answer is lost, the SDK sends it again, and the
// resend fails its own condition. Without the owner it would read as another
// delivery holding the claim, and the event would wait out the lease (and
// might reach the DLQ). It also lets the redelivery of a message whose
// invocation crashed take over at once instead of after the lease. Two
// deliveries of one message never run at the same time: Lambda refuses an
// SQS event source whose visibility timeout is shorter than the function's
// timeout, and a FIFO group delivers nothing else while a message is in
// flight. An empty owner matches nobody (only the lease frees a claim).
//
// A claim whose processing crashed (neither completed nor released) blocks
// other messages with the event id only until its lease ends; the next
// delivery then takes it over. Items past their ttl count as absent even
// before DynamoDB deletes them.
func (s *Store) ClaimEvent(ctx context.Context, eventID, employeeID, owner string, ttl time.Duration) (claimed bool, err error) {
	if eventID == "" {
		return false, fmt.Errorf("state: claim event: empty event id")
	}
	if ttl <= 0 {
		ttl = DefaultEventTTL
	}
	now := s.now()
	item := key(eventPK(eventID), eventSK)
	item["eventId"] = str(eventID)
	item["status"] = str(claimInProgress)
	item["leaseUntil"] = num(now.Add(s.lease).UnixMilli())
	item["claimedAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(now.Add(ttl).Unix())
	if employeeID != "" {
		item["employeeId"] = str(employeeID)
	}
	if owner != "" {
		item["owner"] = str(owner)
	}
	cond := "attribute_not_exists(pk) OR #ttl < :nowSec OR (#st = :inprog AND leaseUntil < :nowMs)"
	names := map[string]string{"#ttl": AttrTTL, "#st": "status"}
	values := map[string]types.AttributeValue{
		":nowSec": num(now.Unix()),
		":nowMs":  num(now.UnixMilli()),
		":inprog": str(claimInProgress),
	}
	if owner != "" {
		// Our own in-progress claim is taken again (and its lease renewed)
		// by the same put: the SDK's resend then succeeds too.
		cond = "attribute_not_exists(pk) OR #ttl < :nowSec OR (#st = :inprog AND (leaseUntil < :nowMs OR #own = :owner))"
		names["#own"] = "owner"
		values[":owner"] = str(owner)
	}
	s.count("PutItem")
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return true, nil
	}
	if !isConditionFailed(err) {
		return false, fmt.Errorf("state: claim event %s: %w", eventID, err)
	}
	// Lost: find out whether it is done (duplicate) or still running. A
	// second read only on this rare path keeps the common path one write.
	got, err := s.getItem(ctx, eventPK(eventID), eventSK)
	if err != nil {
		return false, fmt.Errorf("state: claim event %s: read existing claim: %w", eventID, err)
	}
	if len(got) == 0 {
		// Released or expired between our write and read: let SQS retry.
		return false, fmt.Errorf("claim event %s: claim vanished while checking it: %w", eventID, ErrInProgress)
	}
	r := &itemReader{item: got, what: "event item " + eventPK(eventID)}
	status := r.str("status", true)
	holder := r.str("owner", false)
	if r.err != nil {
		return false, r.err
	}
	switch status {
	case claimDone:
		return false, nil
	case claimInProgress:
		if owner != "" && holder == owner {
			// Our own claim: the SDK's resend of a put whose answer was
			// lost, or the redelivery of our own message.
			return true, nil
		}
		return false, fmt.Errorf("claim event %s: %w", eventID, ErrInProgress)
	default:
		r.fail("status", "unknown claim status %q", status)
		return false, r.err
	}
}

// EventClaim is the stored state of an idempotency item.
type EventClaim struct {
	EventID    string
	EmployeeID string
	// Owner is the claimant given to ClaimEvent (the SQS message id).
	Owner      string
	Done       bool
	Outcome    string
	LeaseUntil time.Time // zero once done
	Expires    time.Time // the item's ttl
}

// GetEventClaim reads an idempotency item (for tests and diagnostics).
func (s *Store) GetEventClaim(ctx context.Context, eventID string) (EventClaim, bool, error) {
	got, err := s.getItem(ctx, eventPK(eventID), eventSK)
	if err != nil {
		return EventClaim{}, false, fmt.Errorf("state: get event %s: %w", eventID, err)
	}
	if len(got) == 0 {
		return EventClaim{}, false, nil
	}
	r := &itemReader{item: got, what: "event item " + eventPK(eventID)}
	c := EventClaim{
		EventID:    r.str("eventId", true),
		EmployeeID: r.str("employeeId", false),
		Owner:      r.str("owner", false),
		Done:       r.str("status", true) == claimDone,
		Outcome:    r.str("outcome", false),
	}
	if ms := r.int("leaseUntil", false); ms > 0 {
		c.LeaseUntil = time.UnixMilli(ms)
	}
	if sec := r.int(AttrTTL, true); sec > 0 {
		c.Expires = time.Unix(sec, 0)
	}
	return c, true, r.err
}

// CompleteEvent marks a claimed event done with its outcome (e.g. the
// published detail-type); later claims of the id report a duplicate. The
// item keeps the ttl set by ClaimEvent. It returns ErrNotFound when there is
// no claim (it expired or was released).
func (s *Store) CompleteEvent(ctx context.Context, eventID, outcome string) error {
	s.count("UpdateItem")
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(eventPK(eventID), eventSK),
		UpdateExpression:         aws.String("SET #st = :done, outcome = :o, completedAt = :at REMOVE leaseUntil"),
		ConditionExpression:      aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": str(claimDone),
			":o":    str(outcome),
			":at":   str(s.now().UTC().Format(time.RFC3339Nano)),
		},
	})
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("complete event %s: %w", eventID, ErrNotFound)
		}
		return fmt.Errorf("state: complete event %s: %w", eventID, err)
	}
	return nil
}

// ReleaseEvent deletes an in-progress claim so that a retried delivery can
// run the event again after a retryable failure. A completed event is never
// released (that would let a duplicate run), and releasing nothing is not
// an error.
func (s *Store) ReleaseEvent(ctx context.Context, eventID string) error {
	s.count("DeleteItem")
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(eventPK(eventID), eventSK),
		ConditionExpression:       aws.String("#st = :inprog"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprog": str(claimInProgress)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("state: release event %s: %w", eventID, err)
	}
	return nil
}
