package provisioning_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Effective dates (CONTRACTS section 2a) at the provisioning boundary: the
// real handlers, the simulator over HTTP, dynalite, the EventBridge fake,
// and the Scheduler fake through the real SDK client, on a clock the test
// moves (never a sleep until a date).

// effective returns m with effectiveAt at.
func effective(m msg, at time.Time) msg {
	m["effectiveAt"] = at.Format(time.RFC3339Nano)
	return m
}

// detailTypes lists the detail-types published for an event id, in order.
func (e *env) detailTypes(eventID string) []string {
	var out []string
	for _, ev := range e.eb.Events() {
		if ev.DetailMap()["eventId"] == eventID {
			out = append(out, ev.DetailType)
		}
	}
	return out
}

// detailsFor returns the details published for an event id, in order.
func (e *env) detailsFor(eventID string) []map[string]any {
	var out []map[string]any
	for _, ev := range e.eb.Events() {
		if d := ev.DetailMap(); d["eventId"] == eventID {
			out = append(out, d)
		}
	}
	return out
}

func (e *env) held(employeeID string) []state.Held {
	e.t.Helper()
	h, err := e.store.HeldFor(context.Background(), employeeID)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) link(employeeID string) state.Employee {
	e.t.Helper()
	l, _, err := e.store.GetEmployee(context.Background(), employeeID)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func opsSince(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// A hire accepted today for the 1st is held: nothing in Encompass, one
// schedule, HRIS Event Scheduled; a redelivery before the date is a
// duplicate; the due delivery creates the account, once.
func TestHeldHireAppliedWhenDue(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(time.Minute))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := t0.Add(10 * 24 * time.Hour)
	hire := effective(hrisEvent("hire", "E2000", t0, joiner("E2000", "startson")), due)
	hire["eventId"] = "hris-held-2000"

	before := e.store.OpsByName()
	e.mustSend(e.prov, hire.body())
	holdOps := opsSince(before, e.store.OpsByName())
	// One claim, the link and the held events read, the held record and
	// its index entry, the claim completed.
	if want := map[string]int64{"PutItem": 3, "GetItem": 1, "Query": 1, "UpdateItem": 1}; !maps.Equal(holdOps, want) {
		t.Errorf("state-table operations to hold = %v, want %v", holdOps, want)
	}
	if n := e.sched.Calls(""); n != 1 {
		t.Errorf("%d Scheduler calls to hold one event, want 1", n)
	}
	t.Logf("hold: %d Scheduler call(s), state-table operations %v", e.sched.Calls(""), holdOps)
	if e.usersNamed("startson") != 0 || e.writes() != 0 {
		t.Fatal("a held hire wrote to Encompass")
	}
	dts := e.detailTypes(hire.id())
	if !slices.Equal(dts, []string{catalog.HRISEventScheduled}) {
		t.Fatalf("published %v", dts)
	}
	d := e.detailsFor(hire.id())[0]
	name := schedule.Name(hire.id())
	if d["effectiveAt"] != due.Format(time.RFC3339Nano) || d["type"] != "hire" || d["scheduleName"] != name || d["employeeId"] != "E2000" {
		t.Errorf("detail %v", d)
	}
	s, ok := e.sched.Get(schedulerGroup, name)
	if !ok || s.At != due || s.TargetARN != provisionARN || s.MessageGroupID != "E2000" || s.Input != hire.body() ||
		s.ActionAfterCompletion != "DELETE" || s.FlexibleWindow != "OFF" || s.DeadLetterARN != schedulerDLQ || s.RoleARN != schedulerRole {
		t.Fatalf("schedule %+v", s)
	}
	if h := e.held("E2000"); len(h) != 1 || h[0].EventID != hire.id() || !h[0].DueAt.Equal(due) || h[0].Body != hire.body() || h[0].ScheduleName != name {
		t.Fatalf("held %+v", h)
	}

	// The original, redelivered before its date: a duplicate.
	clock.Set(due.Add(-time.Hour))
	e.mustSend(e.prov, hire.body())
	if dts := e.detailTypes(hire.id()); !slices.Equal(dts, []string{catalog.HRISEventScheduled, catalog.HRISEventSkipped}) || e.sched.Calls("") != 1 {
		t.Fatalf("redelivery: %v, %d Scheduler calls", dts, e.sched.Calls(""))
	}

	// The date comes: the Scheduler sends the body back; it is applied.
	clock.Set(due)
	before = e.store.OpsByName()
	if fired := e.fire(clock.Now()); len(fired) != 1 {
		t.Fatalf("fired %d", len(fired))
	}
	dueOps := opsSince(before, e.store.OpsByName())
	t.Logf("due delivery: state-table operations %v", dueOps)
	// The first claim found done (a put and a read), the due claim, the
	// link and the held events, the write log and the login index entry
	// (at once) and the link written, the claim completed, the held record
	// and its index entry removed.
	if want := map[string]int64{"PutItem": 5, "GetItem": 2, "Query": 1, "UpdateItem": 1, "DeleteItem": 2}; !maps.Equal(dueOps, want) {
		t.Errorf("state-table operations of the due delivery = %v, want %v", dueOps, want)
	}
	if u := e.user("startson"); !u.Enabled {
		t.Fatalf("account %+v", u)
	}
	if dts := e.detailTypes(hire.id()); dts[len(dts)-1] != catalog.UserProvisioned {
		t.Fatalf("due delivery published %v", dts)
	}
	if h := e.held("E2000"); len(h) != 0 {
		t.Fatalf("still held: %+v", h)
	}
	if l := e.link("E2000"); !l.LastDueAt.Equal(due) || !l.LastOccurredAt.Equal(t0) {
		t.Fatalf("link key (%v, %v)", l.LastDueAt, l.LastOccurredAt)
	}
	if len(e.sched.Schedules()) != 0 {
		t.Fatal("the schedule outlived its run")
	}

	// The due delivery twice (the Scheduler's retry, an SQS redelivery),
	// and the original once more after the date: duplicates.
	writes := e.writes()
	e.deliver(testenv.Fired{Schedule: s, MessageID: "again-1"})
	e.mustSend(e.prov, hire.body())
	dts = e.detailTypes(hire.id())
	if got := dts[len(dts)-2:]; !slices.Equal(got, []string{catalog.HRISEventSkipped, catalog.HRISEventSkipped}) || e.writes() != writes || e.usersNamed("startson") != 1 {
		t.Fatalf("repeats: %v, writes %d -> %d", dts, writes, e.writes())
	}
	for _, d := range e.detailsFor(hire.id())[3:] {
		if d["reason"] != provisioning.ReasonDuplicate {
			t.Errorf("repeat skipped as %v, want duplicate", d["reason"])
		}
	}
}

// The five-minute boundary: due exactly five minutes ahead is applied now,
// a second more is held; a due delivery processed up to five minutes
// before its due time (our clock behind the Scheduler's) is applied, one
// earlier than that is not.
func TestDueBoundary(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPIV3, withNow(clock.Now))
	now := clock.Now()
	at5 := effective(hrisEvent("hire", "E2010", now, joiner("E2010", "atfive")), now.Add(5*time.Minute))
	past5 := effective(hrisEvent("hire", "E2011", now, joiner("E2011", "pastfive")), now.Add(5*time.Minute+time.Second))
	e.mustSend(e.prov, at5.body(), past5.body())
	if dt, _ := e.eventFor(at5.id()); dt != catalog.UserProvisioned {
		t.Errorf("due in exactly 5 minutes: %s, want applied now", dt)
	}
	if dt, _ := e.eventFor(past5.id()); dt != catalog.HRISEventScheduled || e.usersNamed("pastfive") != 0 {
		t.Errorf("due in 5 minutes and a second: %s, want held", dt)
	}

	due := now.Add(time.Hour)
	early := effective(hrisEvent("hire", "E2012", now, joiner("E2012", "early")), due)
	e.mustSend(e.prov, early.body())
	s, _ := e.sched.Get(schedulerGroup, schedule.Name(early.id()))
	// Six minutes early: not yet (a redelivery of the original, say).
	clock.Set(due.Add(-6 * time.Minute))
	e.deliver(testenv.Fired{Schedule: s, MessageID: "six-early"})
	if e.usersNamed("early") != 0 {
		t.Fatal("applied six minutes before it was due")
	}
	// Four minutes early: the due delivery, our clock behind; applied.
	clock.Set(due.Add(-4 * time.Minute))
	e.deliver(testenv.Fired{Schedule: s, MessageID: "four-early"})
	if e.usersNamed("early") != 1 {
		t.Fatal("a due delivery four minutes early was not applied")
	}
}

