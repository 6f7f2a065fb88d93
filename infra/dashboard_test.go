package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/infra/internal/cwdashboard"
)

// line is what a test expects of one plotted metric.
type line struct{ namespace, name, function, stat string }

func (l line) String() string {
	return fmt.Sprintf("%s/%s{Function=%s} %s", l.namespace, l.name, l.function, l.stat)
}

// TestOperationsDashboard: the dashboard is in the template with each
// widget, by title, plotting the metrics the functions emit (names,
// Function dimensions, statistics), and every queue, DLQ and alarm of the
// stack.
func TestOperationsDashboard(t *testing.T) {
	s := defaultStack(t)
	d, err := cwdashboard.FromTemplate(s.doc, "OperationsDashboard")
	if err != nil {
		t.Fatal(err)
	}
	widgets := map[string]cwdashboard.Widget{}
	for _, w := range d.Widgets {
		if _, dup := widgets[w.Title]; dup {
			t.Errorf("two widgets titled %q", w.Title)
		}
		widgets[w.Title] = w
		if w.X < 0 || w.Width < 1 || w.X+w.Width > 24 || w.Height < 1 {
			t.Errorf("%q is placed at x=%d width=%d height=%d, outside the 24-column grid", w.Title, w.X, w.Width, w.Height)
		}
	}
	widget := func(title string) cwdashboard.Widget {
		w, ok := widgets[title]
		if !ok {
			t.Errorf("no widget titled %q (have %v)", title, sortedKeys(widgets))
		}
		return w
	}
	lines := func(w cwdashboard.Widget) []line {
		var out []line
		for _, m := range w.Metrics {
			if m.Expression == "" {
				out = append(out, line{m.Namespace, m.Name, m.Dimensions["Function"], m.Stat})
			}
		}
		return out
	}
	has := func(title string, want ...line) {
		t.Helper()
		got := lines(widget(title))
		for _, l := range want {
			if !slices.Contains(got, l) {
				t.Errorf("%q does not plot %v; it plots %v", title, l, got)
			}
		}
	}
	const ns = "EncompassLifecycle" // pkg/telemetry.Namespace

	has(titleJoinersMoversLeavers,
		line{ns, "Outcome.UserProvisioned", "provision", "Sum"},
		line{ns, "Outcome.UserUpdated", "provision", "Sum"},
		line{ns, "Outcome.UserReactivated", "provision", "Sum"},
		line{ns, "Outcome.UserDeprovisioned", "deprovision", "Sum"})
	for _, m := range widget(titleJoinersMoversLeavers).Metrics {
		if m.Period != 3600 {
			t.Errorf("%s is summed per %d s, want per hour", m.Name, m.Period)
		}
	}

	has(titleExposure,
		line{ns, "ExposureSeconds", "deprovision", "p50"},
		line{ns, "ExposureSeconds", "deprovision", "p99"},
		line{ns, "ExposureSeconds", "deprovision", "Maximum"})

	var calls []line
	for _, fn := range []string{"provision", "deprovision", "poller"} {
		calls = append(calls, line{ns, "EncompassCalls", fn, "Sum"}, line{ns, "EncompassThrottles", fn, "Sum"})
	}
	has(titleEncompassCalls, calls...)

	has(titlePoll, line{ns, "PollDuration", "poller", "Maximum"}, line{ns, "UserChanges", "poller", "Sum"})

	var answers []line
	for _, name := range []string{"WebhookAccepted", "WebhookDuplicate", "WebhookInProgress", "WebhookBadSignature", "WebhookMalformed", "WebhookTooLarge", "WebhookFailedHandOff"} {
		answers = append(answers, line{ns, name, "webhook", "Sum"})
	}
	has(titleWebhook, answers...)
	api := s.logicalID(t, "WebhookApi/Resource")
	var apiErrors []string
	for _, m := range widget(titleWebhook).Metrics {
		if m.Namespace == "AWS/ApiGateway" && m.Dimensions["ApiId"] == "<"+api+">" {
			apiErrors = append(apiErrors, m.Name)
		}
	}
	slices.Sort(apiErrors)
	if !slices.Equal(apiErrors, []string{"4xx", "5xx"}) {
		t.Errorf("webhook widget plots API Gateway %v for %s, want 4xx and 5xx", apiErrors, api)
	}

	// Rejections by reason: a SEARCH over the Reason dimension, so every
	// reason code that occurs gets its line.
	rej := widget(titleRejections)
	if len(rej.Metrics) != 1 || !strings.HasPrefix(rej.Metrics[0].Expression, "SEARCH(") ||
		!strings.Contains(rej.Metrics[0].Expression, `{EncompassLifecycle,Function,Reason} MetricName="Rejected"`) {
		t.Errorf("%q = %+v, want one SEARCH over {EncompassLifecycle,Function,Reason} MetricName=\"Rejected\"", titleRejections, rej.Metrics)
	}

	// Every queue's age and every DLQ's depth.
	queueLines := func(title, metric string) []string {
		var out []string
		for _, m := range widget(title).Metrics {
			if m.Namespace == "AWS/SQS" && m.Name == metric && m.Stat == "Maximum" {
				out = append(out, m.Dimensions["QueueName"])
			}
		}
		slices.Sort(out)
		return out
	}
	queueName := func(construct string) string { return "<" + s.logicalID(t, construct+"/Resource") + ".QueueName>" }
	wantAge := []string{queueName("ProvisionQueue"), queueName("DeprovisionQueue"), queueName("ProvisionQueueDLQ"), queueName("DeprovisionQueueDLQ")}
	slices.Sort(wantAge)
	if got := queueLines(titleQueueAge, "ApproximateAgeOfOldestMessage"); !slices.Equal(got, wantAge) {
		t.Errorf("queue age plots %v, want %v", got, wantAge)
	}
	wantDepth := []string{queueName("ProvisionQueueDLQ"), queueName("DeprovisionQueueDLQ"), queueName("PollerScheduleDLQ"), queueName("AlertRuleDLQ"), queueName("HeldEventsDLQ")}
	slices.Sort(wantDepth)
	if got := queueLines(titleDLQDepth, "ApproximateNumberOfMessagesVisible"); !slices.Equal(got, wantDepth) {
		t.Errorf("DLQ depth plots %v, want %v", got, wantDepth)
	}
	// Every SQS queue of the stack is on the dashboard somewhere.
	for id := range s.resources("AWS::SQS::Queue") {
		if !slices.Contains(wantAge, "<"+id+".QueueName>") && !slices.Contains(wantDepth, "<"+id+".QueueName>") {
			t.Errorf("queue %s is on no dashboard widget", id)
		}
	}

	// The alarm widget lists every alarm of the stack.
	alarms := widget(titleAlarms)
	if alarms.Type != "alarm" || len(alarms.Alarms) != len(s.resources("AWS::CloudWatch::Alarm")) {
		t.Errorf("alarm widget (%s) lists %d alarms, the stack has %d", alarms.Type, len(alarms.Alarms), len(s.resources("AWS::CloudWatch::Alarm")))
	}
	for id := range s.resources("AWS::CloudWatch::Alarm") {
		if !slices.Contains(alarms.Alarms, "<"+id+".Arn>") {
			t.Errorf("alarm %s is not on the alarm widget", id)
		}
	}
}
