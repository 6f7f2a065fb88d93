package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// provisionMaxAgeMinutes is the provision queue's age alarm: joiners can
// wait longer than leavers, but an hour means the pipeline is stuck.
const provisionMaxAgeMinutes = 60

// metricsNamespace is the functions' CloudWatch namespace (pkg/telemetry.Namespace).
const metricsNamespace = "EncompassLifecycle"

// alertDetailTypes are the poller events that need a human at once.
var alertDetailTypes = []string{"Poll Anomaly", "User Drift Detected"}

// defineAlarms creates the alert topic (KMS-encrypted, TLS-only, optional
// e-mail subscription), the CloudWatch alarms, and the rule that forwards
// Poll Anomaly and User Drift Detected events to the topic.
func (s *LifecycleStack) defineAlarms() {
	key := awskms.NewKey(s.Stack, jsii.String("AlertKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the Encompass lifecycle alert topic"),
		EnableKeyRotation: jsii.Bool(true),
	})
	// CloudWatch alarms encrypt with the topic's key themselves, and an
	// account-root statement does not cover a service principal: without this
	// grant every alarm notification is silently dropped (AWS managed keys
	// cannot grant it at all). The actions are those of AWS's own example for
	// encrypted topics; EventBridge gets the same statement from its target.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsEncrypt"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	s.AlertTopic = awssns.NewTopic(s.Stack, jsii.String("AlertTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Encompass lifecycle alerts"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// The topic policy (TLS only, EventBridge) replaces SNS's default policy,
	// so the alarms of this account need their own statement to publish.
	s.AlertTopic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{s.AlertTopic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}))
	if s.Config.AlertEmail != "" {
		s.AlertTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.Config.AlertEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(s.AlertTopic)

	alarm := func(id, description string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		s.alarms = append(s.alarms, a)
	}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))

	s.AlertRuleDLQ = s.standardDLQ("AlertRuleDLQ")
	dlqs := []struct {
		id, what string
		q        awssqs.Queue
	}{
		{"ProvisionDLQMessages", "HRIS hire/update/rehire events failed repeatedly and wait in the provision DLQ", s.ProvisionDLQ},
		{"DeprovisionDLQMessages", "HRIS terminate events failed repeatedly and wait in the deprovision DLQ: leavers may still have access", s.DeprovisionDLQ},
		{"PollerScheduleDLQMessages", "Scheduled polls could not be delivered to the poller", s.ScheduleDLQ},
		{"AlertRuleDLQMessages", "Poll Anomaly or User Drift Detected events could not be delivered to the alert topic", s.AlertRuleDLQ},
		{"HeldEventsDLQMessages", "EventBridge Scheduler could not send held HRIS events back to their queue when they were due: joiners or leavers are waiting (docs/operations.md, held events)", s.HeldEventsDLQ},
	}
	for _, d := range dlqs {
		alarm(d.id, d.what, d.q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: minute, Statistic: jsii.String("Maximum"),
		}), 1)
	}

	for _, f := range []struct {
		name string
		fn   awslambda.Function
	}{{"Provision", s.Provision}, {"Deprovision", s.Deprovision}, {"Poller", s.Poller}, {"Webhook", s.Webhook}, {"Reconcile", s.Reconcile}} {
		alarm(f.name+"Errors", fmt.Sprintf("%sFunction reported errors", f.name),
			f.fn.MetricErrors(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}), 1)
		alarm(f.name+"Throttles", fmt.Sprintf("%sFunction was throttled", f.name),
			f.fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}), 1)
	}

	alarm("DeprovisionQueueAge",
		fmt.Sprintf("A leaver's terminate event has waited %d minutes or more: the account is still enabled", s.Config.DeprovisionMaxAgeMinutes),
		s.DeprovisionQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}),
		float64(s.Config.DeprovisionMaxAgeMinutes*60))
	// The leaver's receipt (CONTRACTS section 3): seconds from a terminate's
	// due time to its account read back disabled, one value per leaver.
	alarm("LeaverExposure",
		fmt.Sprintf("The p99 time from a termination being due to its account being disabled passed %d seconds over 15 minutes", s.Config.LeaverExposureAlarmSeconds),
		fnMetric("deprovision", metricExposureSeconds, "p99", "", awscdk.Duration_Minutes(jsii.Number(15))),
		float64(s.Config.LeaverExposureAlarmSeconds))
	alarm("ProvisionQueueAge",
		fmt.Sprintf("An HRIS event has waited %d minutes or more on the provision queue", provisionMaxAgeMinutes),
		s.ProvisionQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}),
		float64(provisionMaxAgeMinutes*60))

	// The webhook function's own metric (embedded metric format, docs/webhook.md):
	// a delivery it could not hand on is answered 503 and retried by
	// Encompass for about 8 hours, after which it is lost.
	alarm("WebhookFailedHandOff", "Webhook deliveries could not be handed to EventBridge; Encompass is retrying them",
		fnMetric("webhook", metricWebhookFailedHandOff, "Sum", "", fiveMinutes), 1)

	// Reconciliation (CONTRACTS section 7, the reconcile function's EMF
	// metrics): a refused roster was not applied at all, and a leaver the
	// roster names whose account is enabled has access they should not.
	alarm("ReconciliationRefused", "A roster was refused (truncated, mostly invalid or unreadable): nothing of it was applied; the report says why",
		fnMetric("reconcile", metricReconciliationRefused, "Sum", "", fiveMinutes), 1)
	alarm("LeaverEnabledFindings", "The HR roster lists leavers whose Encompass account is enabled (leaver_enabled findings): they still have access",
		fnMetric("reconcile", metricFindings, "Sum", "", fiveMinutes, dimension{"Class", "leaver_enabled"}), 1)

	awsevents.NewRule(s.Stack, jsii.String("PollerAlertRule"), &awsevents.RuleProps{
		Description:  jsii.String("Forwards Poll Anomaly and User Drift Detected to the alert topic"),
		EventBus:     s.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings("encompass.poller"), DetailType: jsii.Strings(alertDetailTypes...)},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(s.AlertTopic, &awseventstargets.SnsTopicProps{
			DeadLetterQueue: s.AlertRuleDLQ,
			RetryAttempts:   jsii.Number(5),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		})},
	})
}
