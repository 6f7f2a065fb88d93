package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

// errUnauthorized wraps every signature failure: missing header, unknown
// subscription, a signature that is not base64 or does not match. The
// verifier's own error (encompass.ErrUnknownSubscription, ErrBadSignature) is
// kept in the message for the log.
var errUnauthorized = errors.New("unauthorized")

// errMalformed wraps every payload failure.
var errMalformed = errors.New("malformed payload")

// errEntryTooLarge: the body fits the 256 KiB limit but the EventBridge
// entry (source + detail-type + detail) would not, so PutEvents would refuse
// it on every retry. Answering 413 ends the retries instead of failing for
// 8 hours.
var errEntryTooLarge = errors.New("event too large for EventBridge")

// Limits on the fields that become keys and the EventBridge detail-type.
const (
	// maxEventIDLen: the eventId ends up in a DynamoDB key and in logs.
	maxEventIDLen = 256
	// maxNameLen: resourceType and eventType are plain names (CONTRACTS
	// section 4): a letter, then at most 63 letters, digits, '_' or '-'.
	maxNameLen = 64
	// maxDetailTypeLen is EventBridge's limit on a detail-type; two names of
	// 64 would make 129.
	maxDetailTypeLen = 128
	// maxEntryBytes is EventBridge's PutEvents entry limit; entryOverhead the
	// fixed part of its size rule (pkg/publish sends no Time or Resources).
	maxEntryBytes = publish.MaxRequestSize
	entryOverhead = len(catalog.SourceWebhook)
)

// verifyAndDecode is the request path without I/O (but for a key refresh):
// check the signature over the raw body, then decode and validate the
// payload (a JSON object without duplicated keys, the three fields, plain
// names, an entry EventBridge accepts). Errors wrap errUnauthorized, errMalformed or errEntryTooLarge and
// never contain the body, the signature or a key.
func verifyAndDecode(ctx context.Context, v Verifier, subscriptionID, signature string, body []byte) (encompass.WebhookEvent, error) {
	var none encompass.WebhookEvent
	switch {
	case subscriptionID == "":
		return none, fmt.Errorf("%w: no %s header", errUnauthorized, subscriptionHeader)
	case signature == "":
		return none, fmt.Errorf("%w: no %s header", errUnauthorized, signatureHeader)
	}
	if err := v.Verify(ctx, subscriptionID, body, signature); err != nil {
		// The verifier's error names the failure (unknown subscription, bad
		// signature) and, by its contract, nothing secret.
		return none, fmt.Errorf("%w: %v", errUnauthorized, err)
	}
	ev, err := decodeDelivery(body)
	if err != nil {
		return none, err
	}
	if err := validate(ev); err != nil {
		return none, err
	}
	if size := entrySize(ev.DetailType(), body); size > maxEntryBytes {
		return none, fmt.Errorf("%w: %d bytes with source and detail-type, limit %d", errEntryTooLarge, size, maxEntryBytes)
	}
	return ev, nil
}

// validate adds the receiver's own limits to decodeDelivery's checks: the
// eventId becomes a DynamoDB key and a log field, the two names become the
// EventBridge detail-type. Plain names keep a signed body from
// choosing a detail-type of another source's catalogue ("HRIS Event"
// "Rejected" would read as a provisioning rejection).
func validate(d encompass.WebhookEvent) error {
	switch {
	case len(d.EventID) > maxEventIDLen:
		return fmt.Errorf("%w: eventId longer than %d bytes", errMalformed, maxEventIDLen)
	case !printable(d.EventID):
		return fmt.Errorf("%w: eventId has control or invalid characters", errMalformed)
	case !plainName(d.Meta.ResourceType):
		return fmt.Errorf("%w: meta.resourceType is not a plain name (a letter, then at most %d letters, digits, '_' or '-')", errMalformed, maxNameLen-1)
	case !plainName(d.EventType):
		return fmt.Errorf("%w: eventType is not a plain name (a letter, then at most %d letters, digits, '_' or '-')", errMalformed, maxNameLen-1)
	case len(d.DetailType()) > maxDetailTypeLen:
		return fmt.Errorf("%w: meta.resourceType and eventType longer than %d characters together", errMalformed, maxDetailTypeLen)
	}
	return nil
}

// plainName reports whether s is an ASCII letter followed by at most 63
// ASCII letters, digits, '_' or '-'.
func plainName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// printable rejects strings that would corrupt keys or logs.
func printable(s string) bool {
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// entrySize is the size of the EventBridge entry the delivery becomes, by
// EventBridge's rule: source + detail-type + detail, where the detail is the
// body as pkg/publish sends it, compacted. Counting the raw bytes would
// refuse a pretty-printed body of 256 KiB that compacts well within the
// limit.
func entrySize(detailType string, body []byte) int {
	size := entryOverhead + len(detailType) + len(body)
	if size <= maxEntryBytes {
		return size // the compacted body can only be smaller
	}
	return entryOverhead + len(detailType) + compactLen(body)
}

// compactLen is len(json.Compact(body)) without building it: the bytes of
// a valid JSON document less the whitespace outside strings.
func compactLen(body []byte) int {
	n, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case inString:
			n++
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			n++
			inString = c == '"'
		}
	}
	return n
}
