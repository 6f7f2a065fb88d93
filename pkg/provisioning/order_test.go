package provisioning_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/sqsbatch"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestDuplicateAndStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	hire := hrisEvent("hire", "E800", t0, joiner("E800", "dup"))
	e.mustSend(e.prov, hire.body())
	before := e.writes()

	// Duplicate delivery of the same eventId.
	e.mustSend(e.prov, hire.body())
	if e.writes() != before {
		t.Fatal("a duplicate wrote to Encompass")
	}
	skipped := e.published(catalog.HRISEventSkipped)
	if len(skipped) != 1 || skipped[0]["reason"] != provisioning.ReasonDuplicate || skipped[0]["eventId"] != hire.id() {
		t.Fatalf("duplicate: %v", skipped)
	}

	// A newer update, then an older one arriving late.
	newer := hrisEvent("update", "E800", t0.Add(2*time.Hour), map[string]any{"jobTitle": "Branch Manager"})
	older := hrisEvent("update", "E800", t0.Add(time.Hour), map[string]any{"jobTitle": "Intern"})
	e.mustSend(e.prov, newer.body())
	e.mustSend(e.prov, older.body())
	if u := e.user("dup"); u.Title != "Branch Manager" {
		t.Fatalf("stale event applied: title %q", u.Title)
	}
	dt, d := e.eventFor(older.id())
	if dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonStale || d["lastAppliedAt"] == nil {
		t.Fatalf("stale: %s %v", dt, d)
	}
	// Ordering holds across the two queues: an older terminate is stale too.
	oldLeave := hrisEvent("terminate", "E800", t0.Add(90*time.Minute), nil)
	e.mustSend(e.deprov, oldLeave.body())
	if !e.user("dup").Enabled {
		t.Fatal("stale terminate disabled the account")
	}
}

// TestTombstone: a leaver who was never provisioned leaves a tombstone, and a
// late, older hire does not create an account.
func TestTombstone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	leave := hrisEvent("terminate", "E801", t0.Add(time.Hour), nil)
	e.mustSend(e.deprov, leave.body())
	dt, d := e.eventFor(leave.id())
	if dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonNotProvisioned {
		t.Fatalf("tombstone: %s %v", dt, d)
	}
	link, found, err := e.store.GetEmployee(context.Background(), "E801")
	if err != nil || !found || link.Status != state.StatusTombstone {
		t.Fatalf("link = %+v %v %v", link, found, err)
	}
	lateHire := hrisEvent("hire", "E801", t0, joiner("E801", "ghost"))
	e.mustSend(e.prov, lateHire.body())
	if e.usersNamed("ghost") != 0 {
		t.Fatal("a late, older hire created an account for a leaver")
	}
	if dt, d := e.eventFor(lateHire.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonStale {
		t.Fatalf("late hire: %s %v", dt, d)
	}
	// A genuinely new hire after the tombstone does create the account.
	rejoin := hrisEvent("hire", "E801", t0.Add(48*time.Hour), joiner("E801", "ghost"))
	e.mustSend(e.prov, rejoin.body())
	if !e.user("ghost").Enabled {
		t.Fatal("newer hire after a tombstone not applied")
	}
}

// TestTerminateUnlinkedExistingStaff: a terminate that identifies an existing
// account (login id and e-mail) disables it even though it was never linked.
func TestTerminateUnlinkedExistingStaff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	leave := hrisEvent("terminate", "E10002", t0, map[string]any{"userName": "asmith", "email": "alex.smith@lender.example"})
	e.mustSend(e.deprov, leave.body())
	if e.user("asmith").Enabled {
		t.Fatal("existing staff leaver not disabled")
	}
	if dt, _ := e.eventFor(leave.id()); dt != catalog.UserDeprovisioned {
		t.Fatalf("got %s", dt)
	}
	// A terminate whose e-mail does not match leaves the account alone.
	other := hrisEvent("terminate", "E555", t0, map[string]any{"userName": "mjohnson", "email": "someone.else@lender.example"})
	e.mustSend(e.deprov, other.body())
	if !e.user("mjohnson").Enabled {
		t.Fatal("disabled an account that is not provably the leaver's")
	}
}

