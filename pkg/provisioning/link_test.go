package provisioning_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// An explicit link (employee.encompassUserName) adopts the named account
// although neither its login nor its e-mail is the employee's, and never
// creates one.
func TestExplicitLinkAdoptsWithoutTheEmailCheck(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			// asmith (alex.smith@lender.example) was made by hand; the HRIS
			// knows Alexandra Smith as E5001 with another address.
			ev := hrisEvent("update", "E5001", t0, map[string]any{
				"encompassUserName": "ASmith", "email": "alexandra.smith@lender.example", "givenName": "Alexandra",
			})
			e.mustSend(e.prov, ev.body())
			dt, d := e.eventFor(ev.id())
			if dt != catalog.UserProvisioned || d["action"] != "adopted" || d["userName"] != "asmith" {
				t.Fatalf("explicit link: %s %v", dt, d)
			}
			if u := e.user("asmith"); u.FirstName != "Alexandra" || u.Email != "alexandra.smith@lender.example" {
				t.Fatalf("adopted account = %+v", u)
			}
			if e.usersNamed("alexandra.smith") != 0 {
				t.Fatal("an explicit link created an account")
			}
			link, _, _ := e.store.GetEmployee(t.Context(), "E5001")
			if link.UserID != "asmith" {
				t.Fatalf("link = %+v", link)
			}
			if owner, found, _ := e.store.LoginOwner(t.Context(), "asmith"); !found || owner.EmployeeID != "E5001" {
				t.Fatalf("login index: %+v %v", owner, found)
			}

			// Once linked, the explicit link is ignored: a later event that
			// names another login updates the linked account.
			later := hrisEvent("update", "E5001", t0.Add(time.Minute), map[string]any{"encompassUserName": "mjohnson", "jobTitle": "Underwriter"})
			e.mustSend(e.prov, later.body())
			if e.user("asmith").Title != "Underwriter" || e.user("mjohnson").Title == "Underwriter" {
				t.Fatal("a linked employee's explicit link was not ignored")
			}
		})
	}
}

// A login linked to another employee is refused (link_conflict) and the
// account is left alone; a login that does not exist is refused too
// (link_not_found), rather than creating an account under another login.
func TestExplicitLinkRefusals(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			first := hrisEvent("update", "E6001", t0, map[string]any{"userName": "mjohnson", "email": "maria.johnson@lender.example"})
			e.mustSend(e.prov, first.body())
			if dt, _ := e.eventFor(first.id()); dt != catalog.UserProvisioned {
				t.Fatalf("adoption by userName and e-mail: %s", dt)
			}
			before := e.writes()
			for _, tc := range []struct {
				typ, login, reason string
			}{
				{"update", "MJohnson", provisioning.ReasonLinkConflict},
				{"hire", "mjohnson", provisioning.ReasonLinkConflict},
				{"update", "nobody.here", provisioning.ReasonLinkNotFound},
			} {
				ev := hrisEvent(tc.typ, "E6002", t0, map[string]any{
					"encompassUserName": tc.login, "givenName": "Mark", "familyName": "Johnson", "email": "mark.johnson@lender.example",
				})
				e.mustSend(e.prov, ev.body())
				dt, d := e.eventFor(ev.id())
				if dt != catalog.HRISEventRejected || d["reason"] != tc.reason || d["field"] != "employee.encompassUserName" {
					t.Errorf("%s naming %s: %s %v, want %s", tc.typ, tc.login, dt, d, tc.reason)
				}
				if tc.reason == provisioning.ReasonLinkConflict && !strings.Contains(d["error"].(string), "E6001") {
					t.Errorf("the conflict does not name the other employee: %v", d["error"])
				}
			}
			if w := e.writes(); w != before {
				t.Fatalf("%d Encompass writes for refused links", w-before)
			}
			if _, found, _ := e.store.GetEmployee(t.Context(), "E6002"); found {
				t.Fatal("a refused link was stored")
			}
		})
	}
}

// An index entry left over from an account re-created under another
// login is not a conflict: the other employee's link decides.
func TestExplicitLinkStaleIndexEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	ctx := t.Context()
	// E7001's link points at another login now, but its old entry for
	// bwilliams was never removed (a crash between the two writes).
	if err := e.store.PutEmployee(ctx, state.Employee{EmployeeID: "E7001", UserID: "bwilliams", UserName: "bwilliams", Status: state.StatusActive, LastOccurredAt: t0}, 0); err != nil {
		t.Fatal(err)
	}
	cur, _, _ := e.store.GetEmployee(ctx, "E7001")
	cur.UserName, cur.UserID, cur.IndexedLogin = "bw2", "bw2", "" // as if the entry of bwilliams had been forgotten
	if err := e.store.PutEmployee(ctx, cur, cur.Version); err != nil {
		t.Fatal(err)
	}
	ev := hrisEvent("update", "E7002", t0, map[string]any{"encompassUserName": "bwilliams", "jobTitle": "Closer"})
	e.mustSend(e.prov, ev.body())
	if dt, d := e.eventFor(ev.id()); dt != catalog.UserProvisioned {
		t.Fatalf("stale entry: %s %v", dt, d)
	}
	if owner, _, _ := e.store.LoginOwner(ctx, "bwilliams"); owner.EmployeeID != "E7002" {
		t.Fatalf("index after the adoption: %+v", owner)
	}
}

// A leaver the HRIS never linked is disabled through an explicit link, with
// no e-mail check, and linked as terminated.
func TestExplicitLinkOfALeaver(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			ev := hrisEvent("terminate", "E8001", t0, map[string]any{"encompassUserName": "asmith", "email": "someone.else@lender.example"})
			e.mustSend(e.deprov, ev.body())
			if dt, d := e.eventFor(ev.id()); dt != catalog.UserDeprovisioned || d["userName"] != "asmith" {
				t.Fatalf("leaver: %s %v", dt, d)
			}
			if e.user("asmith").Enabled {
				t.Fatal("not disabled")
			}
			missing := hrisEvent("terminate", "E8002", t0, map[string]any{"encompassUserName": "nobody.here"})
			e.mustSend(e.deprov, missing.body())
			if dt, d := e.eventFor(missing.id()); dt != catalog.HRISEventRejected || d["reason"] != provisioning.ReasonLinkNotFound {
				t.Fatalf("leaver naming no account: %s %v", dt, d)
			}
		})
	}
}
