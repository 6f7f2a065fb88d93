package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ClaimKind is the namespace of an idempotency item. Each kind keeps the
// item keys it has always had: pk <kind>#<id>, sk <kind>.
type ClaimKind string

// The two kinds of claims: HRIS events (provision, deprovision) and webhook
// deliveries.
const (
	ClaimEvent   ClaimKind = "EVENT"
	ClaimWebhook ClaimKind = "WEBHOOK"
)

// ClaimKey names one idempotency item.
type ClaimKey struct {
	Kind ClaimKind
	ID   string
}

// EventKey is the claim key of an HRIS event id.
func EventKey(eventID string) ClaimKey { return ClaimKey{Kind: ClaimEvent, ID: eventID} }

// WebhookKey is the claim key of a webhook delivery's eventId.
func WebhookKey(eventID string) ClaimKey { return ClaimKey{Kind: ClaimWebhook, ID: eventID} }

func (k ClaimKey) pk() string     { return string(k.Kind) + "#" + k.ID }
func (k ClaimKey) sk() string     { return string(k.Kind) }
func (k ClaimKey) String() string { return k.pk() }

// ClaimStatus is the state of an idempotency item.
type ClaimStatus string

// The claim states. A claim is taken in progress, then either done (with its
// outcome) or released (a retryable failure: the next claim runs again).
const (
	ClaimInProgress ClaimStatus = "in_progress"
	ClaimDone       ClaimStatus = "done"
	ClaimReleased   ClaimStatus = "released"
)

// ClaimOptions set a claim's lease and retention.
type ClaimOptions struct {
	// Lease is how long an in-progress claim blocks other owners: the
	// longest the holder may still be running. Default: the store's
	// (WithClaimLease, DefaultClaimLease).
	Lease time.Duration
	// TTL is how long the item is kept. Default DefaultEventTTL.
	TTL time.Duration
	// EmployeeID is kept on the item for diagnostics (HRIS events).
	EmployeeID string
}

// Claim is the stored state of an idempotency item.
type Claim struct {
	Key        ClaimKey
	Status     ClaimStatus
	Owner      string
	EmployeeID string
	// Outcome is what CompleteClaim recorded (done claims).
	Outcome string
	// Resumed, on a claim just taken, says an earlier attempt held this key
	// and did not complete it (it crashed, or released it after a retryable
	// failure): work it began may already be applied.
	Resumed    bool
	ClaimedAt  time.Time
	LeaseUntil time.Time // zero unless in progress
	Expires    time.Time // the item's ttl
}

// Claim takes key for owner, the one protocol behind every idempotency item
// (HRIS events and webhook deliveries).
//
//   - Status ClaimInProgress: this caller holds the claim and must end it
//     with CompleteClaim or ReleaseClaim.
//   - Status ClaimDone: completed before (a duplicate); Outcome says what was
//     recorded.
//   - ErrInProgress: another owner holds a live claim. It is not a duplicate
//     yet (that attempt may still fail), so the caller answers "retry".
//
// owner identifies the attempt: the SQS message id (the same on every
// delivery of one message) or a random token per webhook request. An
// in-progress claim held by the same non-empty owner is taken again, which
// makes the SDK's resend of a put whose answer was lost succeed, and lets the
// redelivery of a message whose invocation crashed take over at once. An
// empty owner matches nobody; only the lease frees its claim. Items past
// their ttl count as absent even before DynamoDB deletes them.
func (s *Store) Claim(ctx context.Context, key ClaimKey, owner string, o ClaimOptions) (Claim, error) {
	if key.ID == "" || key.Kind == "" {
		return Claim{}, fmt.Errorf("state: claim: empty key %q", key.pk())
	}
	if o.TTL <= 0 {
		o.TTL = DefaultEventTTL
	}
	if o.Lease <= 0 {
		o.Lease = s.lease
	}
	now := s.now()
	item := key2(key)
	item["eventId"] = str(key.ID)
	item["status"] = str(string(ClaimInProgress))
	item["leaseUntil"] = num(now.Add(o.Lease).UnixMilli())
	item["claimedAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(now.Add(o.TTL).Unix())
	if o.EmployeeID != "" {
		item["employeeId"] = str(o.EmployeeID)
	}
	if owner != "" {
		item["owner"] = str(owner)
	}
	cond := "attribute_not_exists(pk) OR #ttl < :nowSec OR #st = :released OR (#st = :inprog AND leaseUntil < :nowMs)"
	names := map[string]string{"#ttl": AttrTTL, "#st": "status"}
	values := map[string]types.AttributeValue{
		":nowSec":   num(now.Unix()),
		":nowMs":    num(now.UnixMilli()),
		":inprog":   str(string(ClaimInProgress)),
		":released": str(string(ClaimReleased)),
	}
	if owner != "" {
		cond = "attribute_not_exists(pk) OR #ttl < :nowSec OR #st = :released OR (#st = :inprog AND (leaseUntil < :nowMs OR #own = :owner))"
		names["#own"] = "owner"
		values[":owner"] = str(owner)
	}
	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		// The item this put replaced says whether an earlier attempt ran.
		ReturnValues: types.ReturnValueAllOld,
	})
	if err == nil {
		c := Claim{Key: key, Status: ClaimInProgress, Owner: owner, EmployeeID: o.EmployeeID,
			ClaimedAt: now, LeaseUntil: now.Add(o.Lease), Expires: time.Unix(now.Add(o.TTL).Unix(), 0)}
		c.Resumed = resumes(out.Attributes, now)
		return c, nil
	}
	if !IsConditionFailed(err) {
		return Claim{}, fmt.Errorf("state: claim %s: %w", key, err)
	}
	// Lost: find out whether it is done (duplicate) or still running. A
	// second read only on this rare path keeps the common path one write.
	got, err := s.getItem(ctx, key.pk(), key.sk())
	if err != nil {
		return Claim{}, fmt.Errorf("state: claim %s: read existing claim: %w", key, err)
	}
	if len(got) == 0 {
		// Deleted between our write and read: let the caller retry.
		return Claim{}, fmt.Errorf("claim %s: claim vanished while checking it: %w", key, ErrInProgress)
	}
	c, err := decodeClaim(key, got)
	if err != nil {
		return Claim{}, err
	}
	switch c.Status {
	case ClaimDone:
		return c, nil
	case ClaimInProgress:
		if owner != "" && c.Owner == owner {
			// Our own claim, taken while our read raced the put's resend.
			c.Resumed = true
			return c, nil
		}
		return Claim{}, fmt.Errorf("claim %s: %w", key, ErrInProgress)
	}
	return Claim{}, fmt.Errorf("%w: claim item %s: attribute \"status\": unknown claim status %q", ErrMalformedItem, key, c.Status)
}

