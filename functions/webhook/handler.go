package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

// Routes served by the handler (CONTRACTS section 4).
const (
	deliveryRoute = "POST /webhooks/encompass"
	healthRoute   = "GET /webhooks/encompass/health"
)

// Header names Encompass sends with every delivery (field-notes, Webhooks).
const (
	signatureHeader    = encompass.HeaderSignature
	subscriptionHeader = encompass.HeaderSubscriptionID
)

const (
	// MaxBodyBytes is the largest delivery accepted (CONTRACTS section 4): 256 KiB.
	MaxBodyBytes = 256 << 10

	// DedupTTL is how long a delivered eventId is remembered. Encompass retries for
	// about 8 hours at most, so a week is ample and matches ARCHITECTURE.md.
	DedupTTL = 7 * 24 * time.Hour

	// releaseTimeout bounds the clean-up after a failed hand-off. It runs on a
	// context detached from the request so that a client that has already hung up
	// cannot leave a claim behind that would swallow Encompass's retry.
	releaseTimeout = 5 * time.Second

	// releaseReserve is the part of the Lambda deadline kept for releasing the
	// claim: a publish still retrying when the function is killed would leave the
	// claim behind, and Encompass's retry would be dropped as a duplicate.
	releaseReserve = 2 * time.Second

	// Limits on the fields that become keys and the EventBridge detail-type. An
	// eventId ends up in a DynamoDB key and in logs; detail-type is limited to 128
	// characters by EventBridge.
	maxEventIDLen    = 256
	maxDetailTypeLen = 128
)

// Source is the EventBridge source of every forwarded delivery (CONTRACTS section 3).
const Source = publish.SourceWebhook

// Outcome names what became of one request. Each outcome is one metric and one
// log line; the names are stable because dashboards and alarms use them.
type Outcome string

// The outcomes of POST /webhooks/encompass.
const (
	OutcomeAccepted      Outcome = "accepted"
	OutcomeDuplicate     Outcome = "duplicate"
	OutcomeBadSignature  Outcome = "bad_signature"
	OutcomeMalformed     Outcome = "malformed"
	OutcomeTooLarge      Outcome = "too_large"
	OutcomeFailedHandOff Outcome = "failed_handoff"
)

// Outcomes lists every outcome, in the order of the checks.
var Outcomes = []Outcome{OutcomeTooLarge, OutcomeBadSignature, OutcomeMalformed, OutcomeDuplicate, OutcomeFailedHandOff, OutcomeAccepted}

// status is the HTTP answer for each outcome (CONTRACTS section 4).
func (o Outcome) status() int {
	switch o {
	case OutcomeAccepted, OutcomeDuplicate:
		return http.StatusOK
	case OutcomeBadSignature:
		return http.StatusUnauthorized
	case OutcomeMalformed:
		return http.StatusBadRequest
	case OutcomeTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusServiceUnavailable
	}
}

// SignatureVerifier checks an Elli-Signature over the raw body with the keys of
// the subscription. encompass.SigningKeys implements it.
type SignatureVerifier interface {
	Verify(subscriptionID string, body []byte, signature string) error
}

// DeliveryClaims de-duplicates deliveries on eventId: the idempotency layer
// over the state table's claims (idempotency.Layer). The work is the hand-on
// to EventBridge; a copy that arrives while another is handed on gets
// idempotency.ErrInProgress, a delivery completed before is a Duplicate.
type DeliveryClaims interface {
	Run(ctx context.Context, id, owner, employeeID string, work func(context.Context, idempotency.Attempt) (struct{}, error)) (idempotency.Outcome[struct{}], error)
}

// EventPublisher puts one event on the bus with source Source.
type EventPublisher interface {
	PublishWebhook(ctx context.Context, detailType string, detail json.RawMessage) error
}

// OutcomeRecorder counts outcomes (as embedded-metric-format log lines in Lambda).
type OutcomeRecorder interface {
	RecordOutcome(ctx context.Context, outcome Outcome)
}

