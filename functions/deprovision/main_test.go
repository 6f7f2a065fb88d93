package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestBuildDeprovisionV3DryRun(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	env["ENCOMPASS_USER_API"] = "v3"
	env["DRY_RUN"] = "true"
	var out bytes.Buffer
	handle, err := build(context.Background(), testenv.Getenv(env), &out, sim.Client())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"schemaVersion":"1","eventId":"w2","type":"terminate","occurredAt":"2026-11-20T09:00:00Z",
		"employee":{"employeeId":"E10002","userName":"asmith","email":"alex.smith@lender.example"}}`
	if _, err := handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body}}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := sim.User("asmith"); !u.Enabled {
		t.Fatal("dry run disabled the account")
	}
	if !strings.Contains(out.String(), `"Outcome.UserDeprovisioned":1`) {
		t.Errorf("no deprovision outcome metric:\n%s", out.String())
	}
}
