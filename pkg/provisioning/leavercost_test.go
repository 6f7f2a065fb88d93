package provisioning_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
)

// TestLinkedLeaverCostsTwoCalls (issue 15): a linked leaver costs the
// disable and the read-back the contract requires, and no read before it.
func TestLinkedLeaverCostsTwoCalls(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			e.mustSend(e.prov, hrisEvent("hire", "E1300", t0, joiner("E1300", "twocalls")).body())
			e.sim.ResetRequests()
			e.mustSend(e.deprov, hrisEvent("terminate", "E1300", t0.Add(time.Hour), nil).body())
			var calls []string
			for _, r := range e.sim.Requests() {
				if !strings.HasPrefix(r.Endpoint, "POST /oauth2") {
					calls = append(calls, r.Endpoint)
				}
			}
			if len(calls) != 2 {
				t.Fatalf("%d Encompass calls for a linked leaver, want 2 (disable, read-back): %v", len(calls), calls)
			}
			if u := e.user("twocalls"); u.Enabled {
				t.Fatal("the leaver is still enabled")
			}
			d := e.published(catalog.UserDeprovisioned)
			if len(d) != 1 || changed(d[0])["enabled"] != [2]string{"true", "false"} {
				t.Fatalf("published %v", d)
			}
		})
	}
}