// An effectiveAt with an odd offset (+05:45) is held until that instant,
// the schedule's at() in UTC.
func TestOddOffset(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	hire := hrisEvent("hire", "E2020", t0, joiner("E2020", "kathmandu"))
	hire["effectiveAt"] = "2026-12-01T09:00:00+05:45"
	e.mustSend(e.prov, hire.body())
	s, ok := e.sched.Get(schedulerGroup, schedule.Name(hire.id()))
	if !ok || s.Expression != "at(2026-12-01T03:15:00)" {
		t.Fatalf("schedule %+v", s)
	}
	if _, d := e.eventFor(hire.id()); d["effectiveAt"] != "2026-12-01T03:15:00Z" {
		t.Fatalf("effectiveAt %v", d["effectiveAt"])
	}
}

// The Scheduler failing when an event is held (throttled past the SDK's
// retries, 5xx, access denied): a batch item failure, nothing published,
// never acknowledged without a schedule; the redelivery holds it, once.
func TestSchedulerFailuresAreRetried(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		status, attempts int // the SDK retries what may pass, not a refusal
		code             string
		says             string
	}{
		{429, 3, "ThrottlingException", "event will be retried"},
		{500, 3, "InternalServerException", "event will be retried"},
		{403, 1, "AccessDeniedException", "our own fault"},
	} {
		t.Run(f.code, func(t *testing.T) {
			t.Parallel()
			clock := testenv.NewClock(t0)
			e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
			hire := effective(hrisEvent("hire", "E2030", t0, joiner("E2030", "retried")), t0.Add(72*time.Hour))
			e.sched.Fail("CreateSchedule", f.attempts, f.status, f.code)
			if failed := e.send(e.prov, hire.body()); len(failed) != 1 {
				t.Fatal("acknowledged without a schedule")
			}
			if len(e.eb.Events()) != 0 || len(e.sched.Schedules()) != 0 {
				t.Fatalf("published %v with %d schedules", e.eb.Events(), len(e.sched.Schedules()))
			}
			if !strings.Contains(e.logs.String(), f.says) || !strings.Contains(e.logs.String(), f.code) {
				t.Errorf("the log does not say %q with %s", f.says, f.code)
			}
			e.mustSend(e.prov, hire.body())
			if dts := e.detailTypes(hire.id()); !slices.Equal(dts, []string{catalog.HRISEventScheduled}) || len(e.sched.Schedules()) != 1 {
				t.Fatalf("redelivery: %v, %d schedules", dts, len(e.sched.Schedules()))
			}
		})
	}
}

