package provisioning_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
)

// TestBatchOfLoanOfficersAllJoinTheirGroup: ten loan officers hired in one
// SQS batch are processed at once and their group joins are coalesced;
// every one of them ends up in the group, once, and each outcome says so.
func TestBatchOfLoanOfficersAllJoinTheirGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, provisioning.UserAPISCIM, withConcurrency(10))
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
	for _, d := range e.published(publish.UserProvisioned) {
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
