package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

var allFunctions = []string{"ProvisionFunction", "DeprovisionFunction", "PollerFunction", "WebhookFunction", "ReconcileFunction"}

func TestFunctionsHaveTheContractLogicalIDs(t *testing.T) {
	s := defaultStack(t)
	fns := s.resources("AWS::Lambda::Function")
	if got := sortedKeys(fns); !slices.Equal(got, []string{"DeprovisionFunction", "PollerFunction", "ProvisionFunction", "ReconcileFunction", "WebhookFunction"}) {
		t.Fatalf("function logical ids = %v, want exactly the five of CONTRACTS section 8", got)
	}
}

func TestFunctionsRunTheBootstrapsOnGraviton(t *testing.T) {
	s := defaultStack(t)
	assertMatches(t, "every function is provided.al2023/arm64 with JSON logs", func() {
		s.template.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
		})
	})
	logGroups := s.resources("AWS::Logs::LogGroup")
	for _, id := range allFunctions {
		fn := s.resource(t, id)
		p := props(fn)
		// The log group is the function's own, with a retention.
		lg, _ := dig(p, "LoggingConfig", "LogGroup", "Ref").(string)
		if days := dig(logGroups[lg], "Properties", "RetentionInDays"); days != float64(90) {
			t.Errorf("%s: log group %q retention = %v, want 90 days", id, lg, days)
		}
		// SAM resolves the code through the asset path metadata, and the
		// staged asset is the function's own bootstrap.
		md := fn["Metadata"].(map[string]any)
		if md["aws:asset:property"] != "Code" {
			t.Errorf("%s: aws:asset:property = %v, want Code", id, md["aws:asset:property"])
		}
		asset, _ := md["aws:asset:path"].(string)
		staged, err := os.ReadFile(filepath.Join(s.outdir, asset, "bootstrap"))
		if err != nil {
			t.Errorf("%s: staged asset %q has no bootstrap: %v", id, asset, err)
			continue
		}
		root, _ := repoRoot()
		built, err := os.ReadFile(filepath.Join(DistDir(root), functionDirs[id], "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(staged, built) {
			t.Errorf("%s: staged bootstrap differs from dist/%s/bootstrap", id, functionDirs[id])
		}
	}
}

// TestPollerTimeoutIsTheLambdaMaximum: with the default 15-minute schedule
// the poller may run the full 15 minutes, so that large tenants list in as
// few runs as possible (docs/poller.md).
func TestPollerTimeoutIsTheLambdaMaximum(t *testing.T) {
	s := defaultStack(t)
	if got := number(t, props(s.resource(t, "PollerFunction"))["Timeout"]); got != 900 {
		t.Errorf("PollerFunction Timeout = %v s, want 900", got)
	}
}

func TestQueuesAreFIFOWithFIFODeadLetterQueues(t *testing.T) {
	s := defaultStack(t)
	for _, q := range []struct{ queue, consumer string }{{"ProvisionQueue", "ProvisionFunction"}, {"DeprovisionQueue", "DeprovisionFunction"}} {
		t.Run(q.queue, func(t *testing.T) {
			id := s.logicalID(t, q.queue+"/Resource")
			p := props(s.resource(t, id))
			// Content-based de-duplication: EventBridge Scheduler's SQS
			// target sets only the message group of a held event it sends
			// back, and a FIFO target needs it; the producer's explicit
			// MessageDeduplicationId (the eventId) overrides it.
			if p["FifoQueue"] != true || p["ContentBasedDeduplication"] != true {
				t.Errorf("FifoQueue = %v, ContentBasedDeduplication = %v; want a FIFO queue the Scheduler can send held events to", p["FifoQueue"], p["ContentBasedDeduplication"])
			}
			if p["SqsManagedSseEnabled"] != true && p["KmsMasterKeyId"] == nil {
				t.Error("queue is not encrypted at rest")
			}
			dlqRef := dig(p, "RedrivePolicy", "deadLetterTargetArn")
			dlqID := s.logicalID(t, q.queue+"DLQ/Resource")
			if !refersTo(dlqRef, dlqID) {
				t.Errorf("redrive target = %v, want %s", dlqRef, dlqID)
			}
			if n := number(t, dig(p, "RedrivePolicy", "maxReceiveCount")); n < 2 || n > 10 {
				t.Errorf("maxReceiveCount = %v, want a small receive limit", n)
			}
			dlq := props(s.resource(t, dlqID))
			if dlq["FifoQueue"] != true || dlq["SqsManagedSseEnabled"] != true {
				t.Errorf("DLQ FifoQueue = %v, SSE = %v: a FIFO queue needs a FIFO, encrypted DLQ", dlq["FifoQueue"], dlq["SqsManagedSseEnabled"])
			}
			// Issue 10, defect 3: the queue and its DLQ take SQS's largest
			// message (1 MiB), so that no body SQS accepts from the producer
			// is refused on a redrive, and the product sees (and rejects
			// with its body kept) everything the producer can send.
			for name, qp := range map[string]map[string]any{"queue": p, "DLQ": dlq} {
				if qp["MaximumMessageSize"] == nil || number(t, qp["MaximumMessageSize"]) != 1048576 {
					t.Errorf("%s MaximumMessageSize = %v, want 1048576 (1 MiB)", name, qp["MaximumMessageSize"])
				}
			}
			if number(t, dlq["MessageRetentionPeriod"]) < number(t, p["MessageRetentionPeriod"]) {
				t.Error("DLQ keeps messages for less time than the queue: a redriven message could expire at once")
			}
			// Visibility timeout fits the consumer: at least 6x its timeout.
			timeout := number(t, props(s.resource(t, q.consumer))["Timeout"])
			if vt := number(t, p["VisibilityTimeout"]); vt < 6*timeout {
				t.Errorf("VisibilityTimeout %vs < 6 x %s timeout %vs", vt, q.consumer, timeout)
			}
			assertQueuePolicy(t, s, id)
			assertQueuePolicy(t, s, dlqID)
		})
	}
}