// A schedule of that name already there (an earlier attempt created it and
// then stopped) is the event's: held, once.
func TestScheduleAlreadyExists(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := t0.Add(72 * time.Hour)
	hire := effective(hrisEvent("hire", "E2040", t0, joiner("E2040", "already")), due)
	if err := e.scheduler.Create(context.Background(), schedule.Hold{Name: schedule.Name(hire.id()), At: due, QueueARN: provisionARN, GroupID: "E2040", Body: hire.body()}); err != nil {
		t.Fatal(err)
	}
	e.mustSend(e.prov, hire.body())
	if dts := e.detailTypes(hire.id()); !slices.Equal(dts, []string{catalog.HRISEventScheduled}) || len(e.sched.Schedules()) != 1 {
		t.Fatalf("%v, %d schedules", dts, len(e.sched.Schedules()))
	}
	clock.Set(due)
	e.fire(clock.Now())
	if e.usersNamed("already") != 1 {
		t.Fatal("not applied when due")
	}
}

// A rescinded offer: a terminate today for a hire held until next month
// cancels it (its schedule deleted, HRIS Event Skipped superseded) and
// never creates an account, even when the hire's delivery was already on
// its way.
func TestRescindedOffer(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := t0.Add(30 * 24 * time.Hour)
	hire := effective(hrisEvent("hire", "E2050", t0, joiner("E2050", "rescinded")), due)
	e.mustSend(e.prov, hire.body())
	inFlight, _ := e.sched.Get(schedulerGroup, schedule.Name(hire.id()))

	clock.Set(t0.Add(24 * time.Hour))
	rescind := hrisEvent("terminate", "E2050", clock.Now(), nil)
	e.sched.ResetCalls()
	before := e.store.OpsByName()
	e.mustSend(e.deprov, rescind.body())
	supOps := opsSince(before, e.store.OpsByName())
	t.Logf("a terminate superseding one held event: %d Scheduler call(s), state-table operations %v", e.sched.Calls(""), supOps)
	// The terminate's own (claim, link, held events, tombstone, complete)
	// and, for the cancelled hire, its due claim taken and completed and
	// its two items removed.
	if want := map[string]int64{"PutItem": 3, "GetItem": 1, "Query": 1, "UpdateItem": 2, "DeleteItem": 2}; !maps.Equal(supOps, want) {
		t.Errorf("state-table operations = %v, want %v", supOps, want)
	}
	if e.sched.Calls("DeleteSchedule") != 1 || e.sched.Calls("") != 1 {
		t.Errorf("%d Scheduler calls (%d deletes), want 1 delete", e.sched.Calls(""), e.sched.Calls("DeleteSchedule"))
	}
	ds := e.detailsFor(hire.id())
	if len(ds) != 2 || ds[1]["reason"] != provisioning.ReasonSuperseded || ds[1]["supersededBy"] != rescind.id() {
		t.Fatalf("hire: %v", ds)
	}
	if dt, d := e.eventFor(rescind.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonNotProvisioned {
		t.Fatalf("rescind: %s %v", dt, d)
	}
	if len(e.sched.Schedules()) != 0 || len(e.held("E2050")) != 0 {
		t.Fatalf("left behind: %d schedules, %d held", len(e.sched.Schedules()), len(e.held("E2050")))
	}

	// The hire's delivery was already on its way when its schedule was
	// deleted: it comes, on the day, and changes nothing.
	clock.Set(due)
	e.deliver(testenv.Fired{Schedule: inFlight, MessageID: "in-flight"})
	if e.usersNamed("rescinded") != 0 || e.writes() != 0 {
		t.Fatal("a rescinded offer created an account")
	}
	ds = e.detailsFor(hire.id())
	if d := ds[len(ds)-1]; d["reason"] != provisioning.ReasonSuperseded {
		t.Fatalf("the due delivery of a cancelled hire: %v", d)
	}
}

// A withdrawn resignation: a rehire today for a terminate held until next
// month cancels it; the account is never disabled.
func TestWithdrawnResignation(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2060", t0, joiner("E2060", "stays")).body())
	clock.Set(t0.Add(24 * time.Hour))
	resign := effective(hrisEvent("terminate", "E2060", clock.Now(), nil), t0.Add(30*24*time.Hour))
	e.mustSend(e.deprov, resign.body())
	if dt, _ := e.eventFor(resign.id()); dt != catalog.HRISEventScheduled || !e.user("stays").Enabled {
		t.Fatalf("resignation: %s", dt)
	}
	clock.Set(t0.Add(48 * time.Hour))
	withdraw := hrisEvent("rehire", "E2060", clock.Now(), joiner("E2060", "stays"))
	e.mustSend(e.prov, withdraw.body())
	if ds := e.detailsFor(resign.id()); len(ds) != 2 || ds[1]["reason"] != provisioning.ReasonSuperseded {
		t.Fatalf("resignation after the rehire: %v", ds)
	}
	clock.Set(t0.Add(31 * 24 * time.Hour))
	if fired := e.fire(clock.Now()); len(fired) != 0 {
		t.Fatalf("a cancelled schedule fired: %v", fired)
	}
	if !e.user("stays").Enabled {
		t.Fatal("a withdrawn resignation disabled the account")
	}
}

// A held leaver with an update before it: the update arrives and applies on
// the 1st, the leaver on the 15th (its key is greater), with its exposure
// counted from the 15th.
func TestHeldLeaverAfterAnUpdate(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPIV3, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2070", t0, joiner("E2070", "leaves15")).body())
	clock.Set(t0.Add(time.Hour))
	due := t0.Add(25 * 24 * time.Hour)
	leave := effective(hrisEvent("terminate", "E2070", clock.Now(), nil), due)
	e.mustSend(e.deprov, leave.body())
	clock.Set(t0.Add(11 * 24 * time.Hour))
	move := hrisEvent("update", "E2070", clock.Now(), map[string]any{"jobTitle": "Branch Manager"})
	e.mustSend(e.prov, move.body())
	if u := e.user("leaves15"); u.Title != "Branch Manager" || !u.Enabled {
		t.Fatalf("after the update: %+v", u)
	}
	clock.Set(due.Add(30 * time.Second))
	e.fire(clock.Now())
	if e.user("leaves15").Enabled {
		t.Fatal("the held leaver was not applied after the update")
	}
	dt, d := e.eventFor(leave.id())
	if dt != catalog.UserDeprovisioned || d["exposureSeconds"] != 30.0 {
		t.Fatalf("leaver: %s exposure %v, want 30 s from the due time", dt, d["exposureSeconds"])
	}
}

// An event arriving after a held event came due, before its delivery was
// processed (the Scheduler delivers a little late), does not overtake it:
// the held leaver is applied first, then the update; the leaver's delivery
// then finds it done. Without this the leaver was stale and stayed enabled.
func TestDueHeldEventIsNotOvertaken(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2080", t0, joiner("E2080", "overtaken")).body())
	clock.Set(t0.Add(time.Hour))
	due := t0.Add(10 * 24 * time.Hour)
	leave := effective(hrisEvent("terminate", "E2080", t0.Add(time.Hour), nil), due)
	e.mustSend(e.deprov, leave.body())
	clock.Set(due.Add(20 * time.Second))
	late := hrisEvent("update", "E2080", due.Add(10*time.Second), map[string]any{"jobTitle": "Gone"})
	e.mustSend(e.prov, late.body())
	if e.user("overtaken").Enabled {
		t.Fatal("the update overtook the due leaver: the account is still enabled")
	}
	if dt, _ := e.eventFor(leave.id()); dt != catalog.UserDeprovisioned {
		t.Fatalf("leaver: %s", dt)
	}
	if dt, _ := e.eventFor(late.id()); dt != catalog.UserUpdated {
		t.Fatalf("update: %s", dt)
	}
	e.fire(clock.Now())
	if dts := e.detailTypes(leave.id()); dts[len(dts)-1] != catalog.HRISEventSkipped || e.user("overtaken").Enabled {
		t.Fatalf("the leaver's own delivery: %v", dts)
	}
}

// A backdated termination entered today applies today, after yesterday's
// update: its due time is when it was known.
func TestBackdatedTermination(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(48 * time.Hour))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2090", t0, joiner("E2090", "backdated")).body())
	e.mustSend(e.prov, hrisEvent("update", "E2090", t0.Add(24*time.Hour), map[string]any{"jobTitle": "Senior"}).body())
	leave := effective(hrisEvent("terminate", "E2090", t0.Add(47*time.Hour), nil), t0.Add(-7*24*time.Hour))
	e.mustSend(e.deprov, leave.body())
	if dt, _ := e.eventFor(leave.id()); dt != catalog.UserDeprovisioned || e.user("backdated").Enabled {
		t.Fatalf("backdated terminate: %s", dt)
	}
}

