package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the CloudFormation stack (and cdk.out template) name that
// CONTRACTS section 7 fixes.
const StackName = "EncompassLifecycle"

// Function names: the construct ids and template logical ids that
// `sam local invoke -t cdk.out/EncompassLifecycle.template.json <id>` uses,
// and the dist/<dir>/bootstrap each one runs.
var functionDirs = map[string]string{
	"ProvisionFunction":   "provision",
	"DeprovisionFunction": "deprovision",
	"PollerFunction":      "poller",
	"WebhookFunction":     "webhook",
	"ReconcileFunction":   "reconcile",
}

// Event sources the functions publish under (CONTRACTS section 3).
var eventSources = []string{sourceProvisioning, sourcePoller, sourceWebhook, sourceReconcile}

// Timeouts. The SQS functions' visibility timeout is six times their
// timeout, as AWS advises for event source mappings, so that a message is
// not redelivered while a slow (retrying, throttled) batch still runs.
const (
	queueFunctionTimeoutSeconds = 60
	visibilityTimeoutFactor     = 6
	webhookTimeoutSeconds       = 10
	maxReceiveCount             = 5
	sqsBatchSize                = 10
)

// lambdaMaxTimeoutSeconds is the longest a Lambda invocation may run.
const lambdaMaxTimeoutSeconds = 900

// pollerTimeoutSeconds gives the poller as long as a run can usefully take:
// the Lambda maximum, but never more than the schedule's interval, so that a
// run ends before the next one is due (the poller's reserved concurrency is
// one; a run still going would make the next one wait in the async queue).
// Billing is per millisecond used, so the long timeout costs nothing for
// tenants that list quickly; a tenant whose listing takes longer still
// completes over several runs (docs/poller.md, "Resuming a listing"), each
// run listing about timeout − 30 s worth of pages.
func pollerTimeoutSeconds(pollRateMinutes int) int {
	return min(lambdaMaxTimeoutSeconds, pollRateMinutes*60)
}

// LifecycleStackProps configures NewLifecycleStack.
type LifecycleStackProps struct {
	awscdk.StackProps
	// Config is the validated configuration (LoadConfig).
	Config Config
	// DistDir holds <fn>/bootstrap for every function (`make build`).
	DistDir string
	// RepoRoot resolves a relative Config.MappingFile.
	RepoRoot string
}

// LifecycleStack is the EncompassLifecycle stack and the constructs its
// tests and outputs refer to.
type LifecycleStack struct {
	awscdk.Stack
	Config      Config
	Concurrency Concurrency

	ProvisionQueue, DeprovisionQueue awssqs.Queue
	ProvisionDLQ, DeprovisionDLQ     awssqs.Queue
	ScheduleDLQ, AlertRuleDLQ        awssqs.Queue
	// Held events (held.go): the schedule group, the dead-letter queue of
	// deliveries that failed, the role the Scheduler sends with.
	HeldEventsGroup                         awsscheduler.CfnScheduleGroup
	HeldEventsDLQ                           awssqs.Queue
	HeldEventsRole                          awsiam.Role
	Table                                   awsdynamodb.Table
	Bus                                     awsevents.EventBus
	EncompassSecret, WebhookSecret          awssecretsmanager.ISecret
	Provision, Deprovision, Poller, Webhook awslambda.Function
	AlertTopic                              awssns.Topic
	// Reconcile and its RosterBucket (rosters/ in, reports/ out), whose
	// server access logs go to RosterAccessLogs.
	Reconcile                      awslambda.Function
	RosterBucket, RosterAccessLogs awss3.Bucket

	webhookURL *string
	webhookAPI awsapigatewayv2.HttpApi
	// alarms are every alarm of the stack, for the dashboard's status widget.
	alarms alarmRefs
	// stagingDirs are temporary asset directories; the CDK copies them into
	// the cloud assembly at synthesis, then Cleanup removes them.
	stagingDirs []string
}

// Cleanup removes the temporary asset directories. Call it after Synth.
func (s *LifecycleStack) Cleanup() {
	for _, d := range s.stagingDirs {
		os.RemoveAll(d)
	}
}

