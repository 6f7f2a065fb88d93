package lambdarun

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testBootstrap is testdata/fn built once: a real aws-lambda-go function.
var testBootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdarun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBootstrap = filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", testBootstrap, "./testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/fn: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type reply struct {
	Count     int               `json:"count"`
	RequestID string            `json:"requestId"`
	Arn       string            `json:"arn"`
	Deadline  int64             `json:"deadlineMs"`
	Env       map[string]string `json:"env"`
}

func newContainer(t *testing.T, mutate func(*Config)) *Container {
	t.Helper()
	cfg := Config{Name: "TestFunction", Bootstrap: testBootstrap, Env: map[string]string{"GREETING": "hello"}, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func invoke(t *testing.T, c *Container, payload string) *Result {
	t.Helper()
	res, err := c.Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return res
}

func decode(t *testing.T, res *Result) reply {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("function error: %v\nlogs:\n%s", res.Error, res.Logs)
	}
	var r reply
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("response %q: %v", res.Payload, err)
	}
	return r
}

func TestInvokeWarmContainer(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)

	first := invoke(t, c, `{"action":"echo"}`)
	r := decode(t, first)
	if !first.Cold || first.ColdStart <= 0 || first.InitDuration <= 0 || first.InitDuration > first.ColdStart {
		t.Errorf("first invocation: cold=%v coldStart=%v init=%v, want cold with init <= cold start", first.Cold, first.ColdStart, first.InitDuration)
	}
	if r.Count != 1 || r.RequestID != first.RequestID {
		t.Errorf("reply count=%d requestId=%q, want 1 and %q", r.Count, r.RequestID, first.RequestID)
	}
	if want := "arn:aws:lambda:us-east-1:000000000000:function:TestFunction"; r.Arn != want {
		t.Errorf("arn = %q, want %q", r.Arn, want)
	}
	if d := time.Until(time.UnixMilli(r.Deadline)); d <= 0 || d > 5*time.Second {
		t.Errorf("deadline in %v, want within the 5s timeout", d)
	}
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "TestFunction",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/TestFunction",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"LAMBDA_TASK_ROOT":                filepath.Dir(testBootstrap),
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
		"GREETING":                        "hello",
	} {
		if got := r.Env[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if r.Env["AWS_LAMBDA_RUNTIME_API"] == "" || r.Env["AWS_ACCESS_KEY_ID"] == "" {
		t.Errorf("env lacks the runtime API address or credentials: %v", r.Env)
	}
	if !strings.Contains(string(first.Logs), "init\n") || !strings.Contains(string(first.Logs), "handling echo #1") {
		t.Errorf("cold logs = %q, want init and handler lines", first.Logs)
	}

	second := invoke(t, c, `{"action":"echo"}`)
	if r := decode(t, second); r.Count != 2 || second.Cold {
		t.Errorf("second invocation: count=%d cold=%v, want the warm process (count 2)", r.Count, second.Cold)
	}
	if string(second.Logs) != "handling echo #2\n" {
		t.Errorf("warm logs = %q, want only this invocation's line", second.Logs)
	}
}

func TestInvokeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       func(*Config)
		payload   string
		errType   string
		errMsg    string
		timedOut  bool
		initError bool
		staysWarm bool
	}{
		{name: "handler error", payload: `{"action":"error"}`, errType: "errorString", errMsg: "boom", staysWarm: true},
		{name: "panic", payload: `{"action":"panic"}`, errType: "string", errMsg: "kaboom"},
		{name: "exit mid-invocation", payload: `{"action":"exit"}`, errType: "Runtime.ExitError", errMsg: "exit status 3"},
		{name: "timeout", cfg: func(c *Config) { c.Timeout = 300 * time.Millisecond }, payload: `{"action":"sleep","ms":30000}`,
			errType: "Sandbox.Timedout", errMsg: "Task timed out after 0.30 seconds", timedOut: true},
		{name: "bad event for the handler", payload: `[1,2]`, errType: "UnmarshalTypeError", staysWarm: true},
		// aws-lambda-go exits when the API refuses its response, so the next invocation is cold.
		{name: "response over 6 MB", payload: `{"action":"big","bytes":6300000}`, errType: "Function.ResponseSizeTooLarge"},
		{name: "init error reported", cfg: func(c *Config) { c.Env["FAIL_INIT"] = "report" }, payload: `{}`,
			errType: "Config.Missing", errMsg: "missing STATE_TABLE", initError: true},
		{name: "init exit", cfg: func(c *Config) { c.Env["FAIL_INIT"] = "exit" }, payload: `{}`,
			errType: "Runtime.ExitError", errMsg: "exit status 2", initError: true},
		{name: "init timeout", cfg: func(c *Config) { c.Env["FAIL_INIT"] = "hang"; c.InitTimeout = 300 * time.Millisecond }, payload: `{}`,
			errType: "Runtime.InitTimeout", initError: true, timedOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, tt.cfg)
			res := invoke(t, c, tt.payload)
			if res.Error == nil {
				t.Fatalf("no error; payload %.200s", res.Payload)
			}
			if res.Error.Type != tt.errType || !strings.Contains(res.Error.Message, tt.errMsg) {
				t.Errorf("error = %s: %q, want %s containing %q", res.Error.Type, res.Error.Message, tt.errType, tt.errMsg)
			}
			if res.Payload != nil {
				t.Errorf("payload %q alongside an error", res.Payload)
			}
			if res.TimedOut != tt.timedOut || res.InitError != tt.initError {
				t.Errorf("timedOut=%v initError=%v, want %v %v", res.TimedOut, res.InitError, tt.timedOut, tt.initError)
			}
			if tt.initError {
				if !strings.Contains(string(res.Logs), "init") {
					t.Errorf("init logs lost: %q", res.Logs)
				}
				return
			}
			// After a failure the container still serves: warm after an
			// ordinary error, cold after a crash or a kill.
			next := invoke(t, c, `{"action":"echo"}`)
			decode(t, next)
			if next.Cold == tt.staysWarm {
				t.Errorf("after %s: next invocation cold=%v, want staysWarm=%v", tt.name, next.Cold, tt.staysWarm)
			}
		})
	}
}