// Not yet joined: an update for someone whose hire is held takes the
// hire's due time, so no account exists before the start date, and is
// applied after the hire, whichever delivery comes first.
func TestUpdateWaitsForHeldHire(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"hire first", "update first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			clock := testenv.NewClock(t0)
			e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
			due := t0.Add(14 * 24 * time.Hour)
			hire := effective(hrisEvent("hire", "E2100", t0, joiner("E2100", "newstarter")), due)
			e.mustSend(e.prov, hire.body())
			clock.Set(t0.Add(24 * time.Hour))
			upd := hrisEvent("update", "E2100", clock.Now(), map[string]any{"jobTitle": "Senior Loan Officer", "mobilePhone": "5555550000"})
			e.mustSend(e.prov, upd.body())
			dt, d := e.eventFor(upd.id())
			if dt != catalog.HRISEventScheduled || d["heldBehind"] != hire.id() || d["effectiveAt"] != due.Format(time.RFC3339Nano) {
				t.Fatalf("update: %s %v", dt, d)
			}
			if e.usersNamed("newstarter") != 0 {
				t.Fatal("an account exists before the start date")
			}
			clock.Set(due)
			fired := e.sched.Fire(clock.Now())
			if len(fired) != 2 {
				t.Fatalf("fired %d", len(fired))
			}
			if order == "update first" {
				fired[0], fired[1] = fired[1], fired[0]
			}
			for _, f := range fired {
				e.deliver(f)
			}
			u := e.user("newstarter")
			if !u.Enabled || u.Title != "Senior Loan Officer" {
				t.Fatalf("account %+v: want the hire applied, then the newer profile", u)
			}
			if dt, _ := e.eventFor(hire.id()); order == "hire first" && dt != catalog.UserProvisioned {
				t.Fatalf("hire: %s", dt)
			}
			if got := e.detailTypes(hire.id()); !slices.Contains(got, catalog.UserProvisioned) {
				t.Fatalf("hire published %v", got)
			}
			if got := e.detailTypes(upd.id()); got[len(got)-1] != catalog.UserUpdated {
				t.Fatalf("update published %v", got)
			}
			if len(e.held("E2100")) != 0 {
				t.Fatalf("left held: %+v", e.held("E2100"))
			}
		})
	}
}

