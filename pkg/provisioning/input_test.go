package provisioning_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
)

// TestBadInputIsRejectedNeverDropped sends every bad input of the issue
// through the real handler: each is acknowledged, published as HRIS Event
// Rejected with its reason and the original body, and changes nothing in
// Encompass.
func TestBadInputIsRejectedNeverDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	ok := func(edit func(ev msg, emp map[string]any)) string {
		m := hrisEvent("hire", "E700", t0, joiner("E700", "badinput"))
		edit(m, m["employee"].(map[string]any))
		return m.body()
	}
	cases := []struct {
		name, body, reason, says string
		queue                    *provisioning.Handler
	}{
		{"not JSON", `{"schemaVersion": "1", "eventId": `, hris.ReasonInvalidJSON, "not valid JSON", nil},
		{"wrong shape", `["hire","E1"]`, hris.ReasonInvalidField, "expected a JSON object", nil},
		{"employee wrong type", ok(func(ev msg, _ map[string]any) { ev["employee"] = []int{1} }), hris.ReasonInvalidField, "must be a JSON object", nil},
		{"unknown schemaVersion", ok(func(ev msg, _ map[string]any) { ev["schemaVersion"] = "7" }), hris.ReasonUnsupportedVersion, "not supported", nil},
		{"unknown type", ok(func(ev msg, _ map[string]any) { ev["type"] = "promote" }), hris.ReasonUnknownType, "hire, update, rehire, terminate", nil},
		{"missing eventId", ok(func(ev msg, _ map[string]any) { delete(ev, "eventId") }), hris.ReasonMissingField, "required", nil},
		{"missing email on hire", ok(func(_ msg, emp map[string]any) { delete(emp, "email") }), hris.ReasonMissingField, "required for a hire", nil},
		{"forbidden userName characters", ok(func(_ msg, emp map[string]any) { emp["userName"] = `jane\doe` }), hris.ReasonInvalidField, "cannot contain", nil},
		{"userName leading period", ok(func(_ msg, emp map[string]any) { emp["userName"] = ".jane" }), hris.ReasonInvalidField, "period", nil},
		{"name over 64", ok(func(_ msg, emp map[string]any) { emp["givenName"] = strings.Repeat("J", 65) }), hris.ReasonInvalidField, "at most 64", nil},
		{"email not an address", ok(func(_ msg, emp map[string]any) { emp["email"] = "jane at lender" }), hris.ReasonInvalidField, "not an e-mail address", nil},
		{"phone not normalisable", ok(func(_ msg, emp map[string]any) { emp["workPhone"] = "call me maybe" }), hris.ReasonInvalidField, "phone number", nil},
		{"date not a date", ok(func(ev msg, _ map[string]any) { ev["occurredAt"] = "last Tuesday" }), hris.ReasonInvalidField, "RFC 3339", nil},
		{"nmls date not a date", ok(func(_ msg, emp map[string]any) { emp["nmlsExpirationDate"] = "2027-13-01" }), hris.ReasonInvalidField, "yyyy-mm-dd", nil},
		{"effective more than 400 days ahead", ok(func(ev msg, _ map[string]any) {
			ev["effectiveAt"] = time.Now().Add(hris.MaxEffectiveAhead + time.Hour).UTC().Format(time.RFC3339)
		}), hris.ReasonInvalidField, "typing error, not a plan", nil},
		{"effective not RFC 3339", ok(func(ev msg, _ map[string]any) { ev["effectiveAt"] = "1st December" }), hris.ReasonInvalidField, "RFC 3339", nil},
		{"terminate on provision queue", ok(func(ev msg, _ map[string]any) { ev["type"] = "terminate" }), hris.ReasonWrongQueue, "deprovision queue", nil},
		{"hire on deprovision queue", ok(func(msg, map[string]any) {}), hris.ReasonWrongQueue, "provision queue", e.deprov},
		{"body of 256 KiB", `{"schemaVersion":"1","eventId":"big","pad":"` + strings.Repeat("A", 256<<10) + `"}`, hris.ReasonTooLarge, "at most", nil},
	}
	for _, tc := range cases {
		h := tc.queue
		if h == nil {
			h = e.prov
		}
		if failed := e.send(h, tc.body); len(failed) != 0 {
			t.Errorf("%s: reported as a batch failure; a permanent failure must be acknowledged", tc.name)
		}
	}
	rejected := e.published(catalog.HRISEventRejected)
	if len(rejected) != len(cases) {
		t.Fatalf("%d rejections published for %d bad inputs", len(rejected), len(cases))
	}
	for i, tc := range cases {
		d := rejected[i]
		if d["reason"] != tc.reason || !strings.Contains(d["error"].(string), tc.says) {
			t.Errorf("%s: reason %v error %q; want %s saying %q", tc.name, d["reason"], d["error"], tc.reason, tc.says)
		}
		if d["eventId"] == "" || d["eventId"] == nil {
			t.Errorf("%s: rejection without eventId", tc.name)
		}
		msg, _ := d["message"].(string)
		if len(tc.body) <= provisioning.MaxMessageBytes && msg != tc.body {
			t.Errorf("%s: message is not the original body", tc.name)
		}
		if len(tc.body) > provisioning.MaxMessageBytes && (d["messageTruncated"] != true || !strings.HasPrefix(tc.body, msg) || int(d["messageBytes"].(float64)) != len(tc.body)) {
			t.Errorf("%s: oversized body must be cut and marked", tc.name)
		}
	}
	if e.usersNamed("badinput") != 0 || e.writes() != 0 {
		t.Error("bad input changed Encompass")
	}
}

