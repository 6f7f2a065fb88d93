package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultRejectedTTL is how long the full body of a rejected message is kept:
// long enough for an operator to read the rejection event, fix the source and
// replay the body.
const DefaultRejectedTTL = 30 * 24 * time.Hour

// MaxRejectedBodyBytes is the largest body PutRejectedBody stores: 1 MiB, the
// most an SQS message can carry (the stack sets the queues'
// MaximumMessageSize to it). A longer body cannot come from SQS, only from a
// hand-made event; it is refused with ErrBodyTooLarge and nothing is written.
const MaxRejectedBodyBytes = 1 << 20

// RejectedPartBytes is how many body bytes one item holds. A DynamoDB item
// may hold 400 KB, keys and the other attributes included; 384 KiB leaves
// room for them. A body of at most this size is kept inline in its manifest
// (one write, one read); a longer one is split into parts of this size.
const RejectedPartBytes = 384 << 10

// maxRejectedIDBytes bounds the event and message ids that go into keys:
// DynamoDB refuses a sort key over 1,024 bytes, and the part keys carry the
// message id plus 29 bytes. SQS message ids are 36-byte UUIDs.
const maxRejectedIDBytes = 512

// ErrBodyTooLarge is returned by PutRejectedBody for a body over
// MaxRejectedBodyBytes. Nothing was written; retrying cannot help.
var ErrBodyTooLarge = errors.New("state: body too large to keep")

// ErrBodyIncomplete is returned by GetRejectedBody when a manifest names
// parts that are missing or do not match it (parts deleted by hand, or by
// DynamoDB's TTL ahead of the manifest). A partial body is never returned.
var ErrBodyIncomplete = errors.New("state: stored body is incomplete")

const (
	rejectedSKPrefix = "BODY"
	rejectedPartPfx  = "PART#"
	// digestKeyHex is how much of the body's SHA-256 names its parts: parts
	// of two different bodies of one message (a hand-made event replayed
	// with another body) never overwrite each other, so the manifest, written
	// last, switches from one whole body to the other in one write.
	digestKeyHex = 16
)

func rejectedPK(eventID string) string { return "REJECTED#" + eventID }

// rejectedSK keys the body by SQS message id too, so that two different
// messages with one event id (a producer resending a corrected body after
// SQS's de-duplication window) never overwrite each other, while the
// redelivery of one message overwrites its own copy with the same bytes.
func rejectedSK(messageID string) string {
	if messageID == "" {
		return rejectedSKPrefix
	}
	return rejectedSKPrefix + "#" + messageID
}

// rejectedPartSK is the key of part i (1-based) of a body:
// PART#<messageId>#<first 16 hex of sha256>#<i, 5 digits>. The fixed-width
// tail makes the key unambiguous whatever the message id contains, and the
// PART# prefix keeps parts apart from manifests (BODY...).
func rejectedPartSK(messageID, digest string, i int) string {
	return fmt.Sprintf("%s%s#%s#%05d", rejectedPartPfx, messageID, digest[:digestKeyHex], i)
}

// ItemRef locates one item of the state table; rejection events carry it as
// messageStoredAt. For a rejected body it names the body's manifest (sk
// BODY#<messageId>), which holds the body itself when it fits one item, or
// the number of parts, the length and the SHA-256 of the whole body.
type ItemRef struct {
	Table string `json:"table"`
	PK    string `json:"pk"`
	SK    string `json:"sk"`
}

// RejectedBody is one stored original body of a rejected message.
type RejectedBody struct {
	EventID   string
	MessageID string
	// Ref is where the manifest is (what messageStoredAt says).
	Ref ItemRef
	// Bytes is the body's length; Parts is 0 when the body is inline in the
	// manifest, else the number of part items.
	Bytes int64
	Parts int
	// SHA256 is the hex digest of the whole body (empty for items written
	// before bodies were split, which hold the body inline).
	SHA256   string
	StoredAt time.Time
	Expires  time.Time
	Body     []byte
	// Err is set, by RejectedBodies, for a body that cannot be read whole
	// (a malformed manifest, missing parts); Body is then nil.
	Err error
}