// A rescinded offer takes the updates held behind the hire with it.
func TestRescindedOfferTakesItsUpdates(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := t0.Add(14 * 24 * time.Hour)
	hire := effective(hrisEvent("hire", "E2110", t0, joiner("E2110", "neverjoins")), due)
	e.mustSend(e.prov, hire.body())
	clock.Set(t0.Add(time.Hour))
	upd := hrisEvent("update", "E2110", clock.Now(), map[string]any{"userName": "neverjoins", "givenName": "N", "familyName": "J",
		"email": "neverjoins@lender.example", "jobTitle": "LO"})
	e.mustSend(e.prov, upd.body())
	clock.Set(t0.Add(2 * time.Hour))
	e.mustSend(e.deprov, hrisEvent("terminate", "E2110", clock.Now(), nil).body())
	for _, id := range []string{hire.id(), upd.id()} {
		if ds := e.detailsFor(id); ds[len(ds)-1]["reason"] != provisioning.ReasonSuperseded {
			t.Errorf("%s: %v", id, ds)
		}
	}
	clock.Set(due)
	if len(e.fire(clock.Now())) != 0 || e.usersNamed("neverjoins") != 0 {
		t.Fatal("a rescinded offer's update created an account")
	}
}

// A hire that arrives after the terminate that rescinded it was applied
// (the two queues do not keep order between them) is superseded too.
func TestLateHireAfterItsRescission(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(24 * time.Hour))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.deprov, hrisEvent("terminate", "E2120", t0.Add(time.Hour), nil).body())
	hire := effective(hrisEvent("hire", "E2120", t0, joiner("E2120", "latehire")), t0.Add(30*24*time.Hour))
	e.mustSend(e.prov, hire.body())
	if dt, d := e.eventFor(hire.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonSuperseded {
		t.Fatalf("late hire: %s %v", dt, d)
	}
	if len(e.sched.Schedules()) != 0 || e.usersNamed("latehire") != 0 {
		t.Fatal("a rescinded hire was held or applied")
	}
}

