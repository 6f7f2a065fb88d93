package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
)

// hires returns n hire events for fresh loan officers.
func hires(prefix string, n int) []story.HRISEvent {
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	out := make([]story.HRISEvent, n)
	for i := range n {
		id := fmt.Sprintf("%s%03d", prefix, i)
		out[i] = story.HRISEvent{
			EventID: "hris-" + id, Type: "hire", OccurredAt: t0.Add(time.Duration(i) * time.Second), Why: "batch hire",
			Employee: story.Employee{
				"employeeId": id, "givenName": "Test", "familyName": "User" + id,
				"email": "t" + id + "@example.com", "jobCode": "LO1", "department": "Retail Lending",
			},
		}
	}
	return out
}

func bodies(evs []story.HRISEvent) [][]byte {
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.Body()
	}
	return out
}

// deliver sends evs as one provision batch and returns the message ids the
// function asked SQS to retry, mapped back to the events.
func deliver(t *testing.T, env *localenv.Env, evs []story.HRISEvent) (retry []story.HRISEvent, res *lambdarun.Result) {
	t.Helper()
	return deliverTo(t, env, "provision", localenv.ProvisionQueueARN, evs)
}

// deliverTo is deliver for either queue's function.
func deliverTo(t *testing.T, env *localenv.Env, fn, queueARN string, evs []story.HRISEvent) (retry []story.HRISEvent, res *lambdarun.Result) {
	t.Helper()
	batch := localenv.SQSBatch(queueARN, bodies(evs)...)
	res, err := env.Invoke(context.Background(), fn, batch)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, env, fn, string(res.Logs))
	if res.Error != nil {
		// A failed invocation leaves the whole batch on the queue.
		return evs, res
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("%s answered %q: %v", fn, res.Payload, err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for i, m := range batch.Records {
		if failed[m.MessageId] {
			retry = append(retry, evs[i])
		}
	}
	return retry, res
}

// warm starts the provision container (its cold start resolves the mapping
// against Encompass) before a fault is injected, so that the fault hits the
// batch and not the init.
func warm(t *testing.T, env *localenv.Env) {
	t.Helper()
	res, err := env.Invoke(context.Background(), "provision", localenv.SQSBatch(localenv.ProvisionQueueARN))
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("provision with an empty batch: %v\n%s", res.Error, res.Logs)
	}
}

// redeliverUntilDone plays SQS: failed messages come back until none fail.
func redeliverUntilDone(t *testing.T, env *localenv.Env, evs []story.HRISEvent, maxReceives int) {
	t.Helper()
	for range maxReceives {
		if len(evs) == 0 {
			return
		}
		evs, _ = deliver(t, env, evs)
	}
	if len(evs) > 0 {
		t.Fatalf("%d message(s) still failing after %d receives", len(evs), maxReceives)
	}
}

// assertProvisionedOnce checks that every hire led to exactly one enabled
// account, one User Provisioned event, and no rejection.
func assertProvisionedOnce(t *testing.T, env *localenv.Env, p *story.Player, evs []story.HRISEvent) {
	t.Helper()
	published := env.Bus.Events()
	for _, e := range evs {
		got := countEvents(eventsFor(published, e.EventID))
		if got["User Provisioned"] != 1 || got["HRIS Event Rejected"] != 0 {
			t.Errorf("%s: events %v, want exactly one User Provisioned and no rejection", e.EventID, got)
		}
		login := "t" + e.EmployeeID()
		if u := user(t, p, login); u == nil || !u.IsEnabled() {
			t.Errorf("%s: user %s = %+v, want an enabled account", e.EventID, login, u)
		}
	}
	if n := userCreations(env); n != len(evs) {
		t.Errorf("%d successful user creations, want %d (one per hire, none duplicated)", n, len(evs))
	}
}

// assertRetriedThenProvisionedOnce delivers hires while a retryable fault is
// injected: every message must come back as a batch item failure and none be
// rejected; once the fault is cleared, the redelivery provisions each hire once.
func assertRetriedThenProvisionedOnce(t *testing.T, env *localenv.Env, p *story.Player, evs []story.HRISEvent, fault string) {
	t.Helper()
	retry, res := deliver(t, env, evs)
	if res.Error != nil {
		t.Fatalf("invocation failed: %v; want batch item failures", res.Error)
	}
	if len(retry) != len(evs) {
		t.Errorf("%d of %d messages left for a retry, want all", len(retry), len(evs))
	}
	if n := countEvents(env.Bus.Events())["HRIS Event Rejected"]; n != 0 {
		t.Errorf("%d rejections for %s, want none: the fault is retryable", n, fault)
	}
	env.Sim.ClearFaults()
	redeliverUntilDone(t, env, retry, 3)
	assertProvisionedOnce(t, env, p, evs)
}

