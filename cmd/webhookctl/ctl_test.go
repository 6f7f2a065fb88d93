package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

const endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/encompass"

// simEnv points the configuration variables at a fresh simulator.
func simEnv(t *testing.T) *encompasstest.Server {
	t.Helper()
	sim := encompasstest.NewServer(t)
	for k, v := range map[string]string{
		config.EnvAPIURL:            sim.URL,
		config.EnvInstanceID:        sim.InstanceID,
		config.EnvClientID:          sim.ClientID,
		config.EnvClientSecret:      sim.ClientSecret,
		config.EnvUsername:          sim.Username,
		config.EnvPassword:          sim.Password,
		config.EnvSecretARN:         "",
		config.EnvGrant:             "",
		"AWS_REGION":                "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return sim
}

type result struct {
	code           int
	stdout, stderr string
}

func ctl(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, connectFromEnv)
	return result{code, out.String(), errb.String()}
}

func readKeyFile(t *testing.T, path string) (id, key string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		t.Fatalf("key file is not one {id: key} entry: %v", err)
	}
	for id, key = range m {
	}
	return id, key
}

func TestRegisterListDelete(t *testing.T) {
	sim := simEnv(t)
	keyFile := filepath.Join(t.TempDir(), "webhook-key.json")

	r := ctl(t, "register", "-url", endpoint, "-key-file", keyFile)
	if r.code != 0 {
		t.Fatalf("register: exit %d: %s", r.code, r.stderr)
	}
	id, key := readKeyFile(t, keyFile)
	if !encompass.ValidSigningKey(key) {
		t.Errorf("generated key does not meet Encompass's rules")
	}
	if !strings.Contains(r.stdout, "subscription "+id) || !strings.Contains(r.stdout, "WEBHOOK_SECRET_ARN") {
		t.Errorf("register output lacks the id or the next step: %s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, key) {
		t.Error("key printed without -print-key")
	}
	subs := sim.Subscriptions()
	if len(subs) != 1 || subs[0].ID != id || subs[0].SigningKey != key || subs[0].Endpoint != endpoint ||
		subs[0].Resource != "Loan" || strings.Join(subs[0].Events, ",") != "create,update,delete" {
		t.Fatalf("the simulator holds %+v, not the registered subscription with the key in the file", subs)
	}

	r = ctl(t, "list")
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, endpoint) || !strings.Contains(r.stdout, "create,update,delete") {
		t.Fatalf("list: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, key) {
		t.Error("list printed the signing key")
	}
	r = ctl(t, "list", "-json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0]["subscriptionId"] != id {
		t.Fatalf("list -json: %v %s", err, r.stdout)
	}

	// A second subscription for the same endpoint would deliver everything twice.
	r = ctl(t, "register", "-url", strings.Replace(endpoint, "abc123.execute-api", "ABC123.Execute-API", 1), "-print-key")
	if r.code != 1 || !strings.Contains(r.stderr, id) {
		t.Fatalf("duplicate register: exit %d: %s", r.code, r.stderr)
	}

	r = ctl(t, "delete", "-id", id)
	if r.code != 0 {
		t.Fatalf("delete: exit %d: %s", r.code, r.stderr)
	}
	r = ctl(t, "list")
	if strings.Contains(r.stdout, id) {
		t.Fatalf("subscription still listed after delete: %s", r.stdout)
	}
	r = ctl(t, "delete", "-id", id)
	if r.code != 1 {
		t.Fatalf("deleting an absent subscription: exit %d", r.code)
	}
}

func TestRegisterPrintKey(t *testing.T) {
	simEnv(t)
	r := ctl(t, "register", "-url", endpoint, "-print-key", "-resource", "InternalUsers", "-events", "create, Update,update")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	line := ""
	for l := range strings.Lines(r.stdout) {
		if strings.HasPrefix(l, "signing key entry (shown once): ") {
			line = strings.TrimPrefix(strings.TrimSpace(l), "signing key entry (shown once): ")
		}
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(line), &m); err != nil || len(m) != 1 {
		t.Fatalf("no key entry printed: %s", r.stdout)
	}
	for _, key := range m {
		if strings.Count(r.stdout, key) != 1 || strings.Contains(r.stderr, key) {
			t.Error("key printed more than once or to stderr")
		}
	}
	r = ctl(t, "list")
	if !strings.Contains(r.stdout, "InternalUsers") || !strings.Contains(r.stdout, "create,update") || strings.Contains(r.stdout, "create,update,update") {
		t.Errorf("list: %s", r.stdout)
	}
}

func TestBadCommandLines(t *testing.T) {
	sim := simEnv(t)
	existing := filepath.Join(t.TempDir(), "exists.json")
	if err := os.WriteFile(existing, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"rename"}, 2, "unknown command"},
		{"rotate without id", []string{"rotate", "-print-key"}, 2, "-id is required"},
		{"rotate without key destination", []string{"rotate", "-id", "x"}, 2, "-key-file"},
		{"rotate apply with print-key", []string{"rotate", "-id", "x", "-print-key", "-apply"}, 2, "-key-file"},
		{"rotate apply without key file", []string{"rotate", "-id", "x", "-apply"}, 2, "-key-file"},
		{"register without url", []string{"register", "-print-key"}, 2, "-url is required"},
		{"register http", []string{"register", "-url", "http://example.com/webhooks/encompass", "-print-key"}, 2, "https"},
		{"register ftp", []string{"register", "-url", "ftp://example.com/webhooks/encompass", "-print-key"}, 2, "https"},
		{"register relative", []string{"register", "-url", "/webhooks/encompass", "-print-key"}, 2, "absolute"},
		{"register trailing slash", []string{"register", "-url", endpoint + "/", "-print-key"}, 2, "exactly"},
		{"register with query", []string{"register", "-url", endpoint + "?x=1", "-print-key"}, 2, "exactly"},
		{"register other path", []string{"register", "-url", "https://example.com/hooks", "-print-key"}, 2, "/webhooks/encompass"},
		{"register with credentials in url", []string{"register", "-url", "https://u:p@example.com/webhooks/encompass", "-print-key"}, 2, "credentials"},
		{"register without key destination", []string{"register", "-url", endpoint}, 2, "-key-file"},
		{"register empty events", []string{"register", "-url", endpoint, "-print-key", "-events", " , "}, 2, "-events"},
		{"register extra argument", []string{"register", "-url", endpoint, "-print-key", "extra"}, 2, "unexpected"},
		{"register unknown flag", []string{"register", "-signingkey", "x"}, 2, "flag provided but not defined"},
		{"delete without id", []string{"delete"}, 2, "-id is required"},
		{"key file exists", []string{"register", "-url", endpoint, "-key-file", existing}, 1, "exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim.ResetRequests()
			r := ctl(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
			if tc.code == 2 && len(sim.Requests()) != 0 {
				t.Errorf("a usage error reached the API (%d requests)", len(sim.Requests()))
			}
		})
	}
	if r := ctl(t, "list"); strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("a failed command created a subscription: %s", r.stdout)
	}
	if b, _ := os.ReadFile(existing); string(b) != "old" {
		t.Error("an existing key file was overwritten")
	}
}

func TestRegisterCreateFails(t *testing.T) {
	sim := simEnv(t)
	keyFile := filepath.Join(t.TempDir(), "key.json")
	sim.FailNext(1, 400, "POST /webhook/v1/subscriptions")
	r := ctl(t, "register", "-url", endpoint, "-key-file", keyFile)
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Error("key file left behind for a subscription that was not created")
	}
}

func TestMissingCredentials(t *testing.T) {
	simEnv(t)
	t.Setenv(config.EnvInstanceID, "")
	r := ctl(t, "list")
	if r.code != 1 || !strings.Contains(r.stderr, config.EnvInstanceID) {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
