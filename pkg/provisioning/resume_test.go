package provisioning_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// downAfterWrite is the real store whose claim bookkeeping fails while
// down: nothing after the Encompass write and the link is recorded, as when
// the process dies between the write and the publish.
type downAfterWrite struct {
	*state.Store
	down atomic.Bool
}

func (s *downAfterWrite) CompleteClaim(ctx context.Context, key state.ClaimKey, outcome string) error {
	if s.down.Load() {
		return errors.New("dynamodb: connection reset")
	}
	return s.Store.CompleteClaim(ctx, key, outcome)
}

func (s *downAfterWrite) ReleaseClaim(ctx context.Context, key state.ClaimKey) error {
	if s.down.Load() {
		return errors.New("dynamodb: connection reset")
	}
	return s.Store.ReleaseClaim(ctx, key)
}

// TestAppliedChangeIsPublishedAfterPublishAndRecordBothFail (issue 10,
// defect 2): an update is written to Encompass and linked, then EventBridge
// and the write of the pending outcome both fail. The redelivery finds
// nothing left to write; before the fix it logged "unchanged", published
// nothing and was acknowledged. Now it publishes what the first attempt did,
// once.
func TestAppliedChangeIsPublishedAfterPublishAndRecordBothFail(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			e.mustSend(e.prov, hrisEvent("hire", "E1100", t0, joiner("E1100", "resumer")).body())
			store := &downAfterWrite{Store: e.store}
			h, err := provisioning.New(provisioning.Config{
				Queue: hris.QueueProvision, Scheduler: e.scheduler, QueueARN: provisionARN, Directory: mustDirectory(t, api, e.client, e.rules),
				Store: store, Publisher: publish.New(e.eb.Client, "lifecycle-bus", publish.WithBackoff(time.Millisecond)), Mapping: e.rules,
				Logger: telemetry.NewLogger(e.logs, slog.LevelDebug),
			})
			if err != nil {
				t.Fatal(err)
			}
			move := hrisEvent("update", "E1100", t0.Add(time.Hour), map[string]any{"jobTitle": "Branch Manager", "familyName": "Moved"})
			r := record(move.body(), 0)
			e.eb.Reset()
			e.eb.FailRequests(100, 500)
			store.down.Store(true)
			if resp, _ := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}}); len(resp.BatchItemFailures) != 1 {
				t.Fatal("the first attempt must be retried")
			}
			if u := e.user("resumer"); u.LastName != "Moved" {
				t.Fatalf("the change was not written: %+v", u)
			}
			// The redelivery of the same message, everything healthy again.
			e.eb.FailRequests(0, 0)
			store.down.Store(false)
			if resp, _ := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}}); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("redelivery failed:\n%s", e.logs.Tail(10))
			}
			updated := e.published(catalog.UserUpdated)
			if len(updated) != 1 || len(e.eb.Events()) != 1 {
				t.Fatalf("published %d User Updated of %d events; want exactly one", len(updated), len(e.eb.Events()))
			}
			c := changed(updated[0])
			if c["lastName"] != [2]string{"Doe", "Moved"} || c["title"] != [2]string{"Loan Officer", "Branch Manager"} {
				t.Fatalf("changes %v", c)
			}
			if updated[0]["encompassUserId"] == "" || updated[0]["userName"] != "resumer" {
				t.Fatalf("detail %v", updated[0])
			}
			// And once: a further delivery is a duplicate.
			e.mustSend(h, move.body())
			if len(e.published(catalog.UserUpdated)) != 1 || len(e.published(catalog.HRISEventSkipped)) != 1 {
				t.Fatal("the outcome was published twice")
			}
		})
	}
}

// A hire whose process died after the create: the redelivery finds the
// account (a conflict, then its own account) and publishes it as created,
// with every field, not as an adoption of nothing.
func TestCreatedAccountIsPublishedAsCreatedAfterACrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	store := &downAfterWrite{Store: e.store}
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueProvision, Scheduler: e.scheduler, QueueARN: provisionARN, Directory: mustDirectory(t, config.UserAPISCIM, e.client, e.rules),
		Store: store, Publisher: publish.New(e.eb.Client, "lifecycle-bus", publish.WithBackoff(time.Millisecond)), Mapping: e.rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	hire := record(hrisEvent("hire", "E1101", t0, joiner("E1101", "crashcreate")).body(), 0)
	e.eb.FailRequests(100, 500)
	store.down.Store(true)
	if resp, _ := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{hire}}); len(resp.BatchItemFailures) != 1 {
		t.Fatal("the first attempt must be retried")
	}
	e.eb.FailRequests(0, 0)
	store.down.Store(false)
	if resp, _ := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{hire}}); len(resp.BatchItemFailures) != 0 {
		t.Fatal("redelivery failed")
	}
	got := e.published(catalog.UserProvisioned)
	if len(got) != 1 || got[0]["action"] != "created" || changed(got[0])["email"][1] != "crashcreate@lender.example" || got[0]["globalUserId"] == nil {
		t.Fatalf("published %v", got)
	}
	if e.usersNamed("crashcreate") != 1 {
		t.Fatal("the account was created twice")
	}
}

// TestPermanentPublishFailureIsNotRetried: EventBridge refuses the outcome
// for its content (ValidationException): no retry can publish it, so the
// message is acknowledged, the Publisher does not try again, and the
// outcome stays in the event's idempotency record for an operator.
func TestPermanentPublishFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	hire := hrisEvent("hire", "E1102", t0, joiner("E1102", "unpublishable"))
	e.eb.FailEntries(1, "ValidationException")
	if failed := e.send(e.prov, hire.body()); len(failed) != 0 {
		t.Fatal("a permanent publish failure must not be retried through SQS")
	}
	if calls := e.eb.Calls(); calls != 1 {
		t.Fatalf("%d PutEvents calls, want 1 (no retry of a permanent failure)", calls)
	}
	c, _, err := e.store.GetClaim(context.Background(), state.EventKey(hire.id()))
	if err != nil || c.Status != state.ClaimDone || !contains(c.Outcome, `"state":"pending"`) || !contains(c.Outcome, "User Provisioned") {
		t.Fatalf("claim %+v %v", c, err)
	}
	if !contains(e.logs.String(), "can never be published") {
		t.Fatal("the log does not say the outcome cannot be published")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