// TestConcurrentDeliveriesApplyOnce delivers one event to several
// invocations at once, in different SQS messages (one message is never in
// flight twice on a FIFO queue, and a message's own id owns its claim):
// exactly one applies it.
func TestConcurrentDeliveriesApplyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	e.sim.SetLatency(20 * time.Millisecond) // widen the race window
	hire := hrisEvent("hire", "E802", t0, joiner("E802", "racer"))
	const n = 6
	results := make([]provisioning.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = e.prov.Process(context.Background(), provisioning.Message{ID: fmt.Sprintf("m-%d", i), Body: hire.body()})
		})
	}
	wg.Wait()
	e.sim.SetLatency(0)
	applied := 0
	t.Logf("results: %+v", results)
	for _, r := range results {
		if r.Outcome == catalog.UserProvisioned {
			applied++
		}
	}
	if applied != 1 || e.usersNamed("racer") != 1 || e.sim.Count("POST /scim2/v1/users") != 1 {
		t.Fatalf("applied %d times, %d users, %d creates: %+v", applied, e.usersNamed("racer"), e.sim.Count("POST /scim2/v1/users"), results)
	}
	if got := len(e.published(catalog.UserProvisioned)); got != 1 {
		t.Fatalf("%d User Provisioned events", got)
	}
}

// TestConcurrentEmployeesAcrossQueues: an update and a terminate of one
// employee racing on the two queues end in the newer state.
func TestConcurrentEventsOfOneEmployee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	e.mustSend(e.prov, hrisEvent("hire", "E803", t0, joiner("E803", "twoq")).body())
	upd := hrisEvent("update", "E803", t0.Add(time.Hour), map[string]any{"jobTitle": "Senior LO"})
	leave := hrisEvent("terminate", "E803", t0.Add(2*time.Hour), nil)
	var wg sync.WaitGroup
	wg.Go(func() { e.drain(e.prov, upd.body()) })
	wg.Go(func() { e.drain(e.deprov, leave.body()) })
	wg.Wait()
	link, _, _ := e.store.GetEmployee(context.Background(), "E803")
	if e.user("twoq").Enabled || link.Status != state.StatusTerminated || !link.LastOccurredAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("final state: enabled %v link %+v", e.user("twoq").Enabled, link)
	}
}

// TestBatchOrderWithinEmployee: once a message of an employee fails, the
// later ones of that employee are reported failed without being started;
// other employees go on.
func TestBatchOrderWithinEmployee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3, withConcurrency(2))
	e.mustSend(e.prov, hrisEvent("hire", "E804", t0, joiner("E804", "ordera")).body())
	e.sim.FailNext(5, 503, "PATCH /encompass/v3/users/ordera") // more than the client's attempts
	a1 := hrisEvent("update", "E804", t0.Add(time.Hour), map[string]any{"jobTitle": "one"})
	a2 := hrisEvent("update", "E804", t0.Add(2*time.Hour), map[string]any{"jobTitle": "two"})
	b1 := hrisEvent("hire", "E805", t0, joiner("E805", "orderb"))
	failed := e.send(e.prov, a1.body(), b1.body(), a2.body())
	if len(failed) != 2 || failed[0] != a1.body() || failed[1] != a2.body() {
		t.Fatalf("failed = %d messages", len(failed))
	}
	if e.user("ordera").Title != "Loan Officer" {
		t.Fatal("a later message of a failed employee ran")
	}
	if e.usersNamed("orderb") != 1 {
		t.Fatal("another employee was held up")
	}
	e.sim.ClearFaults()
	e.drain(e.prov, failed...)
	if e.user("ordera").Title != "two" {
		t.Fatalf("after redelivery title = %q", e.user("ordera").Title)
	}
}

// TestDeadlineGuard: with less than the safety margin left, nothing starts
// and every message is reported failed for SQS to redeliver.
func TestDeadlineGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	// The deadline has passed already (a batch picked up at the very end of
	// the Lambda's time).
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	batch := events.SQSEvent{}
	for i, b := range []string{hrisEvent("hire", "E806", t0, joiner("E806", "late1")).body(), hrisEvent("hire", "E807", t0, joiner("E807", "late2")).body()} {
		batch.Records = append(batch.Records, record(b, i))
	}
	resp, err := e.prov.HandleSQS(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if e.usersNamed("late1")+e.usersNamed("late2") != 0 || e.writes() != 0 {
		t.Fatal("work started with no time left")
	}
	if !strings.Contains(e.logs.String(), "deadline near") {
		t.Error("deferral not logged")
	}
}