// PutRejectedBody stores the full original body of a rejected message, kept
// for ttl (use DefaultRejectedTTL), because an EventBridge event cannot carry
// a body of up to 1 MiB. It returns where the manifest is (pk
// REJECTED#<eventId>, sk BODY#<messageId>).
//
// A body of up to RejectedPartBytes is one item. A longer one is written as
// parts first and the manifest last, so a reader either finds no manifest
// (nothing stored yet) or a manifest whose parts are all there: a failure
// between two writes leaves parts no reader looks at, and the retry, which
// writes the same parts again, completes it. Bodies are binary attributes,
// so they come back byte-identical whatever they contain.
//
// A body over MaxRejectedBodyBytes is refused with ErrBodyTooLarge before
// anything is written.
func (s *Store) PutRejectedBody(ctx context.Context, eventID, messageID string, body []byte, ttl time.Duration) (ItemRef, error) {
	if eventID == "" {
		return ItemRef{}, fmt.Errorf("state: store rejected body: empty event id")
	}
	if len(eventID) > maxRejectedIDBytes || len(messageID) > maxRejectedIDBytes {
		return ItemRef{}, fmt.Errorf("state: store rejected body: event id (%d bytes) or message id (%d bytes) over %d bytes",
			len(eventID), len(messageID), maxRejectedIDBytes)
	}
	if len(body) > MaxRejectedBodyBytes {
		return ItemRef{}, fmt.Errorf("%w: body of %s is %d bytes, over the %d-byte limit", ErrBodyTooLarge, eventID, len(body), MaxRejectedBodyBytes)
	}
	if ttl <= 0 {
		ttl = DefaultRejectedTTL
	}
	now := s.now()
	expires := num(now.Add(ttl).Unix())
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	ref := ItemRef{Table: s.table, PK: rejectedPK(eventID), SK: rejectedSK(messageID)}

	parts := 0
	if len(body) > RejectedPartBytes {
		parts = (len(body) + RejectedPartBytes - 1) / RejectedPartBytes
	}
	for i := 1; i <= parts; i++ {
		chunk := body[(i-1)*RejectedPartBytes : min(i*RejectedPartBytes, len(body))]
		item := key(ref.PK, rejectedPartSK(messageID, digest, i))
		item["body"] = &types.AttributeValueMemberB{Value: chunk}
		item["part"] = num(int64(i))
		item["sha256"] = str(digest)
		item[AttrTTL] = expires
		if err := s.put(ctx, item); err != nil {
			return ItemRef{}, fmt.Errorf("state: store rejected body of %s: part %d of %d: %w", eventID, i, parts, err)
		}
	}

	item := key(ref.PK, ref.SK)
	item["eventId"] = str(eventID)
	if messageID != "" {
		item["messageId"] = str(messageID)
	}
	// An empty binary value is refused by older DynamoDB APIs; an empty
	// body is simply an absent attribute with bytes = 0.
	if parts == 0 && len(body) > 0 {
		item["body"] = &types.AttributeValueMemberB{Value: body}
	}
	item["bytes"] = num(int64(len(body)))
	item["parts"] = num(int64(parts))
	item["sha256"] = str(digest)
	item["storedAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = expires
	if err := s.put(ctx, item); err != nil {
		return ItemRef{}, fmt.Errorf("state: store rejected body of %s: %w", eventID, err)
	}
	return ref, nil
}

// GetRejectedBody reads a body stored by PutRejectedBody (operators replaying
// a rejection, and tests): one read for an inline body, one more per part.
// A manifest past its ttl counts as absent. The body is returned only when
// every part is there and the whole matches the manifest's length and
// SHA-256; otherwise the error wraps ErrBodyIncomplete or ErrMalformedItem.
func (s *Store) GetRejectedBody(ctx context.Context, eventID, messageID string) ([]byte, bool, error) {
	got, err := s.getItem(ctx, rejectedPK(eventID), rejectedSK(messageID))
	if err != nil {
		return nil, false, fmt.Errorf("state: get rejected body of %s: %w", eventID, err)
	}
	if len(got) == 0 {
		return nil, false, nil
	}
	rb, err := s.readRejected(ctx, got)
	if err != nil {
		return nil, false, err
	}
	if rb == nil {
		return nil, false, nil
	}
	return rb.Body, true, nil
}

// RejectedBodies returns every body stored for a rejected event, one per SQS
// message that carried it (usually one), in message-id order. Expired ones
// are left out.
func (s *Store) RejectedBodies(ctx context.Context, eventID string) ([]RejectedBody, error) {
	if eventID == "" {
		return nil, fmt.Errorf("state: rejected bodies: empty event id")
	}
	var manifests []map[string]types.AttributeValue
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :body)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(rejectedPK(eventID)), ":body": str(rejectedSKPrefix),
		},
		// Manifests only: inline bodies are read again below with the
		// parts, so the listing stays small whatever the bodies weigh.
		ProjectionExpression: aws.String("pk, sk"),
		ConsistentRead:       aws.Bool(true),
	}, func(item map[string]types.AttributeValue) bool {
		manifests = append(manifests, item)
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []RejectedBody
	for _, m := range manifests {
		r := &itemReader{item: m, what: "rejected body " + rejectedPK(eventID)}
		sk := r.str(AttrSK, true)
		if r.err != nil {
			return nil, r.err
		}
		got, err := s.getItem(ctx, rejectedPK(eventID), sk)
		if err != nil {
			return nil, fmt.Errorf("state: get rejected body of %s: %w", eventID, err)
		}
		if len(got) == 0 {
			continue // deleted since the listing
		}
		rb, err := s.readRejected(ctx, got)
		switch {
		case errors.Is(err, ErrMalformedItem) || errors.Is(err, ErrBodyIncomplete):
			// One bad body must not hide the others from an operator.
			out = append(out, RejectedBody{EventID: eventID, Ref: ItemRef{Table: s.table, PK: rejectedPK(eventID), SK: sk}, Err: err})
		case err != nil:
			return nil, err
		case rb != nil:
			out = append(out, *rb)
		}
	}
	return out, nil
}

