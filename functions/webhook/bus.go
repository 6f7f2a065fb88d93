package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Bus adapts *publish.Publisher to EventPublisher: one event, source
// encompass.webhook, the delivered payload as detail.
type Bus struct{ Publisher *publish.Publisher }

// PublishWebhook puts the delivery on the bus.
func (b Bus) PublishWebhook(ctx context.Context, detailType string, detail json.RawMessage) error {
	return b.Publisher.Publish(ctx, publish.Event{Source: publish.SourceWebhook, DetailType: detailType, Detail: detail})
}

// EMFRecorder writes one embedded-metric-format line per outcome to W
// (stdout in Lambda, where CloudWatch turns it into the metric).
type EMFRecorder struct {
	W io.Writer
	// Dimensions are fixed per function, e.g. {"Function": "webhook"}.
	Dimensions map[string]string
}

// MetricName is the CloudWatch metric of an outcome, e.g. WebhookBadSignature.
func MetricName(o Outcome) string {
	switch o {
	case OutcomeAccepted:
		return "WebhookAccepted"
	case OutcomeDuplicate:
		return "WebhookDuplicate"
	case OutcomeBadSignature:
		return "WebhookBadSignature"
	case OutcomeMalformed:
		return "WebhookMalformed"
	case OutcomeTooLarge:
		return "WebhookTooLarge"
	default:
		return "WebhookFailedHandOff"
	}
}

// RecordOutcome writes the count of one outcome. A failed write is dropped:
// a metric must never change the answer to Encompass.
func (r EMFRecorder) RecordOutcome(_ context.Context, o Outcome) {
	m := telemetry.NewMetrics(telemetry.Namespace, r.Dimensions)
	m.Add(MetricName(o), 1)
	_ = m.Flush(r.W)
}
