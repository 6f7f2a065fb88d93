package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// TestLambdaBootstrap builds the real bootstrap and invokes it through the
// Lambda Runtime API with the stored API Gateway v2 event: the Lambda branch
// of main (lambda.Start with httpadapter.NewV2), not just the handler.
func TestLambdaBootstrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := lambdarun.Build(ctx, root, t.TempDir(), "webhook")
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoDB(t)
	table := db.CreateTable(t)
	bus := testenv.EventBridge(t)
	c, err := lambdarun.New(lambdarun.Config{
		Name:      "WebhookFunction",
		Bootstrap: bins["webhook"],
		Timeout:   20 * time.Second,
		Env: map[string]string{
			"AWS_ACCESS_KEY_ID":            "AKIDTESTENV",
			"AWS_SECRET_ACCESS_KEY":        "testenv-secret",
			"AWS_ENDPOINT_URL_DYNAMODB":    db.URL,
			"AWS_ENDPOINT_URL_EVENTBRIDGE": bus.URL,
			"STATE_TABLE":                  table,
			"EVENT_BUS_NAME":               "lifecycle",
			"WEBHOOK_SIGNING_KEYS":         `{"` + testSubscription + `":"` + testKey + `"}`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	payload, err := os.ReadFile("testdata/apigw-v2-loan-update.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"accepted", "duplicate"} {
		res, err := c.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != nil {
			t.Fatalf("invoke %d: %s: %s\n%s", i+1, res.Error.Type, res.Error.Message, res.Logs)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Body != `{"status":"`+want+`"}` {
			t.Fatalf("invoke %d: %d %s\n%s", i+1, resp.StatusCode, resp.Body, res.Logs)
		}
		if !bytes.Contains(res.Logs, []byte(res.RequestID)) || !bytes.Contains(res.Logs, []byte(`"_aws"`)) {
			t.Errorf("invoke %d: logs lack the request id or the EMF line:\n%s", i+1, res.Logs)
		}
		if bytes.Contains(res.Logs, []byte(testKey)) {
			t.Errorf("invoke %d: the signing key was logged", i+1)
		}
	}
	if n := bus.Count("Loan update"); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}