// readRejected decodes a manifest and reads its parts; nil for an expired one.
func (s *Store) readRejected(ctx context.Context, item map[string]types.AttributeValue) (*RejectedBody, error) {
	r := &itemReader{item: item}
	pk, sk := r.str(AttrPK, true), r.str(AttrSK, true)
	r.what = "rejected body " + pk + " / " + sk
	rb := &RejectedBody{
		EventID:   r.str("eventId", false),
		MessageID: r.str("messageId", false),
		Ref:       ItemRef{Table: s.table, PK: pk, SK: sk},
		Bytes:     r.int("bytes", true),
		Parts:     int(r.int("parts", false)),
		SHA256:    r.str("sha256", false),
		StoredAt:  r.time("storedAt", false),
	}
	if ttl := r.int(AttrTTL, false); ttl > 0 {
		rb.Expires = time.Unix(ttl, 0).UTC()
	}
	if rb.EventID == "" {
		rb.EventID = strings.TrimPrefix(pk, "REJECTED#")
	}
	switch {
	case r.err != nil:
		return nil, r.err
	case rb.Bytes < 0 || rb.Bytes > MaxRejectedBodyBytes:
		r.fail("bytes", "%d is outside 0..%d", rb.Bytes, MaxRejectedBodyBytes)
	case rb.Parts < 0 || int64(rb.Parts) > rb.Bytes/RejectedPartBytes+1:
		r.fail("parts", "%d parts cannot hold %d bytes", rb.Parts, rb.Bytes)
	case rb.Parts > 0 && len(rb.SHA256) != sha256.Size*2:
		r.fail("sha256", "want %d hex digits, got %q", sha256.Size*2, rb.SHA256)
	}
	if r.err != nil {
		return nil, r.err
	}
	if !rb.Expires.IsZero() && rb.Expires.Before(s.now()) {
		return nil, nil
	}
	if rb.Parts == 0 {
		if rb.Body = r.bytes("body"); r.err != nil {
			return nil, r.err
		}
	} else {
		rb.Body = make([]byte, 0, rb.Bytes)
		for i := 1; i <= rb.Parts; i++ {
			part, err := s.getItem(ctx, pk, rejectedPartSK(rb.MessageID, rb.SHA256, i))
			if err != nil {
				return nil, fmt.Errorf("state: get rejected body %s: part %d: %w", pk, i, err)
			}
			if len(part) == 0 {
				return nil, fmt.Errorf("%w: %s / %s: part %d of %d is missing", ErrBodyIncomplete, pk, sk, i, rb.Parts)
			}
			pr := &itemReader{item: part, what: fmt.Sprintf("rejected body %s part %d", pk, i)}
			if d := pr.str("sha256", true); pr.err == nil && d != rb.SHA256 {
				return nil, fmt.Errorf("%w: %s / %s: part %d belongs to another body", ErrBodyIncomplete, pk, sk, i)
			}
			chunk := pr.bytes("body")
			if pr.err != nil {
				return nil, pr.err
			}
			rb.Body = append(rb.Body, chunk...)
		}
	}
	if int64(len(rb.Body)) != rb.Bytes {
		return nil, fmt.Errorf("%w: %s / %s: %d bytes read, the manifest says %d", ErrBodyIncomplete, pk, sk, len(rb.Body), rb.Bytes)
	}
	if rb.SHA256 != "" {
		sum := sha256.Sum256(rb.Body)
		if hex.EncodeToString(sum[:]) != rb.SHA256 {
			return nil, fmt.Errorf("%w: %s / %s: the body read does not match its SHA-256", ErrBodyIncomplete, pk, sk)
		}
	}
	return rb, nil
}

// bytes reads an optional binary attribute (absent means empty).
func (r *itemReader) bytes(attr string) []byte {
	av, ok := r.item[attr]
	if !ok || av == nil {
		return nil
	}
	b, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		r.fail(attr, "want binary, got %T", av)
		return nil
	}
	return b.Value
}
