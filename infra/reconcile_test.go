package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestReconcileGetsExactlyWhatItUses (least privilege): read rosters/,
// write reports/, send to the two queues, read the state table's links and
// snapshot, read the Encompass secret, publish its own source, write its
// logs. Nothing else.
func TestReconcileGetsExactlyWhatItUses(t *testing.T) {
	s := defaultStack(t)
	type grant struct{ sid, actions, resource string }
	var got []grant
	for _, st := range s.statements(t, "ReconcileFunction") {
		res, _ := json.Marshal(st["Resource"])
		sid, _ := st["Sid"].(string)
		got = append(got, grant{sid, strings.Join(actionsOf(st), " "), string(res)})
	}
	has := func(sid, actions, resourceSays string, n int) {
		t.Helper()
		for _, g := range got {
			if g.sid == sid {
				if g.actions != actions || !strings.Contains(g.resource, resourceSays) || strings.Count(g.resource, "Arn") > n+1 {
					t.Errorf("%s: %s on %s, want %s on %s", sid, g.actions, g.resource, actions, resourceSays)
				}
				return
			}
		}
		t.Errorf("no %s statement in %+v", sid, got)
	}
	has("ReadRosters", "s3:GetObject s3:GetObjectVersion", `/rosters/*`, 1)
	has("WriteReports", "s3:PutObject", `/reports/*`, 1)
	has("SendHRISEvents", "sqs:SendMessage", "ProvisionQueue", 2)
	if g := got[slices.IndexFunc(got, func(g grant) bool { return g.sid == "SendHRISEvents" })]; !strings.Contains(g.resource, "DeprovisionQueue") {
		t.Errorf("SendHRISEvents: %s", g.resource)
	}
	var actions []string
	for _, g := range got {
		actions = append(actions, strings.Fields(g.actions)...)
	}
	slices.Sort(actions)
	want := []string{"dynamodb:GetItem", "dynamodb:Query", "events:PutEvents", "logs:CreateLogStream", "logs:PutLogEvents",
		"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "sqs:SendMessage"}
	if !slices.Equal(slices.Compact(actions), want) {
		t.Errorf("reconcile's actions = %v, want %v", slices.Compact(actions), want)
	}
}

// TestRosterBucket: encrypted, TLS only, public access blocked, versioned,
// access logged, reports expiring; its notification starts the reconcile
// function for rosters/ only, and only this bucket may invoke it.
func TestRosterBucket(t *testing.T) {
	s := defaultStack(t)
	bucketID := s.logicalID(t, "RosterBucket/Resource")
	p := props(s.resource(t, bucketID))
	if dig(p, "BucketEncryption", "ServerSideEncryptionConfiguration") == nil {
		t.Error("roster bucket is not encrypted")
	}
	if dig(p, "VersioningConfiguration", "Status") != "Enabled" {
		t.Error("roster bucket is not versioned")
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if dig(p, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("public access: %s is not blocked", k)
		}
	}
	if dig(p, "LoggingConfiguration", "DestinationBucketName") == nil {
		t.Error("roster bucket access is not logged")
	}
	var reportRule bool
	for _, r := range list(dig(p, "LifecycleConfiguration", "Rules")) {
		if dig(r, "Prefix") == "reports/" && number(t, dig(r, "ExpirationInDays")) == 400 {
			reportRule = true
		}
	}
	if !reportRule {
		t.Errorf("no 400-day expiry on reports/: %v", dig(p, "LifecycleConfiguration"))
	}
	lambdas := list(dig(p, "NotificationConfiguration", "LambdaConfigurations"))
	if len(lambdas) != 1 {
		t.Fatalf("notifications = %v", dig(p, "NotificationConfiguration"))
	}
	n := lambdas[0]
	if dig(n, "Event") != "s3:ObjectCreated:*" || !strings.Contains(mustJSON(dig(n, "Function")), "ReconcileFunction") ||
		mustJSON(dig(n, "Filter", "S3Key", "Rules")) != `[{"Name":"prefix","Value":"rosters/"}]` {
		t.Errorf("notification = %s", mustJSON(n))
	}
	// TLS only: the bucket policy denies aws:SecureTransport false.
	var tls bool
	for _, pol := range s.resources("AWS::S3::BucketPolicy") {
		if !refersTo(dig(pol, "Properties", "Bucket"), bucketID) {
			continue
		}
		for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
			if dig(st, "Effect") == "Deny" && dig(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
				tls = true
			}
		}
	}
	if !tls {
		t.Error("the roster bucket accepts plain HTTP")
	}
	var perms int
	for _, perm := range s.resources("AWS::Lambda::Permission") {
		pp := props(perm)
		if pp["Principal"] != "s3.amazonaws.com" {
			continue
		}
		perms++
		if !strings.Contains(mustJSON(pp["FunctionName"]), "ReconcileFunction") || !strings.Contains(mustJSON(pp["SourceArn"]), "encompass-lifecycle-rosters") || pp["SourceAccount"] == nil {
			t.Errorf("S3 invoke permission = %s", mustJSON(pp))
		}
	}
	if perms != 1 {
		t.Errorf("%d S3 invoke permissions, want 1", perms)
	}
	env := dig(props(s.resource(t, "ReconcileFunction")), "Environment", "Variables").(map[string]any)
	for _, k := range []string{"ROSTER_BUCKET", "PROVISION_QUEUE_ARN", "DEPROVISION_QUEUE_ARN", "RECONCILE_MIN_ROSTER_RATIO", "RECONCILE_IGNORE_LOGINS", "STATE_TABLE", "EVENT_BUS_NAME", "ENCOMPASS_SECRET_ARN"} {
		if _, ok := env[k]; !ok {
			t.Errorf("ReconcileFunction has no %s", k)
		}
	}
	if env["RECONCILE_MIN_ROSTER_RATIO"] != "0.8" {
		t.Errorf("RECONCILE_MIN_ROSTER_RATIO = %v", env["RECONCILE_MIN_ROSTER_RATIO"])
	}
}

// TestReconcileContext: the reconciliation's context keys reach the
// function, and bad values are refused naming the key.
func TestReconcileContext(t *testing.T) {
	s := synthesize(t, map[string]any{ctxIgnoreLogins: "svc-*,admin?", ctxMinRosterRatio: 0.9, ctxReportRetention: 30.0})
	env := dig(props(s.resource(t, "ReconcileFunction")), "Environment", "Variables").(map[string]any)
	if env["RECONCILE_IGNORE_LOGINS"] != "svc-*,admin?" || env["RECONCILE_MIN_ROSTER_RATIO"] != "0.9" {
		t.Errorf("env = %v", env)
	}
	for key, v := range map[string]any{ctxMinRosterRatio: 1.5, ctxReportRetention: 0.0, ctxIgnoreLogins: "svc-[a"} {
		m := map[string]any{ctxInstanceID: "BE11200922", key: v}
		if _, err := LoadConfig(lookupIn(m)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s = %v: %v", key, v, err)
		}
	}
}
