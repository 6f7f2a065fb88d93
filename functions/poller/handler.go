package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Handler runs one poll per scheduled event.
type Handler struct {
	// base is the poller configuration shared by every invocation; each
	// invocation adds its request id as the lease owner.
	base poll.Config
	// metrics collects the invocation's metrics (the Encompass client adds
	// EncompassCalls and EncompassThrottles to it).
	metrics *telemetry.Metrics
	log     *slog.Logger
	// handle is run, ending each invocation with its metrics line, one EMF
	// line per poll to NewHandler's out (coldstart.Flushing, with record's
	// counts).
	handle func(context.Context, events.CloudWatchEvent) (poll.Summary, error)
}

// NewHandler returns a handler.
func NewHandler(base poll.Config, metrics *telemetry.Metrics, out io.Writer, log *slog.Logger) *Handler {
	base.Logger = log
	h := &Handler{base: base, metrics: metrics, log: log}
	h.handle = coldstart.Flushing(metrics, out, log, h.run, h.record)
	return h
}

// Handle runs a poll for an EventBridge scheduled event and returns what it
// did, and writes the poll's metrics line. A failed poll returns an error
// (the asynchronous invocation is then retried by Lambda), having published
// nothing it did not also record.
func (h *Handler) Handle(ctx context.Context, ev events.CloudWatchEvent) (poll.Summary, error) {
	return h.handle(ctx, ev)
}

// run runs one poll and logs how it ended.
func (h *Handler) run(ctx context.Context, ev events.CloudWatchEvent) (poll.Summary, error) {
	cfg := h.base
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		cfg.Owner = lc.AwsRequestID
	}
	ctx = telemetry.With(ctx, "eventId", ev.ID, "scheduledAt", ev.Time.Format(time.RFC3339))
	p, err := poll.New(cfg)
	if err != nil {
		return poll.Summary{}, err
	}
	sum, err := p.Run(ctx)
	// Every call since the last flush is this poll's (token included).
	calls := h.metrics.Value("EncompassCalls")
	if err != nil {
		// Lambda retries the poll either way; a fault (credentials,
		// permissions, damaged items) needs a person, a passing one does not.
		level := slog.LevelWarn
		if failure.Classify(err).Kind != failure.Retryable {
			level = slog.LevelError
		}
		h.log.Log(ctx, level, "poller: poll failed", "error", err, "summary", sum, "apiCalls", calls)
		return sum, fmt.Errorf("poller: %w", err)
	}
	h.log.InfoContext(ctx, "poller: poll done", "summary", sum, "apiCalls", calls)
	return sum, nil
}

// record adds the poll's own metrics; Flushing writes them with the
// Encompass client's.
func (h *Handler) record(_ events.CloudWatchEvent, sum poll.Summary, err error) {
	m := h.metrics
	m.Add("UsersListed", float64(sum.Listed))
	m.Add("UserChanges", float64(sum.Created+sum.Changed+sum.Disabled+sum.Enabled+sum.Removed+sum.Drift))
	m.Add("EventsPublished", float64(sum.Events))
	m.Add("SnapshotWrites", float64(sum.Writes))
	// Every call since the last flush is this poll's (token included).
	m.Add("APICalls", m.Value("EncompassCalls"))
	m.Add("PollFailed", boolMetric(err != nil))
	m.Add("PollAnomaly", boolMetric(sum.Outcome == poll.OutcomeAnomaly))
	m.Add("PollStopped", boolMetric(sum.Outcome == poll.OutcomeStopped))
	// A listing staged for the next run, and one taken over from an earlier
	// run: a tenant that needs these regularly wants a longer timeout.
	m.Add("UsersStaged", float64(sum.Staged))
	m.Add("UsersResumed", float64(sum.Resumed))
	m.AddUnit("PollDuration", float64(sum.Duration.Milliseconds()), telemetry.Milliseconds)
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