// TestUnknownNamesAtRuntimeAreRejected covers a persona that the mapping
// resolved at start-up but Encompass refuses later (deleted meanwhile): the
// 400 is permanent and rejected as encompass_rejected.
func TestEncompassRefusalIsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	e.sim.FailNext(1, 400, "POST /encompass/v3/users")
	hire := hrisEvent("hire", "E701", t0, joiner("E701", "refused"))
	e.mustSend(e.prov, hire.body())
	dt, d := e.eventFor(hire.id())
	if dt != catalog.HRISEventRejected || d["reason"] != failure.ReasonEncompassRejected || d["message"] != hire.body() {
		t.Fatalf("%s %v", dt, d)
	}
	// The event is finished: a redelivery is a duplicate, not a second try.
	e.mustSend(e.prov, hire.body())
	if len(e.published(catalog.HRISEventSkipped)) != 1 || e.usersNamed("refused") != 0 {
		t.Fatal("a rejected event ran again")
	}
}

func TestUserNameConflictAndAdoption(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			// mjohnson exists with maria.johnson@lender.example.
			conflict := hrisEvent("hire", "E702", t0, map[string]any{
				"userName": "mjohnson", "givenName": "Mark", "familyName": "Johnson", "email": "mark.johnson@lender.example",
			})
			e.mustSend(e.prov, conflict.body())
			dt, d := e.eventFor(conflict.id())
			if dt != catalog.HRISEventRejected || d["reason"] != provisioning.ReasonUserNameConflict || strings.Contains(d["error"].(string), "maria") {
				t.Fatalf("conflict: %s %v", dt, d)
			}
			if u := e.user("mjohnson"); u.FirstName != "Maria" {
				t.Fatal("conflicting account changed")
			}

			// Day one: the lender's existing staff arrive as updates and are
			// adopted when the e-mail matches (case-insensitively).
			adopt := hrisEvent("update", "E10001", t0, map[string]any{
				"userName": "mjohnson", "email": "Maria.Johnson@lender.example", "jobTitle": "Branch Manager",
			})
			e.mustSend(e.prov, adopt.body())
			dt, d = e.eventFor(adopt.id())
			if dt != catalog.UserProvisioned || d["action"] != "adopted" {
				t.Fatalf("adoption: %s %v", dt, d)
			}
			if u := e.user("mjohnson"); u.Title != "Branch Manager" || u.Email != "Maria.Johnson@lender.example" {
				t.Fatalf("adopted account = %+v", u)
			}
			link, _, _ := e.store.GetEmployee(t.Context(), "E10001")
			if link.UserID != "mjohnson" {
				t.Fatalf("link = %+v", link)
			}

			// bwilliams was created through v3: no global user id. In scim
			// mode it is still adopted and managed (through v3).
			adopt2 := hrisEvent("update", "E10003", t0, map[string]any{
				"userName": "bwilliams", "email": "bea.williams@lender.example", "familyName": "Williams-Ng",
			})
			e.mustSend(e.prov, adopt2.body())
			if u := e.user("bwilliams"); u.LastName != "Williams-Ng" || u.GlobalUserID != "" {
				t.Fatalf("adopted v3 user = %+v", u)
			}
			leave := hrisEvent("terminate", "E10003", t0.Add(time.Hour), nil)
			e.mustSend(e.deprov, leave.body())
			if e.user("bwilliams").Enabled {
				t.Fatal("v3-only user not disabled")
			}
		})
	}
}

