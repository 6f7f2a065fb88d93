package provisioning

import (
	"encoding/json"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
)

// TestOutcomeReason: a skip or rejection carries its detail's reason from
// the moment it is built, through its claim record (pending or kept), and
// a pending record written before the reason was kept beside the event
// still replays with it.
func TestOutcomeReason(t *testing.T) {
	t.Parallel()
	built := newOutcome(catalog.HRISEventSkipped, Detail{EventID: "e1", Reason: ReasonSuperseded})
	if built.Reason != ReasonSuperseded {
		t.Fatalf("built with reason %q", built.Reason)
	}
	if o := newOutcome(catalog.UserUpdated, Detail{EventID: "e2", Reason: "not a skip"}); o.Reason != "" {
		t.Fatalf("an update has the reason %q", o.Reason)
	}
	b, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	for name, recorded := range map[string]string{
		"pending":            string(b),
		"pending, no reason": `{"outcome":"HRIS Event Skipped","events":[{"detailType":"HRIS Event Skipped","detail":{"eventId":"e1","reason":"superseded"}}]}`,
		"kept":               `{"outcome":"HRIS Event Skipped","reason":"superseded"}`,
	} {
		var o outcome
		if err := json.Unmarshal([]byte(recorded), &o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Reason != ReasonSuperseded || o.Name != catalog.HRISEventSkipped {
			t.Errorf("%s: read back %+v", name, o)
		}
	}
	var o outcome
	if err := json.Unmarshal([]byte(`{"outcome":"User Updated","events":[{"detailType":"User Updated","detail":{"eventId":"e2","reason":"x"}}]}`), &o); err != nil || o.Reason != "" {
		t.Fatalf("an update read back with reason %q (%v)", o.Reason, err)
	}
}