// assertQueuePolicy checks the queue refuses plain HTTP and, for the two
// HRIS queues, lets the producer send.
func assertQueuePolicy(t *testing.T, s *synthesis, queueID string) {
	t.Helper()
	for _, pol := range s.resources("AWS::SQS::QueuePolicy") {
		p := props(pol)
		if !refersTo(list(p["Queues"])[0], queueID) {
			continue
		}
		var tlsOnly, producer bool
		for _, st := range list(dig(p, "PolicyDocument", "Statement")) {
			st := st.(map[string]any)
			if st["Effect"] == "Deny" && dig(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
				tlsOnly = true
			}
			if st["Sid"] == "HRISProducerSend" && st["Effect"] == "Allow" && slices.Contains(list(st["Action"]), any("sqs:SendMessage")) {
				producer = true
			}
		}
		if !tlsOnly {
			t.Errorf("%s: no TLS-only statement", queueID)
		}
		isHRISQueue := strings.HasPrefix(queueID, "ProvisionQueue") || strings.HasPrefix(queueID, "DeprovisionQueue")
		isHRISQueue = isHRISQueue && !strings.Contains(queueID, "DLQ")
		if producer != isHRISQueue {
			t.Errorf("%s: producer may send = %v, want %v", queueID, producer, isHRISQueue)
		}
		return
	}
	t.Errorf("%s has no queue policy", queueID)
}

func TestEventSourceMappingsReportBatchItemFailures(t *testing.T) {
	s := defaultStack(t)
	esms := s.resources("AWS::Lambda::EventSourceMapping")
	if len(esms) != 2 {
		t.Fatalf("%d event source mappings, want 2 (provision, deprovision)", len(esms))
	}
	seen := map[string]bool{}
	for id, esm := range esms {
		p := props(esm)
		fn, _ := dig(p, "FunctionName", "Ref").(string)
		seen[fn] = true
		if !slices.Equal(list(p["FunctionResponseTypes"]), []any{"ReportBatchItemFailures"}) {
			t.Errorf("%s: FunctionResponseTypes = %v", id, p["FunctionResponseTypes"])
		}
		if b := number(t, p["BatchSize"]); b < 1 || b > 10 {
			t.Errorf("%s: BatchSize = %v, want 1..10 (FIFO limit)", id, b)
		}
		maxConc := number(t, dig(p, "ScalingConfig", "MaximumConcurrency"))
		if maxConc < 2 {
			t.Errorf("%s: MaximumConcurrency = %v, AWS minimum is 2", id, maxConc)
		}
		reserved := number(t, props(s.resource(t, fn))["ReservedConcurrentExecutions"])
		if reserved < maxConc {
			t.Errorf("%s: %s reserved concurrency %v < ESM maximum %v: SQS would be throttled", id, fn, reserved, maxConc)
		}
		queue := map[string]string{"ProvisionFunction": "ProvisionQueue", "DeprovisionFunction": "DeprovisionQueue"}[fn]
		if !refersTo(p["EventSourceArn"], s.logicalID(t, queue+"/Resource")) {
			t.Errorf("%s: %s reads %v, want %s", id, fn, p["EventSourceArn"], queue)
		}
	}
	if !seen["ProvisionFunction"] || !seen["DeprovisionFunction"] {
		t.Errorf("mapped functions = %v", seen)
	}
}

// TestConcurrencyStaysWithinTheRequestBudget reads the numbers back from the
// template, so it checks what would be deployed, not the plan.
func TestConcurrencyStaysWithinTheRequestBudget(t *testing.T) {
	for _, budget := range []int{24, 30, 6} {
		t.Run(strings.TrimSpace(itoaStr(budget)), func(t *testing.T) {
			var s *synthesis
			if budget == 24 {
				s = defaultStack(t) // cdk.json's default
			} else {
				s = synthesize(t, map[string]any{ctxRequestBudget: float64(budget)})
			}
			requests := 0.0
			for _, esm := range s.resources("AWS::Lambda::EventSourceMapping") {
				fn := dig(props(esm), "FunctionName", "Ref").(string)
				requests += number(t, dig(props(esm), "ScalingConfig", "MaximumConcurrency")) * inFlight(t, s, fn)
			}
			poller := props(s.resource(t, "PollerFunction"))
			if r := number(t, poller["ReservedConcurrentExecutions"]); r != 1 {
				t.Errorf("poller reserved concurrency = %v, want 1", r)
			}
			requests += number(t, poller["ReservedConcurrentExecutions"]) * inFlight(t, s, "PollerFunction")
			reconcile := props(s.resource(t, "ReconcileFunction"))
			if r := number(t, reconcile["ReservedConcurrentExecutions"]); r != 1 {
				t.Errorf("reconcile reserved concurrency = %v, want 1", r)
			}
			requests += number(t, reconcile["ReservedConcurrentExecutions"]) * inFlight(t, s, "ReconcileFunction")
			if requests > float64(budget) {
				t.Errorf("up to %v Encompass requests in flight, budget is %d", requests, budget)
			}
			if requests < float64(budget)-3 {
				t.Errorf("only %v of the budget %d is used", requests, budget)
			}
			if _, ok := dig(props(s.resource(t, "WebhookFunction")), "Environment", "Variables").(map[string]any)["ENCOMPASS_MAX_IN_FLIGHT"]; ok {
				t.Error("the webhook makes no Encompass calls and should take no share of the budget")
			}
		})
	}
}

