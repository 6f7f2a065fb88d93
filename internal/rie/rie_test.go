package rie_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/rie"
)

// testBootstrap is internal/lambdarun/testdata/fn, a tiny real aws-lambda-go
// function that misbehaves on request, built once.
var testBootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rie-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBootstrap = filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", testBootstrap, "../lambdarun/testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/fn: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// invoker is what both runners offer.
type invoker interface {
	Invoke(ctx context.Context, payload []byte) (*lambdarun.Result, error)
	Close() error
}

// both returns the same function under lambdarun and under AWS's emulator.
// A missing emulator fails the test, saying how to install it.
func both(t *testing.T, mutate func(*lambdarun.Config)) map[string]invoker {
	t.Helper()
	cfg := lambdarun.Config{Name: "TestFunction", Bootstrap: testBootstrap, Env: map[string]string{"GREETING": "hello"}, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := lambdarun.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := rie.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return map[string]invoker{"lambdarun": c, "rie": r}
}

// outcome is what an invocation amounts to, in terms both runners can be
// held to.
type outcome struct {
	ErrType   string
	ErrMsg    string // the part of the message the check names, when it matched
	TimedOut  bool
	InitError bool
	Cold      bool
	Count     int    // the function's invocation count in this process (0 on errors)
	Bytes     int    // response size
	Env       string // selected variables the function saw
}

func run(t *testing.T, inv invoker, payload, wantMsg string) outcome {
	t.Helper()
	res, err := inv.Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%.60s): %v", payload, err)
	}
	o := outcome{TimedOut: res.TimedOut, InitError: res.InitError, Cold: res.Cold}
	if res.Error != nil {
		o.ErrType = res.Error.Type
		if strings.Contains(res.Error.Message, wantMsg) {
			o.ErrMsg = wantMsg
		} else {
			o.ErrMsg = res.Error.Message
		}
		if res.Payload != nil {
			t.Errorf("payload alongside an error")
		}
		return o
	}
	var r struct {
		Count     int               `json:"count"`
		RequestID string            `json:"requestId"`
		Deadline  int64             `json:"deadlineMs"`
		Env       map[string]string `json:"env"`
	}
	if json.Unmarshal(res.Payload, &r) == nil && r.RequestID != "" {
		o.Count = r.Count
		if r.RequestID != res.RequestID {
			t.Errorf("the function saw request id %q, the runner reports %q", r.RequestID, res.RequestID)
		}
		if d := time.Until(time.UnixMilli(r.Deadline)); d <= 0 || d > 5*time.Second {
			t.Errorf("deadline in %v, want within the timeout", d)
		}
		for _, k := range []string{"GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "TZ", "LAMBDA_TASK_ROOT", "_HANDLER"} {
			o.Env += k + "=" + r.Env[k] + " "
		}
	} else {
		// Only raw answers are compared by size: the echo carries the
		// whole environment, which the emulator adds its own variables to.
		o.Bytes = len(res.Payload)
	}
	return o
}

