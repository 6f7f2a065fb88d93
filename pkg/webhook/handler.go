// Package webhook receives Encompass webhook deliveries (CONTRACTS section
// 4): it checks the size, the Elli-Signature and the payload, in that order,
// then hands each verified delivery on to EventBridge exactly once per
// eventId, under the idempotency layer. It answers 200 only once the event
// is on the bus, 4xx for what can never succeed, 503 for what can later.
//
// One Handler serves both transports: the API Gateway HTTP API in Lambda
// (ServeAPIGateway) and a plain HTTP server for local runs (ServeHTTP).
// functions/webhook only wires it.
package webhook

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
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
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

// releaseReserve is the part of the Lambda deadline kept for releasing the
// claim after a publish that did not finish: a publish still retrying when
// the function is killed would leave the claim in progress, and Encompass's
// retries would be answered 503 until its lease ends.
const releaseReserve = 2 * time.Second

// Verifier checks an Elli-Signature over the raw body with the keys of the
// subscription (*Keys).
type Verifier interface {
	Verify(ctx context.Context, subscriptionID string, body []byte, signature string) error
}

// Claims de-duplicates deliveries on eventId: the idempotency layer over
// the state table's claims (NewClaims). The work is the hand-on to
// EventBridge; a copy that arrives while another is handed on gets
// idempotency.ErrInProgress, a delivery completed before is a Duplicate.
type Claims interface {
	Run(ctx context.Context, id, owner, employeeID string, work func(context.Context, idempotency.Attempt) (struct{}, error)) (idempotency.Outcome[struct{}], error)
}

// Publisher puts one verified delivery on the bus (Bus).
type Publisher interface {
	PublishWebhook(ctx context.Context, detailType string, detail json.RawMessage) error
}

// Recorder counts outcomes (EMFRecorder).
type Recorder interface {
	RecordOutcome(ctx context.Context, outcome Outcome)
}

// Deps are what the handler talks to. Metrics and Logger may be nil.
type Deps struct {
	Keys      Verifier
	Claims    Claims
	Publisher Publisher
	Metrics   Recorder
	Logger    *slog.Logger
}

// Handler receives Encompass webhook deliveries. Build it with NewHandler.
type Handler struct {
	deps    Deps
	log     *slog.Logger
	mux     *http.ServeMux
	adapter *httpadapter.HandlerAdapterV2
}

// NewHandler returns the handler of both routes.
func NewHandler(d Deps) *Handler {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{deps: d, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc(deliveryRoute, h.receive)
	h.mux.HandleFunc(healthRoute, health)
	h.adapter = httpadapter.NewV2(h)
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
// then hands the payload on under the claim of its eventId.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	subscriptionID := r.Header.Get(subscriptionHeader)
	log := h.log.With("subscriptionId", truncate(subscriptionID, 64))

	body, err := readBody(w, r, MaxBodyBytes)
	switch {
	case errors.Is(err, errTooLarge):
		h.finish(ctx, w, log, verdict{outcome: OutcomeTooLarge, detail: "body over 256 KiB"})
		return
	case err != nil:
		// A body that cannot be read (client hung up) is answered like a
		// failed hand-off: Encompass retries and nothing is lost.
		h.finish(ctx, w, log, verdict{outcome: OutcomeFailedHandOff, detail: "read body", err: err})
		return
	}

	d, err := verifyAndDecode(ctx, h.deps.Keys, subscriptionID, r.Header.Get(signatureHeader), body)
	if err != nil {
		v := verdict{outcome: OutcomeMalformed, detail: err.Error()}
		switch {
		case errors.Is(err, errUnauthorized):
			v.outcome = OutcomeBadSignature
		case errors.Is(err, errEntryTooLarge):
			v.outcome = OutcomeTooLarge
		}
		h.finish(ctx, w, log, v)
		return
	}
	log = log.With("eventId", d.EventID, "resourceType", d.Meta.ResourceType, "eventType", d.EventType)
	h.finish(ctx, w, log, h.handOn(ctx, d, body))
}

// verdict is what became of one request: its outcome, why, and the error
// behind a failed hand-off.
type verdict struct {
	outcome Outcome
	detail  string
	err     error
}

// handOn publishes the delivery under the claim of its eventId. It is 200
// only once the event is on the bus, now or before.
func (h *Handler) handOn(ctx context.Context, d encompass.WebhookEvent, body []byte) verdict {
	owner, err := requestToken()
	if err != nil {
		return verdict{outcome: OutcomeFailedHandOff, detail: "claim token", err: err}
	}
	out, err := h.deps.Claims.Run(ctx, d.EventID, owner, "", func(ctx context.Context, _ idempotency.Attempt) (struct{}, error) {
		pctx, cancel := publishContext(ctx)
		defer cancel()
		return struct{}{}, h.deps.Publisher.PublishWebhook(pctx, d.DetailType(), json.RawMessage(body))
	})
	switch {
	case errors.Is(err, idempotency.ErrInProgress):
		// Another copy is being handed on (or crashed within its lease):
		// never 200 before it is on the bus, or Encompass stops retrying a
		// delivery that may yet fail.
		return verdict{outcome: OutcomeInProgress, detail: "a copy of this delivery is being handed on"}
	case err != nil:
		return verdict{outcome: OutcomeFailedHandOff, detail: "hand-off failed", err: err}
	case out.Status == idempotency.Duplicate:
		return verdict{outcome: OutcomeDuplicate, detail: "eventId handed on before"}
	}
	return verdict{outcome: OutcomeAccepted, detail: "published"}
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

// finish records the verdict and writes the small JSON answer.
func (h *Handler) finish(ctx context.Context, w http.ResponseWriter, log *slog.Logger, v verdict) {
	h.record(ctx, log, v)
	writeStatus(w, v.outcome.status(), string(v.outcome))
}

// record logs the verdict (never the body, signature or key) and counts it.
func (h *Handler) record(ctx context.Context, log *slog.Logger, v verdict) {
	args := []any{"outcome", string(v.outcome), "detail", v.detail}
	class := failure.Classify(v.err).Kind
	if v.err != nil {
		args = append(args, "error", v.err.Error(), "class", class.String())
	}
	log.Log(ctx, v.level(class), "webhook "+string(v.outcome), args...)
	if h.deps.Metrics != nil {
		h.deps.Metrics.RecordOutcome(ctx, v.outcome)
	}
}

// level: a failed hand-off is an error when failure.Classify says it is our
// own fault or can never pass (an operator must act), a warning when it may
// pass on Encompass's retry; the answer is 503 either way (CONTRACTS
// section 4). Refused requests are warnings: someone sent them.
func (v verdict) level(class failure.Kind) slog.Level {
	switch v.outcome {
	case OutcomeFailedHandOff:
		if class == failure.Retryable {
			return slog.LevelWarn
		}
		return slog.LevelError
	case OutcomeBadSignature, OutcomeMalformed, OutcomeTooLarge, OutcomeInProgress:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	// status is one of our constants, never input, so it needs no escaping.
	_, _ = io.WriteString(w, statusBody(status))
}

func statusBody(status string) string { return `{"status":"` + status + `"}` }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
