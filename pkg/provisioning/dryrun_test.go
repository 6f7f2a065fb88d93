package provisioning_test

import (
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
)

// TestDryRunWritesNothing: with DRY_RUN no request but reads reaches
// Encompass, nothing is written to the state table, and every outcome is
// still published, marked dryRun, describing the write it would make.
func TestDryRunWritesNothing(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api, dryRun())
			hire := hrisEvent("hire", "E950", t0, joiner("E950", "dryrun"))
			adopt := hrisEvent("update", "E10001", t0, map[string]any{"userName": "mjohnson", "email": "maria.johnson@lender.example", "jobCode": "LO9"})
			leave := hrisEvent("terminate", "E10002", t0, map[string]any{"userName": "asmith", "email": "alex.smith@lender.example"})
			e.mustSend(e.prov, hire.body(), adopt.body(), "garbage")
			e.mustSend(e.deprov, leave.body())
			e.mustSend(e.prov, hire.body()) // no idempotency record: not a duplicate
			// A dry run links nothing, so an existing employee's update is
			// described as an adoption every time.
			e.mustSend(e.prov, hrisEvent("update", "E10002", t0, map[string]any{"userName": "asmith", "email": "alex.smith@lender.example", "jobTitle": "Loan Processor"}).body())

			if n := e.writes(); n != 0 {
				t.Fatalf("%d write requests reached Encompass: %v", n, e.sim.Counts())
			}
			if e.usersNamed("dryrun") != 0 || !e.user("asmith").Enabled {
				t.Fatal("Encompass changed in a dry run")
			}
			ops := e.store.OpsByName()
			if ops["PutItem"]+ops["UpdateItem"]+ops["DeleteItem"] != 0 {
				t.Fatalf("state table written in a dry run: %v", ops)
			}
			want := map[string]int{catalog.UserProvisioned: 4, catalog.UserDeprovisioned: 1, catalog.HRISEventRejected: 1}
			for dt, n := range want {
				if got := len(e.published(dt)); got != n {
					t.Errorf("%d %s events, want %d", got, dt, n)
				}
			}
			for _, ev := range e.eb.Events() {
				if ev.DetailMap()["dryRun"] != true {
					t.Errorf("%s not marked dryRun", ev.DetailType)
				}
			}
			_, d := e.eventFor(leave.id())
			if changed(d)["enabled"] != [2]string{"true", "false"} {
				t.Errorf("dry-run deprovision must describe the disable: %v", d)
			}
		})
	}
}

// TestUnchangedUpdateMakesNoWriteCall: an update that changes nothing makes
// no write call and publishes nothing.
func TestUnchangedUpdateMakesNoWriteCall(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			e.mustSend(e.prov, hrisEvent("hire", "E951", t0, joiner("E951", "same")).body())
			e.sim.ResetRequests()
			e.eb.Reset()
			same := joiner("E951", "same")
			e.mustSend(e.prov, hrisEvent("update", "E951", t0.Add(time.Hour), same).body())
			if n := e.writes(); n != 0 {
				t.Fatalf("%d write calls for an update that changes nothing: %v", n, e.sim.Counts())
			}
			if n := len(e.eb.Events()); n != 0 {
				t.Fatalf("%d events for an unchanged update", n)
			}
			// Clearing a field that is empty already is no change either.
			e.mustSend(e.prov, hrisEvent("update", "E951", t0.Add(2*time.Hour), map[string]any{"middleName": nil, "fax": ""}).body())
			if n := e.writes(); n != 0 {
				t.Fatalf("%d write calls", n)
			}
		})
	}
}
