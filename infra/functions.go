package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// localOnlyEncompassVars and localOnlyWebhookVars are declared (empty) only
// with samLocal, because `sam local invoke --env-vars` ignores variables the
// template does not declare. In AWS the functions read Secrets Manager.
var (
	localOnlyEndpointVars  = []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}
	localOnlyEncompassVars = []string{"ENCOMPASS_CLIENT_ID", "ENCOMPASS_CLIENT_SECRET", "ENCOMPASS_USERNAME", "ENCOMPASS_PASSWORD"}
	localOnlyWebhookVars   = []string{"WEBHOOK_SIGNING_KEYS"}
	// localOnlySchedulerVars: the provisioning functions also reach the
	// Scheduler.
	localOnlySchedulerVars = []string{"AWS_ENDPOINT_URL_SCHEDULER"}
)

// logRetention maps a number of days to the CDK enum.
var logRetention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// maxAsyncEventAgeSeconds is Lambda's upper bound for MaximumEventAgeInSeconds.
const maxAsyncEventAgeSeconds = 6 * 60 * 60

// functionSpec is what differs between the four functions.
type functionSpec struct {
	id          string
	description string
	timeout     int
	reserved    int // 0: no reserved concurrency
	env         map[string]string
	// async marks a function invoked asynchronously (the poller, by its
	// schedule): Lambda does not retry it and drops invocations older than
	// maxAge, because the next scheduled poll does the work again and a
	// retry could overlap it.
	async  bool
	maxAge int // seconds
	// codeDir, when set, replaces dist/<fn> as the code asset.
	codeDir string
}

// encompassEnv returns, in a new map, the variables of a function that
// calls Encompass (provision, deprovision, poller, reconcile) with extra
// added: the tenant, its secret, the request budget, the state table and the
// bus, and with samLocal the local-only variables.
func (s *LifecycleStack) encompassEnv(extra map[string]string) map[string]string {
	cfg := s.Config
	env := map[string]string{
		"ENCOMPASS_API_URL":       cfg.APIURL,
		"ENCOMPASS_INSTANCE_ID":   cfg.InstanceID,
		"ENCOMPASS_SECRET_ARN":    *s.EncompassSecret.SecretArn(),
		"ENCOMPASS_USER_API":      cfg.UserAPI,
		"ENCOMPASS_MAX_IN_FLIGHT": strconv.Itoa(s.Concurrency.InFlight),
		"STATE_TABLE":             *s.Table.TableName(),
		"EVENT_BUS_NAME":          *s.Bus.EventBusName(),
		"DRY_RUN":                 strconv.FormatBool(cfg.DryRun),
		"LOG_LEVEL":               cfg.LogLevel,
	}
	if cfg.Grant != "" {
		env["ENCOMPASS_GRANT"] = cfg.Grant
	}
	if cfg.SAMLocal {
		for _, k := range slices.Concat(localOnlyEncompassVars, localOnlyEndpointVars) {
			env[k] = ""
		}
	}
	maps.Copy(env, extra)
	return env
}

// defineFunctions creates the four functions with least-privilege roles and
// wires the queues to the provisioning functions.
func (s *LifecycleStack) defineFunctions(distDir, mappingFile string) error {
	cfg, cc := s.Config, s.Concurrency

	// The provisioning functions resolve the mapping rules at cold start;
	// a custom file travels in their code asset next to the bootstrap.
	// Both hold future-dated events (held.go), each on its own queue.
	var provisionCode, deprovisionCode string
	provisioningEnv := map[string]string{}
	if mappingFile != "" {
		var err error
		if provisionCode, err = s.stageWithMapping(distDir, "provision", mappingFile); err != nil {
			return err
		}
		if deprovisionCode, err = s.stageWithMapping(distDir, "deprovision", mappingFile); err != nil {
			return err
		}
		provisioningEnv["MAPPING_FILE"] = lambdaTaskRoot + "/" + mappingAssetName
	}
	if cfg.SAMLocal {
		for _, k := range localOnlySchedulerVars {
			provisioningEnv[k] = ""
		}
	}
	provisioningWith := func(queueVar string, queue awssqs.Queue) map[string]string {
		m := s.encompassEnv(provisioningEnv)
		maps.Copy(m, s.heldEventsEnv(queueVar, queue))
		return m
	}
	s.Provision = s.function(distDir, functionSpec{
		id:          "ProvisionFunction",
		description: "Applies HRIS hire, update and rehire events to Encompass",
		timeout:     queueFunctionTimeoutSeconds,
		reserved:    cc.Provision,
		env:         provisioningWith("PROVISION_QUEUE_ARN", s.ProvisionQueue),
		codeDir:     provisionCode,
	})
	s.Deprovision = s.function(distDir, functionSpec{
		id:          "DeprovisionFunction",
		description: "Disables the Encompass accounts of HRIS leavers",
		timeout:     queueFunctionTimeoutSeconds,
		reserved:    cc.Deprovision,
		env:         provisioningWith("DEPROVISION_QUEUE_ARN", s.DeprovisionQueue),
		codeDir:     deprovisionCode,
	})
	s.Poller = s.function(distDir, functionSpec{
		id:          "PollerFunction",
		description: "Polls Encompass users and publishes the differences",
		timeout:     pollerTimeoutSeconds(cfg.PollRateMinutes),
		reserved:    cc.Poller,
		env:         s.encompassEnv(map[string]string{"POLLER_MAX_REMOVAL_RATIO": strconv.FormatFloat(cfg.MaxRemovalRatio, 'f', -1, 64)}),
		async:       true,
		maxAge:      min(cfg.PollRateMinutes*60, maxAsyncEventAgeSeconds),
	})
	webhookEnv := map[string]string{
		"WEBHOOK_SECRET_ARN": *s.WebhookSecret.SecretArn(),
		"STATE_TABLE":        *s.Table.TableName(),
		"EVENT_BUS_NAME":     *s.Bus.EventBusName(),
		"LOG_LEVEL":          cfg.LogLevel,
	}
	if cfg.SAMLocal {
		for _, k := range slices.Concat(localOnlyWebhookVars, localOnlyEndpointVars) {
			webhookEnv[k] = ""
		}
	}
	s.Webhook = s.function(distDir, functionSpec{
		id:          "WebhookFunction",
		description: "Verifies Encompass webhook deliveries and hands them to EventBridge",
		timeout:     webhookTimeoutSeconds,
		reserved:    webhookReservedConcurrency(cfg.WebhookRateLimit),
		env:         webhookEnv,
	})

	// Grants: exactly what each function calls, on the state-table keys it
	// owns or reads, publishing only its own event source
	// (permissions.go).
	for _, fn := range []awslambda.Function{s.Provision, s.Deprovision, s.Poller} {
		s.EncompassSecret.GrantRead(fn, nil)
	}
	s.grantPutEvents(s.Provision, sourceProvisioning)
	s.grantPutEvents(s.Deprovision, sourceProvisioning)
	s.grantPutEvents(s.Poller, sourcePoller)
	s.grantPutEvents(s.Webhook, sourceWebhook)
	s.grantTable(s.Provision, provisioningTableActions, provisioningKeys)
	s.grantTable(s.Deprovision, provisioningTableActions, provisioningKeys)
	s.grantTable(s.Poller, pollerOwnTableActions, pollerOwnKeys)
	s.grantTable(s.Poller, pollerReadTableActions, pollerReadKeys)
	s.grantTable(s.Webhook, webhookTableActions, webhookKeys)
	s.grantHoldEvents(s.Provision)
	s.grantHoldEvents(s.Deprovision)
	s.WebhookSecret.GrantRead(s.Webhook, nil)

	s.subscribe(s.Provision, s.ProvisionQueue, cc.Provision)
	s.subscribe(s.Deprovision, s.DeprovisionQueue, cc.Deprovision)
	return nil
}