func itoaStr(n int) string { return *itoa(n) }

func inFlight(t *testing.T, s *synthesis, fn string) float64 {
	t.Helper()
	v := dig(props(s.resource(t, fn)), "Environment", "Variables", "ENCOMPASS_MAX_IN_FLIGHT")
	if v == nil {
		t.Fatalf("%s has no ENCOMPASS_MAX_IN_FLIGHT", fn)
	}
	n := number(t, v)
	if n < 1 {
		t.Fatalf("%s: ENCOMPASS_MAX_IN_FLIGHT = %v", fn, n)
	}
	return n
}

func TestFunctionEnvironmentFollowsTheContract(t *testing.T) {
	s := defaultStack(t)
	table := s.logicalID(t, "StateTable/Resource")
	bus := s.logicalID(t, "EventBus/Resource")
	encSecret := s.logicalID(t, "EncompassSecret/Resource")
	hookSecret := s.logicalID(t, "WebhookSecret/Resource")
	encompassVars := []string{"DRY_RUN", "ENCOMPASS_API_URL", "ENCOMPASS_INSTANCE_ID", "ENCOMPASS_MAX_IN_FLIGHT", "ENCOMPASS_SECRET_ARN", "ENCOMPASS_USER_API", "EVENT_BUS_NAME", "LOG_LEVEL", "STATE_TABLE"}
	heldVars := []string{"SCHEDULER_DLQ_ARN", "SCHEDULER_GROUP", "SCHEDULER_ROLE_ARN"}
	want := map[string][]string{
		"ProvisionFunction":   slices.Concat(encompassVars, heldVars, []string{"PROVISION_QUEUE_ARN"}),
		"DeprovisionFunction": slices.Concat(encompassVars, heldVars, []string{"DEPROVISION_QUEUE_ARN"}),
		"PollerFunction":      append(slices.Clone(encompassVars), "POLLER_MAX_REMOVAL_RATIO"),
		"WebhookFunction":     {"EVENT_BUS_NAME", "LOG_LEVEL", "STATE_TABLE", "WEBHOOK_SECRET_ARN"},
	}
	for fn, keys := range want {
		env, _ := dig(props(s.resource(t, fn)), "Environment", "Variables").(map[string]any)
		slices.Sort(keys)
		if got := sortedKeys(env); !slices.Equal(got, keys) {
			t.Errorf("%s environment = %v, want %v", fn, got, keys)
			continue
		}
		if !refersTo(env["STATE_TABLE"], table) || !refersTo(env["EVENT_BUS_NAME"], bus) {
			t.Errorf("%s: STATE_TABLE = %v, EVENT_BUS_NAME = %v", fn, env["STATE_TABLE"], env["EVENT_BUS_NAME"])
		}
		if fn == "WebhookFunction" {
			if !refersTo(env["WEBHOOK_SECRET_ARN"], hookSecret) {
				t.Errorf("WEBHOOK_SECRET_ARN = %v", env["WEBHOOK_SECRET_ARN"])
			}
			continue
		}
		if !refersTo(env["ENCOMPASS_SECRET_ARN"], encSecret) {
			t.Errorf("%s: ENCOMPASS_SECRET_ARN = %v", fn, env["ENCOMPASS_SECRET_ARN"])
		}
		if env["ENCOMPASS_INSTANCE_ID"] != "BE11200922" || env["ENCOMPASS_API_URL"] != "https://api.elliemae.com" ||
			env["ENCOMPASS_USER_API"] != "scim" || env["DRY_RUN"] != "false" || env["LOG_LEVEL"] != "info" {
			t.Errorf("%s: environment = %v", fn, env)
		}
	}
	// Held events go back to the function's own queue, in the stack's
	// group, as the scheduler role; failed deliveries to the held events'
	// dead-letter queue.
	group := s.logicalID(t, "HeldEventsScheduleGroup")
	role := s.logicalID(t, "HeldEventsSchedulerRole/Resource")
	dlq := s.logicalID(t, "HeldEventsDLQ/Resource")
	for fn, q := range map[string][2]string{"ProvisionFunction": {"PROVISION_QUEUE_ARN", "ProvisionQueue"}, "DeprovisionFunction": {"DEPROVISION_QUEUE_ARN", "DeprovisionQueue"}} {
		env, _ := dig(props(s.resource(t, fn)), "Environment", "Variables").(map[string]any)
		if !refersTo(env["SCHEDULER_GROUP"], group) || !refersTo(env["SCHEDULER_ROLE_ARN"], role) || !refersTo(env["SCHEDULER_DLQ_ARN"], dlq) ||
			!refersTo(env[q[0]], s.logicalID(t, q[1]+"/Resource")) {
			t.Errorf("%s: held-event variables %v", fn, env)
		}
	}
	if r := dig(props(s.resource(t, "PollerFunction")), "Environment", "Variables", "POLLER_MAX_REMOVAL_RATIO"); r != "0.2" {
		t.Errorf("POLLER_MAX_REMOVAL_RATIO = %v", r)
	}
}