func TestInvokeAfterIdleProcessDied(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	decode(t, invoke(t, c, `{"action":"echo"}`))
	killProcess(c.proc.cmd)
	<-c.proc.exited
	res := invoke(t, c, `{"action":"echo"}`)
	if r := decode(t, res); !res.Cold || r.Count != 1 {
		t.Errorf("after the idle process died: cold=%v count=%d, want a fresh process", res.Cold, r.Count)
	}
}

func TestInvokeCancelled(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	if _, err := c.Invoke(ctx, []byte(`{"action":"sleep","ms":30000}`)); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r := decode(t, invoke(t, c, `{"action":"echo"}`)); r.Count != 1 {
		t.Errorf("count = %d after cancel, want a fresh process", r.Count)
	}
}

func TestInvokeRejectsOversizedEvent(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	if _, err := c.Invoke(context.Background(), make([]byte, MaxPayloadBytes+1)); err == nil {
		t.Fatal("no error for an event over 6 MB")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	notExec := filepath.Join(t.TempDir(), "bootstrap")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Bootstrap: testBootstrap}},
		{"no bootstrap", Config{Name: "F"}},
		{"missing bootstrap", Config{Name: "F", Bootstrap: "/nonexistent/bootstrap"}},
		{"not executable", Config{Name: "F", Bootstrap: notExec}},
		{"directory", Config{Name: "F", Bootstrap: t.TempDir()}},
		{"reserved variable", Config{Name: "F", Bootstrap: testBootstrap, Env: map[string]string{"AWS_LAMBDA_RUNTIME_API": "evil:1"}}},
		{"bad variable name", Config{Name: "F", Bootstrap: testBootstrap, Env: map[string]string{"A=B": "x"}}},
	}
	for _, tt := range tests {
		if c, err := New(tt.cfg); err == nil {
			c.Close()
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestRuntimeAPIRefusesOutOfTurnCalls talks to the Runtime API like a broken
// or hostile runtime would.
func TestRuntimeAPIRefusesOutOfTurnCalls(t *testing.T) {
	t.Parallel()
	sb, err := newSandbox(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.close()
	base := "http://" + sb.addr() + "/2018-06-01/runtime/"
	post := func(path, body string) int {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("invocation/unknown-id/response", `{}`); code != http.StatusBadRequest {
		t.Errorf("response for an unknown request id: %d, want 400", code)
	}
	if code := post("invocation/unknown-id/error", `not json`); code != http.StatusBadRequest {
		t.Errorf("error for an unknown request id: %d, want 400", code)
	}
	if code := post("init/error", `{"errorType":"X","errorMessage":"y"}`); code != http.StatusAccepted {
		t.Errorf("first init error: %d, want 202", code)
	}
	if code := post("init/error", `{}`); code != http.StatusForbidden {
		t.Errorf("second init error: %d, want 403", code)
	}
	resp, err := http.Get(base + "invocation/unknown-id/response")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on a POST route: %d, want 405", resp.StatusCode)
	}
}