// TestThrottleStorm: a short 429 burst is absorbed by the client's retries
// within the invocation; a long one leaves the messages on the queue, and
// the redelivery provisions each user exactly once.
func TestThrottleStorm(t *testing.T) {
	t.Run("short burst", func(t *testing.T) {
		env := start(t, nil)
		p := newPlayer(t, env)
		evs := hires("S", 3)
		env.Sim.Throttle(4)
		retry, res := deliver(t, env, evs)
		if res.Error != nil || len(retry) != 0 {
			t.Fatalf("error %v, retries %d; want the burst absorbed", res.Error, len(retry))
		}
		if n := requestsWithStatus(env, 429); n != 4 {
			t.Errorf("%d requests answered 429, want the 4 of the burst", n)
		}
		assertProvisionedOnce(t, env, p, evs)
	})
	t.Run("storm outlasting the retries", func(t *testing.T) {
		env := start(t, nil)
		p := newPlayer(t, env)
		evs := hires("L", 3)
		warm(t, env)
		env.Sim.Throttle(100000)
		assertRetriedThenProvisionedOnce(t, env, p, evs, "429 storm")
	})
}

// TestServerErrors: 5xx from Encompass is retried by SQS, never rejected.
func TestServerErrors(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	evs := hires("X", 3)
	warm(t, env)
	env.Sim.FailNext(100000, 503, "POST /scim2/v1/users")
	env.Sim.FailNext(100000, 503, "POST /encompass/v3/users")
	assertRetriedThenProvisionedOnce(t, env, p, evs, "503s")
}

// TestDeprovisionServerErrors: when disabling fails with 5xx the leavers are
// left on the queue, their accounts stay as they were, nothing is reported
// as deprovisioned, and the redelivery disables each one once.
func TestDeprovisionServerErrors(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	evs := hires("Z", 2)
	if retry, res := deliver(t, env, evs); res.Error != nil || len(retry) != 0 {
		t.Fatalf("hires: error %v, retries %d", res.Error, len(retry))
	}
	var leavers []story.HRISEvent
	for i, e := range evs {
		leavers = append(leavers, story.HRISEvent{EventID: fmt.Sprintf("hris-leave-%d", i), Type: "terminate",
			OccurredAt: e.OccurredAt.Add(time.Minute), Employee: story.Employee{"employeeId": e.EmployeeID()}})
	}
	for _, route := range []string{"DELETE /scim2/v1/users/{id}", "PATCH /scim2/v1/users/{id}", "PATCH /encompass/v3/users/{id}"} {
		env.Sim.FailNext(100000, 502, route)
	}
	retry, res := deliverTo(t, env, "deprovision", localenv.DeprovisionQueueARN, leavers)
	if res.Error != nil {
		t.Fatalf("invocation failed: %v; want batch item failures", res.Error)
	}
	if len(retry) != len(leavers) {
		t.Errorf("%d of %d leavers left for a retry, want all", len(retry), len(leavers))
	}
	got := countEvents(env.Bus.Events())
	if got["User Deprovisioned"] != 0 || got["HRIS Event Rejected"] != 0 {
		t.Errorf("events during 502s: %v, want no deprovisioning and no rejection", got)
	}
	env.Sim.ClearFaults()
	for range 3 {
		if len(retry) == 0 {
			break
		}
		retry, _ = deliverTo(t, env, "deprovision", localenv.DeprovisionQueueARN, retry)
	}
	if len(retry) > 0 {
		t.Fatalf("%d leavers still failing after the fault cleared", len(retry))
	}
	for i, e := range evs {
		if u := user(t, p, "t"+e.EmployeeID()); u == nil || u.IsEnabled() {
			t.Errorf("%s: account %+v, want disabled", e.EmployeeID(), u)
		}
		if n := countEvents(eventsFor(env.Bus.Events(), leavers[i].EventID))["User Deprovisioned"]; n != 1 {
			t.Errorf("%s: %d User Deprovisioned events, want 1", leavers[i].EventID, n)
		}
	}
}