// function creates one function: provided.al2023 on arm64 running
// dist/<fn>/bootstrap, JSON logs into its own log group with a retention,
// and a role that starts with nothing but writing to that log group (no
// AWS managed policy).
func (s *LifecycleStack) function(distDir string, spec functionSpec) awslambda.Function {
	logs := awslogs.NewLogGroup(s.Stack, jsii.String(spec.id+"Logs"), &awslogs.LogGroupProps{
		Retention:     logRetention[s.Config.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(s.Stack, jsii.String(spec.id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of " + spec.id),
	})
	logs.GrantWrite(role)

	codeDir := spec.codeDir
	if codeDir == "" {
		codeDir = filepath.Join(distDir, functionDirs[spec.id])
	}
	env := make(map[string]*string, len(spec.env))
	for k, v := range spec.env {
		env[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		Description:   jsii.String(spec.description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(codeDir), nil),
		MemorySize:    jsii.Number(256),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(float64(spec.timeout))),
		Environment:   &env,
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
	}
	if spec.async {
		props.RetryAttempts = jsii.Number(0)
		props.MaxEventAge = awscdk.Duration_Seconds(jsii.Number(float64(spec.maxAge)))
	}
	if spec.reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(spec.reserved))
	}
	fn := awslambda.NewFunction(s.Stack, jsii.String(spec.id), props)
	// The template key must be exactly the construct id so that
	// `sam local invoke ProvisionFunction` finds it.
	fn.Node().DefaultChild().(awslambda.CfnFunction).OverrideLogicalId(jsii.String(spec.id))
	// The role must exist (with its log permissions) before the function.
	fn.Node().AddDependency(role)
	return fn
}

// subscribe connects a FIFO queue to a function. ReportBatchItemFailures
// lets the handler retry only the failed messages (and the later messages
// of their group); MaxConcurrency keeps the function inside its share of
// the Encompass request budget.
func (s *LifecycleStack) subscribe(fn awslambda.Function, q awssqs.Queue, maxConcurrency int) {
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(sqsBatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(maxConcurrency)),
	}))
}

// Where a code asset's files are in the Lambda (and SAM) container.
const (
	lambdaTaskRoot   = "/var/task"
	mappingAssetName = "mapping.yaml"
)

// stageWithMapping builds a temporary code directory holding dist/<fn>'s
// bootstrap and the mapping file. The CDK copies it into the cloud
// assembly when the function is defined; Cleanup removes it afterwards.
func (s *LifecycleStack) stageWithMapping(distDir, fn, mappingFile string) (string, error) {
	dir, err := os.MkdirTemp("", "encompass-lifecycle-"+fn+"-")
	if err != nil {
		return "", err
	}
	s.stagingDirs = append(s.stagingDirs, dir)
	if err := copyFile(filepath.Join(distDir, fn, "bootstrap"), filepath.Join(dir, "bootstrap"), 0o755); err != nil {
		return "", err
	}
	if err := copyFile(mappingFile, filepath.Join(dir, mappingAssetName), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("stage %s: %w", from, err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		return fmt.Errorf("stage %s: %w", from, err)
	}
	return nil
}