func TestStateTableIsDurable(t *testing.T) {
	s := defaultStack(t)
	tables := s.resources("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("%d tables", len(tables))
	}
	for id, tbl := range tables {
		if tbl["DeletionPolicy"] != "Retain" || tbl["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("%s: DeletionPolicy %v, UpdateReplacePolicy %v; the table must survive stack deletion", id, tbl["DeletionPolicy"], tbl["UpdateReplacePolicy"])
		}
	}
	assertMatches(t, "state table keys, billing, TTL, PITR, encryption", func() {
		s.template.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
				map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
			},
			"AttributeDefinitions": assertions.Match_ArrayWith(&[]any{
				map[string]any{"AttributeName": "pk", "AttributeType": "S"},
				map[string]any{"AttributeName": "sk", "AttributeType": "S"},
			}),
			"BillingMode":                      "PAY_PER_REQUEST",
			"TimeToLiveSpecification":          map[string]any{"AttributeName": "ttl", "Enabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 assertions.Match_ObjectLike(&map[string]any{"SSEEnabled": true}),
			"DeletionProtectionEnabled":        true,
		})
	})
}

// TestIAMActionsHaveNoWildcards covers every identity policy, and every
// Allow in the queue and topic policies. The alert key's policy is not
// covered: it holds the default account-root kms:* statement (so that the
// account never loses control of its key) and AWS's kms:GenerateDataKey*
// for the services that publish to the encrypted topic.
func TestIAMActionsHaveNoWildcards(t *testing.T) {
	s := defaultStack(t)
	check := func(where string, doc any, allowOnly bool) {
		for _, st := range list(dig(doc, "Statement")) {
			st := st.(map[string]any)
			if allowOnly && st["Effect"] != "Allow" {
				continue
			}
			for _, a := range list(st["Action"]) {
				if strings.Contains(a.(string), "*") {
					t.Errorf("%s allows wildcard action %q", where, a)
				}
			}
		}
	}
	for id, p := range s.resources("AWS::IAM::Policy") {
		check(id, dig(p, "Properties", "PolicyDocument"), false)
	}
	for id, r := range s.resources("AWS::IAM::Role") {
		if mp := dig(r, "Properties", "ManagedPolicyArns"); mp != nil {
			t.Errorf("%s uses managed policies %v", id, mp)
		}
		for _, pol := range list(dig(r, "Properties", "Policies")) {
			check(id, dig(pol, "PolicyDocument"), false)
		}
	}
	for _, typ := range []string{"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		for id, p := range s.resources(typ) {
			check(id, dig(p, "Properties", "PolicyDocument"), true)
		}
	}
	if n := len(s.resources("AWS::IAM::ManagedPolicy")); n != 0 {
		t.Errorf("%d managed policies", n)
	}
}

// TestEachFunctionGetsExactlyWhatItUses pins every function's permissions.
func TestEachFunctionGetsExactlyWhatItUses(t *testing.T) {
	s := defaultStack(t)
	table := s.logicalID(t, "StateTable/Resource")
	bus := s.logicalID(t, "EventBus/Resource")
	encSecret := s.logicalID(t, "EncompassSecret/Resource")
	hookSecret := s.logicalID(t, "WebhookSecret/Resource")
	logs := func(fn string) string { return s.logicalID(t, fn+"Logs/Resource") }
	queue := func(q string) string { return s.logicalID(t, q+"/Resource") }
	consume := "sqs:ChangeMessageVisibility sqs:DeleteMessage sqs:GetQueueAttributes sqs:GetQueueUrl sqs:ReceiveMessage"
	ddbRW := "dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem dynamodb:Query dynamodb:UpdateItem"
	secret := "secretsmanager:DescribeSecret secretsmanager:GetSecretValue"
	type grant struct{ actions, resource string }
	// Held events: the schedules of the stack's group (a pattern, so no
	// single resource id) and the scheduler role (TestHeldEventsGrants
	// checks both in full).
	schedules := grant{"scheduler:CreateSchedule scheduler:DeleteSchedule", ""}
	passRole := grant{"iam:PassRole", s.logicalID(t, "HeldEventsSchedulerRole/Resource")}
	want := map[string][]grant{
		"ProvisionFunction": {{"logs:CreateLogStream logs:PutLogEvents", logs("ProvisionFunction")}, {secret, encSecret}, {"events:PutEvents", bus},
			{ddbRW, table}, {consume, queue("ProvisionQueue")}, schedules, passRole},
		"DeprovisionFunction": {{"logs:CreateLogStream logs:PutLogEvents", logs("DeprovisionFunction")}, {secret, encSecret}, {"events:PutEvents", bus},
			{ddbRW, table}, {consume, queue("DeprovisionQueue")}, schedules, passRole},
		"PollerFunction": {{"logs:CreateLogStream logs:PutLogEvents", logs("PollerFunction")}, {secret, encSecret}, {"events:PutEvents", bus},
			{"dynamodb:BatchWriteItem " + ddbRW, table}, {"dynamodb:Query", table}},
		"WebhookFunction": {{"logs:CreateLogStream logs:PutLogEvents", logs("WebhookFunction")}, {"dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem", table},
			{secret, hookSecret}, {"events:PutEvents", bus}},
	}
	for fn, grants := range want {
		var got []grant
		for _, st := range s.statements(t, fn) {
			actions := actionsOf(st)
			res := list(st["Resource"])
			if len(res) != 1 {
				t.Errorf("%s: statement %v has %d resources, want 1", fn, actions, len(res))
				continue
			}
			id, _ := dig(res[0], "Ref").(string)
			if ga, ok := dig(res[0], "Fn::GetAtt").([]any); ok {
				id = ga[0].(string)
			}
			got = append(got, grant{strings.Join(actions, " "), id})
		}
		cmp := func(a, b grant) int { return strings.Compare(a.actions+a.resource, b.actions+b.resource) }
		slices.SortFunc(got, cmp)
		slices.SortFunc(grants, cmp)
		if !slices.Equal(got, grants) {
			t.Errorf("%s permissions:\n got %v\nwant %v", fn, got, grants)
		}
	}
}

