package main

import (
	"math"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// State-table partition keys (pk), by the function that owns or reads
// them, as IAM dynamodb:LeadingKeys patterns. The source is the key
// constructors of pkg/state (the claim kinds "EVENT#" and "WEBHOOK#",
// employeePK "EMP#", writePK "USER#", terminatedPK "TERMINATED", rejectedPK
// "REJECTED#", the login index "LINK#", and the held events of the
// effective-date issue, "HELD#")
// and of its poller snapshot (metaPK, basePKPrefix, deltaPKPrefix, stageHeadPK,
// stagePKPrefix: all "POLL#"). A new key prefix in those packages needs
// its line here, or the function is denied (AccessDeniedException) the
// first time it writes one: TestStateTableGrantsAreScopedByLeadingKeys
// lists them all.
var (
	// provisioningKeys: the HRIS event claims, employee links and their
	// login index, the write log, the terminated index, rejected bodies and
	// held events. Provision and deprovision share them (a rehire clears a
	// tombstone, a leaver writes one).
	provisioningKeys = []string{"EVENT#*", "EMP#*", "LINK#*", "USER#*", "TERMINATED", "REJECTED#*", "HELD#*"}
	// pollerOwnKeys: the poller's snapshot (meta, base chunks, delta
	// shards) and its staged listing.
	pollerOwnKeys = []string{"POLL#*"}
	// pollerReadKeys: the write log (origin of a change) and the terminated
	// index (drift), which the provisioning functions write.
	pollerReadKeys = []string{"USER#*", "TERMINATED"}
	// webhookKeys: the delivery-id claims.
	webhookKeys = []string{"WEBHOOK#*"}
	// reconcileReadKeys: the login index (every link), the employee links
	// (to settle a login the index names twice) and the poller's snapshot,
	// read only.
	reconcileReadKeys = []string{"LINK#*", "EMP#*", "POLL#*"}
)

// DynamoDB actions each function uses on the state table: the calls of
// pkg/state (grep its s.db.* calls). Listed rather than
// granted through GrantReadWriteData so that a function gets exactly what
// it calls: no Scan, no BatchGetItem, no transactions, no table
// administration.
var (
	provisioningTableActions = []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
	}
	// The poller's snapshot (state.Snapshot) also compacts its delta items with
	// BatchWriteItem; IAM checks LeadingKeys for every item of the batch.
	pollerOwnTableActions = []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
		"dynamodb:BatchWriteItem",
	}
	// The poller reads the write log (state.Store.WritesSince) and the
	// terminated index (state.Store.Terminated) with Query only.
	pollerReadTableActions = []string{"dynamodb:Query"}
	// The webhook claims a delivery id with a conditional put (reading the
	// claim when the put loses), then completes or releases it (updates).
	webhookTableActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	// Reconcile reads: the login index's shards and the snapshot's deltas
	// (Query), the snapshot's header and chunks and an employee's link
	// (GetItem). It writes nothing to the table.
	reconcileTableActions = []string{"dynamodb:GetItem", "dynamodb:Query"}
)

// grantTable lets fn call actions on the state table only for items whose
// partition key matches one of keys. ForAllValues:StringLike on
// dynamodb:LeadingKeys is AWS's pattern for per-prefix access; every action
// granted here names its partition key (no Scan), so the condition is
// never vacuously true.
func (s *LifecycleStack) grantTable(fn awslambda.Function, actions, keys []string) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &[]*string{s.Table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": keys},
		},
	}))
}

// grantPutEvents lets fn publish to the bus only events of its own source
// (CONTRACTS section 3), so that a compromised webhook cannot forge, say,
// a "User Deprovisioned" from encompass.provisioning.
func (s *LifecycleStack) grantPutEvents(fn awslambda.Function, source string) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: &[]*string{s.Bus.EventBusArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"events:source": source},
		},
	}))
}

// Event sources, one per publishing function (CONTRACTS section 3).
const (
	sourceProvisioning = "encompass.provisioning"
	sourcePoller       = "encompass.poller"
	sourceWebhook      = "encompass.webhook"
	sourceReconcile    = "encompass.reconcile"
)

// webhookHandlerSeconds is what the reserved concurrency of the webhook
// allows one delivery: verify the signature, claim the delivery id (one
// conditional put) and PutEvents, a few tens of milliseconds in the region,
// with headroom.
const webhookHandlerSeconds = 0.2

// minWebhookConcurrency keeps the webhook answering when the stage's rate
// is set very low.
const minWebhookConcurrency = 2

// webhookReservedConcurrency sizes the webhook's reserved concurrency from
// the HTTP API stage's rate limit by Little's law: at most rateLimit
// deliveries a second, each in flight for webhookHandlerSeconds. 10 at the
// default 50 requests/s. The webhook makes no Encompass calls, so it takes
// no share of the request budget; the reservation caps what a flood of
// deliveries (or a forged-signature storm) can take from the account, and
// keeps the webhook able to answer when other functions use the rest.
// Deliveries beyond it are throttled: API Gateway answers 5xx, Encompass
// retries them, and the WebhookThrottles alarm says to raise the limit.
func webhookReservedConcurrency(rateLimit int) int {
	return max(minWebhookConcurrency, int(math.Ceil(float64(rateLimit)*webhookHandlerSeconds)))
}
