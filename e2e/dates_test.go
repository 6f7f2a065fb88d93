package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// TestEffectiveDates plays the story of CONTRACTS section 2a through the
// real binaries, the Scheduler fake and the local product's clock: a hire
// held until the start date, a rescinded offer, a held leaver with an
// update before it, a withdrawn resignation and a backdated termination.
func TestEffectiveDates(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	var steps []story.Step
	p.Emit = func(s story.Step) {
		steps = append(steps, s)
		if s.Result != nil {
			assertNoSecrets(t, env, s.Actor, string(s.Result.Logs))
		}
	}
	if err := p.EffectiveDates(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := p.Report()
	for _, st := range steps {
		t.Logf("%-9s %s -> %s", st.Actor, st.Action, st.Outcome)
	}
	if len(rep.Summary.Failures) > 0 {
		for _, st := range steps {
			if st.Result != nil {
				t.Logf("%s %s\n%s", st.Actor, st.Action, st.Result.Logs)
			}
		}
		t.Fatalf("failures: %v", rep.Summary.Failures)
	}
	types := func(eventID string) []string {
		var out []string
		for _, ev := range eventsFor(rep.Published, eventID) {
			out = append(out, ev.DetailType+"/"+detail(ev, "reason"))
		}
		return out
	}
	for id, want := range map[string][]string{
		"hris-0101": {"HRIS Event Scheduled/", "User Provisioned/"},             // Erin: held, created on her start date
		"hris-0102": {"HRIS Event Scheduled/", "HRIS Event Skipped/superseded"}, // Frank: rescinded offer
		"hris-0109": {"HRIS Event Skipped/not_provisioned"},                     // the rescission leaves a tombstone
		"hris-0106": {"HRIS Event Scheduled/", "User Deprovisioned/"},           // Grace leaves on the 30th
		"hris-0112": {"User Updated/"},                                          // after moving branch on the 10th
		"hris-0107": {"HRIS Event Scheduled/", "HRIS Event Skipped/superseded"}, // Hank's resignation, withdrawn
		"hris-0110": {"User Deprovisioned/"},                                    // Ivy: backdated, applied at once
		"hris-0113": {"HRIS Event Scheduled/"},                                  // Jo: still held when the story ends
	} {
		if got := types(id); !slices.Equal(got, want) {
			t.Errorf("%s published %v, want %v", id, got, want)
		}
	}
	for login, enabled := range map[string]bool{story.ErinLogin: true, story.GraceLogin: false, story.HankLogin: true, story.IvyLogin: false} {
		u := user(t, p, login)
		if u == nil || u.IsEnabled() != enabled {
			t.Errorf("%s = %+v, want enabled %v", login, u, enabled)
		}
	}
	for _, login := range []string{story.FrankLogin, story.JoLogin} {
		if u := user(t, p, login); u != nil {
			t.Errorf("%s has an account: %+v", login, u)
		}
	}
	for id, by := range map[string]string{"hris-0102": "hris-0109", "hris-0107": "hris-0111"} {
		if evs := eventsFor(rep.Published, id); len(evs) != 2 || detail(evs[1], "supersededBy") != by {
			t.Errorf("%s: want superseded by %s: %v", id, by, evs)
		}
	}
	// The leaver's receipt counts her exposure from her due date: the time
	// from the due time to the account read back disabled, through the
	// Scheduler fake's delivery and the real invocation.
	for _, ev := range eventsFor(rep.Published, "hris-0106") {
		if ev.DetailType == "User Deprovisioned" {
			exposure, _ := ev.DetailMap()["exposureSeconds"].(float64)
			t.Logf("from due time to disabled: %.3f s", exposure)
			if exposure <= 0 || exposure > 60 {
				t.Errorf("exposure %v s from the due time", exposure)
			}
		}
	}
	if s := env.Scheduler.Schedules(); len(s) != 1 || s[0].MessageGroupID != story.Jo {
		t.Errorf("schedules left: %+v, want Jo's", s)
	}
	// One schedule created per held event, one deleted per superseded one.
	if c, d := env.Scheduler.Calls("CreateSchedule"), env.Scheduler.Calls("DeleteSchedule"); c != 5 || d != 2 {
		t.Errorf("%d CreateSchedule, %d DeleteSchedule; want 5 and 2", c, d)
	}
	// Erin had no account before her start date.
	for _, st := range steps {
		if st.Actor == "scheduler" && strings.Contains(st.Action, "hris-0101") {
			break
		}
		for _, ev := range st.Events {
			if ev.DetailType == "User Provisioned" && detail(ev, "employeeId") == story.Erin {
				t.Fatalf("Erin was provisioned before her start date: %s", st.Action)
			}
		}
	}
}

func detail(ev testenv.Event, key string) string {
	s, _ := ev.DetailMap()[key].(string)
	return s
}

// TestSchedulerDeniedThroughTheBinary: the Scheduler refusing (access
// denied, a missing grant) leaves the held event on the queue, never
// acknowledged without a schedule, and publishes nothing; once the grant is
// there, the redelivery holds it, once.
func TestSchedulerDeniedThroughTheBinary(t *testing.T) {
	env := start(t, nil)
	now := env.Clock.Now().UTC()
	hire := []story.HRISEvent{{EventID: "hris-denied", Type: "hire", OccurredAt: now.Add(-time.Minute), EffectiveAt: now.Add(72 * time.Hour),
		Employee: story.Employee{"employeeId": "E9001", "givenName": "Dee", "familyName": "Nied", "email": "dee.nied@example.com", "jobCode": "LO1"}}}
	env.Scheduler.Fail("CreateSchedule", 1, 403, "AccessDeniedException")
	retry, res := deliver(t, env, hire)
	if res.Error != nil || len(retry) != 1 {
		t.Fatalf("error %v, %d retries; want the message left for a retry", res.Error, len(retry))
	}
	if evs := eventsFor(env.Bus.Events(), "hris-denied"); len(evs) != 0 || len(env.Scheduler.Schedules()) != 0 {
		t.Fatalf("published %v with %d schedules", countEvents(evs), len(env.Scheduler.Schedules()))
	}
	if !strings.Contains(string(res.Logs), "AccessDeniedException") || !strings.Contains(string(res.Logs), `"level":"ERROR"`) {
		t.Errorf("the log does not say the Scheduler refused:\n%s", res.Logs)
	}
	if retry, res := deliver(t, env, hire); res.Error != nil || len(retry) != 0 {
		t.Fatalf("redelivery: error %v, %d retries", res.Error, len(retry))
	}
	if got := countEvents(eventsFor(env.Bus.Events(), "hris-denied")); got["HRIS Event Scheduled"] != 1 || len(env.Scheduler.Schedules()) != 1 {
		t.Fatalf("redelivery published %v with %d schedules", got, len(env.Scheduler.Schedules()))
	}
}
