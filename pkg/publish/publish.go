// Package publish sends the product's events to EventBridge (CONTRACTS
// section 3): batches of at most 10 entries and 256 KB, retrying only the
// entries EventBridge reports as failed.
//
// Publishing is dry-run agnostic: marking an event "dryRun" is the caller's
// job, and dry-run events are published like any other.
package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EventBridge limits.
const (
	// MaxBatchEntries is the most entries one PutEvents request may carry.
	MaxBatchEntries = 10
	// MaxRequestSize is the most bytes (by EventBridge's entry-size rule:
	// source + detail-type + detail + resources) one request may carry, and
	// so also the largest single event.
	MaxRequestSize = 256 * 1024
)

// EventBridgeAPI is the part of the EventBridge client the publisher uses;
// the real *eventbridge.Client satisfies it.
type EventBridgeAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Event is one event to publish. Detail is marshalled to JSON and must be an
// object carrying a non-empty string "eventId" (CONTRACTS section 3); a
// json.RawMessage is sent as it is (compacted).
type Event struct {
	Source     string
	DetailType string
	Detail     any
}

// Publisher publishes events to one bus. It is safe for concurrent use.
type Publisher struct {
	client      EventBridgeAPI
	bus         string
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	calls       func()
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithMaxAttempts bounds the PutEvents attempts per entry (default 4).
func WithMaxAttempts(n int) Option {
	return func(p *Publisher) {
		if n > 0 {
			p.maxAttempts = n
		}
	}
}

// WithBackoff sets the wait before the first retry of failed entries; it
// doubles per attempt up to 20 times base (default 100ms).
func WithBackoff(base time.Duration) Option {
	return func(p *Publisher) { p.backoff, p.maxBackoff = base, 20*base }
}

// WithCallHook runs fn before every PutEvents request (metrics, benchmarks).
func WithCallHook(fn func()) Option { return func(p *Publisher) { p.calls = fn } }

// New returns a Publisher for busName.
func New(client EventBridgeAPI, busName string, opts ...Option) *Publisher {
	p := &Publisher{client: client, bus: busName, maxAttempts: 4, backoff: 100 * time.Millisecond, maxBackoff: 2 * time.Second}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Error reports events that could not be published.
type Error struct {
	Failed int            // events not published
	Total  int            // events asked for
	Codes  map[string]int // per-entry error codes (or "request" for a failed request)
	Err    error          // the last request error, if any
}

func (e *Error) Error() string {
	codes := make([]string, 0, len(e.Codes))
	for c, n := range e.Codes {
		codes = append(codes, fmt.Sprintf("%s x%d", c, n))
	}
	sort.Strings(codes)
	msg := fmt.Sprintf("publish: %d of %d events not published (%s)", e.Failed, e.Total, strings.Join(codes, ", "))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanentCode reports whether a PutEvents entry error code is one that no
// retry of the same entry can fix (failure.Classify tells the entry's fault
// from our permissions').
func IsPermanentCode(code string) bool { return permanentCodes[code] }

// permanentCodes are per-entry error codes that no retry can fix.
var permanentCodes = map[string]bool{
	"InvalidArgument":                     true,
	"MalformedDetail":                     true,
	"ValidationException":                 true,
	"AccessDeniedException":               true,
	"NotAuthorizedForSourceException":     true,
	"NotAuthorizedForDetailTypeException": true,
	"NotAuthorizedForEventBusException":   true,
	"ResourceNotFoundException":           true,
}

type entry struct {
	types.PutEventsRequestEntry
	size int
}

// Entry validates ev and returns the PutEvents entry it becomes and its
// size by EventBridge's rule. Callers that must stay under MaxRequestSize
// (e.g. rejections that carry the original message) can check it first.
func (p *Publisher) Entry(ev Event) (types.PutEventsRequestEntry, int, error) {
	e, err := p.entry(ev)
	return e.PutEventsRequestEntry, e.size, err
}

func (p *Publisher) entry(ev Event) (entry, error) {
	if ev.Source == "" || ev.DetailType == "" {
		return entry{}, fmt.Errorf("publish: event needs a source and a detail-type (got %q, %q)", ev.Source, ev.DetailType)
	}
	var detail []byte
	switch d := ev.Detail.(type) {
	case json.RawMessage:
		var buf bytes.Buffer
		if err := json.Compact(&buf, d); err != nil {
			return entry{}, fmt.Errorf("publish: %s: detail is not valid JSON: %w", ev.DetailType, err)
		}
		detail = buf.Bytes()
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return entry{}, fmt.Errorf("publish: %s: marshal detail: %w", ev.DetailType, err)
		}
		detail = b
	}
	if len(detail) == 0 || detail[0] != '{' {
		return entry{}, fmt.Errorf("publish: %s: detail must be a JSON object", ev.DetailType)
	}
	var probe struct {
		EventID json.RawMessage `json:"eventId"`
	}
	if err := json.Unmarshal(detail, &probe); err != nil {
		return entry{}, fmt.Errorf("publish: %s: detail must be a JSON object: %w", ev.DetailType, err)
	}
	var id string
	if err := json.Unmarshal(probe.EventID, &id); err != nil || strings.TrimSpace(id) == "" {
		return entry{}, fmt.Errorf("publish: %s: detail must carry a non-empty string eventId", ev.DetailType)
	}
	size := len(ev.Source) + len(ev.DetailType) + len(detail)
	if size > MaxRequestSize {
		return entry{}, fmt.Errorf("publish: %s event %s is %d bytes, over EventBridge's %d-byte limit", ev.DetailType, id, size, MaxRequestSize)
	}
	return entry{
		PutEventsRequestEntry: types.PutEventsRequestEntry{
			Source:       aws.String(ev.Source),
			DetailType:   aws.String(ev.DetailType),
			Detail:       aws.String(string(detail)),
			EventBusName: aws.String(p.bus),
		},
		size: size,
	}, nil
}

// Publish sends the events. It validates all of them first and publishes
// none if any is invalid (a caller bug). Entries EventBridge reports as
// failed with a transient code are retried, alone, with back-off, up to the
// attempt limit; request errors were already retried by the SDK and end the
// call. The returned *Error says how many events were not published; events
// reported published stay published.
func (p *Publisher) Publish(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	pending := make([]entry, 0, len(events))
	for _, ev := range events {
		e, err := p.entry(ev)
		if err != nil {
			return err
		}
		pending = append(pending, e)
	}
	wait := p.backoff
	var permanent []failedEntry
	for attempt := 1; ; attempt++ {
		var retry []failedEntry
		sent := 0
		for _, batch := range batches(pending) {
			failed, err := p.put(ctx, batch)
			if err != nil {
				// This batch and the later ones were not published.
				unsent := make([]failedEntry, 0, len(pending)-sent)
				for _, e := range pending[sent:] {
					unsent = append(unsent, failedEntry{e, "request"})
				}
				return newError(len(events), err, permanent, retry, unsent)
			}
			sent += len(batch)
			for _, f := range failed {
				if permanentCodes[f.code] {
					permanent = append(permanent, f)
				} else {
					retry = append(retry, f)
				}
			}
		}
		if len(retry) == 0 || attempt >= p.maxAttempts {
			if len(retry)+len(permanent) > 0 {
				return newError(len(events), nil, permanent, retry)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return newError(len(events), ctx.Err(), permanent, retry)
		case <-time.After(wait):
		}
		wait = min(2*wait, p.maxBackoff)
		pending = pending[:0:0]
		for _, f := range retry {
			pending = append(pending, f.entry)
		}
	}
}

func newError(total int, err error, lists ...[]failedEntry) *Error {
	e := &Error{Total: total, Codes: map[string]int{}, Err: err}
	for _, l := range lists {
		for _, f := range l {
			e.Failed++
			e.Codes[f.code]++
		}
	}
	return e
}

type failedEntry struct {
	entry entry
	code  string
}

func (p *Publisher) put(ctx context.Context, batch []entry) ([]failedEntry, error) {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(batch))}
	for i, e := range batch {
		in.Entries[i] = e.PutEventsRequestEntry
	}
	if p.calls != nil {
		p.calls()
	}
	out, err := p.client.PutEvents(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("put events: %w", err)
	}
	if out.FailedEntryCount == 0 {
		return nil, nil
	}
	if len(out.Entries) != len(batch) {
		// Without a per-entry answer we cannot tell which failed: retry all.
		failed := make([]failedEntry, len(batch))
		for i, e := range batch {
			failed[i] = failedEntry{e, "Unknown"}
		}
		return failed, nil
	}
	var failed []failedEntry
	for i, r := range out.Entries {
		if r.ErrorCode == nil && r.EventId != nil {
			continue
		}
		code := aws.ToString(r.ErrorCode)
		if code == "" {
			code = "Unknown"
		}
		failed = append(failed, failedEntry{batch[i], code})
	}
	return failed, nil
}

// batches splits entries into requests of at most MaxBatchEntries entries
// and MaxRequestSize bytes, keeping their order.
func batches(entries []entry) [][]entry {
	var out [][]entry
	start, size := 0, 0
	for i, e := range entries {
		if i > start && (i-start == MaxBatchEntries || size+e.size > MaxRequestSize) {
			out = append(out, entries[start:i])
			start, size = i, 0
		}
		size += e.size
	}
	return append(out, entries[start:])
}
