package coldstart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// A cold-start failure is one JSON line; a configuration error names each
// variable at fault, so that an alarm or a person can read it off.
func TestFailIsOneLineNamingTheVariables(t *testing.T) {
	t.Parallel()
	_, err := config.Load(context.Background(), func(k string) string {
		return map[string]string{"ENCOMPASS_USER_API": "soap"}[k]
	}, config.ForProvision)
	if err == nil {
		t.Fatal("configuration accepted")
	}
	// A secret without its fields: two problems of one variable, which is
	// named once, as itself.
	secretErr := secretProblems(t)
	cases := map[string]struct {
		err  error
		vars []string
		// exact: the variables are exactly vars, in order.
		exact bool
	}{
		"configuration": {err, []string{"ENCOMPASS_INSTANCE_ID", "ENCOMPASS_USER_API", "STATE_TABLE", "EVENT_BUS_NAME"}, false},
		"secret fields": {secretErr, []string{"ENCOMPASS_SECRET_ARN"}, true},
		"other":         {errors.New("encompass client: unauthorized"), nil, false},
	}
	for name, c := range cases {
		var out bytes.Buffer
		coldstart.Fail(&out, "provision", c.err)
		if bytes.Count(bytes.TrimSpace(out.Bytes()), []byte("\n")) != 0 {
			t.Fatalf("%s: not one line: %s", name, out.String())
		}
		var line struct {
			Level     string   `json:"level"`
			Msg       string   `json:"msg"`
			Function  string   `json:"function"`
			Variables []string `json:"variables"`
		}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("%s: not JSON: %s", name, out.String())
		}
		if line.Level != "ERROR" || line.Function != "provision" {
			t.Errorf("%s: %+v", name, line)
		}
		for _, v := range c.vars {
			if !slices.Contains(line.Variables, v) {
				t.Errorf("%s: variables %v, missing %s", name, line.Variables, v)
			}
		}
		if c.exact && !slices.Equal(line.Variables, c.vars) {
			t.Errorf("%s: variables %v, want exactly %v", name, line.Variables, c.vars)
		}
	}
}

// secretProblems is the error of a provision configuration whose secret
// holds neither clientId nor clientSecret.
func secretProblems(t *testing.T) error {
	t.Helper()
	env := map[string]string{
		"ENCOMPASS_INSTANCE_ID": "BE11111111", "ENCOMPASS_SECRET_ARN": secretARN,
		"STATE_TABLE": "lifecycle-state", "EVENT_BUS_NAME": "lifecycle",
		"SCHEDULER_GROUP": "lifecycle-held", "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/lifecycle-scheduler",
		"SCHEDULER_DLQ_ARN":   "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq",
		"PROVISION_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:lifecycle-provision.fifo",
	}
	_, err := config.Load(context.Background(), func(k string) string { return env[k] }, config.ForProvision,
		config.WithAWSConfig(aws.Config{Region: "us-east-1"}), config.WithSecretsClient(emptySecret{}))
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("secret without fields: %v, want two problems", err)
	}
	return err
}

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass-AbCdEf"

// emptySecret answers every secret with an empty JSON object.
type emptySecret struct{}

func (emptySecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("{}")}, nil
}

// Without SCHEDULER_DLQ_ARN the Scheduler is built, and the cold start says
// once, at warn, that a held event it cannot deliver is not kept.
func TestSchedulerWithoutDeadLetterQueue(t *testing.T) {
	t.Parallel()
	for dlq, warnings := range map[string]int{"": 1, "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq": 0} {
		cfg := &config.Config{
			SchedulerGroup: "lifecycle-held", SchedulerRoleARN: "arn:aws:iam::123456789012:role/lifecycle-scheduler",
			SchedulerDLQARN: dlq, AWS: aws.Config{Region: "us-east-1"},
		}
		var logs bytes.Buffer
		if _, err := coldstart.Scheduler(cfg, telemetry.NewLogger(&logs, slog.LevelInfo), coldstart.Metrics("provision")); err != nil {
			t.Fatalf("dlq %q: %v", dlq, err)
		}
		got := 0
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "SCHEDULER_DLQ_ARN") {
				got++
			}
		}
		if got != warnings {
			t.Errorf("dlq %q: %d warnings, want %d: %s", dlq, got, warnings, logs.String())
		}
	}
}