// IMMEDIATE_TERMINATION_REASONS: such a terminate applies at once whatever
// its effectiveAt, and cancels a resignation held for later.
func TestImmediateTermination(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now), withImmediate("Gross-Misconduct"))
	e.mustSend(e.prov, hrisEvent("hire", "E2130", t0, joiner("E2130", "misconduct")).body())
	clock.Set(t0.Add(time.Hour))
	resign := effective(hrisEvent("terminate", "E2130", clock.Now(), nil), t0.Add(30*24*time.Hour))
	e.mustSend(e.deprov, resign.body())
	clock.Set(t0.Add(2 * time.Hour))
	fired := effective(hrisEvent("terminate", "E2130", clock.Now(), nil), t0.Add(30*24*time.Hour))
	fired["terminationReason"] = "gross-misconduct"
	e.mustSend(e.deprov, fired.body())
	if dt, d := e.eventFor(fired.id()); dt != catalog.UserDeprovisioned || d["exposureSeconds"] != 0.0 || e.user("misconduct").Enabled {
		t.Fatalf("immediate terminate: %s %v", dt, d)
	}
	if ds := e.detailsFor(resign.id()); ds[len(ds)-1]["reason"] != provisioning.ReasonSuperseded {
		t.Fatalf("held resignation: %v", ds)
	}
	if strings.Contains(e.logs.String(), "gross-misconduct") {
		t.Error("the termination reason was logged")
	}
	// Another reason holds it.
	e.mustSend(e.prov, hrisEvent("hire", "E2131", t0, joiner("E2131", "resigns")).body())
	other := effective(hrisEvent("terminate", "E2131", clock.Now(), nil), t0.Add(30*24*time.Hour))
	other["terminationReason"] = "resignation"
	e.mustSend(e.deprov, other.body())
	if dt, _ := e.eventFor(other.id()); dt != catalog.HRISEventScheduled || !e.user("resigns").Enabled {
		t.Fatalf("ordinary reason: %s", dt)
	}
}

