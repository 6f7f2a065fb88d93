package provisioning_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

// TestFaultsEndAppliedExactlyOnce injects throttling, 5xx, dropped
// connections after the write was applied, timeouts and EventBridge failures
// while a cohort joins, moves and leaves. Failed messages are redelivered
// until none fail; then every account exists once, in its final state, and
// every employee's outcome events were published.
func TestFaultsEndAppliedExactlyOnce(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api, withHTTPTimeout(300*time.Millisecond), withConcurrency(4))
			const n = 12
			login := func(i int) string { return fmt.Sprintf("fault%02d", i) }
			emp := func(i int) string { return fmt.Sprintf("F%03d", i) }
			var hires, moves, leaves []string
			for i := range n {
				hires = append(hires, hrisEvent("hire", emp(i), t0, joiner(emp(i), login(i))).body())
				moves = append(moves, hrisEvent("update", emp(i), t0.Add(time.Hour), map[string]any{"department": "Processing", "jobCode": "PR", "familyName": "Moved"}).body())
				leaves = append(leaves, hrisEvent("terminate", emp(i), t0.Add(2*time.Hour), nil).body())
			}
			create := "POST /scim2/v1/users"
			patch := "PATCH /scim2/v1/users/{id}"
			disable := "DELETE /scim2/v1/users/{id}"
			if api == config.UserAPIV3 {
				create, patch, disable = "POST /encompass/v3/users", "PATCH /encompass/v3/users/{id}", "PATCH /encompass/v3/users/{id}"
			}

			e.sim.Throttle(6)
			e.sim.FailNext(3, 503, create)
			e.sim.FailNext(2, 500, "")
			e.sim.DropAfterApply(3, create)
			e.eb.FailRequests(2, 500)
			rounds := e.drain(e.prov, hires...)

			e.sim.DropAfterApply(3, patch)
			e.sim.FailNext(4, 502, "")
			e.sim.SetLatency(400 * time.Millisecond) // past the client's timeout
			first := e.send(e.prov, moves...)
			e.sim.SetLatency(0)
			e.eb.FailEntries(3, "InternalFailure")
			rounds += e.drain(e.prov, first...)

			e.sim.DropAfterApply(2, disable)
			e.sim.Throttle(4)
			e.sim.FailNext(2, 504, "")
			rounds += e.drain(e.deprov, leaves...)
			t.Logf("%d deliveries in all; requests per endpoint: %v", rounds, e.sim.Counts())

			for i := range n {
				if c := e.usersNamed(login(i)); c != 1 {
					t.Fatalf("%s exists %d times", login(i), c)
				}
				u := e.user(login(i))
				if u.Enabled || u.LastName != "Moved" || u.OrganizationID != "2" {
					t.Errorf("%s final state: enabled %v lastName %q org %q", login(i), u.Enabled, u.LastName, u.OrganizationID)
				}
			}
			perEmployee := func(detailType string) map[string]int {
				m := map[string]int{}
				for _, d := range e.published(detailType) {
					m[d["employeeId"].(string)]++
				}
				return m
			}
			prov, deprov := perEmployee(catalog.UserProvisioned), perEmployee(catalog.UserDeprovisioned)
			for i := range n {
				if prov[emp(i)] < 1 || deprov[emp(i)] < 1 {
					t.Errorf("%s: provisioned %d, deprovisioned %d events", emp(i), prov[emp(i)], deprov[emp(i)])
				}
			}
			if got := len(e.published(catalog.HRISEventRejected)); got != 0 {
				t.Errorf("%d events rejected; transient faults must be retried", got)
			}
		})
	}
}

// TestPublishFailureKeepsTheOutcome: when EventBridge fails after the change
// was applied, the message is retried and the redelivery publishes the
// stored outcome instead of finding nothing left to do.
func TestPublishFailureKeepsTheOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	hire := hrisEvent("hire", "E900", t0, joiner("E900", "pubfail"))
	e.eb.FailRequests(10, 500)
	if failed := e.send(e.prov, hire.body()); len(failed) != 1 {
		t.Fatal("a publish failure must be a batch item failure")
	}
	if e.usersNamed("pubfail") != 1 {
		t.Fatal("the change should have been applied")
	}
	e.eb.FailRequests(0, 0)
	e.eb.Reset()
	e.mustSend(e.prov, hire.body())
	dt, d := e.eventFor(hire.id())
	if dt != catalog.UserProvisioned || d["action"] != "created" || len(e.published(catalog.HRISEventSkipped)) != 0 {
		t.Fatalf("redelivery published %s %v", dt, d)
	}
	// Now it is a plain duplicate.
	e.mustSend(e.prov, hire.body())
	if len(e.published(catalog.HRISEventSkipped)) != 1 {
		t.Fatal("third delivery should be a duplicate")
	}
}

// TestRejectionPublishFailureIsRetried: a permanent failure is only
// acknowledged once its rejection is published.
func TestRejectionPublishFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	e.eb.FailRequests(10, 500)
	if failed := e.send(e.prov, `not json`); len(failed) != 1 {
		t.Fatal("an unpublished rejection must come back")
	}
	e.eb.FailRequests(0, 0)
	e.mustSend(e.prov, `not json`)
	if len(e.published(catalog.HRISEventRejected)) != 1 {
		t.Fatal("rejection not published on redelivery")
	}
}
