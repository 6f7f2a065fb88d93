package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// EventBridge limits the fake enforces, as real EventBridge does.
const (
	MaxPutEventsEntries = 10
	MaxPutEventsBytes   = 256 * 1024
)

// Event is one entry EventBridge accepted.
type Event struct {
	Source       string
	DetailType   string
	Detail       json.RawMessage
	EventBusName string
	Resources    []string
	// Received is when the fake accepted the entry (benchmarks measure a
	// path's time to its published outcome).
	Received time.Time `json:"-"`
}

// Decode unmarshals the detail into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Detail, v) }

// DetailMap returns the detail as a map (nil if it is not a JSON object).
func (e Event) DetailMap() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(e.Detail, &m)
	return m
}

// EventBridgeFake is an httptest server speaking the EventBridge PutEvents
// JSON 1.1 protocol. It records accepted entries and can be told to fail.
type EventBridgeFake struct {
	// URL is the endpoint (AWS_ENDPOINT_URL_EVENTBRIDGE for real binaries).
	URL string
	// Client is a real SDK client pointed at URL.
	Client *eventbridge.Client

	srv *httptest.Server

	mu           sync.Mutex
	events       []Event
	calls        int
	failRequests int
	failStatus   int
	failEntries  int
	failCode     string
	entryFault   func(Event) string
	onPut        func() bool
	seq          int
}

// EventBridge starts a fake for the test and closes it at cleanup.
func EventBridge(t testing.TB) *EventBridgeFake {
	t.Helper()
	f := NewEventBridgeFake()
	t.Cleanup(f.Close)
	return f
}

// NewEventBridgeFake starts a fake without a testing.T (local runs, the
// demo). Call Close when done.
func NewEventBridgeFake() *EventBridgeFake {
	f := &EventBridgeFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	f.Client = eventbridge.New(eventbridge.Options{
		Region:       Region,
		Credentials:  Credentials,
		BaseEndpoint: aws.String(f.URL),
	})
	return f
}

// Close stops the server.
func (f *EventBridgeFake) Close() { f.srv.Close() }

// FailRequests makes the next n PutEvents requests fail as a whole with the
// HTTP status (5xx: InternalException, which the SDK itself retries).
func (f *EventBridgeFake) FailRequests(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failRequests, f.failStatus = n, status
}

// FailEntries makes the next n entries received (across requests) fail
// individually with errorCode (e.g. "ThrottlingException",
// "InternalFailure"), reported through FailedEntryCount.
func (f *EventBridgeFake) FailEntries(n int, errorCode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failEntries, f.failCode = n, errorCode
}

// SetEntryFault installs a function deciding per entry: a non-empty error
// code fails the entry. nil removes it.
func (f *EventBridgeFake) SetEntryFault(fn func(Event) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entryFault = fn
}

// Events returns the accepted entries in order.
func (f *EventBridgeFake) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.events...)
}

// Count returns how many accepted entries have the detail-type.
func (f *EventBridgeFake) Count(detailType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.events {
		if e.DetailType == detailType {
			n++
		}
	}
	return n
}

// Calls returns the number of PutEvents requests received, failed or not.
func (f *EventBridgeFake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Reset forgets recorded events, calls and faults.
func (f *EventBridgeFake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events, f.calls, f.failRequests, f.failEntries, f.entryFault = nil, 0, 0, 0, nil
}

type putEventsEntry struct {
	Source       *string
	DetailType   *string
	Detail       *string
	EventBusName *string
	Resources    []string
	Time         json.RawMessage
	TraceHeader  *string
}

type putEventsInput struct {
	Entries    []putEventsEntry
	EndpointId *string
}

type resultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// entrySize is EventBridge's documented size of an entry.
func entrySize(e putEventsEntry) int {
	n := 0
	if len(e.Time) > 0 && string(e.Time) != "null" {
		n += 14
	}
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// OnPut installs a function called as each request arrives, before it is
// processed: a test stages a crash of the caller there (kills the process
// that sent it). When it returns true the request is dropped unanswered
// with a 500, as if the connection died with the caller. nil removes it.
func (f *EventBridgeFake) OnPut(fn func() (drop bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onPut = fn
}

func (f *EventBridgeFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	onPut := f.onPut
	f.mu.Unlock()
	if onPut != nil && onPut() {
		writeAWSError(w, http.StatusInternalServerError, "InternalException", "the caller died")
		return
	}
	f.mu.Lock()
	f.calls++
	if f.failRequests > 0 {
		f.failRequests--
		status := f.failStatus
		f.mu.Unlock()
		writeAWSError(w, status, "InternalException", "injected failure")
		return
	}
	f.mu.Unlock()

	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		writeAWSError(w, http.StatusBadRequest, "UnknownOperationException", "only AWSEvents.PutEvents is implemented, got "+strconv.Quote(r.Header.Get("X-Amz-Target")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var in putEventsInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if n := len(in.Entries); n < 1 || n > MaxPutEventsEntries {
		writeAWSError(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10 (got %d)", n))
		return
	}
	total := 0
	for _, e := range in.Entries {
		total += entrySize(e)
	}
	if total > MaxPutEventsBytes {
		writeAWSError(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("Total size of the entries in the request is over the limit (%d > %d bytes).", total, MaxPutEventsBytes))
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	out := struct {
		FailedEntryCount int
		Entries          []resultEntry
	}{}
	for _, e := range in.Entries {
		code, msg := validateEntry(e)
		ev := Event{Resources: e.Resources}
		if e.Source != nil {
			ev.Source = *e.Source
		}
		if e.DetailType != nil {
			ev.DetailType = *e.DetailType
		}
		if e.Detail != nil {
			ev.Detail = json.RawMessage(*e.Detail)
		}
		if e.EventBusName != nil {
			ev.EventBusName = *e.EventBusName
		}
		if code == "" && f.failEntries > 0 {
			f.failEntries--
			code, msg = f.failCode, "injected entry failure"
		}
		if code == "" && f.entryFault != nil {
			if c := f.entryFault(ev); c != "" {
				code, msg = c, "injected entry failure"
			}
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, resultEntry{ErrorCode: code, ErrorMessage: msg})
			continue
		}
		f.seq++
		ev.Received = time.Now()
		f.events = append(f.events, ev)
		out.Entries = append(out.Entries, resultEntry{EventId: fmt.Sprintf("fake-%08d", f.seq)})
	}
	writeJSON(w, http.StatusOK, out)
}

// validateEntry applies EventBridge's per-entry checks.
func validateEntry(e putEventsEntry) (code, msg string) {
	switch {
	case e.Source == nil || *e.Source == "":
		return "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case e.DetailType == nil || *e.DetailType == "":
		return "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case e.Detail == nil || *e.Detail == "":
		return "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	case !utf8.ValidString(*e.Detail):
		return "MalformedDetail", "Detail is malformed."
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*e.Detail), &obj); err != nil {
		return "MalformedDetail", "Detail is malformed."
	}
	return "", ""
}
