package config_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

func reconcileEnv() map[string]string {
	env := base()
	maps.Copy(env, map[string]string{
		"PROVISION_QUEUE_ARN":   "arn:aws:sqs:us-east-1:123456789012:EncompassLifecycle-ProvisionQueue-AB.fifo",
		"DEPROVISION_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:EncompassLifecycle-DeprovisionQueue-CD.fifo",
		"ROSTER_BUCKET":         "lender-rosters",
	})
	return env
}

func TestReconcileVariables(t *testing.T) {
	t.Parallel()
	c, err := load(t, reconcileEnv(), config.ForReconcile)
	if err != nil {
		t.Fatal(err)
	}
	if c.RosterBucket != "lender-rosters" || c.MinRosterRatio != 0.8 || c.IgnoreLogins != nil || !strings.HasSuffix(c.ProvisionQueueARN, "ProvisionQueue-AB.fifo") {
		t.Fatalf("defaults: %+v", c)
	}
	env := reconcileEnv()
	env["RECONCILE_IGNORE_LOGINS"] = " svc-* , Admin?,, [ab]ot "
	env["RECONCILE_MIN_ROSTER_RATIO"] = "0.95"
	c, err = load(t, env, config.ForReconcile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.IgnoreLogins, []string{"svc-*", "admin?", "[ab]ot"}) || c.MinRosterRatio != 0.95 {
		t.Fatalf("values: %q %v", c.IgnoreLogins, c.MinRosterRatio)
	}
	if got := config.QueueURL(c.ProvisionQueueARN); got != "https://sqs.us-east-1.amazonaws.com/123456789012/EncompassLifecycle-ProvisionQueue-AB.fifo" {
		t.Fatalf("queue URL = %q", got)
	}
}

func TestReconcileVariablesInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, variable, value string
	}{
		{"no bucket", "ROSTER_BUCKET", ""},
		{"a bucket with capitals", "ROSTER_BUCKET", "Lender_Rosters"},
		{"a bucket ARN", "ROSTER_BUCKET", "arn:aws:s3:::lender-rosters"},
		{"no queue", "PROVISION_QUEUE_ARN", ""},
		{"a standard queue", "DEPROVISION_QUEUE_ARN", "arn:aws:sqs:us-east-1:123456789012:deprovision"},
		{"a queue URL", "PROVISION_QUEUE_ARN", "https://sqs.us-east-1.amazonaws.com/123456789012/p.fifo"},
		{"a bad pattern", "RECONCILE_IGNORE_LOGINS", "svc-[a"},
		{"a ratio above one", "RECONCILE_MIN_ROSTER_RATIO", "80"},
		{"a ratio that is not a number", "RECONCILE_MIN_ROSTER_RATIO", "most"},
	} {
		env := reconcileEnv()
		env[tc.variable] = tc.value
		_, err := load(t, env, config.ForReconcile)
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0], tc.variable+":") {
			t.Errorf("%s: %v, want one problem naming %s", tc.name, err, tc.variable)
		}
	}
	// Other functions do not need them.
	if _, err := load(t, base(), config.ForProvision); err != nil {
		t.Fatal(err)
	}
}

// A refused value is echoed cut to 80 bytes, so that a hostile, oversized
// value never fills the cold-start line.
func TestRefusedValuesAreShortened(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 4096) + "["
	for _, name := range []string{
		"ENCOMPASS_INSTANCE_ID", "STATE_TABLE", "EVENT_BUS_NAME", "POLLER_MAX_REMOVAL_RATIO",
		"SCHEDULER_GROUP", "SCHEDULER_ROLE_ARN", "SCHEDULER_DLQ_ARN", "PROVISION_QUEUE_ARN", "DEPROVISION_QUEUE_ARN",
		"ROSTER_BUCKET", "RECONCILE_IGNORE_LOGINS", "RECONCILE_MIN_ROSTER_RATIO",
	} {
		env := reconcileEnv()
		env[name] = long
		_, err := load(t, env, config.ForProvision|config.ForDeprovision|config.ForReconcile)
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0], name+":") {
			t.Errorf("%s: %v, want one problem naming it", name, err)
			continue
		}
		if p := ce.Problems[0]; len(p) > 300 || !strings.Contains(p, `xxx..."`) {
			t.Errorf("%s: the value is not shortened (%d bytes): %.200s", name, len(p), p)
		}
	}
}

// A variable with two problems is listed once in Error.Variables.
func TestErrorNamesEachVariableOnce(t *testing.T) {
	t.Parallel()
	env := reconcileEnv()
	env["RECONCILE_IGNORE_LOGINS"] = "svc-[a,admin-[b"
	delete(env, "ROSTER_BUCKET")
	_, err := load(t, env, config.ForReconcile)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("%v, want three problems", err)
	}
	if want := []string{"ROSTER_BUCKET", "RECONCILE_IGNORE_LOGINS"}; !slices.Equal(ce.Variables, want) {
		t.Fatalf("variables %q, want %q", ce.Variables, want)
	}
}