// TestTokenExpiresMidBatch: the token expires while a batch is being
// processed; the client gets one new token and the batch completes.
func TestTokenExpiresMidBatch(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	evs := hires("T", 4)
	warm(t, env)
	// The first create is held at the simulator's door while every token
	// expires: it and whatever follows meet the expired token.
	gate := env.Sim.Hold("POST /scim2/v1/users") // localenv runs the SCIM API
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-gate.Arrived()
		env.Sim.ExpireTokens()
		gate.Release()
	}()
	retry, res := deliver(t, env, evs)
	<-done
	if res.Error != nil || len(retry) != 0 {
		t.Fatalf("error %v, retries %d; want the batch to finish with a fresh token", res.Error, len(retry))
	}
	if n := requestsWithStatus(env, 401); n < 1 {
		t.Errorf("no request met the expired token (401); the test did not expire it mid-batch")
	}
	assertProvisionedOnce(t, env, p, evs)
}

// TestDeadlineMidBatch: the function's deadline arrives while Encompass is
// slow. The function must answer before it is killed, having finished the
// first employees and reporting the others as batch item failures, and the
// redelivery completes them without duplicates. With a 3 s timeout and
// 600 ms per call, a hire (at least two calls) fits in the time the handler
// keeps for work, but ten hires at three requests in flight cannot.
func TestDeadlineMidBatch(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	evs := hires("D", 10)
	if err := env.Reconfigure("provision", func(c *lambdarun.Config) { c.Timeout = 3 * time.Second }); err != nil {
		t.Fatal(err)
	}
	warm(t, env)
	env.Sim.SetLatency(600 * time.Millisecond)
	retry, res := deliver(t, env, evs)
	if res.TimedOut {
		t.Fatalf("the function was killed at its deadline instead of reporting the unfinished messages\n%s", res.Logs)
	}
	if res.Error != nil {
		t.Fatalf("invocation failed: %v", res.Error)
	}
	if len(retry) == 0 || len(retry) == len(evs) {
		t.Fatalf("%d of %d messages left for a retry; want the deadline to fall mid-batch (some done, some not)\n%s", len(retry), len(evs), res.Logs)
	}
	if n := countEvents(env.Bus.Events())["User Provisioned"]; n != len(evs)-len(retry) {
		t.Errorf("%d User Provisioned events for %d finished messages", n, len(evs)-len(retry))
	}
	env.Sim.SetLatency(0)
	redeliverUntilDone(t, env, retry, 3)
	assertProvisionedOnce(t, env, p, evs)
}

// TestWebhookEventBridgeDown: when EventBridge fails the delivery is answered
// 503 so that Encompass retries, and the retry is published once.
func TestWebhookEventBridgeDown(t *testing.T) {
	env := start(t, nil)
	body := story.LoanWebhook("whk-retry")
	env.Bus.FailRequests(100, 500)
	status := func() int {
		res, err := env.Invoke(context.Background(), "webhook", localenv.WebhookRequest(body, localenv.SubscriptionID, env.WebhookKey))
		if err != nil || res.Error != nil {
			t.Fatalf("invoke webhook: %v %v", err, res.Error)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := status(); got != 503 {
		t.Errorf("EventBridge failing: HTTP %d, want 503", got)
	}
	env.Bus.Reset()
	if got := status(); got != 200 {
		t.Errorf("retry: HTTP %d, want 200", got)
	}
	if got := status(); got != 200 {
		t.Errorf("duplicate delivery: HTTP %d, want 200", got)
	}
	if n := countEvents(env.Bus.Events())["Loan update"]; n != 1 {
		t.Errorf("%d Loan update events, want exactly 1", n)
	}
}

// TestDryRun: with DRY_RUN=true the real binary writes nothing to Encompass
// and still publishes every outcome, marked dryRun.
func TestDryRun(t *testing.T) {
	env := start(t, func(o *localenv.Options) {
		o.Env = map[string]map[string]string{"provision": {"DRY_RUN": "true"}}
	})
	p := newPlayer(t, env)
	evs := hires("Y", 3)
	retry, res := deliver(t, env, evs)
	if res.Error != nil || len(retry) != 0 {
		t.Fatalf("error %v, retries %d", res.Error, len(retry))
	}
	for _, r := range env.Sim.Requests() {
		if r.Method != "GET" && r.Endpoint != "POST /oauth2/v1/token" {
			t.Errorf("dry run wrote to Encompass: %s %s", r.Method, r.Path)
		}
	}
	for _, e := range evs {
		got := eventsFor(env.Bus.Events(), e.EventID)
		if len(got) != 1 || got[0].DetailType != "User Provisioned" || got[0].DetailMap()["dryRun"] != true {
			t.Errorf("%s: events %v, want one User Provisioned marked dryRun", e.EventID, got)
		}
		if u := user(t, p, "t"+e.EmployeeID()); u != nil {
			t.Errorf("dry run created %s", u.LoginID)
		}
	}
}
