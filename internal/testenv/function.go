package testenv

import (
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// The held-event resources FunctionEnv configures, as the stack names them.
const (
	SchedulerGroup      = "encompass-lifecycle-held"
	SchedulerRoleARN    = "arn:aws:iam::000000000000:role/encompass-lifecycle-held-events"
	SchedulerDLQARN     = "arn:aws:sqs:us-east-1:000000000000:encompass-lifecycle-held-dlq"
	ProvisionQueueARN   = "arn:aws:sqs:us-east-1:000000000000:encompass-provision.fifo"
	DeprovisionQueueARN = "arn:aws:sqs:us-east-1:000000000000:encompass-deprovision.fifo"
)

// FunctionEnv returns the variables of a function pointed at the simulator,
// a fresh dynalite table, an EventBridge fake and an EventBridge Scheduler
// fake (Scheduler of this test, with SchedulerGroup), reached through the
// SDK's endpoint variables (set in the process environment for the test),
// as the local product and the stack's functions are configured.
func FunctionEnv(t *testing.T, sim *encompasstest.Server) (map[string]string, *EventBridgeFake) {
	t.Helper()
	db := DynamoDB(t)
	eb := EventBridge(t)
	sched := Scheduler(t, SchedulerGroup)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", db.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", eb.URL)
	t.Setenv("AWS_ENDPOINT_URL_SCHEDULER", sched.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	return map[string]string{
		"ENCOMPASS_API_URL":       sim.URL,
		"ENCOMPASS_INSTANCE_ID":   sim.InstanceID,
		"ENCOMPASS_CLIENT_ID":     sim.ClientID,
		"ENCOMPASS_CLIENT_SECRET": sim.ClientSecret,
		"ENCOMPASS_USERNAME":      sim.Username,
		"ENCOMPASS_PASSWORD":      sim.Password,
		"STATE_TABLE":             db.CreateTable(t),
		"EVENT_BUS_NAME":          "lifecycle",
		"SCHEDULER_GROUP":         SchedulerGroup,
		"SCHEDULER_ROLE_ARN":      SchedulerRoleARN,
		"SCHEDULER_DLQ_ARN":       SchedulerDLQARN,
		"PROVISION_QUEUE_ARN":     ProvisionQueueARN,
		"DEPROVISION_QUEUE_ARN":   DeprovisionQueueARN,
	}, eb
}

// Getenv reads variables from m, as os.Getenv reads the process's.
func Getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
