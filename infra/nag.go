package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// defineOutputs exports what an operator needs after deploying (docs/deploy.md).
func (s *LifecycleStack) defineOutputs() {
	out := func(id, description string, value *string) {
		awscdk.NewCfnOutput(s.Stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	out("ProvisionQueueUrl", "HRIS hire, update and rehire events go here (FIFO, MessageGroupId = employeeId)", s.ProvisionQueue.QueueUrl())
	out("ProvisionQueueArn", "ARN of the provision queue, for the HRIS producer's IAM policy", s.ProvisionQueue.QueueArn())
	out("DeprovisionQueueUrl", "HRIS terminate events go here (FIFO, MessageGroupId = employeeId)", s.DeprovisionQueue.QueueUrl())
	out("DeprovisionQueueArn", "ARN of the deprovision queue, for the HRIS producer's IAM policy", s.DeprovisionQueue.QueueArn())
	out("WebhookUrl", "Register this URL with `make webhook-subscription`", jsii.String(*s.webhookURL+"webhooks/encompass"))
	out("EventBusName", "Bus carrying every published event", s.Bus.EventBusName())
	out("StateTableName", "DynamoDB state table", s.Table.TableName())
	out("EncompassSecretArn", "Put the Encompass API credentials here", s.EncompassSecret.SecretArn())
	out("WebhookSecretArn", "Put the webhook signing keys here", s.WebhookSecret.SecretArn())
	out("AlertTopicArn", "Alarms and poller alerts are published here", s.AlertTopic.TopicArn())
	out("HeldEventsScheduleGroupName", "EventBridge Scheduler group of the HRIS events held until their effective date (one schedule each)", s.HeldEventsGroup.Ref())
	out("HeldEventsDLQUrl", "Held events the Scheduler could not send back to their queue land here (alarmed)", s.HeldEventsDLQ.QueueUrl())
	out("RosterBucketName", "Put HR rosters under rosters/dry-run/ (report only) or rosters/apply/ (report and apply); reports appear under reports/", s.RosterBucket.BucketName())
	out("DashboardUrl", "The operations dashboard (CloudWatch)", jsii.String("https://"+*awscdk.Aws_REGION()+
		".console.aws.amazon.com/cloudwatch/home?region="+*awscdk.Aws_REGION()+"#dashboards:name="+*dashboardName()))
}

// suppressNagFindings records, next to the resources, why the few
// AwsSolutions findings that remain are acceptable. Each reason is written
// for the reviewer who has to accept it.
func (s *LifecycleStack) suppressNagFindings() {
	suppress := func(construct any, id, reason string) {
		cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{
			{Id: jsii.String(id), Reason: jsii.String(reason)},
		}, jsii.Bool(true))
	}
	const rotation = ", so a new value has to be created there first. Rotation is a documented manual procedure (docs/deploy.md); " +
		"the webhook secret accepts two keys per subscription while a key is being rotated."
	if s.Config.EncompassSecretARN == "" { // an imported secret is not a resource of this stack
		suppress(s.EncompassSecret, "AwsSolutions-SMG4", "No rotation Lambda is possible: Encompass API client credentials are issued by ICE in the Encompass developer portal"+rotation)
	}
	if s.Config.WebhookSecretARN == "" {
		suppress(s.WebhookSecret, "AwsSolutions-SMG4", "No rotation Lambda is possible: webhook signing keys are registered with the Encompass webhook subscription"+rotation)
	}
	for _, q := range []any{s.ScheduleDLQ, s.AlertRuleDLQ, s.HeldEventsDLQ} {
		suppress(q, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue (of the poller schedule, the alert rule target or the held events' schedules); a DLQ of a DLQ would only hide failures. Messages in it raise an alarm.")
	}
	// The held events' schedules are named per HRIS event (held.go), so the
	// grant names the group's schedules, not each one: the group is the
	// stack's own and holds nothing else.
	for _, fn := range []awslambda.Function{s.Provision, s.Deprovision} {
		cdknag.NagSuppressions_AddResourceSuppressions(fn.Role(), &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("scheduler:CreateSchedule and DeleteSchedule on the schedules of this stack's own held-events group only: " +
				"each held HRIS event gets a one-time schedule named after its event id, so the names cannot be listed in advance. " +
				"iam:PassRole names the one scheduler role, passed to scheduler.amazonaws.com only."),
			AppliesTo: &[]any{"Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<HeldEventsScheduleGroup>/*"},
		}}, jsii.Bool(true))
	}
	// The reconcile role reads every roster and writes every report: the
	// object keys are chosen by HR and by the runs, so only the prefix can
	// name them; the prefixes are the whole of its S3 access.
	cdknag.NagSuppressions_AddResourceSuppressions(s.Reconcile.Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Object ARNs under one prefix: GetObject/GetObjectVersion on rosters/* (the rosters HR puts, any name) and PutObject on reports/* " +
			"(reports named after the roster and run). Nothing else in the bucket, no bucket-level action."),
		AppliesTo: &[]any{cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::encompass-lifecycle-rosters-<AWS::AccountId>-<AWS::Region>\/(rosters|reports)\/\*$/`)}},
	}}, jsii.Bool(true))
	suppress(s.RosterAccessLogs, "AwsSolutions-S1", "This bucket receives the roster bucket's server access logs; logging its own access would need a third bucket, and so on.")
	suppress(s.Node().FindChild(jsii.String("WebhookApi")), "AwsSolutions-APIG4",
		"Encompass delivers webhooks with an HMAC signature (Elli-Signature) and cannot present IAM, JWT or Lambda-authorizer credentials. "+
			"The webhook function verifies the signature over the raw body before anything else and answers 401 otherwise; the health route returns a constant and touches nothing.")
}

// ApplyNag runs the AwsSolutions rule pack over every construct of the app
// at synthesis; findings become error or warning annotations.
func ApplyNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}
