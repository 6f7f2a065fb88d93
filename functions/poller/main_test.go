package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// scheduled is the event an EventBridge schedule delivers.
func scheduled(id string) events.CloudWatchEvent {
	return events.CloudWatchEvent{
		ID: id, Source: "aws.events", DetailType: "Scheduled Event",
		Time: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), Detail: json.RawMessage(`{}`),
	}
}

// emf decodes the EMF lines written to buf.
func emf(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// TestWiring runs the real wiring (configuration from the environment, SDK
// clients honouring the endpoint variables) against the simulator, dynalite
// and the EventBridge fake: a baseline, an unchanged poll, a change.
func TestWiring(t *testing.T) {
	sim := encompasstest.NewServer(t, encompasstest.WithUsers(450))
	bus := setPollerEnv(t, sim, sim.ClientSecret)
	t.Setenv(config.EnvMaxRemovalRatio, "0.3")

	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	var logs, metrics bytes.Buffer
	h, err := build(ctx, os.Getenv, &logs, &metrics)
	if err != nil {
		t.Fatal(err)
	}
	if h.base.MaxRemovalRatio != 0.3 {
		t.Fatalf("POLLER_MAX_REMOVAL_RATIO not wired: %v", h.base.MaxRemovalRatio)
	}

	sum, err := h.Handle(ctx, scheduled("sched-1"))
	if err != nil || sum.Outcome != poll.OutcomeBaseline {
		t.Fatalf("first poll: %+v, %v", sum, err)
	}
	if n := bus.Count(poll.TypeBaseline); n != 1 || len(bus.Events()) != 1 {
		t.Fatalf("first poll published %d events, %d baselines", len(bus.Events()), n)
	}
	m := emf(t, &metrics)
	if len(m) != 1 || m[0]["UsersListed"] != float64(sim.UserCount()) {
		t.Fatalf("metrics %v", m)
	}
	// ceil(users/200) list calls plus one token request, and (scim mode)
	// one page of the DDA profiles.
	if want := float64((sim.UserCount()+199)/200 + 1 + 1); m[0]["APICalls"] != want || m[0]["EncompassCalls"] != want {
		t.Errorf("APICalls %v, EncompassCalls %v, want %v", m[0]["APICalls"], m[0]["EncompassCalls"], want)
	}

	sum, err = h.Handle(ctx, scheduled("sched-2"))
	if err != nil || sum.Outcome != poll.OutcomeUnchanged || len(bus.Events()) != 1 {
		t.Fatalf("second poll: %+v, %v", sum, err)
	}
	if m := emf(t, &metrics); m[0]["SnapshotWrites"] != 0.0 || m[0]["EventsPublished"] != 0.0 {
		t.Fatalf("unchanged poll metrics %v", m)
	}

	if err := sim.ModifyUser("simuser000042", func(u *encompasstest.SimUser) { u.Title = "Moved" }); err != nil {
		t.Fatal(err)
	}
	bus.Reset()
	sum, err = h.Handle(ctx, scheduled("sched-3"))
	if err != nil || sum.Outcome != poll.OutcomeChanges || bus.Count(poll.TypeUserChanged) != 1 {
		t.Fatalf("third poll: %+v, %v, events %d", sum, err, len(bus.Events()))
	}
	if m := emf(t, &metrics); m[0]["UserChanges"] != 1.0 || m[0]["EventsPublished"] != 1.0 {
		t.Fatalf("metrics %v", m)
	}
	if leaks := sim.LeakedSecrets(logs.String() + metrics.String()); len(leaks) > 0 {
		t.Fatalf("leaked into the logs: %v", leaks)
	}
	if !strings.Contains(logs.String(), `"requestId":"req-1"`) {
		t.Errorf("logs lack the request id: %s", logs.String())
	}
}

// TestFailedPollReturnsAnError checks that a failing dependency surfaces as
// the invocation's error (Lambda retries it) and as the PollFailed metric.
func TestFailedPollReturnsAnError(t *testing.T) {
	sim := encompasstest.NewServer(t, encompasstest.WithUsers(10))
	bus := setPollerEnv(t, sim, "wrong-secret")
	ctx := context.Background()
	var logs, metrics bytes.Buffer
	h, err := build(ctx, os.Getenv, &logs, &metrics)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(ctx, scheduled("sched-1")); err == nil {
		t.Fatal("poll with bad credentials succeeded")
	}
	if m := emf(t, &metrics); m[0]["PollFailed"] != 1.0 {
		t.Fatalf("metrics %v", m)
	}
	if len(bus.Events()) != 0 {
		t.Fatalf("failed poll published %d events", len(bus.Events()))
	}
	if strings.Contains(logs.String(), sim.Password) || strings.Contains(logs.String(), "wrong-secret") {
		t.Fatal("a secret leaked into the logs")
	}
}

// setPollerEnv points the poller's environment at sim (with clientSecret),
// a fresh dynalite table and an EventBridge fake, which it returns.
func setPollerEnv(t *testing.T, sim *encompasstest.Server, clientSecret string) *testenv.EventBridgeFake {
	t.Helper()
	db := testenv.DynamoDB(t)
	bus := testenv.EventBridge(t)
	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testenv-secret")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", db.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", bus.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(config.EnvAPIURL, sim.URL)
	t.Setenv(config.EnvInstanceID, sim.InstanceID)
	t.Setenv(config.EnvSecretARN, "")
	t.Setenv(config.EnvClientID, sim.ClientID)
	t.Setenv(config.EnvClientSecret, clientSecret)
	t.Setenv(config.EnvUsername, sim.Username)
	t.Setenv(config.EnvPassword, sim.Password)
	t.Setenv(config.EnvStateTable, db.CreateTable(t))
	t.Setenv(config.EnvEventBusName, "lifecycle")
	return bus
}