// An operator who cancels a held event by hand (its schedule and record
// deleted, docs/provisioning.md) is obeyed even when its delivery was
// already on its way.
func TestCancelledByHand(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := t0.Add(7 * 24 * time.Hour)
	hire := effective(hrisEvent("hire", "E2140", t0, joiner("E2140", "byhand")), due)
	e.mustSend(e.prov, hire.body())
	s, _ := e.sched.Get(schedulerGroup, schedule.Name(hire.id()))
	h := e.held("E2140")[0]
	if err := e.store.DeleteHeld(context.Background(), h.Key()); err != nil {
		t.Fatal(err)
	}
	clock.Set(due)
	e.deliver(testenv.Fired{Schedule: s, MessageID: "by-hand"})
	if dt, d := e.eventFor(hire.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonCancelled || e.usersNamed("byhand") != 0 {
		t.Fatalf("%s %v", dt, d)
	}
}

// A future-dated original that first arrives after its due time (a backlog)
// is applied once.
func TestLateOriginalAppliedOnce(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(48 * time.Hour))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	hire := effective(hrisEvent("hire", "E2150", t0, joiner("E2150", "backlog")), t0.Add(24*time.Hour))
	e.mustSend(e.prov, hire.body(), hire.body())
	if dts := e.detailTypes(hire.id()); !slices.Equal(dts, []string{catalog.UserProvisioned, catalog.HRISEventSkipped}) || e.sched.Calls("") != 0 {
		t.Fatalf("%v, %d Scheduler calls", dts, e.sched.Calls(""))
	}
}

