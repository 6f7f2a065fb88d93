package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Schedule retry settings: a poll that could not be delivered is retried a
// few times, then parked in the schedule's dead-letter queue (and alarmed).
const scheduleRetryAttempts = 3

// WebhookPath is the route Encompass delivers to (CONTRACTS section 4).
const WebhookPath = "/webhooks/encompass"

// defineSchedule runs the poller on an EventBridge Scheduler rate. It uses
// the L1 construct so that the scheduler's role may invoke exactly the
// poller's ARN (the L2 target also grants `<arn>:*`), and sends a payload
// shaped like a scheduled event (events.CloudWatchEvent).
func (s *LifecycleStack) defineSchedule() {
	s.ScheduleDLQ = s.standardDLQ("PollerScheduleDLQ")

	role := awsiam.NewRole(s.Stack, jsii.String("PollerScheduleRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			// Only schedules of this account may assume the role (confused deputy).
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("Lets EventBridge Scheduler invoke the poller"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{s.Poller.FunctionArn()},
	}))
	s.ScheduleDLQ.GrantSendMessages(role)

	input := mustJSON(map[string]any{
		"version":     "0",
		"id":          awsscheduler.ContextAttribute_ExecutionId(),
		"detail-type": "Scheduled Event",
		"source":      "aws.scheduler",
		"account":     awscdk.Aws_ACCOUNT_ID(),
		"time":        awsscheduler.ContextAttribute_ScheduledTime(),
		"region":      awscdk.Aws_REGION(),
		"resources":   []any{awsscheduler.ContextAttribute_ScheduleArn()},
		"detail":      map[string]any{},
	})
	sched := awsscheduler.NewCfnSchedule(s.Stack, jsii.String("PollerSchedule"), &awsscheduler.CfnScheduleProps{
		Description:        jsii.String("Runs the Encompass user poller"),
		ScheduleExpression: jsii.String(fmt.Sprintf("rate(%d minutes)", s.Config.PollRateMinutes)),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     s.Poller.FunctionArn(),
			RoleArn: role.RoleArn(),
			Input:   jsii.String(input),
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts: jsii.Number(scheduleRetryAttempts),
				// A poll older than the next one is worthless.
				MaximumEventAgeInSeconds: jsii.Number(float64(s.Config.PollRateMinutes * 60)),
			},
			DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: s.ScheduleDLQ.QueueArn()},
		},
	})
	sched.Node().AddDependency(role)
}

// standardDLQ is an encrypted, TLS-only standard queue that AWS services
// (Scheduler, EventBridge rule targets) park undeliverable events in.
func (s *LifecycleStack) standardDLQ(id string) awssqs.Queue {
	return awssqs.NewQueue(s.Stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
}

// accessLogFormat is the HTTP API's access log line: JSON, one per request,
// without headers or bodies (the signature header is not logged).
var accessLogFormat = mustJSON(map[string]string{
	"requestId":         "$context.requestId",
	"ip":                "$context.identity.sourceIp",
	"requestTime":       "$context.requestTime",
	"httpMethod":        "$context.httpMethod",
	"routeKey":          "$context.routeKey",
	"status":            "$context.status",
	"protocol":          "$context.protocol",
	"responseLength":    "$context.responseLength",
	"integrationStatus": "$context.integrationStatus",
	"integrationError":  "$context.integrationErrorMessage",
	"latency":           "$context.responseLatency",
	"userAgent":         "$context.identity.userAgent",
})

// mustJSON encodes a literal value without HTML escaping, so that the
// scheduler's <aws.scheduler.*> placeholders stay as they are.
func mustJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only literal maps of strings are encoded
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// defineWebhookAPI exposes the webhook function on an HTTP API with the two
// routes of CONTRACTS section 4, stage throttling and access logs.
func (s *LifecycleStack) defineWebhookAPI() {
	api := awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("WebhookApi"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("Receives Encompass webhook deliveries"),
		CreateDefaultStage: jsii.Bool(false),
	})
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("WebhookIntegration"), s.Webhook,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(WebhookPath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
		Integration: integration,
	})
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(WebhookPath + "/health"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
		Integration: integration,
	})

	accessLogs := awslogs.NewLogGroup(s.Stack, jsii.String("WebhookApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention[s.Config.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	stage := awsapigatewayv2.NewHttpStage(s.Stack, jsii.String("WebhookApiStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(float64(s.Config.WebhookRateLimit)),
			BurstLimit: jsii.Number(float64(s.Config.WebhookBurstLimit)),
		},
	})
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	s.webhookURL = stage.Url()
	s.webhookAPI = api
}
