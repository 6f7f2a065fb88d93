package provisioning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/sqsbatch"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Message is one SQS message.
type Message struct {
	ID   string
	Body string
}

// Result is what became of one message.
type Result struct {
	// Outcome is the detail-type published ("User Updated", ...) or
	// "unchanged"; empty when the message is to be retried.
	Outcome string
	// Retry reports the message as a batch item failure, so SQS delivers it
	// again (and, after the receive limit, moves it to the DLQ).
	Retry bool
	// Err is what failed: set whenever Retry is, and on an outcome that
	// can never be published.
	Err error
}

// HandleSQS processes one SQS batch and reports the messages to retry
// (pkg/sqsbatch: employees concurrently, one employee's messages in order,
// nothing started when the deadline is near). The error return is always
// nil: every failure is a batch item failure, so nothing is lost.
func (h *Handler) HandleSQS(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	return h.batch.Process(ctx, batch, func(ctx context.Context, r events.SQSMessage) error {
		if res := h.Process(ctx, Message{ID: r.MessageId, Body: r.Body}); res.Retry {
			return res.Err
		}
		return nil
	}), nil
}

// Process handles one message: decode it, then, once per eventId, apply it
// and publish its outcome.
func (h *Handler) Process(ctx context.Context, m Message) Result {
	ctx = withReceived(ctx, h.cfg.Now())
	ev, err := hris.Decode([]byte(m.Body), h.cfg.Queue, h.cfg.Now())
	if err != nil {
		return h.undecodable(ctx, m, err)
	}
	ctx = telemetry.With(ctx, "eventId", ev.EventID, "employeeId", ev.Employee.EmployeeID, "messageId", m.ID, "type", string(ev.Type))
	// The employee's link and held events are read while the event is
	// claimed: three round trips at once (a duplicate wastes the reads).
	first := h.readSituation(ctx, ev.Employee.EmployeeID)
	// The message id owns the claim: the SDK's resend of a claim whose
	// answer was lost, and the redelivery of this message, find it theirs.
	run, err := h.once.Run(ctx, ev.EventID, m.ID, ev.Employee.EmployeeID, func(ctx context.Context, a idempotency.Attempt) (outcome, error) {
		return h.handle(ctx, m, ev, a, false, first)
	})
	switch {
	case err != nil:
		return h.failed(ctx, err)
	case run.Status == idempotency.Duplicate && run.Result.Due != nil && h.dueBy(*run.Result.Due):
		// A held event's due delivery (or the original, redelivered late).
		return h.processDue(ctx, m, ev, *run.Result.Due, first)
	case run.Status == idempotency.Duplicate:
		return h.publishOnly(ctx, h.skip(ev, ReasonDuplicate, ""))
	}
	h.count(ctx, run.Result)
	return Result{Outcome: run.Result.Name}
}

// handle puts the event in its employee's order and applies it, or holds
// it until it is due (hold.go); held says it is a held event coming due,
// first is the employee's situation read beside the claim (nil: read it
// now). A permanent failure becomes the rejection to publish; only what
// may succeed later is returned as an error (the claim is then released
// and the message retried).
func (h *Handler) handle(ctx context.Context, m Message, ev *hris.Event, a idempotency.Attempt, held bool, first situationRead) (outcome, error) {
	out, err := h.place(ctx, m, ev, a, held, first)
	if err == nil {
		return out, nil
	}
	c := failure.Classify(err)
	if c.Kind != failure.Permanent {
		return outcome{}, err
	}
	d := h.base(ev)
	d.Reason, d.Field, d.Error = c.Reason, c.Field, c.Message
	h.log.WarnContext(ctx, "event rejected", "reason", c.Reason, "field", c.Field, "error", c.Message)
	// A failure to keep the body turns the rejection into a retry: the
	// message is never acknowledged with its body lost.
	return h.rejected(ctx, m, d)
}

