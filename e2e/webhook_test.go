package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
)

// webhookStatus invokes a webhook container with ev and returns the HTTP
// status API Gateway would send. A function error (which API Gateway turns
// into a 500) fails the test.
func webhookStatus(t *testing.T, c *lambdarun.Container, ev events.APIGatewayV2HTTPRequest) int {
	t.Helper()
	status, err := invokeWebhook(c, ev)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// invokeWebhook is webhookStatus for goroutines other than the test's.
func invokeWebhook(c *lambdarun.Container, ev events.APIGatewayV2HTTPRequest) (int, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	res, err := c.Invoke(context.Background(), payload)
	if err != nil {
		return 0, err
	}
	if res.Error != nil {
		return 0, fmt.Errorf("function error (API Gateway answers 500): %v\n%s", res.Error, res.Logs)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// TestWebhookCopiesWhileEventBridgeFails is issue 10's defect 5 through the
// real bootstrap: twenty copies of one delivery, spread over four warm
// containers (Lambda scales out for concurrent requests), while EventBridge
// fails. Before the claim protocol was replaced, 19 were answered 200
// "duplicate" and nothing was published, so Encompass stopped retrying and
// the event was lost. Now none is 200 and none is published; when
// EventBridge is back, Encompass's retry publishes it exactly once, and
// only then is a copy a 200 duplicate.
func TestWebhookCopiesWhileEventBridgeFails(t *testing.T) {
	env := start(t, nil)
	cfg, err := env.Config("webhook")
	if err != nil {
		t.Fatal(err)
	}
	containers := make([]*lambdarun.Container, 4)
	for i := range containers {
		if containers[i], err = lambdarun.New(cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = containers[i].Close() })
	}
	body := story.LoanWebhook("whk-copies")
	request := func() events.APIGatewayV2HTTPRequest {
		return localenv.WebhookRequest(body, localenv.SubscriptionID, env.WebhookKey)
	}

	env.Bus.FailRequests(1<<30, 500)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for _, c := range containers {
		wg.Go(func() {
			for range 5 {
				s, err := invokeWebhook(c, request())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				statuses[s]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[503] != 20 {
		t.Errorf("answers while EventBridge fails: %v, want 20 × 503", statuses)
	}
	if n := countEvents(env.Bus.Events())["Loan update"]; n != 0 {
		t.Fatalf("%d Loan update events published while EventBridge fails", n)
	}

	env.Bus.Reset()
	for i, want := range []int{200, 200, 200} {
		if got := webhookStatus(t, containers[i], request()); got != want {
			t.Errorf("retry %d after EventBridge recovered: HTTP %d, want %d", i+1, got, want)
		}
	}
	if n := countEvents(env.Bus.Events())["Loan update"]; n != 1 {
		t.Errorf("%d Loan update events, want exactly 1", n)
	}
}

// TestWebhookRefusals: what the real bootstrap answers to bodies it must
// refuse (issue 10, defects 7, 8 and 9), and that it never answers with a
// function error. Only the body of exactly 256 KiB is published.
func TestWebhookRefusals(t *testing.T) {
	env := start(t, nil)
	c, err := env.Function("webhook")
	if err != nil {
		t.Fatal(err)
	}
	signed := func(body string) events.APIGatewayV2HTTPRequest {
		return localenv.WebhookRequest([]byte(body), localenv.SubscriptionID, env.WebhookKey)
	}
	notBase64 := signed(string(story.LoanWebhook("whk-b64")))
	notBase64.IsBase64Encoded = true
	atLimit := bytes.Repeat([]byte(" "), 256<<10)
	copy(atLimit, story.LoanWebhook("whk-256k"))
	overLimit := append(bytes.Clone(atLimit), ' ')

	for _, tc := range []struct {
		name   string
		ev     events.APIGatewayV2HTTPRequest
		status int
	}{
		{"eventId twice (defect 7)", signed(`{"eventId":"whk-a","eventType":"update","meta":{"resourceType":"Loan"},"eventId":"whk-b"}`), 400},
		{"detail-type of a provisioning event (defect 8)", signed(`{"eventId":"whk-c","eventType":"Rejected","meta":{"resourceType":"HRIS Event"}}`), 400},
		{"isBase64Encoded, not base64 (defect 9)", notBase64, 400},
		{"body of 256 KiB + 1 (defect 9)", localenv.WebhookRequest(overLimit, localenv.SubscriptionID, env.WebhookKey), 413},
		{"body of exactly 256 KiB (defect 9)", localenv.WebhookRequest(atLimit, localenv.SubscriptionID, env.WebhookKey), 200},
	} {
		if got := webhookStatus(t, c, tc.ev); got != tc.status {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.status)
		}
	}
	evs := env.Bus.Events()
	if len(evs) != 1 || evs[0].DetailType != "Loan update" || evs[0].DetailMap()["eventId"] != "whk-256k" {
		t.Errorf("published %v, want only the 256 KiB delivery", countEvents(evs))
	}
}
