package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Held events (CONTRACTS section 2a): an HRIS event due more than five
// minutes ahead is handed by provision or deprovision to a one-time
// EventBridge Scheduler schedule in the stack's own group, which sends the
// original body back to the event's FIFO queue at the due time as the
// scheduler role below, and deletes itself. The Scheduler's SQS target sets
// only the message group, so the two queues de-duplicate by content for
// those deliveries (fifoQueue); the HRIS's own MessageDeduplicationId still
// wins for its messages.

// heldEventsGroupSuffix names the schedule group after the stack, so that
// an operator finds it (`aws scheduler list-schedules --group-name ...`).
const heldEventsGroupSuffix = "-held-events"

// defineHeldEvents creates the schedule group, the dead-letter queue of
// deliveries the Scheduler gave up on, and the role the Scheduler assumes:
// it may send to the two HRIS queues (and that dead-letter queue) only.
// The queues are encrypted with SQS-managed keys, so no KMS grant is needed.
func (s *LifecycleStack) defineHeldEvents() {
	s.HeldEventsGroup = awsscheduler.NewCfnScheduleGroup(s.Stack, jsii.String("HeldEventsScheduleGroup"), &awsscheduler.CfnScheduleGroupProps{
		Name: jsii.String(*awscdk.Aws_STACK_NAME() + heldEventsGroupSuffix),
	})
	s.HeldEventsDLQ = s.standardDLQ("HeldEventsDLQ")
	s.HeldEventsRole = awsiam.NewRole(s.Stack, jsii.String("HeldEventsSchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			// Only schedules of this account may assume the role (confused deputy).
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("Lets EventBridge Scheduler send held HRIS events back to their queue when they are due"),
	})
	s.HeldEventsRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: &[]*string{s.ProvisionQueue.QueueArn(), s.DeprovisionQueue.QueueArn()},
	}))
	// The Scheduler writes a delivery it gave up on to the dead-letter
	// queue with the same role.
	s.HeldEventsRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: &[]*string{s.HeldEventsDLQ.QueueArn()},
	}))
}

// heldSchedulesARN is the ARN pattern of the schedules in the held-events
// group: what provision and deprovision may create and delete.
func (s *LifecycleStack) heldSchedulesARN() *string {
	return jsii.String("arn:" + *awscdk.Aws_PARTITION() + ":scheduler:" + *awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() +
		":schedule/" + *s.HeldEventsGroup.Ref() + "/*")
}

// grantHoldEvents lets fn create and delete schedules in the held-events
// group only, and pass the scheduler role only, and only to the Scheduler.
func (s *LifecycleStack) grantHoldEvents(fn awslambda.Function) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("scheduler:CreateSchedule", "scheduler:DeleteSchedule"),
		Resources: &[]*string{s.heldSchedulesARN()},
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  &[]*string{s.HeldEventsRole.RoleArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}},
	}))
}

// heldEventsEnv is what a provisioning function needs to hold events
// (CONTRACTS section 5): the group, the role, the dead-letter queue, and
// the ARN of its own queue, where its held events go back (queueVar names
// it).
func (s *LifecycleStack) heldEventsEnv(queueVar string, queue awssqs.Queue) map[string]string {
	env := map[string]string{
		"SCHEDULER_GROUP":    *s.HeldEventsGroup.Ref(),
		"SCHEDULER_ROLE_ARN": *s.HeldEventsRole.RoleArn(),
		"SCHEDULER_DLQ_ARN":  *s.HeldEventsDLQ.QueueArn(),
		queueVar:             *queue.QueueArn(),
	}
	if s.Config.ImmediateTerminationReasons != "" {
		env["IMMEDIATE_TERMINATION_REASONS"] = s.Config.ImmediateTerminationReasons
	}
	return env
}
