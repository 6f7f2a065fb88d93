package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// ddaRules give loan officers no DDA profile and underwriters an SSO-only
// one with the Underwriter role.
const ddaRules = `
defaults:
  organization: "Administration"
  personas: ["Loan Officer"]
  userGroups: []
  workingFolder: "My Pipeline"
  ssoOnly: true
rules:
  - when: {jobCode: "LO*"}
    personas: ["Loan Officer"]
    userGroups: ["Retail Loan Officers"]
  - when: {jobCode: "UW*"}
    personas: ["Underwriter"]
    dda: {roleName: "Underwriter", ssoOnly: true}
`

// ddaStaff are linked employees whose Encompass accounts match the roster,
// each with the DDA profile (role, enabled) it has; "" has none. U4's
// profile is one this system gave (its link records it) under rules that
// gave loan officers DDA, since changed.
var ddaStaff = []struct {
	id, login, jobCode, role string
	enabled                  bool
	want                     []diffRow
}{
	{"U1", "uw.none", "UW1", "", false, []diffRow{{"dda.enabled", "", "true"}, {"dda.roleName", "", "Underwriter"}}},
	{"U2", "uw.other", "UW1", "Closer", true, []diffRow{{"dda.roleName", "Closer", "Underwriter"}}},
	{"U3", "uw.off", "UW1", "Underwriter", false, []diffRow{{"dda.enabled", "false", "true"}}},
	{"U4", "lo.dda", "LO1", "Underwriter", true, []diffRow{{"dda.enabled", "true", "false"}}},
	{"U5", "uw.ok", "UW1", "Underwriter", true, nil},
}

const ddaHeader = "employeeId,givenName,familyName,email,jobCode,ddaAuthId,status"

func ddaEnv(t *testing.T) (*env, string) {
	rules, err := mapping.Parse([]byte(ddaRules))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWithRules(t, nil, rules, withConfig(func(c *reconcile.Config) {
		c.IsAPIUser, c.Group, c.ManagedGroups, c.SnapshotDDA = nil, nil, nil, true
	}))
	var rows []string
	for _, s := range ddaStaff {
		as := e.rules.Assign(mapping.Attributes{JobCode: s.jobCode}, nil)
		if err := e.sim.UpsertUser(encompasstest.SimUser{
			LoginID: s.login, GlobalUserID: "guid-" + s.login, FirstName: "Staff", LastName: s.id, Email: s.login + "@lender.example",
			EmployeeID: s.id, OrganizationID: as.Organization.ID, Personas: as.PersonaIDs(), Enabled: true,
		}); err != nil {
			t.Fatal(err)
		}
		if s.role != "" {
			if err := e.sim.ModifyAIQ(s.login, func(p *encompasstest.AIQProfile) {
				p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = s.login, s.role, s.enabled, true, s.login+"@idp"
				p.FirstName, p.LastName, p.Email = "Staff", s.id, s.login+"@lender.example"
			}); err != nil {
				t.Fatal(err)
			}
		}
		link := state.Employee{EmployeeID: s.id, UserID: s.login, GlobalUserID: "guid-" + s.login, UserName: s.login, Status: state.StatusActive,
			LastOccurredAt: e.now.Add(-48 * time.Hour), LastEventID: "hris-" + s.id}
		if s.role != "" && s.jobCode == "LO1" {
			link.DDA = account.DDAEnabled
		}
		if err := e.store.PutEmployee(context.Background(), link, 0); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%s,Staff,%s,%s@lender.example,%s,%s@idp,active", s.id, s.id, s.login, s.jobCode, s.login))
	}
	return e, csvRoster(ddaHeader, rows...)
}

// pollDDA records the poller's snapshot, listing the DDA profiles as the
// poller does in scim mode (dda: false, as in v3 mode).
func (e *env) pollDDA(t *testing.T, dda bool) {
	t.Helper()
	cfg := poll.Config{Users: e.client.Users, State: e.store, Snapshot: e.snapshot, Publisher: publishNothing{}, Now: func() time.Time { return e.now }}
	if dda {
		cfg.DDA = e.client.SCIM
	}
	p, err := poll.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The DDA profile is part of drift (CONTRACTS section 7) when the users
// come from a snapshot that lists DDA profiles: a profile the mapping
// grants and the user lacks, has with another role or disabled, and one it
// does not grant that is enabled. Users whose DDA profile is not known (the
// v3 listing, a snapshot without DDA profiles) show no DDA drift. Applied,
// the drift goes through provisioning like any other.
func TestDDADrift(t *testing.T) {
	t.Parallel()
	e, roster := ddaEnv(t)
	e.pollDDA(t, true)
	e.now = e.now.Add(time.Minute)
	res := e.run("rosters/dry-run/dda.csv", roster)
	if res.UsersFrom != reconcile.UsersFromSnapshot {
		t.Fatalf("users from %s", res.UsersFrom)
	}
	r := e.report(res)
	for _, s := range ddaStaff {
		f := r.byEmployee(t, s.id)
		class := reconcile.ClassDrift
		if s.want == nil {
			class = reconcile.ClassInSync
		}
		if f.Class != class || !slices.Equal(f.Differences, s.want) {
			t.Errorf("%s: %s %q %+v, want %s %+v", s.id, f.Class, f.Reason, f.Differences, class, s.want)
		}
	}

	// The same snapshot, read as one without DDA profiles (the poller in v3
	// mode), and the listing: the DDA profile is not known, so not drift.
	cfg := e.cfg
	cfg.SnapshotDDA = false
	unknown, err := reconcile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.pollDDA(t, false)
	resp, err := unknown.HandleS3(context.Background(), e.put("rosters/dry-run/dda-unknown.csv", roster))
	if err != nil || resp.Results[0].UsersFrom != reconcile.UsersFromSnapshot || resp.Results[0].Counts[reconcile.ClassInSync] != len(ddaStaff) {
		t.Fatalf("a snapshot without DDA profiles: %+v %v\n%s", resp, err, fmtFindings(e.report(resp.Results[0]).Findings))
	}
	e.now = e.now.Add(2 * time.Hour)
	if res := e.run("rosters/dry-run/dda-listing.csv", roster); res.UsersFrom != reconcile.UsersFromListing || res.Counts[reconcile.ClassInSync] != len(ddaStaff) {
		t.Fatalf("the listing: %+v\n%s", res, fmtFindings(e.report(res).Findings))
	}

	// Applied: an update each, which provisioning carries out.
	e.pollDDA(t, true)
	res = e.run("rosters/apply/dda.csv", roster)
	if res.Sent != len(ddaStaff)-1 {
		t.Fatalf("sent %d, want an update per drift\n%s", res.Sent, fmtFindings(e.report(res).Findings))
	}
	e.deliver(0)
	for _, s := range ddaStaff {
		p, ok := e.sim.AIQ(s.login)
		if wantOn := s.jobCode == "UW1"; !ok || p.Enabled != wantOn || wantOn && p.RoleName != "Underwriter" {
			t.Errorf("%s after apply: DDA profile %+v (%v)", s.login, p, ok)
		}
	}
	e.pollDDA(t, true)
	if res := e.run("rosters/dry-run/dda-after.csv", roster); res.Counts[reconcile.ClassInSync] != len(ddaStaff) {
		t.Fatalf("after apply: %+v\n%s", res.Counts, fmtFindings(e.report(res).Findings))
	}
}