// NewLifecycleStack defines every resource of the product. It fails (rather
// than synthesizing something undeployable) when a bootstrap is missing.
func NewLifecycleStack(scope constructs.Construct, id string, props LifecycleStackProps) (*LifecycleStack, error) {
	cc, err := PlanConcurrency(props.Config.RequestBudget)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", ctxRequestBudget, err)
	}
	for _, dir := range functionDirs {
		bootstrap := filepath.Join(props.DistDir, dir, "bootstrap")
		if _, err := os.Stat(bootstrap); err != nil {
			return nil, fmt.Errorf("%s is missing: run make build (it writes dist/<fn>/bootstrap for linux/arm64)", bootstrap)
		}
	}
	mapping := props.Config.MappingFile
	if mapping != "" {
		if !filepath.IsAbs(mapping) {
			mapping = filepath.Join(props.RepoRoot, mapping)
		}
		fi, err := os.Stat(mapping)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("context %q: %s is not a readable file", ctxMappingFile, mapping)
		}
		if fi.Size() > maxMappingBytes {
			return nil, fmt.Errorf("context %q: %s is %d bytes; a mapping file is at most %d", ctxMappingFile, mapping, fi.Size(), maxMappingBytes)
		}
	}
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("Encompass user lifecycle: HRIS joiner/mover/leaver queues, poller, webhook receiver, roster reconciliation")
	}
	s := &LifecycleStack{
		Stack:       awscdk.NewStack(scope, jsii.String(id), &sp),
		Config:      props.Config,
		Concurrency: cc,
	}
	s.defineQueues()
	s.defineHeldEvents()
	s.defineStateAndEvents()
	s.defineSecrets()
	if err := s.defineFunctions(props.DistDir, mapping); err != nil {
		return nil, err
	}
	if err := s.defineReconciliation(props.DistDir, mapping); err != nil {
		return nil, err
	}
	s.defineSchedule()
	s.defineWebhookAPI()
	s.defineAlarms()
	s.defineDashboard()
	s.defineOutputs()
	s.suppressNagFindings()
	return s, nil
}

// defineQueues creates the two FIFO queues of CONTRACTS section 1, each with
// a FIFO dead-letter queue, and lets the HRIS producer send to them.
func (s *LifecycleStack) defineQueues() {
	s.ProvisionQueue, s.ProvisionDLQ = s.fifoQueue("ProvisionQueue")
	s.DeprovisionQueue, s.DeprovisionDLQ = s.fifoQueue("DeprovisionQueue")

	producer := s.producerPrincipal()
	for _, q := range []awssqs.Queue{s.ProvisionQueue, s.DeprovisionQueue} {
		q.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("HRISProducerSend"),
			Principals: &[]awsiam.IPrincipal{producer},
			Actions:    jsii.Strings("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"),
			Resources:  jsii.Strings(*q.QueueArn()),
		}))
	}
}

// maxHRISMessageBytes is SQS's largest message (1 MiB since 2025). The
// HRIS queues and their DLQs take every body SQS can carry, because the
// product keeps any body it can be delivered: a malformed or oversized
// event is rejected with its body stored (the rejected-body store is
// chunked), never left to loop into the DLQ. Set explicitly so that a
// queue's limit is not whatever the account's default was when it was
// created (issue 10, defect 3).
const maxHRISMessageBytes = 1 << 20

// fifoQueue returns a FIFO queue and its FIFO dead-letter queue, both
// encrypted (SSE-SQS: a cross-account producer needs no KMS grant, nor
// does the Scheduler's role), refusing plain-HTTP requests and taking
// messages up to maxHRISMessageBytes. Content-based de-duplication is on
// because EventBridge Scheduler's SQS target sets only the message group,
// and a FIFO target must de-duplicate by content for it to send held
// events back (docs/provisioning.md); the HRIS producer's explicit
// MessageDeduplicationId (= eventId) overrides the content hash for every
// message it sends, so its de-duplication is unchanged.
func (s *LifecycleStack) fifoQueue(id string) (awssqs.Queue, awssqs.Queue) {
	dlq := awssqs.NewQueue(s.Stack, jsii.String(id+"DLQ"), &awssqs.QueueProps{
		Fifo:                jsii.Bool(true),
		Encryption:          awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
		MaxMessageSizeBytes: jsii.Number(maxHRISMessageBytes),
	})
	q := awssqs.NewQueue(s.Stack, jsii.String(id), &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		MaxMessageSizeBytes:       jsii.Number(maxHRISMessageBytes),
		ContentBasedDeduplication: jsii.Bool(true),
		Encryption:                awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:                jsii.Bool(true),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(4)),
		VisibilityTimeout:         awscdk.Duration_Seconds(jsii.Number(queueFunctionTimeoutSeconds * visibilityTimeoutFactor)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(maxReceiveCount),
		},
	})
	return q, dlq
}