// Handler receives Encompass webhook deliveries. Build it with NewHandler.
type Handler struct {
	verifier  SignatureVerifier
	claims    DeliveryClaims
	publisher EventPublisher
	metrics   OutcomeRecorder
	log       *slog.Logger
	mux       *http.ServeMux
}

// NewHandler returns the http.Handler for both routes. The same value serves the
// Lambda (through httpadapter.NewV2) and the local HTTP server.
func NewHandler(v SignatureVerifier, c DeliveryClaims, p EventPublisher, m OutcomeRecorder, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{verifier: v, claims: c, publisher: p, metrics: m, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc(deliveryRoute, h.receive)
	h.mux.HandleFunc(healthRoute, health)
	return h
}

// ServeHTTP routes to the delivery and health endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// health answers without touching any dependency, so that it says whether the
// function runs, not whether DynamoDB or EventBridge do.
func health(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, "ok")
}

// receive runs the checks in the contract's order (size, signature, payload),
// then claims the eventId and hands the payload on. It answers 200 only once the
// event is on the bus or was put there before.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	subscriptionID := r.Header.Get(subscriptionHeader)
	log := h.log.With("subscriptionId", truncate(subscriptionID, 64))

	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			h.finish(ctx, w, log, OutcomeTooLarge, "body over 256 KiB")
			return
		}
		// A body that cannot be read (client hung up) is answered like a failed
		// hand-off: Encompass retries and nothing is lost.
		h.finish(ctx, w, log, OutcomeFailedHandOff, "read body", "error", err.Error())
		return
	}

	d, err := VerifyAndDecode(h.verifier, subscriptionID, r.Header.Get(signatureHeader), body)
	if err != nil {
		outcome := OutcomeMalformed
		switch {
		case errors.Is(err, ErrUnauthorized):
			outcome = OutcomeBadSignature
		case errors.Is(err, errEntryTooLarge):
			outcome = OutcomeTooLarge
		}
		h.finish(ctx, w, log, outcome, err.Error())
		return
	}
	log = log.With("eventId", d.EventID, "resourceType", d.Meta.ResourceType, "eventType", d.EventType)

	owner, err := requestToken()
	if err != nil {
		h.finish(ctx, w, log, OutcomeFailedHandOff, "claim token", "error", err.Error())
		return
	}
	out, err := h.claims.Run(ctx, d.EventID, owner, "", func(ctx context.Context, _ idempotency.Attempt) (struct{}, error) {
		pctx, cancel := publishContext(ctx)
		defer cancel()
		return struct{}{}, h.publisher.PublishWebhook(pctx, d.DetailType(), json.RawMessage(body))
	})
	switch {
	case errors.Is(err, idempotency.ErrInProgress):
		// Another copy is being handed on: never 200 before it is on the
		// bus, or Encompass stops retrying a delivery that may yet fail.
		h.finish(ctx, w, log, OutcomeFailedHandOff, "a copy of this delivery is being handed on")
	case err != nil:
		h.finish(ctx, w, log, OutcomeFailedHandOff, "publish", "error", err.Error())
	case out.Status == idempotency.Duplicate:
		h.finish(ctx, w, log, OutcomeDuplicate, "eventId seen before")
	default:
		h.finish(ctx, w, log, OutcomeAccepted, "published")
	}
}

// requestToken names one request's claim, so that the SDK's resend of a
// claim whose answer was lost finds it its own.
func requestToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random claim token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// publishContext ends the publish releaseReserve before the request's deadline
// (in Lambda, the function's), so that the claim can still be released.
func publishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-releaseReserve))
	}
	return context.WithCancel(ctx)
}

// finish logs the outcome (never the body, signature or key), counts it and
// writes the small JSON answer.
func (h *Handler) finish(ctx context.Context, w http.ResponseWriter, log *slog.Logger, o Outcome, msg string, args ...any) {
	level := slog.LevelInfo
	switch o {
	case OutcomeFailedHandOff:
		level = slog.LevelError
	case OutcomeBadSignature, OutcomeMalformed, OutcomeTooLarge:
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "webhook "+string(o), append([]any{"outcome", string(o), "detail", msg}, args...)...)
	if h.metrics != nil {
		h.metrics.RecordOutcome(ctx, o)
	}
	writeStatus(w, o.status(), string(o))
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	// status is one of our constants, never input, so it needs no escaping.
	_, _ = io.WriteString(w, `{"status":"`+status+`"}`)
}

