package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Handler runs one poll per scheduled event.
type Handler struct {
	// base is the poller configuration shared by every invocation; each
	// invocation adds its request id as the lease owner.
	base poll.Config
	// apiCalls counts Encompass HTTP exchanges (fed by the client's OnCall
	// hook), so each poll can report its own share.
	apiCalls *atomic.Int64
	metrics  io.Writer
	log      *slog.Logger
}

// NewHandler returns a handler. apiCalls is the counter the Encompass
// client's OnCall hook increments; metrics receives one EMF line per poll.
func NewHandler(base poll.Config, apiCalls *atomic.Int64, metrics io.Writer, log *slog.Logger) *Handler {
	if apiCalls == nil {
		apiCalls = new(atomic.Int64)
	}
	base.Logger = log
	return &Handler{base: base, apiCalls: apiCalls, metrics: metrics, log: log}
}

// Handle runs a poll for an EventBridge scheduled event and returns what it
// did. A failed poll returns an error (the asynchronous invocation is then
// retried by Lambda), having published nothing it did not also record.
func (h *Handler) Handle(ctx context.Context, ev events.CloudWatchEvent) (poll.Summary, error) {
	cfg := h.base
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		cfg.Owner = lc.AwsRequestID
	}
	ctx = telemetry.With(ctx, "eventId", ev.ID, "scheduledAt", ev.Time.Format(time.RFC3339))
	p, err := poll.New(cfg)
	if err != nil {
		return poll.Summary{}, err
	}
	calls0 := h.apiCalls.Load()
	sum, err := p.Run(ctx)
	calls := h.apiCalls.Load() - calls0

	m := telemetry.NewMetrics(telemetry.Namespace, map[string]string{"Function": "poller"})
	m.Add("UsersListed", float64(sum.Listed))
	m.Add("UserChanges", float64(sum.Created+sum.Changed+sum.Disabled+sum.Enabled+sum.Removed+sum.Drift))
	m.Add("EventsPublished", float64(sum.Events))
	m.Add("SnapshotWrites", float64(sum.Writes))
	m.Add("APICalls", float64(calls))
	m.Add("PollFailed", boolMetric(err != nil))
	m.Add("PollAnomaly", boolMetric(sum.Outcome == poll.OutcomeAnomaly))
	m.Add("PollStopped", boolMetric(sum.Outcome == poll.OutcomeStopped))
	// A listing staged for the next run, and one taken over from an earlier
	// run: a tenant that needs these regularly wants a longer timeout.
	m.Add("UsersStaged", float64(sum.Staged))
	m.Add("UsersResumed", float64(sum.Resumed))
	m.AddUnit("PollDuration", float64(sum.Duration.Milliseconds()), telemetry.Milliseconds)
	if ferr := m.Flush(h.metrics); ferr != nil {
		h.log.WarnContext(ctx, "poller: write metrics", "error", ferr)
	}
	if err != nil {
		h.log.ErrorContext(ctx, "poller: poll failed", "error", err, "summary", sum, "apiCalls", calls)
		return sum, fmt.Errorf("poller: %w", err)
	}
	h.log.InfoContext(ctx, "poller: poll done", "summary", sum, "apiCalls", calls)
	return sum, nil
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
