package main

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
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
// must not swallow the delivery: not through the SDK retrying the conditional
// put into "duplicate" (ClaimRetries), not through a claim left behind for
// Encompass's retry (the release).
func TestClaimAnswerLost(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	env := newTestEnvWithKeys(t, testKeys, loseAnswer(&armed))
	body := loanDelivery("ev-answer-lost")

	armed.Store(true)
	status, got := doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
	if status != 503 || got != `{"status":"failed_handoff"}` || armed.Load() {
		t.Fatalf("got %d %s (fault used: %v), want 503 failed_handoff", status, got, !armed.Load())
	}
	if env.claimed(t, "ev-answer-lost") {
		t.Fatal("claim left behind after an unknown claim outcome")
	}
	status, got = doHTTP(t, env.handler, http.MethodPost, "/webhooks/encompass", signedHeader(testKey, body), body)
	if status != 200 || got != `{"status":"accepted"}` {
		t.Fatalf("retry: %d %s, want 200 accepted", status, got)
	}
	if n := len(env.published(t)); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}

// TestLambdaDeadlineReserve: with less time left than it takes to publish and
// still release, the receiver gives up publishing and releases the claim
// rather than being killed with the claim in place.
func TestLambdaDeadlineReserve(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	body := loanDelivery("ev-deadline")
	var ev = apigwEvent(t, body, signedHeader(testKey, body))
	adapter := httpadapter.NewV2(env.handler)

	ctx, cancel := context.WithTimeout(context.Background(), releaseReserve/2)
	defer cancel()
	resp, err := adapter.ProxyWithContext(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("status %d %s, want 503", resp.StatusCode, resp.Body)
	}
	if env.claimed(t, "ev-deadline") {
		t.Fatal("claim left behind")
	}
	if n := len(env.published(t)); n != 0 {
		t.Fatalf("published %d", n)
	}

	ctx, cancel = context.WithTimeout(context.Background(), releaseReserve+30*time.Second)
	defer cancel()
	resp, err = adapter.ProxyWithContext(ctx, ev)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("retry with time left: %d %v", resp.StatusCode, err)
	}
	if n := len(env.published(t)); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}
