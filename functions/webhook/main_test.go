package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// The subscription and keys the stored API Gateway events of
// pkg/webhook/testdata are signed with.
const (
	testSubscription = "5b1d1c86-7d0e-4a53-9f6a-4f3a0b6b2c11"
	testKey          = "Webhook-Signing-Key#2026-abcdefghijklmnop"
	testRotatedKey   = "Rotated-Signing-Key!2027-qrstuvwxyzABCDEF"
	otherKey         = "Some-Other-Tenant-Key^2026-0123456789abcd"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// loanDelivery is a delivery as field-notes.md describes it.
func loanDelivery(eventID string) []byte {
	return fmt.Appendf(nil, `{"eventId":%q,"eventTime":"2026-11-20T15:04:05Z","eventType":"update",`+
		`"meta":{"userId":"admin","resourceType":"Loan","resourceId":"9f1e7c3a-1111-2222-3333-444455556666"}}`, eventID)
}

func signedHeader(key string, body []byte) http.Header {
	h := http.Header{}
	h.Set(encompass.HeaderSubscriptionID, testSubscription)
	h.Set(encompass.HeaderSignature, encompass.Sign(key, body))
	return h
}

// TestWiring starts the real wiring (config from the environment, keys from
// Secrets Manager, SDK clients honouring the endpoint variables) as the local
// HTTP server and sends it a signed delivery.
func TestWiring(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := db.CreateTable(t)
	bus := testenv.EventBridge(t)
	secrets := testenv.SecretsManager(t)
	// pkg/config caches secrets per ARN for the process: a fresh ARN per run
	// keeps the count exact under -count=N.
	arn := fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-keys-%d", time.Now().UnixNano())
	secrets.Put(arn, `{"`+testSubscription+`": ["`+testKey+`", "`+testRotatedKey+`"]}`)

	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testenv-secret")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", db.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", bus.URL)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(config.EnvStateTable, table)
	t.Setenv(config.EnvEventBusName, "lifecycle")
	t.Setenv(config.EnvWebhookSecretARN, arn)
	t.Setenv(config.EnvWebhookSigningKeys, "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Logs and metric lines go to one writer, as both go to stdout in Lambda.
	out := &testenv.Buffer{}
	h, _, err := build(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, h, telemetry.NewLogger(&bytes.Buffer{}, slog.LevelInfo)) }()
	url := "http://" + ln.Addr().String() + "/webhooks/encompass"

	for i, key := range []string{testKey, testRotatedKey} {
		body := loanDelivery("ev-wiring-" + string(rune('a'+i)))
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header = signedHeader(key, body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("key %d: status %d", i, resp.StatusCode)
		}
	}
	if n := bus.Count("Loan update"); n != 2 {
		t.Fatalf("published %d Loan update events, want 2", n)
	}
	if ev := bus.Events()[0]; ev.Source != "encompass.webhook" || ev.EventBusName != "lifecycle" {
		t.Errorf("published to %s from %s", ev.EventBusName, ev.Source)
	}
	if !strings.Contains(out.String(), `"WebhookAccepted":1`) {
		t.Errorf("no EMF line for the accepted deliveries: %s", out.String())
	}
	if strings.Contains(out.String(), testKey) || strings.Contains(out.String(), testRotatedKey) {
		t.Error("a signing key was logged")
	}
	if n := secrets.Calls(arn); n != 1 {
		t.Errorf("secret read %d times, want once per cold start", n)
	}
	// A rotation: a key added to the secret verifies without a cold start
	// (the failed verification reads the secret once more).
	secrets.Put(arn, `{"`+testSubscription+`": ["`+testRotatedKey+`", "`+otherKey+`"]}`)
	body := loanDelivery("ev-wiring-rotated")
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header = signedHeader(otherKey, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || secrets.Calls(arn) != 2 {
		t.Fatalf("delivery signed with a key added to the secret: status %d, %d secret reads (want 200, 2)", resp.StatusCode, secrets.Calls(arn))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not shut down")
	}
}
