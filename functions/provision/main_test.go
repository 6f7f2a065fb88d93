package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestBuildAndHandle(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	var out bytes.Buffer
	handle, err := build(context.Background(), testenv.Getenv(env), &out, sim.Client())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"schemaVersion":"1","eventId":"w1","type":"hire","occurredAt":"2026-11-20T09:00:00Z",
		"employee":{"employeeId":"W1","givenName":"Wire","familyName":"Up","email":"wire.up@lender.example","jobCode":"LO1"}}`
	resp, err := handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body}, {MessageId: "m2", Body: "{"}}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	u, ok := sim.User("wire.up")
	if !ok || u.GlobalUserID == "" {
		t.Fatalf("user not created through SCIM (the default user API): %+v", u)
	}
	// The invocation ends with its EMF metrics: the function's dimension
	// first, then the lines of extra dimensions (rejections by reason).
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var emf map[string]any
	for i := len(lines) - 1; i >= 0 && emf["Messages"] == nil; i-- {
		emf = nil
		if err := json.Unmarshal([]byte(lines[i]), &emf); err != nil || emf["_aws"] == nil {
			t.Fatalf("line %d of the invocation's end is not EMF: %s", i, lines[i])
		}
		lines = lines[:i]
	}
	for name, want := range map[string]float64{"Messages": 2, "Outcome.UserProvisioned": 1, "Outcome.HRISEventRejected": 1, "BatchItemFailures": 0} {
		if emf[name] != want {
			t.Errorf("metric %s = %v, want %v", name, emf[name], want)
		}
	}
	if calls, _ := emf["EncompassCalls"].(float64); calls < 3 {
		t.Errorf("EncompassCalls = %v", emf["EncompassCalls"])
	}
	for _, l := range lines { // the log lines before the metrics
		if strings.Contains(l, `"eventId":"w1"`) && !strings.Contains(l, `"employeeId":"W1"`) {
			t.Errorf("log line without employeeId: %s", l)
		}
	}
	if leaks := sim.LeakedSecrets(out.String()); len(leaks) > 0 {
		t.Fatalf("logged: %v", leaks)
	}
}

// TestCredentialsFromSecretsManager: with ENCOMPASS_SECRET_ARN the
// credentials come from Secrets Manager (through the SDK's endpoint
// variable), not from the local variables.
func TestCredentialsFromSecretsManager(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	sm := testenv.SecretsManager(t)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	secret, _ := json.Marshal(map[string]string{"clientId": sim.ClientID, "clientSecret": sim.ClientSecret, "username": sim.Username, "password": sim.Password})
	sm.Put("arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass", string(secret))
	for _, k := range []string{"ENCOMPASS_CLIENT_ID", "ENCOMPASS_CLIENT_SECRET", "ENCOMPASS_USERNAME", "ENCOMPASS_PASSWORD"} {
		delete(env, k)
	}
	env["ENCOMPASS_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:encompass"
	var out bytes.Buffer
	handle, err := build(context.Background(), testenv.Getenv(env), &out, sim.Client())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"schemaVersion":"1","eventId":"s1","type":"hire","occurredAt":"2026-11-20T09:00:00Z",
		"employee":{"employeeId":"S1","givenName":"Sec","familyName":"Ret","email":"sec.ret@lender.example"}}`
	if resp, err := handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body}}}); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if _, ok := sim.User("sec.ret"); !ok {
		t.Fatal("not provisioned with the secret's credentials")
	}
	if leaks := sim.LeakedSecrets(out.String()); len(leaks) > 0 {
		t.Fatalf("logged: %v", leaks)
	}
}

// TestShippedExampleMapping: the example mapping file resolves against the
// simulator's realistic instance.
func TestShippedExampleMapping(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	env["MAPPING_FILE"] = "mapping.example.yaml"
	if _, err := build(context.Background(), testenv.Getenv(env), &bytes.Buffer{}, sim.Client()); err != nil {
		t.Fatal(err)
	}
}

func TestStartupErrorsNameTheProblem(t *testing.T) {
	sim := encompasstest.NewServer(t)
	env, _ := testenv.FunctionEnv(t, sim)
	dir := t.TempDir()
	bad := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(bad, []byte("defaults:\n  organization: Mars Branch\n  personas: [Astronaut, Loan Officer]\nrules:\n  - when: {jobCode: 'X*'}\n    userGroups: [Ghosts]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("defaults:\n  organisation: Administration\n  personas: [Loan Officer]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(map[string]string)
		says []string
	}{
		{"unknown mapping names", func(m map[string]string) { m["MAPPING_FILE"] = bad },
			[]string{"MAPPING_FILE", "Astronaut", "Mars Branch", "Ghosts", "Loan Processor", "Administration", "Retail Loan Officers"}},
		{"mapping key typo", func(m map[string]string) { m["MAPPING_FILE"] = typo }, []string{"MAPPING_FILE", "organisation"}},
		{"missing mapping file", func(m map[string]string) { m["MAPPING_FILE"] = filepath.Join(dir, "nope.yaml") }, []string{"MAPPING_FILE", "nope.yaml"}},
		{"missing table", func(m map[string]string) { delete(m, "STATE_TABLE") }, []string{"STATE_TABLE"}},
		{"bad user api", func(m map[string]string) { m["ENCOMPASS_USER_API"] = "soap" }, []string{"ENCOMPASS_USER_API"}},
		{"wrong credentials", func(m map[string]string) { m["ENCOMPASS_CLIENT_SECRET"] = "wrong-secret-value" }, []string{"unauthorized"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range env {
				m[k] = v
			}
			tc.edit(m)
			_, err := build(context.Background(), testenv.Getenv(m), &bytes.Buffer{}, sim.Client())
			if err == nil {
				t.Fatal("start-up succeeded")
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("start-up error does not mention %q:\n%v", s, err)
				}
			}
			if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), sim.Password) {
				t.Error("start-up error reveals a secret")
			}
			var out bytes.Buffer
			coldstart.Fail(&out, "provision", err)
			if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 || !strings.Contains(out.String(), "cold start failed") {
				t.Errorf("failure is not one log line: %s", out.String())
			}
		})
	}
}
