package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// connectionReset is what a dropped answer looks like to the SDK: a
// connection error, which its default retryer retries.
type connectionReset struct{}

func (connectionReset) Error() string         { return "test: connection reset after the write" }
func (connectionReset) ConnectionError() bool { return true }

// loseAnswer lets the next PutItem reach dynalite and then fails it as if the
// connection dropped before the answer: the claim is written, the caller sees
// a connection error.
func loseAnswer(armed *atomic.Bool) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("loseAnswer",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					if err == nil && awsmiddleware.GetOperationName(ctx) == "PutItem" && armed.CompareAndSwap(true, false) {
						return out, md, connectionReset{}
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

// TestClaimAnswerLost: a claim written but answered with a connection error
// must not swallow the delivery. The SDK resends the conditional put; the
// resend finds the claim its own (the request's owner token), so the
// delivery is handed on at once, published once, and its claim is done.
func TestClaimAnswerLost(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	env := newTestEnvWithKeys(t, testKeys, loseAnswer(&armed))
	body := loanDelivery("ev-answer-lost")

	armed.Store(true)
	status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
	if armed.Load() {
		t.Fatal("the fault was not used: no PutItem answer was lost")
	}
	if status != 200 || got != `{"status":"accepted"}` {
		t.Fatalf("got %d %s, want 200 accepted (the resend takes its own claim)", status, got)
	}
	if st := env.claim(t, "ev-answer-lost"); st != state.ClaimDone {
		t.Fatalf("claim %q after publishing, want done", st)
	}
	status, got = doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
	if status != 200 || got != `{"status":"duplicate"}` {
		t.Fatalf("retry: %d %s, want 200 duplicate", status, got)
	}
	if n := len(env.published(t)); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}

// TestLambdaDeadlineReserve: with less time left than it takes to publish and
// still release, the receiver gives up publishing and releases the claim
// rather than being killed with the claim in progress.
func TestLambdaDeadlineReserve(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	body := loanDelivery("ev-deadline")
	ev := apigwEvent(t, body, signedHeader(testKey, body))

	ctx, cancel := context.WithTimeout(context.Background(), releaseReserve/2)
	defer cancel()
	resp, err := env.handler.ServeAPIGateway(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("status %d %s, want 503", resp.StatusCode, resp.Body)
	}
	if st := env.claim(t, "ev-deadline"); st != state.ClaimReleased {
		t.Fatalf("claim %q after giving up, want released (the retry runs at once)", st)
	}
	if n := len(env.published(t)); n != 0 {
		t.Fatalf("published %d", n)
	}

	ctx, cancel = context.WithTimeout(context.Background(), releaseReserve+30*time.Second)
	defer cancel()
	resp, err = env.handler.ServeAPIGateway(ctx, ev)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("retry with time left: %d %v", resp.StatusCode, err)
	}
	if n := len(env.published(t)); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}

// TestCrashBetweenClaimAndPublish: a container that claimed a delivery and
// died before publishing leaves the claim in progress. A copy within the
// claim's lease is answered 503 (never 200: nothing is on the bus), and
// publishes nothing; once the lease has passed, a copy runs and publishes
// it exactly once. The clock is moved, never slept on.
func TestCrashBetweenClaimAndPublish(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	body := loanDelivery("ev-crashed")
	// What the crashed container left: its claim, taken with its own token.
	if _, err := env.store.Claim(context.Background(), state.WebhookKey("ev-crashed"), "crashed-container", state.ClaimOptions{Lease: claimLease, TTL: dedupTTL}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range transports {
		status, got := tr.do(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
		if status != 503 || got != `{"status":"in_progress"}` {
			t.Fatalf("%s: copy within the lease: %d %s, want 503 in_progress", tr.name, status, got)
		}
	}
	env.clock.Advance(claimLease - time.Second)
	if status, _ := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body); status != 503 {
		t.Fatalf("copy a second before the lease ends: %d, want 503", status)
	}
	if n := len(env.published(t)); n != 0 {
		t.Fatalf("published %d within the lease", n)
	}
	env.clock.Advance(time.Second + time.Millisecond)
	for i, want := range []string{"accepted", "duplicate"} {
		status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
		if status != 200 || got != `{"status":"`+want+`"}` {
			t.Fatalf("copy %d after the lease: %d %s, want 200 %s", i+1, status, got, want)
		}
	}
	if n := len(env.published(t)); n != 1 {
		t.Fatalf("published %d, want exactly 1", n)
	}
	if n := env.metricCount(t, OutcomeInProgress); n != len(transports)+1 {
		t.Errorf("WebhookInProgress counted %d, want %d", n, len(transports)+1)
	}
}

// TestFailedHandOffClassified: the answer to a failed hand-off is 503 either
// way (CONTRACTS section 4), but the log says what failure.Classify made of
// it: EventBridge answering 500 may pass on Encompass's retry (a warning);
// a state table that does not exist is our fault (an error for an operator).
func TestFailedHandOffClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, level, class string
		fail               func(*testEnv)
	}{
		{"EventBridge 500", "WARN", "retryable", func(e *testEnv) { e.failPublishing(t, true) }},
		{"state table missing", "ERROR", "fault", func(e *testEnv) { e.failState(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			tc.fail(env)
			body := loanDelivery("ev-classified")
			if status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body); status != 503 {
				t.Fatalf("%d %s, want 503", status, got)
			}
			var line struct{ Level, Outcome, Class string }
			for l := range strings.Lines(env.logs.String()) {
				if strings.Contains(l, `"outcome":"failed_handoff"`) {
					if err := json.Unmarshal([]byte(l), &line); err != nil {
						t.Fatal(err)
					}
				}
			}
			if line.Level != tc.level || line.Class != tc.class {
				t.Fatalf("logged %+v, want level %s, class %s\n%s", line, tc.level, tc.class, env.logs.String())
			}
		})
	}
}
