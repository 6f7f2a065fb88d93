package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildTestFunction builds the runner's tiny aws-lambda-go function.
func buildTestFunction(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../../internal/lambdarun/testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestRunRejectsUnknownFunction(t *testing.T) {
	event := filepath.Join(t.TempDir(), "e.json")
	os.WriteFile(event, []byte(`{}`), 0o600)
	for _, fn := range []string{"nope", "../functions/provision", ""} {
		_, err := run(context.Background(), options{fn: fn, event: event, times: 1}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "unknown function") {
			t.Errorf("fn %q: err = %v, want unknown function", fn, err)
		}
	}
}

func TestRunStandalone(t *testing.T) {
	bin := buildTestFunction(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envVars := write("env.json", `{"Parameters": {"GREETING": "hi"}}`)
	tests := []struct {
		name       string
		event      string
		envVars    string
		wantFailed bool
		wantErr    string
		stdout     []string
		stderr     []string
	}{
		{name: "success twice, warm the second time", event: write("ok.json", `{"action":"echo"}`), envVars: envVars,
			stdout: []string{`"count": 2`, `"GREETING": "hi"`}, stderr: []string{"START RequestId:", "handling echo #2", "Init Duration:", "REPORT RequestId:"}},
		{name: "function error", event: write("err.json", `{"action":"error"}`), envVars: envVars, wantFailed: true,
			stdout: []string{`"errorMessage": "boom"`}},
		{name: "event not JSON", event: write("bad.json", `{"action":`), envVars: envVars, wantErr: "not valid JSON"},
		{name: "event missing", event: filepath.Join(dir, "missing.json"), envVars: envVars, wantErr: "no such file"},
		{name: "event over 6 MB", event: write("big.json", `"`+strings.Repeat("x", 6*1024*1024)+`"`), envVars: envVars, wantErr: "over the"},
		{name: "env vars missing", event: write("ok3.json", `{}`), envVars: filepath.Join(dir, "nope.json"), wantErr: "no such file"},
		{name: "env vars malformed", event: write("ok2.json", `{}`), envVars: write("badenv.json", `[]`), wantErr: "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			failed, err := run(context.Background(), options{bootstrap: bin, event: tt.event, envVars: tt.envVars, memory: 128, times: 2}, &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}