// undecodable rejects a body that is not a valid HRIS event. Nothing is
// claimed: there may be no event id, and the body will never decode.
func (h *Handler) undecodable(ctx context.Context, m Message, err error) Result {
	he, _ := hris.AsError(err)
	id := he.EventID
	if id == "" {
		id = m.ID
	}
	if id == "" {
		// No message id either (a hand-made local event): a digest of the
		// body still names the rejection, and its stored body.
		sum := sha256.Sum256([]byte(m.Body))
		id = "body-sha256-" + hex.EncodeToString(sum[:8])
	}
	ctx = telemetry.With(ctx, "eventId", id, "employeeId", he.EmployeeID, "messageId", m.ID)
	d := Detail{EventID: id, Type: string(he.Type), EmployeeID: he.EmployeeID, Reason: he.Reason, Field: he.Field, Error: he.Message, DryRun: h.cfg.DryRun}
	out, err := h.rejected(ctx, m, d)
	if err != nil {
		return h.retry(ctx, err)
	}
	return h.publishOnly(ctx, out)
}

// failed turns an error of the claimed path into the message's fate: a
// retry, unless EventBridge refused the outcome for good (no retry can
// publish it: the outcome stays recorded in the claim for an operator).
func (h *Handler) failed(ctx context.Context, err error) Result {
	c := failure.Classify(err)
	if c.Kind == failure.Permanent {
		h.log.ErrorContext(ctx, "the outcome can never be published; it is kept in the event's idempotency record", "error", err.Error())
		h.cfg.Metrics.Add("OutcomeUnpublishable", 1)
		return Result{Outcome: c.Reason, Err: err}
	}
	if c.Kind == failure.Fault {
		h.log.ErrorContext(ctx, "event will be retried: our own fault (configuration, permissions or data)", "error", err.Error())
		h.cfg.Metrics.Add("Retried", 1)
		return Result{Retry: true, Err: err}
	}
	return h.retry(ctx, err)
}

func (h *Handler) retry(ctx context.Context, err error) Result {
	h.log.WarnContext(ctx, "event will be retried", "error", err.Error())
	h.cfg.Metrics.Add("Retried", 1)
	return Result{Retry: true, Err: err}
}

// publishOnly publishes an outcome that needs no claim (decoding rejections
// and duplicates).
func (h *Handler) publishOnly(ctx context.Context, out outcome) Result {
	if err := h.publish(ctx, out); err != nil {
		return h.retry(ctx, err)
	}
	h.count(ctx, out)
	return Result{Outcome: out.Name}
}

// publish hands the outcome's events to EventBridge (the claim's hand-on).
// A change applied is published even when the batch's cut-off for work
// arrives meanwhile: a publish cut halfway may have landed, and its retry
// would publish it twice.
func (h *Handler) publish(ctx context.Context, out outcome) error {
	if len(out.Events) == 0 {
		return nil
	}
	if err := h.cfg.Publisher.Publish(sqsbatch.Finishing(ctx), out.events()...); err != nil {
		return fmt.Errorf("publish %s: %w", out.Name, err)
	}
	return nil
}

// count notes the outcome: a metric per detail-type, rejections and skips
// also by reason (the dashboard's "rejections by reason").
func (h *Handler) count(ctx context.Context, out outcome) {
	h.cfg.Metrics.Add("Outcome."+strings.ReplaceAll(out.Name, " ", ""), 1)
	if reason := out.Reason; reason != "" {
		metric := "Skipped"
		if out.Name == catalog.HRISEventRejected {
			metric = "Rejected"
		}
		h.cfg.Metrics.AddBy(metric, "Reason", reason, 1)
	}
	h.log.InfoContext(ctx, "event processed", "outcome", out.Name, "dryRun", h.cfg.DryRun)
}

type receivedKey struct{}

// withReceived notes when the message reached the function: the start of a
// leaver's receipt.
func withReceived(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, receivedKey{}, t)
}

// receivedAt is when the message reached the function (now outside Process).
func (h *Handler) receivedAt(ctx context.Context) time.Time {
	if t, ok := ctx.Value(receivedKey{}).(time.Time); ok {
		return t
	}
	return h.cfg.Now()
}

// peekEmployeeID reads the employee id of a body for grouping a message
// that has no FIFO message group (standard queues, local runs).
func peekEmployeeID(body string) string {
	var v struct {
		Employee struct {
			EmployeeID string `json:"employeeId"`
		} `json:"employee"`
	}
	if len(body) > 1<<16 || json.Unmarshal([]byte(body), &v) != nil {
		return ""
	}
	return v.Employee.EmployeeID
}
