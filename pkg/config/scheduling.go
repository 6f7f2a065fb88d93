package config

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Bounds of the effective-date variables.
const (
	// maxTerminationReasonLength is what the HRIS event allows for
	// terminationReason (pkg/hris).
	maxTerminationReasonLength = 128
	maxTerminationReasons      = 100
)

var (
	// scheduleGroupName is EventBridge Scheduler's rule for group names.
	scheduleGroupName = regexp.MustCompile(`^[0-9A-Za-z_.-]{1,64}$`)
	// roleARN is the Scheduler's pattern for a target's RoleArn.
	roleARN = regexp.MustCompile(`^arn:aws(-[a-z]+)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	// sqsARN is arn:<partition>:sqs:<region>:<account>:<queue name>.
	sqsARN = regexp.MustCompile(`^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]{1,32}:\d{12}:[A-Za-z0-9_-]{1,75}(\.fifo)?$`)
)

// loadScheduling reads the variables of held events (CONTRACTS sections 2a
// and 5) that need asks for, and IMMEDIATE_TERMINATION_REASONS and
// LOCAL_CLOCK_FILE wherever they are set.
func (c *Config) loadScheduling(env func(string) string, need Needs, bad badFunc) {
	if need&NeedScheduler != 0 {
		c.SchedulerGroup = varSpec{EnvSchedulerGroup, "the EventBridge Scheduler group of held events", scheduleGroupName.MatchString,
			"must be 1 to 64 letters, digits, '-', '_' or '.', got %q"}.read(env, bad)
		c.SchedulerRoleARN = varSpec{EnvSchedulerRoleARN, "the role EventBridge Scheduler assumes to send a held event back to its queue", roleARN.MatchString,
			"not an IAM role ARN (arn:aws:iam::<account>:role/<name>), got %q"}.read(env, bad)
		// Optional (CONTRACTS section 5): without it, schedules have no
		// dead-letter queue.
		c.SchedulerDLQARN = varSpec{name: EnvSchedulerDLQARN, valid: sqsARN.MatchString,
			invalid: "not an SQS queue ARN, got %q"}.read(env, bad)
	}
	queue := func(name string, required bool) string {
		s := varSpec{name: name, valid: func(v string) bool { return sqsARN.MatchString(v) && strings.HasSuffix(v, ".fifo") },
			invalid: "not the ARN of an SQS FIFO queue (arn:aws:sqs:<region>:<account>:<name>.fifo), got %q"}
		if required {
			s.required = "the HRIS FIFO queue's ARN: held events return to it, reconciliation sends its fixes to it"
		}
		return s.read(env, bad)
	}
	c.ProvisionQueueARN = queue(EnvProvisionQueueARN, need&NeedProvisionQueue != 0)
	c.DeprovisionQueueARN = queue(EnvDeprovisionQueueARN, need&NeedDeprovisionQueue != 0)

	if v := env(EnvImmediateTermination); v != "" {
		reasons, problem := parseReasons(v)
		if problem != "" {
			bad(EnvImmediateTermination, "%s", problem)
		}
		c.ImmediateTerminationReasons = reasons
	}
	if v := env(EnvClockFile); v != "" {
		if !filepath.IsAbs(v) {
			bad(EnvClockFile, "must be an absolute path (local runs only), got %q", shorten(v))
		}
		c.ClockFile = v
	}
}

// parseReasons reads a comma-separated list of terminationReason values;
// they compare without regard to case, so they are kept in lower case.
func parseReasons(v string) ([]string, string) {
	var out []string
	for i, r := range strings.Split(v, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			return nil, "an empty reason in the comma-separated list (item " + strconv.Itoa(i+1) + ")"
		case len(r) > maxTerminationReasonLength:
			return nil, "reason " + strconv.Itoa(i+1) + " is longer than " + strconv.Itoa(maxTerminationReasonLength) + " bytes"
		case strings.IndexFunc(r, func(c rune) bool { return unicode.IsControl(c) || unicode.Is(unicode.Cf, c) }) >= 0:
			return nil, "reason " + strconv.Itoa(i+1) + " holds a control or invisible character"
		}
		if r = strings.ToLower(r); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) > maxTerminationReasons {
		return nil, "more than " + strconv.Itoa(maxTerminationReasons) + " reasons"
	}
	return out, ""
}

// ImmediateTermination reports whether a terminate with this
// terminationReason applies at once, whatever its effectiveAt.
func (c *Config) ImmediateTermination(reason string) bool {
	return reason != "" && slices.Contains(c.ImmediateTerminationReasons, strings.ToLower(reason))
}

// shorten keeps a bad value short in a message.
func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
