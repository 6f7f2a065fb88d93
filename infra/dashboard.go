package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// Dashboard widget titles: the operations team finds a widget by its title,
// and TestOperationsDashboard checks each one is there.
const (
	titleJoinersMoversLeavers = "Joiners, movers and leavers per hour"
	titleRejections           = "Rejected HRIS events by reason (per hour)"
	titleExposure             = "Leaver exposure: HRIS terminate to account disabled"
	titleEncompassCalls       = "Encompass calls and 429s"
	titleQueueAge             = "HRIS queues: age of the oldest message"
	titleDLQDepth             = "Dead-letter queues: messages waiting"
	titleAlarms               = "Alarms"
	titlePoll                 = "Poller: duration and changes per poll"
	titleWebhook              = "Webhook answers by status"
	titleReconciliation       = "Reconciliation: findings by class per roster"
)

// Metrics the functions emit in the embedded metric format, namespace
// metricsNamespace, each with the dimension Function=<function> (see
// pkg/telemetry and CONTRACTS section 3 for the outcome names).
const (
	metricOutcomeProvisioned   = "Outcome.UserProvisioned"
	metricOutcomeUpdated       = "Outcome.UserUpdated"
	metricOutcomeReactivated   = "Outcome.UserReactivated"
	metricOutcomeDeprovisioned = "Outcome.UserDeprovisioned"
	// metricRejected has the dimensions {Function, Reason}; Reason is a
	// CONTRACTS reason code (invalid_json, invalid_field, wrong_queue, ...).
	metricRejected           = "Rejected"
	metricExposureSeconds    = "ExposureSeconds"
	metricEncompassCalls     = "EncompassCalls"
	metricEncompassThrottles = "EncompassThrottles"
	metricPollDuration       = "PollDuration" // milliseconds
	metricUserChanges        = "UserChanges"
	// metricFindings has the dimensions {Function, Class}: one value per
	// finding class of each reconciled roster.
	metricFindings              = "Findings"
	metricReconciliationRefused = "ReconciliationRefused"
	metricEventsSent            = "EventsSent"
	metricWebhookFailedHandOff  = "WebhookFailedHandOff"
)

// webhookAnswerMetrics are the webhook's answers, one metric per outcome
// (pkg/webhook/outcome.go).
var webhookAnswerMetrics = []struct{ name, label string }{
	{"WebhookAccepted", "accepted (200)"},
	{"WebhookDuplicate", "duplicate (200)"},
	{"WebhookInProgress", "in progress (503)"},
	{"WebhookBadSignature", "bad signature (401)"},
	{"WebhookMalformed", "malformed (400)"},
	{"WebhookTooLarge", "too large (413)"},
	{metricWebhookFailedHandOff, "failed hand-off (503)"},
}

// dimension is one more dimension of a function's metric, besides Function.
type dimension struct{ name, value string }

// fnMetric is a metric function fn emits in the embedded metric format
// (namespace metricsNamespace, dimension Function=fn, and dims): its stat
// over period, labelled on a graph with label ("" leaves CloudWatch's,
// as an alarm's metric does).
func fnMetric(fn, name, stat, label string, period awscdk.Duration, dims ...dimension) awscloudwatch.IMetric {
	dimensions := map[string]*string{"Function": jsii.String(fn)}
	for _, d := range dims {
		dimensions[d.name] = jsii.String(d.value)
	}
	props := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(metricsNamespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &dimensions,
		Statistic:     jsii.String(stat),
		Period:        period,
	}
	if label != "" {
		props.Label = jsii.String(label)
	}
	return awscloudwatch.NewMetric(props)
}

// dashboardName is unique per account and region (CloudWatch dashboards are
// global to the account, so the region keeps two deployments apart).
func dashboardName() *string {
	return jsii.String(StackName + "-" + *awscdk.Aws_REGION())
}

