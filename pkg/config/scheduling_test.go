package config_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

// The effective-date variables (CONTRACTS section 5): required by the two
// provisioning functions, each its own queue; every bad value is named.
func TestSchedulingVariables(t *testing.T) {
	t.Parallel()
	c, err := load(t, base(), config.ForDeprovision)
	if err != nil {
		t.Fatal(err)
	}
	if c.SchedulerGroup != "lifecycle-held" || c.SchedulerRoleARN != "arn:aws:iam::123456789012:role/lifecycle-scheduler" ||
		c.SchedulerDLQARN != "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq" ||
		c.DeprovisionQueueARN != "arn:aws:sqs:us-east-1:123456789012:lifecycle-deprovision.fifo" ||
		len(c.ImmediateTerminationReasons) != 0 || c.ImmediateTermination("anything") || c.ClockFile != "" {
		t.Fatalf("%+v", c)
	}

	// Provision needs its own queue, not the other one.
	env := base()
	delete(env, "DEPROVISION_QUEUE_ARN")
	if _, err := load(t, env, config.ForProvision); err != nil {
		t.Fatalf("provision without the deprovision queue: %v", err)
	}
	// The poller and the webhook hold nothing.
	env = map[string]string{"STATE_TABLE": "tbl", "EVENT_BUS_NAME": "bus", "WEBHOOK_SIGNING_KEYS": `{"s":"k"}`}
	if _, err := load(t, env, config.ForWebhook); err != nil {
		t.Fatalf("webhook: %v", err)
	}

	tests := []invalidCase{
		{"group missing", config.ForProvision, map[string]string{"SCHEDULER_GROUP": ""}, []string{"SCHEDULER_GROUP: required"}},
		{"group name", config.ForProvision, map[string]string{"SCHEDULER_GROUP": "held events/prod"}, []string{"SCHEDULER_GROUP: must be 1 to 64 letters"}},
		{"group too long", config.ForProvision, map[string]string{"SCHEDULER_GROUP": strings.Repeat("g", 65)}, []string{"SCHEDULER_GROUP: must be"}},
		{"role missing", config.ForDeprovision, map[string]string{"SCHEDULER_ROLE_ARN": ""}, []string{"SCHEDULER_ROLE_ARN: required"}},
		{"role not a role", config.ForDeprovision, map[string]string{"SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:user/bob"}, []string{"SCHEDULER_ROLE_ARN: not an IAM role ARN"}},
		{"role hostile", config.ForDeprovision, map[string]string{"SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/x\n{}"}, []string{"SCHEDULER_ROLE_ARN: not an IAM role ARN"}},
		{"dlq not sqs", config.ForProvision, map[string]string{"SCHEDULER_DLQ_ARN": "arn:aws:sns:us-east-1:123456789012:topic"}, []string{"SCHEDULER_DLQ_ARN: not an SQS queue ARN"}},
		{"provision queue missing", config.ForProvision, map[string]string{"PROVISION_QUEUE_ARN": ""}, []string{"PROVISION_QUEUE_ARN: required"}},
		{"provision queue not fifo", config.ForProvision, map[string]string{"PROVISION_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:provision"}, []string{"PROVISION_QUEUE_ARN: not the ARN of an SQS FIFO queue"}},
		{"deprovision queue a URL", config.ForDeprovision, map[string]string{"DEPROVISION_QUEUE_ARN": "https://sqs.us-east-1.amazonaws.com/123456789012/d.fifo"}, []string{"DEPROVISION_QUEUE_ARN: not the ARN"}},
		{"deprovision queue missing", config.ForDeprovision, map[string]string{"DEPROVISION_QUEUE_ARN": ""}, []string{"DEPROVISION_QUEUE_ARN: required"}},
		{"reasons empty item", config.ForDeprovision, map[string]string{"IMMEDIATE_TERMINATION_REASONS": "misconduct,,fraud"}, []string{"IMMEDIATE_TERMINATION_REASONS: an empty reason", "(item 2)"}},
		{"reasons too long", config.ForDeprovision, map[string]string{"IMMEDIATE_TERMINATION_REASONS": strings.Repeat("r", 129)}, []string{"IMMEDIATE_TERMINATION_REASONS: reason 1 is longer than 128"}},
		{"reasons control", config.ForDeprovision, map[string]string{"IMMEDIATE_TERMINATION_REASONS": "fraud,mis\u200bconduct"}, []string{"IMMEDIATE_TERMINATION_REASONS: reason 2 holds a control"}},
		{"reasons too many", config.ForDeprovision, map[string]string{"IMMEDIATE_TERMINATION_REASONS": manyReasons(101)}, []string{"IMMEDIATE_TERMINATION_REASONS: more than 100"}},
		{"clock relative", config.ForProvision, map[string]string{"LOCAL_CLOCK_FILE": "clock"}, []string{"LOCAL_CLOCK_FILE: must be an absolute path"}},
		{"several", config.ForProvision, map[string]string{"SCHEDULER_GROUP": "", "SCHEDULER_ROLE_ARN": "", "PROVISION_QUEUE_ARN": ""},
			[]string{"SCHEDULER_GROUP: required", "SCHEDULER_ROLE_ARN: required", "PROVISION_QUEUE_ARN: required"}},
	}
	runInvalid(t, tests)
}

// A deployment that sets exactly the variables CONTRACTS section 5 lists
// starts: SCHEDULER_DLQ_ARN is optional (schedules are then created
// without a dead-letter queue), and still checked when it is set.
func TestSchedulerDLQIsOptional(t *testing.T) {
	t.Parallel()
	for _, need := range []config.Needs{config.ForProvision, config.ForDeprovision} {
		env := base()
		delete(env, "SCHEDULER_DLQ_ARN")
		c, err := load(t, env, need)
		if err != nil {
			t.Fatalf("without SCHEDULER_DLQ_ARN: %v", err)
		}
		if c.SchedulerDLQARN != "" || c.SchedulerGroup != "lifecycle-held" || c.SchedulerRoleARN == "" {
			t.Fatalf("%+v", c)
		}
		env["SCHEDULER_DLQ_ARN"] = "lifecycle-held-dlq"
		if _, err := load(t, env, need); err == nil || !strings.Contains(err.Error(), "SCHEDULER_DLQ_ARN: not an SQS queue ARN") {
			t.Fatalf("a DLQ that is not an ARN: %v", err)
		}
	}
}

func manyReasons(n int) string {
	var rs []string
	for i := range n {
		rs = append(rs, "reason-"+strconv.Itoa(i))
	}
	return strings.Join(rs, ",")
}

// IMMEDIATE_TERMINATION_REASONS compare without regard to case and
// surrounding spaces.
func TestImmediateTerminationReasons(t *testing.T) {
	t.Parallel()
	env := base()
	env["IMMEDIATE_TERMINATION_REASONS"] = " Gross-Misconduct , FRAUD,fraud"
	c, err := load(t, env, config.ForDeprovision)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.ImmediateTerminationReasons, []string{"gross-misconduct", "fraud"}) {
		t.Fatalf("reasons %q", c.ImmediateTerminationReasons)
	}
	for reason, want := range map[string]bool{"gross-misconduct": true, "GROSS-MISCONDUCT": true, "Fraud": true, "resignation": false, "": false, "fraud ": false} {
		if got := c.ImmediateTermination(reason); got != want {
			t.Errorf("ImmediateTermination(%q) = %v, want %v", reason, got, want)
		}
	}
}