// TestHireRacingANewerTerminate: an older hire is creating the account while
// a newer terminate of the same employee (never provisioned yet) leaves its
// tombstone on the other queue. The hire loses the race on the employee
// link and disables the account it created: nobody who has left keeps an
// enabled account.
func TestHireRacingANewerTerminate(t *testing.T) {
	t.Parallel()
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			e := newEnv(t, api)
			hire := hrisEvent("hire", "E808", t0, joiner("E808", "racehire"))
			leave := hrisEvent("terminate", "E808", t0.Add(time.Hour), nil)
			create := "POST /scim2/v1/users"
			if api == config.UserAPIV3 {
				create = "POST /encompass/v3/users"
			}
			gate := e.sim.Hold(create)
			var wg sync.WaitGroup
			wg.Go(func() { e.drain(e.prov, hire.body()) })
			<-gate.Arrived() // the create is on the wire
			e.mustSend(e.deprov, leave.body())
			gate.Release()
			wg.Wait()
			if e.user("racehire").Enabled {
				t.Fatal("the leaver's account stayed enabled")
			}
			link, _, _ := e.store.GetEmployee(context.Background(), "E808")
			if link.Status != state.StatusTerminated || link.UserID != "racehire" || !link.LastOccurredAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("link = %+v", link)
			}
			dt, d := e.eventFor(hire.id())
			if dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonStale || d["action"] != "disabled" {
				t.Fatalf("hire outcome %s %v", dt, d)
			}
		})
	}
}

// TestLinkedUserDeletedInEncompass: an account deleted by hand is matched
// (and here re-created) by the next provisioning event, and a terminate
// finds nothing to disable.
func TestLinkedUserDeletedInEncompass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	e.mustSend(e.prov, hrisEvent("hire", "E809", t0, joiner("E809", "vanish")).body())
	e.sim.DeleteUser("vanish")
	upd := hrisEvent("update", "E809", t0.Add(time.Hour), joiner("E809", "vanish"))
	e.mustSend(e.prov, upd.body())
	if dt, d := e.eventFor(upd.id()); dt != catalog.UserProvisioned || d["action"] != "created" || e.usersNamed("vanish") != 1 {
		t.Fatalf("%s %v", dt, d)
	}
	e.sim.DeleteUser("vanish")
	leave := hrisEvent("terminate", "E809", t0.Add(2*time.Hour), nil)
	e.mustSend(e.deprov, leave.body())
	if dt, d := e.eventFor(leave.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonNotProvisioned {
		t.Fatalf("%s %v", dt, d)
	}
}

// TestShortLambdaTimeoutStillWorks: with a Lambda timeout below the safety
// margin, the margin shrinks to a third of the time instead of refusing all
// work.
func TestShortLambdaTimeoutStillWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	ctx, cancel := context.WithTimeout(context.Background(), sqsbatch.DefaultSafetyMargin/2)
	defer cancel()
	batch := events.SQSEvent{Records: []events.SQSMessage{record(hrisEvent("hire", "E810", t0, joiner("E810", "short")).body(), 0)}}
	resp, err := e.prov.HandleSQS(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 0 || e.usersNamed("short") != 1 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
}

// TestDeadlineReachedMidBatch: once the first employee's slow message has
// used up the time, the next one is not started but reported failed.
func TestDeadlineReachedMidBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3, withConcurrency(1))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // margin: 1 s
	defer cancel()
	e.sim.SetLatency(2200 * time.Millisecond)
	a := record(hrisEvent("hire", "E811", t0, joiner("E811", "slowa")).body(), 0)
	b := record(hrisEvent("hire", "E812", t0, joiner("E812", "neverb")).body(), 1)
	resp, err := e.prov.HandleSQS(ctx, events.SQSEvent{Records: []events.SQSMessage{a, b}})
	e.sim.SetLatency(0)
	if err != nil {
		t.Fatal(err)
	}
	failedB := false
	for _, f := range resp.BatchItemFailures {
		failedB = failedB || f.ItemIdentifier == b.MessageId
	}
	if !failedB || e.usersNamed("neverb") != 0 {
		t.Fatalf("the second employee should have been left for SQS: %+v", resp)
	}
}