// producerPrincipal is the configured HRIS producer, or this account's root
// (any principal of this account that its own IAM policy allows).
func (s *LifecycleStack) producerPrincipal() awsiam.IPrincipal {
	switch p := s.Config.ProducerPrincipal; {
	case p == "":
		return awsiam.NewAccountRootPrincipal()
	case accountIDPattern.MatchString(p):
		return awsiam.NewAccountPrincipal(jsii.String(p))
	default:
		return awsiam.NewArnPrincipal(jsii.String(p))
	}
}

// defineStateAndEvents creates the state table and the event bus with its
// replay archive.
func (s *LifecycleStack) defineStateAndEvents() {
	s.Table = awsdynamodb.NewTable(s.Stack, jsii.String("StateTable"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		DeletionProtection: jsii.Bool(true),
		// The table holds the employee links and tombstones: losing it
		// would let a late hire recreate a leaver's account.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	s.Bus = awsevents.NewEventBus(s.Stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		Description: jsii.String("Events published by the Encompass lifecycle functions"),
	})
	archive := s.Bus.Archive(jsii.String("EventArchive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("Every event the Encompass lifecycle functions publish, for replay"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(eventSources...)},
		Retention:    awscdk.Duration_Days(jsii.Number(float64(s.Config.EventArchiveDays))),
	})
	// aws-cdk-lib 2.260.0 writes "KmsKeyIdentifier": "" on every archive
	// without a key (aws/aws-cdk#37847, open), and CloudFormation has been
	// reported failing such deploys with GeneralServiceException in some
	// regions. Absent, the archive uses an AWS owned key, which is what the
	// empty string was meant to say. Drop this once the CDK omits it.
	archive.Node().DefaultChild().(awsevents.CfnArchive).AddPropertyDeletionOverride(jsii.String("KmsKeyIdentifier"))
}

// defineSecrets creates the two secrets empty (no value and no generated
// value in the template, so nothing secret is ever in CloudFormation) or
// imports them by complete ARN.
func (s *LifecycleStack) defineSecrets() {
	s.EncompassSecret = s.secret("EncompassSecret", s.Config.EncompassSecretARN,
		`Encompass API credentials: JSON {"clientId","clientSecret"} and for the password grant {"username","password"}`)
	s.WebhookSecret = s.secret("WebhookSecret", s.Config.WebhookSecretARN,
		`Encompass webhook signing keys: JSON {"<subscription id>": "<key>" or ["<key>", "<next key>"]}`)
}

func (s *LifecycleStack) secret(id, importARN, description string) awssecretsmanager.ISecret {
	if importARN != "" {
		return awssecretsmanager.Secret_FromSecretCompleteArn(s.Stack, jsii.String(id), jsii.String(importARN))
	}
	sec := awssecretsmanager.NewSecret(s.Stack, jsii.String(id), &awssecretsmanager.SecretProps{
		Description: jsii.String(description + ". Created empty: put the value after deploying."),
	})
	// The L2 construct generates a random password when no value is given;
	// CloudFormation creates an empty secret when both GenerateSecretString
	// and SecretString are absent, which is what an operator fills in.
	cfn := sec.Node().DefaultChild().(awssecretsmanager.CfnSecret)
	cfn.AddPropertyDeletionOverride(jsii.String("GenerateSecretString"))
	return sec
}

// maxMappingBytes bounds the mapping file packaged with the functions.
const maxMappingBytes = 256 << 10

// itoa formats an int for an environment variable.
func itoa(n int) *string { return jsii.String(strconv.Itoa(n)) }
