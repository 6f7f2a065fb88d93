package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// Hostile HRIS input through the real provision and deprovision binaries
// (issue 10, defects 1, 6 and 7): each is rejected with a reason, nothing is
// written to Encompass for it, and it cannot block the employee's later
// events.

// assertRejected checks that eventID was published once, as HRIS Event
// Rejected with reason and field, carrying the original body.
func assertRejected(t *testing.T, published []testenv.Event, eventID, reason, field string, body []byte) {
	t.Helper()
	evs := eventsFor(published, eventID)
	if len(evs) != 1 || evs[0].DetailType != "HRIS Event Rejected" {
		t.Errorf("%s: events %v, want one HRIS Event Rejected", eventID, countEvents(evs))
		return
	}
	d := evs[0].DetailMap()
	if d["reason"] != reason || d["field"] != field {
		t.Errorf("%s: reason %v, field %v, want %s, %s (%v)", eventID, d["reason"], d["field"], reason, field, d["error"])
	}
	if msg, _ := d["message"].(string); msg != string(body) {
		t.Errorf("%s: detail.message %q, want the original body", eventID, msg)
	}
}

// TestFutureOccurredAtCannotKeepALeaverEnabled: a hire dated 9999-12-31 and
// an update dated 2099 for an employee who has an account are rejected, so
// the real terminate that follows disables the account. Before the fix they
// were applied, their dates became the employee's last applied time, and
// the terminate was skipped as stale: the leaver stayed enabled.
func TestFutureOccurredAtCannotKeepALeaverEnabled(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	hire := hires("F", 1)
	if retry, res := deliver(t, env, hire); res.Error != nil || len(retry) != 0 {
		t.Fatalf("hire: error %v, retries %d", res.Error, len(retry))
	}
	id, login := hire[0].EmployeeID(), "t"+hire[0].EmployeeID()

	rehireFarAhead := hire[0]
	rehireFarAhead.EventID, rehireFarAhead.OccurredAt = "hris-future-9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	updateIn2099 := story.HRISEvent{EventID: "hris-future-2099", Type: "update", OccurredAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		Employee: story.Employee{"employeeId": id, "jobTitle": "Chief Time Traveller"}}
	future := []story.HRISEvent{rehireFarAhead, updateIn2099}
	if retry, res := deliver(t, env, future); res.Error != nil || len(retry) != 0 {
		t.Fatalf("future events: error %v, retries %d; want them rejected, not retried", res.Error, len(retry))
	}
	for _, e := range future {
		assertRejected(t, env.Bus.Events(), e.EventID, "invalid_field", "occurredAt", e.Body())
	}

	leave := []story.HRISEvent{{EventID: "hris-future-leave", Type: "terminate", OccurredAt: time.Now().UTC().Add(-time.Minute),
		Employee: story.Employee{"employeeId": id}}}
	if retry, res := deliverTo(t, env, "deprovision", localenv.DeprovisionQueueARN, leave); res.Error != nil || len(retry) != 0 {
		t.Fatalf("terminate: error %v, retries %d", res.Error, len(retry))
	}
	if got := countEvents(eventsFor(env.Bus.Events(), "hris-future-leave")); got["User Deprovisioned"] != 1 {
		t.Errorf("terminate published %v, want User Deprovisioned (not skipped as stale)", got)
	}
	if u := user(t, p, login); u == nil || u.IsEnabled() {
		t.Errorf("account %s = %+v, want disabled", login, u)
	}
}