// Dry run holds nothing: HRIS Event Scheduled, dryRun, no schedule and no
// record.
func TestDryRunHoldsNothing(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now), dryRun())
	hire := effective(hrisEvent("hire", "E2160", t0, joiner("E2160", "dryheld")), t0.Add(10*24*time.Hour))
	e.mustSend(e.prov, hire.body())
	dt, d := e.eventFor(hire.id())
	if dt != catalog.HRISEventScheduled || d["dryRun"] != true || d["scheduleName"] != schedule.Name(hire.id()) {
		t.Fatalf("%s %v", dt, d)
	}
	if e.sched.Calls("") != 0 || len(e.held("E2160")) != 0 {
		t.Fatalf("%d Scheduler calls, %d held", e.sched.Calls(""), len(e.held("E2160")))
	}
}

// Two different events with the same key (due time and occurredAt): the
// second is not greater, so stale; the same event run again is not.
func TestEqualKeyIsStale(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(time.Hour))
	e := newEnv(t, config.UserAPIV3, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2170", t0, joiner("E2170", "samekey")).body())
	twin := hrisEvent("update", "E2170", t0, map[string]any{"jobTitle": "Twin"})
	e.mustSend(e.prov, twin.body())
	if dt, d := e.eventFor(twin.id()); dt != catalog.HRISEventSkipped || d["reason"] != provisioning.ReasonStale {
		t.Fatalf("same key: %s %v", dt, d)
	}
}

// A hold longer than the claims are kept (14 days): when the due delivery
// comes, the event's first claim has expired, so nothing there says the
// event was held. Its held record does: it is applied once, under its due
// claim, and its record removed, so that no later event of the employee
// applies it again. Before the fix a leaver held for 25 days was applied
// as a new event, its record stayed, and the next event pulled it ahead and
// published a second User Deprovisioned.
func TestHoldLongerThanTheClaimsAreKept(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	e.mustSend(e.prov, hrisEvent("hire", "E2180", t0, joiner("E2180", "longhold")).body())
	due := t0.Add(state.DefaultEventTTL + 11*24*time.Hour)
	leave := effective(hrisEvent("terminate", "E2180", t0, nil), due)
	e.mustSend(e.deprov, leave.body())
	clock.Set(due)
	before := e.store.OpsByName()
	if fired := e.fire(clock.Now()); len(fired) != 1 {
		t.Fatalf("fired %d", len(fired))
	}
	// Both claims taken and completed, the employee read twice (once for
	// each claim's decision), the leaver's writes, the record removed.
	ops := opsSince(before, e.store.OpsByName())
	t.Logf("the due delivery of a hold longer than 14 days: state-table operations %v", ops)
	if want := map[string]int64{"PutItem": 5, "GetItem": 2, "Query": 2, "UpdateItem": 2, "DeleteItem": 2}; !maps.Equal(ops, want) {
		t.Errorf("state-table operations %v, want %v", ops, want)
	}
	if e.user("longhold").Enabled || len(e.held("E2180")) != 0 {
		t.Fatalf("after the due delivery: enabled %v, held %+v", e.user("longhold").Enabled, e.held("E2180"))
	}
	// The next event of the employee, and the due delivery again.
	clock.Advance(time.Hour)
	e.mustSend(e.prov, hrisEvent("update", "E2180", clock.Now(), map[string]any{"jobTitle": "Alumnus"}).body())
	e.mustSend(e.deprov, leave.body())
	if n := len(e.published(catalog.UserDeprovisioned)); n != 1 {
		t.Fatalf("%d User Deprovisioned for one leaver", n)
	}
	if dts := e.detailTypes(leave.id()); dts[len(dts)-1] != catalog.HRISEventSkipped {
		t.Fatalf("the delivery again: %v", dts)
	}
}