func TestUpdateForUnknownEmployeeWithoutProfileIsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	upd := hrisEvent("update", "E703", t0, map[string]any{"jobTitle": "Closer"})
	e.mustSend(e.prov, upd.body())
	dt, d := e.eventFor(upd.id())
	if dt != catalog.HRISEventRejected || d["reason"] != hris.ReasonMissingField {
		t.Fatalf("%s %v", dt, d)
	}
	upd2 := hrisEvent("update", "E704", t0, map[string]any{"userName": "nobody", "email": "nobody@lender.example"})
	e.mustSend(e.prov, upd2.body())
	if dt, d := e.eventFor(upd2.id()); dt != catalog.HRISEventRejected || !strings.Contains(d["error"].(string), "givenName") {
		t.Fatalf("%s %v", dt, d)
	}
}

// TestPasswordForNonSSOUsersIsNeverExposed: a user who is not SSO-only gets
// a random password with requirePasswordChange; it appears in no log, event
// or state item.
func TestPasswordForNonSSOUsersIsNeverExposed(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			p := joiner("E710", "pwuser")
			p["ssoOnly"] = false
			e.mustSend(e.prov, hrisEvent("hire", "E710", t0, p).body())
			u := e.user("pwuser")
			if u.Password == "" || !u.RequirePasswordChange || u.SSOOnly {
				t.Fatalf("non-SSO user: password set %v, requirePasswordChange %v, ssoOnly %v", u.Password != "", u.RequirePasswordChange, u.SSOOnly)
			}
			// Becoming SSO-only later, then not again, sets a new password.
			e.mustSend(e.prov, hrisEvent("update", "E710", t0.Add(time.Hour), map[string]any{"ssoOnly": true}).body())
			if u := e.user("pwuser"); !u.SSOOnly {
				t.Fatal("ssoOnly not applied")
			}
			e.mustSend(e.prov, hrisEvent("update", "E710", t0.Add(2*time.Hour), map[string]any{"ssoOnly": false}).body())
			u2 := e.user("pwuser")
			if u2.SSOOnly || u2.Password == "" || u2.Password == u.Password {
				t.Fatalf("leaving SSO must set a fresh password (ssoOnly %v)", u2.SSOOnly)
			}
			for _, pw := range []string{u.Password, u2.Password} {
				if strings.Contains(e.logs.String(), pw) {
					t.Fatal("password logged")
				}
				for _, ev := range e.eb.Events() {
					if strings.Contains(string(ev.Detail), pw) {
						t.Fatal("password published")
					}
				}
				writes, _ := e.store.WritesSince(t.Context(), "pwuser", time.Time{})
				for _, w := range writes {
					for k, v := range w.Fields {
						if v == pw || strings.Contains(strings.ToLower(k), "password") {
							t.Fatal("password in the write log")
						}
					}
				}
			}
		})
	}
}
