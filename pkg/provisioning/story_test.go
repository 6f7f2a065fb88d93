package provisioning_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

var bothAPIs = []string{config.UserAPISCIM, config.UserAPIV3}

func changed(detail map[string]any) map[string][2]string {
	out := map[string][2]string{}
	list, _ := detail["changes"].([]any)
	for _, c := range list {
		m := c.(map[string]any)
		out[m["field"].(string)] = [2]string{m["from"].(string), m["to"].(string)}
	}
	return out
}

// TestJoinerMoverLeaverRehire plays the full story through both user APIs.
func TestJoinerMoverLeaverRehire(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			ctx := context.Background()

			// Joiner: a loan officer.
			hire := hrisEvent("hire", "E900", t0, joiner("E900", "jdoe"))
			e.mustSend(e.prov, hire.body())
			u := e.user("jdoe")
			if !u.Enabled || u.FirstName != "Jane" || u.Phone != "555-555-1234 12" || u.OrganizationID != "0" ||
				!slices.Equal(u.Personas, []string{"10"}) || u.EmployeeID != "E900" || !u.SSOOnly || u.WorkingFolder != "My Pipeline" {
				t.Fatalf("joiner account = %+v", u)
			}
			dt, d := e.eventFor(hire.id())
			if dt != catalog.UserProvisioned || d["action"] != "created" || d["encompassUserId"] != "jdoe" || d["employeeId"] != "E900" {
				t.Fatalf("joiner event %s %v", dt, d)
			}
			link, found, err := e.store.GetEmployee(ctx, "E900")
			if err != nil || !found || link.UserID != "jdoe" || link.Status != state.StatusActive {
				t.Fatalf("link = %+v %v %v", link, found, err)
			}
			if api == config.UserAPISCIM {
				if u.GlobalUserID == "" || link.GlobalUserID != u.GlobalUserID || d["globalUserId"] != u.GlobalUserID {
					t.Fatalf("scim create must keep the global user id: user %q link %q event %v", u.GlobalUserID, link.GlobalUserID, d["globalUserId"])
				}
				if !slices.Contains(e.sim.GroupMembers("Retail Loan Officers"), "jdoe") {
					t.Fatal("LO rule's group not joined")
				}
			} else if u.GlobalUserID != "" {
				t.Fatal("v3 create has no global user id")
			}

			// Mover: to processing, new surname, middle name cleared.
			mover := hrisEvent("update", "E900", t0.Add(time.Hour), map[string]any{
				"familyName": "Smith", "middleName": nil, "department": "Processing", "jobCode": "PR1", "jobTitle": "Processor",
			})
			e.mustSend(e.prov, mover.body())
			u = e.user("jdoe")
			if u.LastName != "Smith" || u.OrganizationID != "2" || !slices.Equal(u.Personas, []string{"11"}) || u.Title != "Processor" {
				t.Fatalf("mover account = %+v", u)
			}
			dt, d = e.eventFor(mover.id())
			ch := changed(d)
			if dt != catalog.UserUpdated || ch["lastName"] != [2]string{"Doe", "Smith"} || ch["organizationId"] != [2]string{"0", "2"} || ch["personas"] != [2]string{"10", "11"} {
				t.Fatalf("mover event %s %v", dt, d)
			}
			if _, ok := ch["middleName"]; ok {
				t.Error("middleName was empty already: clearing it is no change")
			}
			if api == config.UserAPISCIM {
				if slices.Contains(e.sim.GroupMembers("Retail Loan Officers"), "jdoe") || !slices.Contains(e.sim.GroupMembers("Processors"), "jdoe") {
					t.Fatal("groups not reconciled on the move")
				}
				if ch["userGroups"] != [2]string{"Retail Loan Officers", "Processors"} {
					t.Errorf("userGroups change = %v", ch["userGroups"])
				}
			}
			writes, err := e.store.WritesSince(ctx, "jdoe", time.Time{})
			if err != nil || len(writes) != 2 || writes[1].Fields["lastName"] != "Smith" {
				t.Fatalf("write log = %+v, %v", writes, err)
			}

			// Leaver.
			leave := hrisEvent("terminate", "E900", t0.Add(2*time.Hour), nil)
			e.mustSend(e.deprov, leave.body())
			if e.user("jdoe").Enabled {
				t.Fatal("leaver still enabled")
			}
			dt, d = e.eventFor(leave.id())
			if dt != catalog.UserDeprovisioned || changed(d)["enabled"] != [2]string{"true", "false"} {
				t.Fatalf("leaver event %s %v", dt, d)
			}
			if e.usersNamed("jdoe") != 1 {
				t.Fatal("leavers are disabled, never deleted")
			}
			var terminated []string
			for tu, err := range e.store.Terminated(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				terminated = append(terminated, tu.EmployeeID)
			}
			if !slices.Contains(terminated, "E900") {
				t.Fatal("terminated index misses the leaver")
			}

			// An update while terminated changes the profile but never
			// re-enables.
			upd := hrisEvent("update", "E900", t0.Add(3*time.Hour), map[string]any{"mobilePhone": "555.555.7777"})
			e.mustSend(e.prov, upd.body())
			if u := e.user("jdoe"); u.Enabled || u.CellPhone != "555-555-7777" {
				t.Fatalf("update of a leaver: %+v", u)
			}

			// Rehire.
			rehire := hrisEvent("rehire", "E900", t0.Add(4*time.Hour), map[string]any{
				"givenName": "Jane", "familyName": "Smith", "email": "jdoe@lender.example", "jobCode": "LO3",
			})
			e.mustSend(e.prov, rehire.body())
			u = e.user("jdoe")
			if !u.Enabled || u.OrganizationID != "0" || !slices.Equal(u.Personas, []string{"10"}) {
				t.Fatalf("rehired account = %+v", u)
			}
			dt, d = e.eventFor(rehire.id())
			if dt != catalog.UserReactivated || changed(d)["enabled"] != [2]string{"false", "true"} {
				t.Fatalf("rehire event %s %v", dt, d)
			}
			for tu, err := range e.store.Terminated(ctx) {
				if err == nil && tu.EmployeeID == "E900" {
					t.Fatal("rehire must clear the terminated index")
				}
			}
			if e.usersNamed("jdoe") != 1 {
				t.Fatal("duplicate user")
			}
			if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
				t.Error("errors logged during a clean story")
			}
		})
	}
}
