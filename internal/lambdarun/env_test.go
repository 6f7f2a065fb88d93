package lambdarun

import (
	"maps"
	"strings"
	"testing"
)

func TestParseEnvVars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "function section overrides parameters",
			in:   `{"Parameters": {"A": "1", "B": "2"}, "ProvisionFunction": {"B": "3"}, "PollerFunction": {"C": "4"}}`,
			want: map[string]string{"A": "1", "B": "3"}},
		{name: "numbers and booleans become strings",
			in:   `{"ProvisionFunction": {"N": 12.50, "T": true, "Z": null}}`,
			want: map[string]string{"N": "12.50", "T": "true"}},
		{name: "nothing for this function", in: `{"Other": {"A": "1"}}`, want: map[string]string{}},
		{name: "empty object", in: `{}`, want: map[string]string{}},
		{name: "not JSON", in: `A=1`, wantErr: "want a JSON object"},
		{name: "top level array", in: `[{"A":"1"}]`, wantErr: "want a JSON object"},
		{name: "section not an object", in: `{"Parameters": ["A"]}`, wantErr: "Parameters"},
		{name: "nested value", in: `{"ProvisionFunction": {"A": {"x": 1}}}`, wantErr: "want a string, number or boolean"},
		{name: "reserved variable", in: `{"Parameters": {"AWS_LAMBDA_RUNTIME_API": "1.2.3.4:9"}}`, wantErr: "reserved"},
		{name: "bad name", in: `{"Parameters": {"A-B": "1"}}`, wantErr: "invalid variable name"},
		{name: "name starting with a digit", in: `{"Parameters": {"1A": "1"}}`, wantErr: "invalid variable name"},
		{name: "NUL in value", in: `{"Parameters": {"A": "x\u0000y"}}`, wantErr: "NUL"},
		{name: "oversized", in: `{"Parameters": {"A": "` + strings.Repeat("x", maxEnvFileBytes) + `"}}`, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEnvVars(strings.NewReader(tt.in), "ProvisionFunction")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLogicalID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"provision": "ProvisionFunction", "webhook": "WebhookFunction", "PollerFunction": "PollerFunction", "": ""} {
		if got := LogicalID(in); got != want {
			t.Errorf("LogicalID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvironDoesNotInheritHost(t *testing.T) {
	t.Setenv("SOME_HOST_SECRET", "x")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	cfg := &Config{Name: "F", Bootstrap: "/var/task/bootstrap", MemoryMB: 256, Region: "eu-west-1", Env: map[string]string{"AWS_REGION": "us-west-2"}}
	env := strings.Join(cfg.Environ("127.0.0.1:9001", "s"), "\n")
	for _, want := range []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_REGION=us-west-2",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDLOCAL", "LAMBDA_TASK_ROOT=/var/task"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "SOME_HOST_SECRET") {
		t.Error("host variable leaked into the function's environment")
	}
}
