package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// TestPollerWithATenSecondTimeoutPublishes is issue 10, defect 4, through
// the real poller binary: with a Lambda timeout of 10 s (sam local invoke, a
// template of one's own) the poll must still publish the changes it finds.
// A fixed 30 s deadline margin made every such poll stop before publishing.
func TestPollerWithATenSecondTimeoutPublishes(t *testing.T) {
	env := start(t, func(o *localenv.Options) {
		o.Timeouts = map[string]time.Duration{"poller": 10 * time.Second}
	})
	poll := func(what string) (outcome string, events map[string]int) {
		t.Helper()
		env.Bus.Reset()
		res, err := env.Invoke(context.Background(), "poller", localenv.Schedule(time.Now()))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Error != nil || res.TimedOut {
			t.Fatalf("%s: %v (timed out %v)\n%s", what, res.Error, res.TimedOut, res.Logs)
		}
		assertNoSecrets(t, env, what, string(res.Logs)+string(res.Payload))
		var sum struct {
			Outcome string `json:"outcome"`
		}
		if err := json.Unmarshal(res.Payload, &sum); err != nil {
			t.Fatalf("%s answered %q: %v", what, res.Payload, err)
		}
		return sum.Outcome, countEvents(env.Bus.Events())
	}
	if outcome, evs := poll("first poll"); outcome != "baseline" || evs["Baseline Established"] != 1 {
		t.Fatalf("first poll: %s, events %v; want the baseline", outcome, evs)
	}
	id := env.Sim.Users()[0].ID
	if err := env.Sim.ModifyUser(id, func(u *encompasstest.SimUser) { u.Title = "Changed By Hand" }); err != nil {
		t.Fatal(err)
	}
	if outcome, evs := poll("second poll"); outcome != "changes" || evs["User Changed"] != 1 || len(evs) != 1 {
		t.Fatalf("second poll: %s, events %v; want the one change published", outcome, evs)
	}
}