// defineDashboard creates OperationsDashboard, the first thing an
// operations team opens: what the lifecycle did (joiners, movers, leavers,
// rejections), how fast leavers lost access, how hard Encompass is pushed,
// and whether anything is stuck (queue age, DLQs, alarms, poller, webhook).
func (s *LifecycleStack) defineDashboard() {
	hour := awscdk.Duration_Hours(jsii.Number(1))
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	pollPeriod := awscdk.Duration_Minutes(jsii.Number(float64(s.Config.PollRateMinutes)))

	axis := func(label string) *awscloudwatch.YAxisProps {
		return &awscloudwatch.YAxisProps{Label: jsii.String(label), Min: jsii.Number(0), ShowUnits: jsii.Bool(false)}
	}
	graph := func(title string, width float64, props awscloudwatch.GraphWidgetProps) awscloudwatch.IWidget {
		props.Title = jsii.String(title)
		props.Width = jsii.Number(width)
		props.Height = jsii.Number(6)
		return awscloudwatch.NewGraphWidget(&props)
	}

	lifecycle := graph(titleJoinersMoversLeavers, 12, awscloudwatch.GraphWidgetProps{
		View:    awscloudwatch.GraphWidgetView_BAR,
		Stacked: jsii.Bool(true),
		Left: &[]awscloudwatch.IMetric{
			fnMetric("provision", metricOutcomeProvisioned, "Sum", "joiners (provisioned)", hour),
			fnMetric("provision", metricOutcomeUpdated, "Sum", "movers (updated)", hour),
			fnMetric("provision", metricOutcomeReactivated, "Sum", "rehires (reactivated)", hour),
			fnMetric("deprovision", metricOutcomeDeprovisioned, "Sum", "leavers (deprovisioned)", hour),
		},
		LeftYAxis: axis("events per hour"),
	})

	exposure := graph(titleExposure, 12, awscloudwatch.GraphWidgetProps{
		Left: &[]awscloudwatch.IMetric{
			fnMetric("deprovision", metricExposureSeconds, "p50", "p50", fiveMinutes),
			fnMetric("deprovision", metricExposureSeconds, "p99", "p99", fiveMinutes),
			fnMetric("deprovision", metricExposureSeconds, "Maximum", "max", fiveMinutes),
		},
		LeftYAxis: axis("seconds"),
	})

	// One line per (function, reason) that occurred: a SEARCH finds every
	// Reason value, so a new reason code needs no dashboard change.
	rejections := graph(titleRejections, 12, awscloudwatch.GraphWidgetProps{
		View:    awscloudwatch.GraphWidgetView_BAR,
		Stacked: jsii.Bool(true),
		Left: &[]awscloudwatch.IMetric{awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,Function,Reason} MetricName="%s"', 'Sum', 3600)`, metricsNamespace, metricRejected)),
			Label:      jsii.String("${PROP('Dim.Function')} ${PROP('Dim.Reason')}"),
			Period:     hour,
		})},
		LeftYAxis: axis("events per hour"),
	})

	var calls, throttles []awscloudwatch.IMetric
	for _, fn := range []string{"provision", "deprovision", "poller"} {
		calls = append(calls, fnMetric(fn, metricEncompassCalls, "Sum", fn+" calls", fiveMinutes))
		throttles = append(throttles, fnMetric(fn, metricEncompassThrottles, "Sum", fn+" 429s", fiveMinutes))
	}
	encompass := graph(titleEncompassCalls, 12, awscloudwatch.GraphWidgetProps{
		Left:       &calls,
		Right:      &throttles,
		LeftYAxis:  axis("calls per 5 minutes"),
		RightYAxis: axis("429s per 5 minutes"),
	})

	queueMetric := func(q awssqs.Queue, name, label string) awscloudwatch.IMetric {
		return q.Metric(jsii.String(name), &awscloudwatch.MetricOptions{
			Statistic: jsii.String("Maximum"), Period: fiveMinutes, Label: jsii.String(label),
		})
	}
	queueAge := graph(titleQueueAge, 8, awscloudwatch.GraphWidgetProps{
		Left: &[]awscloudwatch.IMetric{
			queueMetric(s.ProvisionQueue, "ApproximateAgeOfOldestMessage", "provision queue"),
			queueMetric(s.DeprovisionQueue, "ApproximateAgeOfOldestMessage", "deprovision queue"),
			queueMetric(s.ProvisionDLQ, "ApproximateAgeOfOldestMessage", "provision DLQ"),
			queueMetric(s.DeprovisionDLQ, "ApproximateAgeOfOldestMessage", "deprovision DLQ"),
		},
		LeftYAxis: axis("seconds"),
		LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
			Value: jsii.Number(float64(s.Config.DeprovisionMaxAgeMinutes * 60)),
			Label: jsii.String("leaver alarm"),
		}},
	})
	dlqDepth := graph(titleDLQDepth, 8, awscloudwatch.GraphWidgetProps{
		Left: &[]awscloudwatch.IMetric{
			queueMetric(s.ProvisionDLQ, "ApproximateNumberOfMessagesVisible", "provision DLQ"),
			queueMetric(s.DeprovisionDLQ, "ApproximateNumberOfMessagesVisible", "deprovision DLQ"),
			queueMetric(s.ScheduleDLQ, "ApproximateNumberOfMessagesVisible", "poller schedule DLQ"),
			queueMetric(s.AlertRuleDLQ, "ApproximateNumberOfMessagesVisible", "alert rule DLQ"),
			queueMetric(s.HeldEventsDLQ, "ApproximateNumberOfMessagesVisible", "held events DLQ"),
		},
		LeftYAxis: axis("messages"),
	})
	alarms := awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title:  jsii.String(titleAlarms),
		Alarms: &s.alarms,
		Width:  jsii.Number(8),
		Height: jsii.Number(6),
		SortBy: awscloudwatch.AlarmStatusWidgetSortBy_STATE_UPDATED_TIMESTAMP,
	})

	poll := graph(titlePoll, 12, awscloudwatch.GraphWidgetProps{
		Left:       &[]awscloudwatch.IMetric{fnMetric("poller", metricPollDuration, "Maximum", "poll duration (ms)", pollPeriod)},
		Right:      &[]awscloudwatch.IMetric{fnMetric("poller", metricUserChanges, "Sum", "user changes", pollPeriod)},
		LeftYAxis:  axis("milliseconds"),
		RightYAxis: axis("changes"),
	})

	var answers []awscloudwatch.IMetric
	for _, m := range webhookAnswerMetrics {
		answers = append(answers, fnMetric("webhook", m.name, "Sum", m.label, fiveMinutes))
	}
	webhook := graph(titleWebhook, 12, awscloudwatch.GraphWidgetProps{
		Left: &answers,
		Right: &[]awscloudwatch.IMetric{
			s.webhookAPI.MetricClientError(&awscloudwatch.MetricOptions{Period: fiveMinutes, Label: jsii.String("API Gateway 4xx")}),
			s.webhookAPI.MetricServerError(&awscloudwatch.MetricOptions{Period: fiveMinutes, Label: jsii.String("API Gateway 5xx")}),
		},
		LeftYAxis:  axis("answers per 5 minutes"),
		RightYAxis: axis("API Gateway errors"),
	})

	// One bar per class found: a SEARCH over the Class dimension, like the
	// rejections, beside what was applied and refused.
	reconciliation := graph(titleReconciliation, 24, awscloudwatch.GraphWidgetProps{
		View:    awscloudwatch.GraphWidgetView_BAR,
		Stacked: jsii.Bool(true),
		Left: &[]awscloudwatch.IMetric{awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,Function,Class} MetricName="%s"', 'Sum', 3600)`, metricsNamespace, metricFindings)),
			Label:      jsii.String("${PROP('Dim.Class')}"),
			Period:     hour,
		})},
		Right: &[]awscloudwatch.IMetric{
			fnMetric("reconcile", metricEventsSent, "Sum", "HRIS events sent", hour),
			fnMetric("reconcile", metricReconciliationRefused, "Sum", "rosters refused", hour),
		},
		LeftYAxis:  axis("findings"),
		RightYAxis: axis("events, refusals"),
	})

	awscloudwatch.NewDashboard(s.Stack, jsii.String("OperationsDashboard"), &awscloudwatch.DashboardProps{
		DashboardName: dashboardName(),
		Start:         jsii.String("-P1D"),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{lifecycle, exposure},
			{rejections, encompass},
			{queueAge, dlqDepth, alarms},
			{poll, webhook},
			{reconciliation},
		},
	})
}

// alarmRefs is the alarms the dashboard's status widget lists.
type alarmRefs = []interfacesawscloudwatch.IAlarmRef