var errTooLarge = errors.New("body too large")

// readBody reads the whole body, at most limit bytes. It allocates once when
// the length is declared (the API Gateway adapter always declares it).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	defer rd.Close()
	size := int64(512)
	if r.ContentLength >= 0 {
		// One byte more than declared, so that reading to EOF needs no regrowth.
		size = r.ContentLength + 1
	}
	buf := make([]byte, 0, size)
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errTooLarge
			}
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// ErrUnauthorized wraps every signature failure: missing header, unknown
// subscription, a signature that is not base64 or does not match. The
// verifier's own error (encompass.ErrUnknownSubscription, ErrBadSignature) is
// kept in the message for the log.
var ErrUnauthorized = errors.New("unauthorized")

// ErrMalformed wraps every payload failure.
var ErrMalformed = errors.New("malformed payload")

// VerifyAndDecode is the request path without I/O: check the signature over the
// raw body, then decode and validate the payload. Errors wrap ErrUnauthorized or
// ErrMalformed and never contain the body, the signature or a key.
func VerifyAndDecode(v SignatureVerifier, subscriptionID, signature string, body []byte) (encompass.WebhookEvent, error) {
	var none encompass.WebhookEvent
	switch {
	case subscriptionID == "":
		return none, fmt.Errorf("%w: no %s header", ErrUnauthorized, subscriptionHeader)
	case signature == "":
		return none, fmt.Errorf("%w: no %s header", ErrUnauthorized, signatureHeader)
	}
	if err := v.Verify(subscriptionID, body, signature); err != nil {
		// The verifier's error names the failure (unknown subscription, bad
		// signature) and, by its contract, nothing secret.
		return none, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	ev, err := encompass.ParseWebhookEvent(body)
	if err != nil {
		return none, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := validate(ev); err != nil {
		return none, err
	}
	if size := entryOverhead + len(ev.DetailType()) + len(body); size > maxEntryBytes {
		return none, fmt.Errorf("%w: %d bytes with source and detail-type, limit %d", errEntryTooLarge, size, maxEntryBytes)
	}
	return ev, nil
}

// validate adds the receiver's own limits to encompass.ParseWebhookEvent's
// checks: the eventId becomes a DynamoDB key and a log field, the two names
// become the EventBridge detail-type.
func validate(d encompass.WebhookEvent) error {
	switch {
	case len(d.EventID) > maxEventIDLen:
		return fmt.Errorf("%w: eventId longer than %d bytes", ErrMalformed, maxEventIDLen)
	case !printable(d.EventID):
		return fmt.Errorf("%w: eventId has control or invalid characters", ErrMalformed)
	case !printable(d.EventType) || !printable(d.Meta.ResourceType):
		return fmt.Errorf("%w: eventType or meta.resourceType has control or invalid characters", ErrMalformed)
	case utf8.RuneCountInString(d.DetailType()) > maxDetailTypeLen:
		return fmt.Errorf("%w: meta.resourceType and eventType longer than %d characters together", ErrMalformed, maxDetailTypeLen)
	}
	return nil
}

// errEntryTooLarge: the body fits the 256 KiB limit but the EventBridge entry
// (source + detail-type + detail + time) would not, so PutEvents would refuse it
// on every retry. Answering 413 ends the retries instead of failing for 8 hours.
var errEntryTooLarge = errors.New("event too large for EventBridge")

// maxEntryBytes is EventBridge's PutEvents entry limit; entryOverhead is the
// fixed part of its size calculation (no Time or Resources are sent). The raw
// body is counted: pkg/publish compacts it, so the entry can only be smaller.
const (
	maxEntryBytes = 256 << 10
	entryOverhead = len(Source)
)

// printable rejects strings that would corrupt keys, logs or the detail-type.
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
