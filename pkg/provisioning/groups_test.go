package provisioning_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

// TestBatchOfLoanOfficersAllJoinTheirGroup: ten loan officers hired in one
// SQS batch are processed at once and their group joins are coalesced;
// every one of them ends up in the group, once, and each outcome says so.
func TestBatchOfLoanOfficersAllJoinTheirGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM, withConcurrency(10))
	var bodies []string
	for i := range 10 {
		bodies = append(bodies, hrisEvent("hire", fmt.Sprintf("E97%d", i), t0, joiner(fmt.Sprintf("E97%d", i), fmt.Sprintf("lo%d", i))).body())
	}
	if failed := e.send(e.prov, bodies...); len(failed) != 0 {
		t.Fatalf("%d messages failed", len(failed))
	}
	members := e.sim.GroupMembers("Retail Loan Officers")
	for i := range 10 {
		if n := countOf(members, fmt.Sprintf("lo%d", i)); n != 1 {
			t.Errorf("lo%d is in the group %d times", i, n)
		}
	}
	patches := e.sim.Count("PATCH /scim2/v1/groups/{id}")
	if patches < 1 || patches > 10 {
		t.Fatalf("%d group PATCHes for 10 joins", patches)
	}
	t.Logf("10 joins in %d group PATCHes", patches)
	for _, d := range e.published(catalog.UserProvisioned) {
		if changed(d)["userGroups"][1] != "Retail Loan Officers" {
			t.Errorf("%v: changes %v", d["userName"], changed(d))
		}
	}
}

func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if strings.EqualFold(x, v) {
			n++
		}
	}
	return n
}

// TestOneGroupPatchPerBatch (issue 15): the joins of a batch wait until
// every message has reached them, then go in one PATCH per group; a hire's
// outcome is published only once its PATCH succeeded.
func TestOneGroupPatchPerBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	batch := func(prefix string) []string {
		var bodies []string
		for i := range 10 {
			id := fmt.Sprintf("%s%d", prefix, i)
			bodies = append(bodies, hrisEvent("hire", id, t0, joiner(id, strings.ToLower(id))).body())
		}
		return bodies
	}
	e.mustSend(e.prov, batch("EB1")...)
	if patches, creates := e.sim.Count("PATCH /scim2/v1/groups/{id}"), e.sim.Count("POST /scim2/v1/users"); patches != 1 || creates != 10 {
		t.Fatalf("%d group PATCHes and %d creates for 10 hires into one group; want 1 and 10", patches, creates)
	}
	if n := len(e.published(catalog.UserProvisioned)); n != 10 {
		t.Fatalf("%d outcomes", n)
	}

	// The PATCH fails (for longer than the client retries): nobody's outcome
	// is published, and every hire comes back; the redelivery joins them.
	e.eb.Reset()
	e.sim.FailNext(10, 503, "PATCH /scim2/v1/groups/{id}")
	second := batch("EB2")
	if failed := e.send(e.prov, second...); len(failed) != 10 {
		t.Fatalf("%d of 10 hires failed with their PATCH failing", len(failed))
	}
	if n := len(e.published(catalog.UserProvisioned)); n != 0 {
		t.Fatalf("%d outcomes published before their group PATCH succeeded", n)
	}
	e.sim.FailNext(0, 0, "")
	e.drain(e.prov, second...)
	if n := len(e.published(catalog.UserProvisioned)); n != 10 {
		t.Fatalf("%d outcomes after the redelivery, want 10", n)
	}
	for i := range 10 {
		if n := countOf(e.sim.GroupMembers("Retail Loan Officers"), fmt.Sprintf("eb2%d", i)); n != 1 {
			t.Errorf("eb2%d is in the group %d times", i, n)
		}
	}
}
