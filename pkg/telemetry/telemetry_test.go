package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

var update = flag.Bool("update", false, "rewrite golden files")

func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestContextAttrsAndRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	ctx = With(ctx, "eventId", "ev-1")
	ctx = With(ctx, slog.String("employeeId", "E1"))
	log.InfoContext(ctx, "applied", "changes", 2)
	log.With("fn", "provision").WarnContext(ctx, "second")
	log.DebugContext(ctx, "hidden")
	log.Info("no context")
	lines := decodeLines(t, buf.Bytes())
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for _, l := range lines[:2] {
		if l[RequestIDKey] != "req-123" || l["eventId"] != "ev-1" || l["employeeId"] != "E1" {
			t.Errorf("line %v lacks context attributes", l)
		}
	}
	if lines[0]["changes"] != float64(2) || lines[1]["fn"] != "provision" || lines[1]["level"] != "WARN" {
		t.Errorf("lines %v", lines)
	}
	if _, ok := lines[2][RequestIDKey]; ok {
		t.Errorf("request id without lambda context: %v", lines[2])
	}
}

type creds struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Nested       struct {
		APIKey string `json:"apiKey"`
		Keep   string `json:"keep"`
	} `json:"nested"`
}

func TestRedactsSecretsAtAnyDepth(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelDebug)
	c := creds{ClientID: "cid", ClientSecret: "S3CRET-1"}
	c.Nested.APIKey, c.Nested.Keep = "S3CRET-2", "visible"
	log.Info("m",
		"password", "S3CRET-3",
		"Authorization", "Bearer S3CRET-4",
		"access_token", "S3CRET-5",
		slog.Group("oauth", "refresh-token", "S3CRET-6", "grant", "password"),
		slog.Group("signingKeys", "sub-1", "S3CRET-7"),
		"creds", c,
		"headers", map[string]any{"X-Api-Key": "S3CRET-8", "list": []any{map[string]string{"Password": "S3CRET-9"}}},
		"ptr", &c,
		"err", errors.New("boom"),
		"user", "jdoe",
	)
	log.With("WEBHOOK_SIGNING_KEYS", "S3CRET-10").Info("with")
	out := buf.String()
	if strings.Contains(out, "S3CRET") {
		t.Fatalf("secret leaked:\n%s", out)
	}
	for _, want := range []string{`"user":"jdoe"`, `"grant":"password"`, `"keep":"visible"`, `"clientId":"cid"`, `"err":"boom"`, `"password":"[REDACTED]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"password": true, "ENCOMPASS_PASSWORD": true, "clientSecret": true, "id_token": true, "Authorization": true,
		"signing_key": true, "x-api-key": true, "APIKEY": true, "userName": false, "eventId": false, "grant": false,
		"tokenless": true, // errs on the safe side
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v", key, got)
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "Error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"trace", "verbose", "1"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEMFGolden(t *testing.T) {
	t.Parallel()
	m := NewMetrics(Namespace, map[string]string{"Function": "provision"})
	m.now = func() time.Time { return time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC) }
	m.Add("EventsProcessed", 2)
	m.Add("EventsProcessed", 1)
	m.Add("EncompassCalls", 7)
	m.AddUnit("EncompassLatency", 123.5, Milliseconds)
	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "emf.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Fatalf("EMF line\n got %s\nwant %s", buf.String(), want)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatal("not one line")
	}
	// Flushed: the next flush writes nothing until something is added.
	buf.Reset()
	if err := m.Flush(&buf); err != nil || buf.Len() != 0 {
		t.Fatalf("second flush wrote %q (%v)", buf.String(), err)
	}
}

func TestEMFConcurrentAndClash(t *testing.T) {
	t.Parallel()
	m := NewMetrics(Namespace, map[string]string{"Function": "poller"})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); m.Add("Polls", 1) }()
	}
	wg.Wait()
	if m.Value("Polls") != 50 {
		t.Fatalf("Polls = %v", m.Value("Polls"))
	}
	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	doc := decodeLines(t, buf.Bytes())[0]
	if doc["Polls"] != float64(50) || doc["Function"] != "poller" {
		t.Fatalf("doc %v", doc)
	}
	m.Add("Function", 1)
	if err := m.Flush(&buf); err == nil {
		t.Fatal("metric named like a dimension accepted")
	}
}

// A count under an extra dimension (rejections by reason) is a line of its
// own with both dimensions; observed values (a leaver's exposure) are kept
// one by one, at most 100 a line, so that CloudWatch has percentiles.
func TestMetricsByDimensionAndObserved(t *testing.T) {
	t.Parallel()
	m := NewMetrics(Namespace, map[string]string{"Function": "deprovision"})
	m.Add("Messages", 3)
	m.AddBy("Rejected", "Reason", "invalid_field", 1)
	m.AddBy("Rejected", "Reason", "invalid_field", 1)
	m.AddBy("Rejected", "Reason", "stale", 1)
	for i := range 150 {
		m.Observe("ExposureSeconds", float64(i), Seconds)
	}
	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 2 for the fixed dimensions (150 values) and 2 by reason:\n%s", len(lines), buf.String())
	}
	var docs []map[string]any
	for _, l := range lines {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	if docs[0]["Messages"] != 3.0 || len(docs[0]["ExposureSeconds"].([]any)) != 100 || len(docs[1]["ExposureSeconds"].([]any)) != 50 {
		t.Fatalf("fixed-dimension lines: %v / %v", docs[0], docs[1])
	}
	if docs[2]["Reason"] != "invalid_field" || docs[2]["Rejected"] != 2.0 || docs[2]["Function"] != "deprovision" ||
		docs[3]["Reason"] != "stale" || docs[3]["Rejected"] != 1.0 {
		t.Fatalf("reason lines: %v / %v", docs[2], docs[3])
	}
	meta := docs[2]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dims := meta["Dimensions"].([]any)[0].([]any); len(dims) != 2 {
		t.Fatalf("dimensions %v, want Function and Reason", dims)
	}
	unit := docs[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any)
	found := false
	for _, u := range unit {
		if u.(map[string]any)["Name"] == "ExposureSeconds" && u.(map[string]any)["Unit"] == "Seconds" {
			found = true
		}
	}
	if !found {
		t.Fatalf("ExposureSeconds unit: %v", unit)
	}
	buf.Reset()
	if err := m.Flush(&buf); err != nil || buf.Len() != 0 {
		t.Fatalf("second flush wrote %q %v", buf.String(), err)
	}
}