// TestRunnersAgree runs the same misbehaving function through lambdarun and
// AWS's emulator, step by step, and requires the same outcome from both:
// the payload, the error type and message, whether the process was started
// again (cold) and whether its state survived (the invocation count).
func TestRunnersAgree(t *testing.T) {
	t.Parallel()
	type step struct{ payload, wantMsg string }
	cases := []struct {
		name  string
		cfg   func(*lambdarun.Config)
		steps []step
	}{
		{name: "warm container", steps: []step{{`{"action":"echo"}`, ""}, {`{"action":"echo"}`, ""}}},
		{name: "handler error keeps the process", steps: []step{{`{"action":"echo"}`, ""}, {`{"action":"error"}`, "boom"}, {`{"action":"echo"}`, ""}}},
		{name: "bad event for the handler", steps: []step{{`[1,2]`, "cannot unmarshal array"}, {`{"action":"echo"}`, ""}}},
		{name: "panic restarts", steps: []step{{`{"action":"echo"}`, ""}, {`{"action":"panic"}`, "kaboom"}, {`{"action":"echo"}`, ""}}},
		{name: "exit restarts", steps: []step{{`{"action":"echo"}`, ""}, {`{"action":"exit"}`, "Runtime exited with error: exit status 3"}, {`{"action":"echo"}`, ""}}},
		{name: "timeout restarts", cfg: func(c *lambdarun.Config) { c.Timeout = time.Second },
			steps: []step{{`{"action":"echo"}`, ""}, {`{"action":"sleep","ms":4000}`, "Task timed out after 1.00 seconds"}, {`{"action":"echo"}`, ""}}},
		{name: "response of 6 MiB + 100 bytes is the most", steps: []step{{fmt.Sprintf(`{"action":"raw","bytes":%d}`, 6<<20+100), ""}, {`{"action":"echo"}`, ""}}},
		{name: "response over 6 MiB + 100 bytes", steps: []step{{fmt.Sprintf(`{"action":"raw","bytes":%d}`, 6<<20+101), "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}, {`{"action":"echo"}`, ""}}},
		{name: "init error reported", cfg: func(c *lambdarun.Config) { c.Env["FAIL_INIT"] = "report" },
			steps: []step{{`{}`, "missing STATE_TABLE"}, {`{}`, "missing STATE_TABLE"}}},
		{name: "init exit", cfg: func(c *lambdarun.Config) { c.Env["FAIL_INIT"] = "exit" },
			steps: []step{{`{}`, "exit status 2"}, {`{}`, "exit status 2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runners := both(t, tc.cfg)
			for i, st := range tc.steps {
				want := run(t, runners["rie"], st.payload, st.wantMsg)
				got := run(t, runners["lambdarun"], st.payload, st.wantMsg)
				if got != want {
					t.Errorf("step %d (%.60s):\n lambdarun %+v\n emulator  %+v", i+1, st.payload, got, want)
				}
				if st.wantMsg != "" && want.ErrMsg != st.wantMsg {
					t.Errorf("step %d: the emulator said %q, the test expects %q", i+1, want.ErrMsg, st.wantMsg)
				}
			}
		})
	}
}

// TestFindRefusesWrongBinaries: a missing emulator, a file that is not a Go
// binary and a Go binary of another module are each refused with the
// command that installs the pinned one.
func TestFindRefusesWrongBinaries(t *testing.T) {
	notGo := filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.WriteFile(notGo, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing":        filepath.Join(t.TempDir(), "nope"),
		"not Go":         notGo,
		"another module": testBootstrap,
	} {
		t.Setenv(rie.EnvBinary, path)
		_, err := rie.Find()
		if err == nil || !strings.Contains(err.Error(), rie.Install) {
			t.Errorf("%s: err %v, want one that says %q", name, err, rie.Install)
		}
		if _, err := rie.New(lambdarun.Config{Name: "F", Bootstrap: testBootstrap}); err == nil {
			t.Errorf("%s: New worked without the emulator", name)
		}
	}
}

// TestInvokerLifecycle: bad configuration is refused as lambdarun refuses
// it, events over 6 MB are refused before they reach the emulator, a closed
// invoker refuses work, and nothing is left running.
func TestInvokerLifecycle(t *testing.T) {
	t.Parallel()
	if _, err := rie.New(lambdarun.Config{Name: "F", Bootstrap: testBootstrap, Env: map[string]string{"AWS_LAMBDA_RUNTIME_API": "x:1"}}); err == nil {
		t.Error("reserved variable accepted")
	}
	if _, err := rie.New(lambdarun.Config{Name: "F", Bootstrap: "/nonexistent"}); err == nil {
		t.Error("missing bootstrap accepted")
	}
	// A copy of its own, so that looking for leftover processes by path
	// sees no other test's.
	own := filepath.Join(t.TempDir(), "bootstrap")
	b, err := os.ReadFile(testBootstrap)
	if err != nil || os.WriteFile(own, b, 0o755) != nil {
		t.Fatal("copy the bootstrap", err)
	}
	inv, err := rie.New(lambdarun.Config{Name: "F", Bootstrap: own})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Invoke(context.Background(), make([]byte, lambdarun.MaxPayloadBytes+1)); err == nil {
		t.Error("event over 6 MB accepted")
	}
	res, err := inv.Invoke(context.Background(), []byte(`{"action":"echo"}`))
	if err != nil || res.Error != nil || !res.Cold || res.InitDuration <= 0 || res.Duration <= 0 {
		t.Fatalf("first invocation: %+v %v", res, err)
	}
	if !strings.Contains(string(res.Logs), "handling echo #1") || !strings.Contains(string(res.Logs), "REPORT RequestId: "+res.RequestID) {
		t.Errorf("logs %q", res.Logs)
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("closed invoker invoked")
	}
	// The emulator and the function are gone once Close returns (the
	// function may take a moment to notice its emulator is gone).
	if out, _ := exec.Command("pgrep", "-f", own).Output(); len(out) > 0 {
		time.Sleep(500 * time.Millisecond)
		if out, _ := exec.Command("pgrep", "-af", own).Output(); len(out) > 0 {
			t.Errorf("processes left behind: %s", out)
		}
	}
}

// BenchmarkInvokeWarmRIE is BenchmarkInvokeWarm of internal/lambdarun under
// the emulator: the emulator's own cost per warm invocation.
func BenchmarkInvokeWarmRIE(b *testing.B) {
	inv, err := rie.New(lambdarun.Config{Name: "BenchFunction", Bootstrap: testBootstrap})
	if err != nil {
		b.Fatal(err)
	}
	defer inv.Close()
	payload := []byte(`{"action":"noop"}`)
	if _, err := inv.Invoke(context.Background(), payload); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := inv.Invoke(context.Background(), payload)
		if err != nil || res.Error != nil || res.Cold {
			b.Fatalf("%v %v cold=%v", err, res.Error, res.Cold)
		}
	}
}

// TestPinnedEverywhere: the Makefile installs the version Find accepts,
// `make test` installs it before running the tests, and CI runs `make test`
// rather than pinning a copy of its own.
func TestPinnedEverywhere(t *testing.T) {
	read := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mk, ci := read("../../Makefile"), read("../../.ci/run")
	if !strings.Contains(mk, rie.Version) || !strings.Contains(mk, rie.Module+"/cmd/aws-lambda-rie@") {
		t.Errorf("the Makefile does not install %s@%s", rie.Module, rie.Version)
	}
	if !regexp.MustCompile(`(?m)^test:.*\brie\b`).MatchString(mk) {
		t.Error("make test does not depend on the rie target that installs the emulator")
	}
	if !regexp.MustCompile(`(?m)^make test$`).MatchString(ci) {
		t.Error(".ci/run does not run make test")
	}
	if strings.Contains(ci, "aws-lambda-rie@") {
		t.Error(".ci/run pins the emulator itself: the Makefile's rie target is the one pin")
	}
}