func TestNoSecretValueInTheTemplate(t *testing.T) {
	s := defaultStack(t)
	secrets := s.resources("AWS::SecretsManager::Secret")
	if len(secrets) != 2 {
		t.Fatalf("%d secrets, want 2 (Encompass credentials, webhook keys)", len(secrets))
	}
	for id, sec := range secrets {
		p := props(sec)
		if _, ok := p["SecretString"]; ok {
			t.Errorf("%s carries a SecretString", id)
		}
		if _, ok := p["GenerateSecretString"]; ok {
			t.Errorf("%s generates a value; it must be created empty and filled by the operator", id)
		}
	}
	raw, _ := json.Marshal(s.doc)
	text := string(raw)
	for _, leak := range []string{"ENCOMPASS_CLIENT_SECRET", "ENCOMPASS_PASSWORD", "ENCOMPASS_CLIENT_ID", "ENCOMPASS_USERNAME", "WEBHOOK_SIGNING_KEYS", "sim-client-secret", "Sim-Admin-Passw0rd"} {
		if strings.Contains(text, leak) {
			t.Errorf("template contains %q", leak)
		}
	}
}

func TestPollerScheduleRetriesIntoADeadLetterQueue(t *testing.T) {
	s := defaultStack(t)
	scheds := s.resources("AWS::Scheduler::Schedule")
	if len(scheds) != 1 {
		t.Fatalf("%d schedules", len(scheds))
	}
	for _, sch := range scheds {
		p := props(sch)
		if p["ScheduleExpression"] != "rate(15 minutes)" || p["State"] != "ENABLED" {
			t.Errorf("schedule = %v %v", p["ScheduleExpression"], p["State"])
		}
		if !refersTo(dig(p, "Target", "Arn"), "PollerFunction") {
			t.Errorf("target = %v", dig(p, "Target", "Arn"))
		}
		if n := number(t, dig(p, "Target", "RetryPolicy", "MaximumRetryAttempts")); n < 1 {
			t.Errorf("MaximumRetryAttempts = %v", n)
		}
		if !refersTo(dig(p, "Target", "DeadLetterConfig", "Arn"), s.logicalID(t, "PollerScheduleDLQ/Resource")) {
			t.Errorf("dead-letter config = %v", dig(p, "Target", "DeadLetterConfig"))
		}
		// The input is a scheduled event: join the Fn::Join parts with
		// placeholders for the account and region and decode it.
		var input strings.Builder
		for _, part := range dig(p, "Target", "Input", "Fn::Join").([]any)[1].([]any) {
			if str, ok := part.(string); ok {
				input.WriteString(str)
			} else {
				input.WriteString("x")
			}
		}
		var ev struct {
			DetailType string          `json:"detail-type"`
			Source     string          `json:"source"`
			ID         string          `json:"id"`
			Time       string          `json:"time"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal([]byte(input.String()), &ev); err != nil {
			t.Fatalf("schedule input %s: %v", input.String(), err)
		}
		if ev.DetailType != "Scheduled Event" || ev.ID != "<aws.scheduler.execution-id>" || ev.Time != "<aws.scheduler.scheduled-time>" || string(ev.Detail) != "{}" {
			t.Errorf("schedule input = %+v", ev)
		}
	}
	// Lambda itself does not retry the asynchronous poll.
	for _, cfg := range s.resources("AWS::Lambda::EventInvokeConfig") {
		if dig(cfg, "Properties", "FunctionName", "Ref") == "PollerFunction" && number(t, dig(cfg, "Properties", "MaximumRetryAttempts")) != 0 {
			t.Errorf("poller async retries = %v", dig(cfg, "Properties", "MaximumRetryAttempts"))
		}
	}
}

func TestEventBusHasAReplayArchive(t *testing.T) {
	s := defaultStack(t)
	bus := s.logicalID(t, "EventBus/Resource")
	archives := s.resources("AWS::Events::Archive")
	if len(archives) != 1 {
		t.Fatalf("%d archives", len(archives))
	}
	for _, a := range archives {
		p := props(a)
		if !refersTo(p["SourceArn"], bus) {
			t.Errorf("archive source = %v", p["SourceArn"])
		}
		if got := list(dig(p, "EventPattern", "source")); !slices.Equal(got, []any{"encompass.provisioning", "encompass.poller", "encompass.webhook", "encompass.reconcile"}) {
			t.Errorf("archive pattern sources = %v", got)
		}
		if number(t, p["RetentionDays"]) != 90 {
			t.Errorf("RetentionDays = %v", p["RetentionDays"])
		}
	}
}

func TestWebhookAPIRoutesThrottlingAndAccessLogs(t *testing.T) {
	s := defaultStack(t)
	var routes []string
	for _, r := range s.resources("AWS::ApiGatewayV2::Route") {
		routes = append(routes, dig(r, "Properties", "RouteKey").(string))
	}
	slices.Sort(routes)
	if !slices.Equal(routes, []string{"GET /webhooks/encompass/health", "POST /webhooks/encompass"}) {
		t.Errorf("routes = %v", routes)
	}
	stages := s.resources("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("%d stages", len(stages))
	}
	for _, st := range stages {
		p := props(st)
		if number(t, dig(p, "DefaultRouteSettings", "ThrottlingRateLimit")) != 50 || number(t, dig(p, "DefaultRouteSettings", "ThrottlingBurstLimit")) != 100 {
			t.Errorf("throttling = %v", p["DefaultRouteSettings"])
		}
		if !refersTo(dig(p, "AccessLogSettings", "DestinationArn"), s.logicalID(t, "WebhookApiAccessLogs/Resource")) {
			t.Errorf("access logs = %v", p["AccessLogSettings"])
		}
		var format map[string]string
		if err := json.Unmarshal([]byte(dig(p, "AccessLogSettings", "Format").(string)), &format); err != nil || format["requestId"] != "$context.requestId" {
			t.Errorf("access log format is not JSON with the request id: %v", err)
		}
	}
	for _, integ := range s.resources("AWS::ApiGatewayV2::Integration") {
		if dig(integ, "Properties", "PayloadFormatVersion") != "2.0" {
			t.Errorf("payload format = %v, the webhook function takes API Gateway v2 events", dig(integ, "Properties", "PayloadFormatVersion"))
		}
	}
}

func TestAlarms(t *testing.T) {
	s := defaultStack(t)
	topic := s.logicalID(t, "AlertTopic/Resource")
	type alarmKey struct{ metric, target string }
	got := map[alarmKey]map[string]any{}
	for id, a := range s.resources("AWS::CloudWatch::Alarm") {
		p := props(a)
		if actions := list(p["AlarmActions"]); len(actions) != 1 || !refersTo(actions[0], topic) {
			t.Errorf("%s: alarm actions = %v, want the alert topic", id, actions)
		}
		var target string
		for _, d := range list(p["Dimensions"]) {
			v := dig(d, "Value")
			if ref, ok := dig(v, "Ref").(string); ok {
				target = ref
			} else if ga, ok := dig(v, "Fn::GetAtt").([]any); ok {
				target = ga[0].(string)
			}
		}
		got[alarmKey{p["MetricName"].(string), target}] = p
	}
	want := []alarmKey{}
	for _, q := range []string{"ProvisionQueueDLQ", "DeprovisionQueueDLQ", "PollerScheduleDLQ", "AlertRuleDLQ", "HeldEventsDLQ"} {
		want = append(want, alarmKey{"ApproximateNumberOfMessagesVisible", s.logicalID(t, q+"/Resource")})
	}
	for _, fn := range allFunctions {
		want = append(want, alarmKey{"Errors", fn}, alarmKey{"Throttles", fn})
	}
	want = append(want, alarmKey{"ApproximateAgeOfOldestMessage", s.logicalID(t, "DeprovisionQueue/Resource")},
		alarmKey{"WebhookFailedHandOff", ""}, // a literal dimension: Function=webhook
		alarmKey{"ReconciliationRefused", ""}, alarmKey{"Findings", ""})
	for _, k := range want {
		p, ok := got[k]
		if !ok {
			t.Errorf("no %s alarm on %s", k.metric, k.target)
			continue
		}
		if number(t, p["Threshold"]) > 1 && k.metric != "ApproximateAgeOfOldestMessage" {
			t.Errorf("%s on %s alarms only at %v", k.metric, k.target, p["Threshold"])
		}
	}
	// The leaver's receipt: p99 exposure over 15 minutes, 300 s by default.
	if exp, ok := got[alarmKey{"ExposureSeconds", ""}]; !ok {
		t.Error("no alarm on the leaver exposure (ExposureSeconds)")
	} else if exp["ExtendedStatistic"] != "p99" || number(t, exp["Period"]) != 900 || number(t, exp["Threshold"]) != 300 {
		t.Errorf("exposure alarm: statistic %v, period %v, threshold %v; want p99 over 900 s at 300", exp["ExtendedStatistic"], exp["Period"], exp["Threshold"])
	}
	age := got[alarmKey{"ApproximateAgeOfOldestMessage", s.logicalID(t, "DeprovisionQueue/Resource")}]
	if age != nil && number(t, age["Threshold"]) != 15*60 {
		t.Errorf("deprovision age alarm threshold = %v s, want 900", age["Threshold"])
	}

	// Poll Anomaly and User Drift Detected reach the topic.
	var forwarded bool
	for _, r := range s.resources("AWS::Events::Rule") {
		p := props(r)
		types := list(dig(p, "EventPattern", "detail-type"))
		if slices.Contains(types, any("Poll Anomaly")) && slices.Contains(types, any("User Drift Detected")) &&
			slices.Equal(list(dig(p, "EventPattern", "source")), []any{"encompass.poller"}) &&
			refersTo(dig(list(p["Targets"])[0], "Arn"), topic) && refersTo(p["EventBusName"], s.logicalID(t, "EventBus/Resource")) {
			forwarded = true
		}
	}
	if !forwarded {
		t.Error("no rule forwards Poll Anomaly and User Drift Detected from the bus to the alert topic")
	}
	tp := props(s.resource(t, topic))
	if tp["KmsMasterKeyId"] == nil {
		t.Error("alert topic is not encrypted")
	}
	if len(s.resources("AWS::SNS::Subscription")) != 0 {
		t.Error("default config has no alert e-mail, yet there is a subscription")
	}
	// Every publisher may publish to the topic and use its key: a missing
	// grant drops notifications silently.
	var topicPublishers, keyUsers []string
	for _, pol := range s.resources("AWS::SNS::TopicPolicy") {
		for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
			if dig(st, "Effect") == "Allow" && slices.Contains(list(dig(st, "Action")), any("sns:Publish")) {
				for _, p := range list(dig(st, "Principal", "Service")) {
					topicPublishers = append(topicPublishers, p.(string))
				}
			}
		}
	}
	keyID := dig(tp, "KmsMasterKeyId", "Fn::GetAtt").([]any)[0].(string)
	for _, st := range list(dig(props(s.resource(t, keyID)), "KeyPolicy", "Statement")) {
		actions := list(dig(st, "Action"))
		if dig(st, "Effect") == "Allow" && slices.Contains(actions, any("kms:Decrypt")) && slices.Contains(actions, any("kms:GenerateDataKey*")) {
			for _, p := range list(dig(st, "Principal", "Service")) {
				keyUsers = append(keyUsers, p.(string))
			}
		}
	}
	for _, publisher := range []string{"cloudwatch.amazonaws.com", "events.amazonaws.com"} {
		if !slices.Contains(topicPublishers, publisher) || !slices.Contains(keyUsers, publisher) {
			t.Errorf("%s: may publish %v, may use the key %v", publisher, slices.Contains(topicPublishers, publisher), slices.Contains(keyUsers, publisher))
		}
	}
	assertMatches(t, "the alert key rotates", func() {
		s.template.HasResourceProperties(jsii.String("AWS::KMS::Key"), &map[string]any{"EnableKeyRotation": true})
	})
}

// TestNagFindsNoErrors: the AwsSolutions pack reports no unsuppressed error,
// and every suppression explains itself.
func TestNagFindsNoErrors(t *testing.T) {
	s := defaultStack(t)
	errs := assertions.Annotations_FromStack(s.stack.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("cdk-nag error: %s", message(e))
	}
	warnings := assertions.Annotations_FromStack(s.stack.Stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, w := range *warnings {
		t.Errorf("cdk-nag warning: %s", message(w))
	}
	suppressions := 0
	for id, r := range s.doc["Resources"].(map[string]any) {
		for _, sup := range list(dig(r, "Metadata", "cdk_nag", "rules_to_suppress")) {
			suppressions++
			reason, _ := dig(sup, "reason").(string)
			if len(reason) < 80 {
				t.Errorf("%s: suppression of %v has a thin reason %q", id, dig(sup, "id"), reason)
			}
		}
	}
	if suppressions == 0 {
		t.Error("found no suppression metadata: is the nag pack applied to the stack?")
	}
}

// TestConfigurationVariants synthesizes the options a production deploy
// sets: alert e-mail, a cross-account producer, imported secrets, and the
// SAM-local placeholders.
func TestConfigurationVariants(t *testing.T) {
	const (
		encARN  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass/api-AbC123"
		hookARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass/webhook-XyZ789"
		role    = "arn:aws:iam::210987654321:role/hris-producer"
	)
	s := synthesize(t, map[string]any{
		ctxAlertEmail: "ops@example.com", ctxProducerPrincipal: role,
		ctxEncompassSecretARN: encARN, ctxWebhookSecretARN: hookARN,
		ctxSAMLocal: true, ctxPollRateMinutes: "30", ctxDryRun: "true",
		ctxMappingFile: "infra/testdata/mapping.yaml",
	})
	if n := len(s.resources("AWS::SecretsManager::Secret")); n != 0 {
		t.Errorf("%d secrets created although both are imported", n)
	}
	subs := s.resources("AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions", len(subs))
	}
	for _, sub := range subs {
		if p := props(sub); p["Protocol"] != "email" || p["Endpoint"] != "ops@example.com" {
			t.Errorf("subscription = %v", p)
		}
	}
	for _, fn := range []string{"ProvisionFunction", "DeprovisionFunction", "PollerFunction"} {
		env := dig(props(s.resource(t, fn)), "Environment", "Variables").(map[string]any)
		if env["ENCOMPASS_SECRET_ARN"] != encARN || env["DRY_RUN"] != "true" {
			t.Errorf("%s: ENCOMPASS_SECRET_ARN = %v, DRY_RUN = %v", fn, env["ENCOMPASS_SECRET_ARN"], env["DRY_RUN"])
		}
		for _, k := range append(slices.Clone(localOnlyEncompassVars), localOnlyEndpointVars...) {
			if v, ok := env[k]; !ok || v != "" {
				t.Errorf("%s: samLocal placeholder %s = %v, %v; want declared and empty", fn, k, v, ok)
			}
		}
	}
	// The mapping file travels next to the provisioning functions' bootstrap.
	root, _ := repoRoot()
	wantMapping, err := os.ReadFile(filepath.Join(root, "infra", "testdata", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"ProvisionFunction", "DeprovisionFunction"} {
		r := s.resource(t, fn)
		if v := dig(props(r), "Environment", "Variables", "MAPPING_FILE"); v != "/var/task/mapping.yaml" {
			t.Errorf("%s: MAPPING_FILE = %v", fn, v)
		}
		asset := filepath.Join(s.outdir, dig(r, "Metadata", "aws:asset:path").(string))
		got, err := os.ReadFile(filepath.Join(asset, "mapping.yaml"))
		if err != nil || !slices.Equal(got, wantMapping) {
			t.Errorf("%s: packaged mapping.yaml = %q, %v", fn, got, err)
		}
		bootstrap, err := os.ReadFile(filepath.Join(asset, "bootstrap"))
		built, _ := os.ReadFile(filepath.Join(DistDir(root), functionDirs[fn], "bootstrap"))
		if err != nil || !slices.Equal(bootstrap, built) {
			t.Errorf("%s: packaged bootstrap differs from dist/: %v", fn, err)
		}
	}
	if _, ok := dig(props(s.resource(t, "PollerFunction")), "Environment", "Variables").(map[string]any)["MAPPING_FILE"]; ok {
		t.Error("the poller does not map users and should not get MAPPING_FILE")
	}
	hookEnv := dig(props(s.resource(t, "WebhookFunction")), "Environment", "Variables").(map[string]any)
	if hookEnv["WEBHOOK_SECRET_ARN"] != hookARN || hookEnv["WEBHOOK_SIGNING_KEYS"] != "" {
		t.Errorf("webhook env = %v", hookEnv)
	}
	// The producer is named in both HRIS queues' policies and the grants
	// read the imported secrets by their exact ARN.
	producers := 0
	for _, pol := range s.resources("AWS::SQS::QueuePolicy") {
		for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
			if dig(st, "Sid") == "HRISProducerSend" && dig(st, "Principal", "AWS") == role {
				producers++
			}
		}
	}
	if producers != 2 {
		t.Errorf("producer %s may send to %d queues, want 2", role, producers)
	}
	raw, _ := json.Marshal(s.resources("AWS::IAM::Policy"))
	if !strings.Contains(string(raw), encARN) || !strings.Contains(string(raw), hookARN) {
		t.Error("grants do not name the imported secrets")
	}
	for _, sch := range s.resources("AWS::Scheduler::Schedule") {
		if dig(sch, "Properties", "ScheduleExpression") != "rate(30 minutes)" {
			t.Errorf("schedule = %v", dig(sch, "Properties", "ScheduleExpression"))
		}
	}
	errs := assertions.Annotations_FromStack(s.stack.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("cdk-nag error: %s", message(e))
	}
}

func TestMissingBootstrapFailsWithTheFix(t *testing.T) {
	app := NewApp(t.TempDir(), map[string]any{ctxInstanceID: "BE11200922"})
	_, err := Build(app, t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "run make build") {
		t.Fatalf("err = %v, want one telling to run make build", err)
	}
}

// TestEnvJSONOnlySetsDeclaredVariables: `sam local invoke --env-vars`
// silently ignores a variable the template does not declare, so every
// variable of events/env.json must be in the samLocal template.
func TestEnvJSONOnlySetsDeclaredVariables(t *testing.T) {
	s := synthesize(t, map[string]any{ctxSAMLocal: true})
	root, _ := repoRoot()
	b, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]any
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, fn := range allFunctions {
		env := dig(props(s.resource(t, fn)), "Environment", "Variables").(map[string]any)
		section, ok := file[fn]
		if !ok {
			t.Errorf("events/env.json has no %s section", fn)
		}
		for _, vars := range []map[string]any{file["Parameters"], section} {
			for k := range vars {
				if _, declared := env[k]; !declared {
					t.Errorf("events/env.json sets %s for %s, but the template does not declare it: SAM would ignore it", k, fn)
				}
			}
		}
	}
	// And the deployable template declares none of the local-only ones.
	d := defaultStack(t)
	for _, fn := range allFunctions {
		env := dig(props(d.resource(t, fn)), "Environment", "Variables").(map[string]any)
		for _, k := range slices.Concat(localOnlyEncompassVars, localOnlyWebhookVars, localOnlyEndpointVars, localOnlySchedulerVars) {
			if _, ok := env[k]; ok {
				t.Errorf("%s declares the local-only %s in the deployable template", fn, k)
			}
		}
	}
}

// TestRunWritesWhatSAMReads runs the app as `make synth` does and checks the
// cloud assembly: the template under its stack name, and each function's
// aws:asset:path resolving, next to the template, to its bootstrap.
func TestRunWritesWhatSAMReads(t *testing.T) {
	root, _ := repoRoot()
	for _, dir := range functionDirs {
		if _, err := os.Stat(filepath.Join(DistDir(root), dir, "bootstrap")); err != nil {
			t.Fatalf("%s is missing: run make build first (make test does)", filepath.Join(DistDir(root), dir, "bootstrap"))
		}
	}
	out := t.TempDir()
	t.Setenv("CDK_OUTDIR", out)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, StackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	for _, fn := range allFunctions {
		md, _ := dig(tmpl, "Resources", fn, "Metadata").(map[string]any)
		asset, _ := md["aws:asset:path"].(string)
		if md["aws:cdk:path"] != StackName+"/"+fn+"/Resource" || asset == "" {
			t.Errorf("%s metadata = %v", fn, md)
			continue
		}
		if fi, err := os.Stat(filepath.Join(out, asset, "bootstrap")); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s: %s/bootstrap is not an executable file: %v", fn, asset, err)
		}
	}
}