// TestLookAlikeLoginsAndNamesAreRejected: a login id with a zero-width space,
// one with a Cyrillic а, and a name with a right-to-left override are
// rejected, naming the field, and no account is created. Before the fix all
// three accounts were created.
func TestLookAlikeLoginsAndNamesAreRejected(t *testing.T) {
	env := start(t, nil)
	evs := hires("K", 3)
	evs[0].Employee["userName"] = "h048\u200b"
	evs[1].Employee["userName"] = "\u0430dmin" // Cyrillic а, then "dmin"
	evs[2].Employee["givenName"] = "Ali\u202eecnyB"
	fields := []string{"employee.userName", "employee.userName", "employee.givenName"}
	users := env.Sim.UserCount()

	retry, res := deliver(t, env, evs)
	if res.Error != nil || len(retry) != 0 {
		t.Fatalf("error %v, retries %d; want rejections, not retries", res.Error, len(retry))
	}
	published := env.Bus.Events()
	for i, e := range evs {
		assertRejected(t, published, e.EventID, "invalid_field", fields[i], e.Body())
	}
	msg := func(eventID string) string {
		evs := eventsFor(published, eventID)
		if len(evs) == 0 {
			return ""
		}
		s, _ := evs[0].DetailMap()["error"].(string)
		return s
	}
	for eventID, says := range map[string]string{
		evs[0].EventID: "printable ASCII; found U+200B ZERO WIDTH SPACE at position 5",
		evs[1].EventID: "printable ASCII; found U+0430 CYRILLIC SMALL LETTER A at position 1",
		evs[2].EventID: "U+202E RIGHT-TO-LEFT OVERRIDE at position 4",
	} {
		if m := msg(eventID); !strings.Contains(m, says) {
			t.Errorf("%s: detail.error %q does not say %q", eventID, m, says)
		}
	}
	if n := userCreations(env); n != 0 {
		t.Errorf("%d accounts created, want none", n)
	}
	if n := env.Sim.UserCount(); n != users {
		t.Errorf("the simulator holds %d users, had %d", n, users)
	}
	for _, login := range []string{"h048\u200b", "\u0430dmin", "tk002"} {
		if u, ok := env.Sim.User(login); ok {
			t.Errorf("account %+q exists: %+v", login, u)
		}
	}
	// Nothing was written to the employees' state either: corrected events
	// are applied as if the rejected ones had never come.
	fixed := hires("K", 3)
	for i := range fixed {
		fixed[i].EventID += "-fixed"
		fixed[i].OccurredAt = fixed[i].OccurredAt.Add(time.Minute)
	}
	if retry, res := deliver(t, env, fixed); res.Error != nil || len(retry) != 0 {
		t.Fatalf("corrected hires: error %v, retries %d", res.Error, len(retry))
	}
	if n := countEvents(env.Bus.Events())["User Provisioned"]; n != 3 {
		t.Errorf("%d User Provisioned for the corrected hires, want 3", n)
	}
}

// TestDuplicateKeysAreRejected: on the deprovision queue a body whose type
// is given twice, "hire" then "terminate", used to be handled as a terminate
// (the last key won) and disabled the account. It is invalid_json now, and
// the account is untouched.
func TestDuplicateKeysAreRejected(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	hire := hires("J", 1)
	if retry, res := deliver(t, env, hire); res.Error != nil || len(retry) != 0 {
		t.Fatalf("hire: error %v, retries %d", res.Error, len(retry))
	}
	id := hire[0].EmployeeID()
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	bodies := [][]byte{
		fmt.Appendf(nil, `{"schemaVersion":"1","eventId":"hris-dup-type","type":"hire","type":"terminate","occurredAt":%q,"employee":{"employeeId":%q}}`, at, id),
		fmt.Appendf(nil, `{"schemaVersion":"1","eventId":"hris-dup-id","type":"terminate","occurredAt":%q,"employee":{"employeeId":"nobody","employeeId":%q}}`, at, id),
	}
	batch := localenv.SQSBatch(localenv.DeprovisionQueueARN, bodies...)
	res, err := env.Invoke(t.Context(), "deprovision", batch)
	if err != nil || res.Error != nil {
		t.Fatalf("deprovision: %v %v", err, res.Error)
	}
	assertNoSecrets(t, env, "deprovision", string(res.Logs))
	published := env.Bus.Events()
	assertRejected(t, published, "hris-dup-type", "invalid_json", "type", bodies[0])
	assertRejected(t, published, "hris-dup-id", "invalid_json", "employee.employeeId", bodies[1])
	if n := countEvents(published)["User Deprovisioned"]; n != 0 {
		t.Errorf("%d User Deprovisioned, want none", n)
	}
	if u := user(t, p, "t"+id); u == nil || !u.IsEnabled() {
		t.Errorf("account = %+v, want still enabled", u)
	}
}
