package provisioning

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// rules resolves the built-in mapping against a fixed instance directory:
// the plan is pure, so its tests need names, not a server.
func rules(t *testing.T, groups bool) *mapping.Resolved {
	t.Helper()
	ids := map[string]string{"Loan Officer": "10", "Loan Processor": "11", "Administration": "0", "Processing": "2", "Retail Loan Officers": "g2", "Processors": "g3"}
	fixed := func(_ context.Context, names []string) (map[string]string, error) {
		out := map[string]string{}
		for _, n := range names {
			out[n] = ids[n]
		}
		return out, nil
	}
	res := mapping.Resolvers{Personas: fixed, Organizations: fixed}
	if groups {
		res.Groups = fixed
	}
	r, err := mapping.Resolve(context.Background(), mapping.Default(), res)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decode(t *testing.T, body string) *hris.Event {
	t.Helper()
	ev, err := hris.Decode([]byte(body), hris.QueueProvision, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestPlanUpdate(t *testing.T) {
	t.Parallel()
	r := rules(t, true)
	cur := &account.Account{ID: "jdoe", LoginID: "jdoe", Enabled: true, GroupsKnown: true, Groups: []string{"g2", "other"}, Fields: map[string]string{
		account.FieldFirstName: "Jane", account.FieldLastName: "Doe", account.FieldEmail: "jdoe@x.example", account.FieldOrganizationID: "0", account.FieldPersonas: "10",
		account.FieldSSOOnly: "true", account.FieldWorkingFolder: "My Pipeline", account.FieldEmployeeID: "E1", account.FieldMiddleName: "Q",
	}}
	cur.SetGroups(r.ManagedGroups())
	const head = `{"schemaVersion":"1","eventId":"e","type":"%s","occurredAt":"2026-11-20T00:00:00Z","employee":{"employeeId":"E1"%s}}`
	cases := []struct {
		name, typ, emp string
		want           []string // "field:from>to"
		enable, pass   bool
	}{
		{"nothing", "update", `,"givenName":"Jane"`, nil, false, false},
		{"clear middle name", "update", `,"middleName":null`, []string{"middleName:Q>"}, false, false},
		{"no access keys keeps access", "update", `,"familyName":"Roe"`, []string{"lastName:Doe>Roe"}, false, false},
		{"move to processing", "update", `,"department":"Processing"`, []string{"organizationId:0>2", "personas:10>11", "userGroups:Retail Loan Officers>Processors"}, false, false},
		{"loan officer keeps group", "update", `,"jobCode":"LO7"`, nil, false, false},
		{"leave sso", "update", `,"ssoOnly":false`, []string{"ssoOnly:true>false"}, false, true},
		{"long employee id is not written", "update", `,"givenName":"Jane"`, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := decode(t, strings.Replace(strings.Replace(head, "%s", tc.typ, 1), "%s", tc.emp, 1))
			p := PlanUpdate(cur, Target(ev, r, false), tc.typ == "rehire", r.ManagedGroups())
			var got []string
			for _, c := range p.Changes {
				got = append(got, c.Field+":"+c.From+">"+c.To)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || p.SetPassword != tc.pass {
				t.Fatalf("changes %v password %v; want %v %v", got, p.SetPassword, tc.want, tc.pass)
			}
			for _, g := range p.GroupsRemove {
				if g.ID == "other" {
					t.Fatal("a group the mapping never names was touched")
				}
			}
			if (len(p.Changes) == 0) != (p.Action == account.ActionNone) {
				t.Errorf("action %s with %d changes", p.Action, len(p.Changes))
			}
		})
	}
}

func TestPlanCreateAndDisable(t *testing.T) {
	t.Parallel()
	r := rules(t, false)
	ev := decode(t, `{"schemaVersion":"1","eventId":"e","type":"hire","occurredAt":"2026-11-20T00:00:00Z","employee":{"employeeId":"E-TOO-LONG-123",
		"givenName":"A","familyName":"B","email":"a.b@x.example","ssoOnly":false,"jobCode":"LO1"}}`)
	want := Target(ev, r, true)
	p := PlanCreate(want)
	if p.Action != account.ActionCreate || !p.SetPassword {
		t.Fatalf("plan %+v", p)
	}
	for _, c := range p.Changes {
		if c.Field == account.FieldEmployeeID || c.Field == account.FieldUserGroups || strings.Contains(strings.ToLower(c.Field), "password") {
			t.Errorf("unexpected change %+v", c)
		}
	}
	if to, _ := p.Changed(account.FieldLoginID); to != "a.b" {
		t.Errorf("login id %q", to)
	}
	if PlanDisable(&account.Account{Enabled: false}).Action != account.ActionNone {
		t.Error("disabling a disabled account must write nothing")
	}
	if d := PlanDisable(&account.Account{Enabled: true}); !d.Disable || len(d.Changes) != 1 {
		t.Errorf("disable plan %+v", d)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	if c := failure.Classify(&rejection{Reason: ReasonUserNameConflict}); c.Retry() || c.Reason != ReasonUserNameConflict {
		t.Error("rejection must be permanent")
	}
	if c := failure.Classify(context.DeadlineExceeded); !c.Retry() {
		t.Error("deadline must be retryable")
	}
	if c := failure.Classify(directory.ErrStillEnabled); !c.Retry() {
		t.Error("still enabled must be retryable")
	}
}

func TestPlanLicenses(t *testing.T) {
	t.Parallel()
	r := rules(t, false)
	held := []hris.StateLicense{{State: "CA", LicenseNumber: "CA-1", Status: "Approved"}, {State: "NY", LicenseNumber: "NY-1", Status: "Approved"}}
	known := &account.Account{ID: "lo", Enabled: true, Fields: map[string]string{account.FieldEmployeeID: "E1"}}
	known.Licenses, known.LicensesKnown = held, true
	known.Fields[account.FieldStateLicenses] = account.LicensesValue(held)
	const body = `{"schemaVersion":"1","eventId":"e","type":"update","occurredAt":"2026-11-20T00:00:00Z","employee":{"employeeId":"E1","stateLicenses":%s}}`
	ev := func(licenses string) *hris.Event { return decode(t, strings.Replace(body, "%s", licenses, 1)) }

	p := PlanUpdate(known, Target(ev(`[{"state":"TX","licenseNumber":"TX-9","status":"pending review"},{"state":"CA","licenseNumber":"CA-1","status":"Approved"}]`), r, false), false, nil)
	to, ok := p.Changed(account.FieldStateLicenses)
	if !ok || to != "CA CA-1 Approved; TX TX-9 PendingReview" || len(p.Licenses) != 2 || strings.Join(p.LicensesDropped, ",") != "NY" {
		t.Fatalf("plan: to %q licenses %v dropped %v", to, p.Licenses, p.LicensesDropped)
	}
	if p := PlanUpdate(known, Target(ev(`[{"state":"ny","licenseNumber":"NY-1","status":"APPROVED"},{"state":"CA","licenseNumber":"CA-1","status":"Approved"}]`), r, false), false, nil); p.Action != account.ActionNone {
		t.Fatalf("the same licenses in another order and spelling: %+v", p.Changes)
	}
	if p := PlanUpdate(known, Target(ev(`null`), r, false), false, nil); len(p.Licenses) != 0 || strings.Join(p.LicensesDropped, ",") != "CA,NY" {
		t.Fatalf("null: licenses %v dropped %v", p.Licenses, p.LicensesDropped)
	}
	// Licenses read through v3 are unknown: never compared, never written.
	unknown := &account.Account{ID: "lo", Enabled: true, Fields: map[string]string{account.FieldEmployeeID: "E1"}}
	if p := PlanUpdate(unknown, Target(ev(`[{"state":"CA"}]`), r, false), false, nil); p.Action != account.ActionNone {
		t.Fatalf("licenses planned for an account read through v3: %+v", p.Changes)
	}
}

// TestCanCreate: an account is created only from a userName, givenName,
// familyName and email that are all set (a null one is not).
func TestCanCreate(t *testing.T) {
	t.Parallel()
	full := hris.Employee{UserName: "jdoe", GivenName: hris.Set("Jane"), FamilyName: hris.Set("Doe"), Email: hris.Set("jane.doe@lender.example")}
	if !CanCreate(full) {
		t.Fatal("a full profile cannot create")
	}
	for name, drop := range map[string]func(*hris.Employee){
		"no userName":        func(e *hris.Employee) { e.UserName = "" },
		"no givenName":       func(e *hris.Employee) { e.GivenName = hris.Field[string]{} },
		"familyName cleared": func(e *hris.Employee) { e.FamilyName = hris.Field[string]{Present: true, Null: true} },
		"no email":           func(e *hris.Employee) { e.Email = hris.Field[string]{} },
	} {
		e := full
		drop(&e)
		if CanCreate(e) {
			t.Errorf("%s: can create", name)
		}
	}
}