// resumes reports whether the item a claim replaced was an unfinished
// attempt: in progress or released, and not expired.
func resumes(old map[string]types.AttributeValue, now time.Time) bool {
	if len(old) == 0 {
		return false
	}
	r := &itemReader{item: old, what: "replaced claim"}
	st := ClaimStatus(r.str("status", false))
	if expired(r.int(AttrTTL, false), now) {
		return false
	}
	return st == ClaimInProgress || st == ClaimReleased
}

func key2(k ClaimKey) map[string]types.AttributeValue { return key(k.pk(), k.sk()) }

// decodeClaim reads a stored claim. Items written before claims had a status
// (webhook de-duplication items of earlier versions) are done: they were
// written for a delivery that was handed on.
func decodeClaim(k ClaimKey, item map[string]types.AttributeValue) (Claim, error) {
	r := &itemReader{item: item, what: "claim item " + k.pk()}
	c := Claim{
		Key:        k,
		Status:     ClaimStatus(r.str("status", false)),
		Owner:      r.str("owner", false),
		EmployeeID: r.str("employeeId", false),
		Outcome:    r.str("outcome", false),
		ClaimedAt:  r.time("claimedAt", false),
	}
	if c.Status == "" {
		c.Status = ClaimDone
	}
	if ms := r.int("leaseUntil", false); ms > 0 {
		c.LeaseUntil = time.UnixMilli(ms)
	}
	if sec := r.int(AttrTTL, false); sec > 0 {
		c.Expires = time.Unix(sec, 0)
	}
	if r.err == nil && c.Status != ClaimDone && c.Status != ClaimInProgress && c.Status != ClaimReleased {
		r.fail("status", "unknown claim status %q", c.Status)
	}
	return c, r.err
}

// GetClaim reads an idempotency item (diagnostics, operators, tests).
func (s *Store) GetClaim(ctx context.Context, key ClaimKey) (Claim, bool, error) {
	got, err := s.getItem(ctx, key.pk(), key.sk())
	if err != nil {
		return Claim{}, false, fmt.Errorf("state: get claim %s: %w", key, err)
	}
	if len(got) == 0 {
		return Claim{}, false, nil
	}
	c, err := decodeClaim(key, got)
	return c, err == nil, err
}

// CompleteClaim marks a claim done with its outcome; later claims of the key
// are duplicates. The item keeps the ttl its claim set. It returns
// ErrNotFound when there is no claim (it expired).
func (s *Store) CompleteClaim(ctx context.Context, key ClaimKey, outcome string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key2(key),
		UpdateExpression:         aws.String("SET #st = :done, outcome = :o, completedAt = :at REMOVE leaseUntil"),
		ConditionExpression:      aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": str(string(ClaimDone)),
			":o":    str(outcome),
			":at":   str(s.now().UTC().Format(time.RFC3339Nano)),
		},
	})
	if err != nil {
		if IsConditionFailed(err) {
			return fmt.Errorf("complete %s: %w", key, ErrNotFound)
		}
		return fmt.Errorf("state: complete %s: %w", key, err)
	}
	return nil
}

// ReleaseClaim ends an in-progress claim after a retryable failure, so that
// the next delivery runs again at once instead of waiting out the lease. The
// item is kept, marked released, so that the next claim knows it resumes an
// attempt that may have applied part of its work. A completed claim is never
// released (that would let a duplicate run), and releasing nothing is not an
// error.
func (s *Store) ReleaseClaim(ctx context.Context, key ClaimKey) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key2(key),
		UpdateExpression:          aws.String("SET #st = :released REMOVE leaseUntil"),
		ConditionExpression:       aws.String("#st = :inprog"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprog": str(string(ClaimInProgress)), ":released": str(string(ClaimReleased))},
	})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("state: release %s: %w", key, err)
	}
	return nil
}

// IsConditionFailed reports whether err is DynamoDB's answer to a
// conditional write whose condition did not hold.
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
