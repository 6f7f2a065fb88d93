package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
)

// TestCrashBeforePublishStillPublishes (issue 10, defect 2): the provision
// process is killed after the Encompass write and the link are done, while
// its PutEvents is on the wire. SQS delivers the same message again to a
// fresh process, which finds nothing left to write. Before the fix it logged
// "unchanged", published nothing and acknowledged the message: an applied
// change with no outcome event. Now it publishes the change, once.
func TestCrashBeforePublishStillPublishes(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	hire := hires("K", 1)
	redeliverUntilDone(t, env, hire, 1)
	move := hire[0]
	move.EventID, move.Type, move.Why = "hris-K000-move", "update", "a move"
	// A second later: the body carries whole seconds, and an event whose
	// ordering key is not greater than the hire's is stale (CONTRACTS 2a).
	move.OccurredAt = move.OccurredAt.Add(time.Second)
	move.Employee = story.Employee{"employeeId": "K000", "familyName": "Moved", "jobTitle": "Branch Manager"}
	batch := localenv.SQSBatch(localenv.ProvisionQueueARN, bodies([]story.HRISEvent{move})...)

	fn, err := env.Function("provision")
	if err != nil {
		t.Fatal(err)
	}
	env.Bus.Reset()
	env.Bus.OnPut(func() bool {
		fn.Stop() // the process dies with its PutEvents on the wire
		return true
	})
	res, err := env.Invoke(context.Background(), "provision", batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil {
		t.Fatalf("the killed invocation answered: %s", res.Payload)
	}
	env.Bus.OnPut(nil)
	if u := user(t, p, "tK000"); u == nil || u.LastName != "Moved" {
		t.Fatalf("the move was not written before the crash: %+v", u)
	}

	// SQS delivers the same message (same message id) again.
	res, err = env.Invoke(context.Background(), "provision", batch)
	if err != nil || res.Error != nil {
		t.Fatalf("redelivery: %v %v\n%s", err, res.Error, res.Logs)
	}
	got := eventsFor(env.Bus.Events(), move.EventID)
	if len(got) != 1 || got[0].DetailType != "User Updated" {
		t.Fatalf("events for the move: %v; want one User Updated", got)
	}
	changes := map[string]any{}
	for _, c := range got[0].DetailMap()["changes"].([]any) {
		m := c.(map[string]any)
		changes[m["field"].(string)] = m["to"]
	}
	if changes["lastName"] != "Moved" || changes["title"] != "Branch Manager" {
		t.Fatalf("changes %v", changes)
	}
}
