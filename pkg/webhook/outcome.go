package webhook

import (
	"context"
	"io"
	"net/http"

	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Outcome names what became of one request. Each outcome is one metric and
// one log line; the names are stable because dashboards and alarms use them.
type Outcome string

// The outcomes of POST /webhooks/encompass.
const (
	OutcomeAccepted  Outcome = "accepted"
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeInProgress: a copy of the delivery is being handed on (or one
	// crashed within its claim's lease); 503 until it is on the bus.
	OutcomeInProgress    Outcome = "in_progress"
	OutcomeBadSignature  Outcome = "bad_signature"
	OutcomeMalformed     Outcome = "malformed"
	OutcomeTooLarge      Outcome = "too_large"
	OutcomeFailedHandOff Outcome = "failed_handoff"
)

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

// metricName is the CloudWatch metric of an outcome, e.g. WebhookBadSignature.
func metricName(o Outcome) string {
	switch o {
	case OutcomeAccepted:
		return "WebhookAccepted"
	case OutcomeDuplicate:
		return "WebhookDuplicate"
	case OutcomeInProgress:
		return "WebhookInProgress"
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

// EMFRecorder writes one embedded-metric-format line per outcome to W
// (stdout in Lambda, where CloudWatch turns it into the metric).
type EMFRecorder struct {
	W io.Writer
	// Dimensions are fixed per function, e.g. {"Function": "webhook"}.
	Dimensions map[string]string
}

// RecordOutcome writes the count of one outcome. A failed write is dropped:
// a metric must never change the answer to Encompass.
func (r EMFRecorder) RecordOutcome(_ context.Context, o Outcome) {
	m := telemetry.NewMetrics(telemetry.Namespace, r.Dimensions)
	m.Add(metricName(o), 1)
	_ = m.Flush(r.W)
}
