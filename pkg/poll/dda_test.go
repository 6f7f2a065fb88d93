package poll

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// withDDAProfiles makes the poller list DDA profiles.
func (e *env) withDDAProfiles(c *Config) { c.DDA = e.client.SCIM }

func (e *env) giveDDA(id, role string, enabled bool) {
	e.t.Helper()
	if err := e.sim.ModifyAIQ(id, func(p *encompasstest.AIQProfile) {
		p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = id, role, enabled, true, id+"@idp"
		p.FirstName, p.LastName, p.Email = "F", "L", id+"@example.com"
	}); err != nil {
		e.t.Fatal(err)
	}
}

// TestPollSeesDDAProfiles: the DDA profile is part of the user: a role
// changed or a profile disabled in DDA is a User Changed naming both
// products, its origin from the write log; listing the profiles costs one
// SCIM page (of 100) beside the v3 listing's ceil(users/200).
func TestPollSeesDDAProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(250))
	e.giveDDA("mjohnson", "Underwriter", true)
	e.giveDDA("asmith", "Closer", true)
	e.sim.ResetRequests()
	e.listCalls.Store(0)
	sum := e.run(e.withDDAProfiles)
	if sum.Outcome != OutcomeBaseline {
		t.Fatalf("first poll: %+v", sum)
	}
	e.take()
	if n, want := e.listCalls.Load(), int64(ceilDiv(e.sim.UserCount(), 200)); n != want {
		t.Fatalf("%d v3 list calls, want %d: DDA must not change the listing", n, want)
	}
	if n := e.sim.Count("GET /scim2/v1/users"); n != 1 {
		t.Fatalf("%d SCIM list calls for 2 DDA profiles, want 1", n)
	}
	if enc := storedEnc(t, e, "mjohnson"); !strings.HasSuffix(enc, sep+"Underwriter"+sep+"true") {
		t.Fatalf("stored form without the DDA profile: %q", enc)
	}
	if enc := storedEnc(t, e, "simuser000001"); strings.Count(enc, sep) != legacyFields-1 {
		t.Fatalf("a user without DDA stored with DDA fields: %q", enc)
	}

	// An administrator changes a role in DDA; this system disables the
	// other profile, having recorded its write.
	e.giveDDA("mjohnson", "Senior Underwriter", true)
	if err := e.store.RecordWrite(context.Background(), state.Write{LoginID: "asmith", EventID: "hris-9", At: time.Now(),
		Fields: map[string]string{"dda.enabled": "false"}}); err != nil {
		t.Fatal(err)
	}
	e.giveDDA("asmith", "Closer", false)
	e.run(e.withDDAProfiles)
	evs := e.take()
	if k := kinds(evs); !slices.Equal(k, []string{"User Changed asmith", "User Changed mjohnson"}) {
		t.Fatalf("events %q", k)
	}
	for _, ev := range evs {
		d := ev.Detail
		if !slices.Equal(d.Products, []string{"encompass", "dda"}) {
			t.Errorf("%s: products %v", d.UserID, d.Products)
		}
		switch d.UserID {
		case "mjohnson":
			if d.Origin != OriginExternal || !slices.Equal(d.Changes, []Change{{"dda.roleName", "Underwriter", "Senior Underwriter"}}) {
				t.Errorf("mjohnson: %+v", d)
			}
		case "asmith":
			if d.Origin != OriginProvisioning || !slices.Equal(d.Changes, []Change{{"dda.enabled", "true", "false"}}) {
				t.Errorf("asmith: %+v", d)
			}
		}
	}
}

// TestPollDDAListingFails: when the DDA profiles cannot be listed, every
// user keeps the DDA values of the last poll: nothing is reported as
// changed, and the log says why.
func TestPollDDAListingFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.giveDDA("mjohnson", "Underwriter", true)
	e.run(e.withDDAProfiles)
	e.take()
	e.sim.FailNext(5, 403, "GET /scim2/v1/users?schema="+encompasstest.SchemaAIQUser)
	e.modify("asmith", func(u *encompasstest.SimUser) { u.Title = "Lead Processor" })
	e.run(e.withDDAProfiles)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed asmith"}) {
		t.Fatalf("events %q, want only the title change", k)
	}
	if enc := storedEnc(t, e, "mjohnson"); !strings.HasSuffix(enc, sep+"Underwriter"+sep+"true") {
		t.Fatalf("the DDA values were not carried over: %q", enc)
	}
	if !strings.Contains(e.logs.String(), "DDA profiles could not be listed") {
		t.Fatal("the log does not say the DDA listing failed")
	}
}

// TestPollDDAUpgradeWritesNothing: a snapshot recorded without DDA
// profiles is read by a poll that lists them: users without a profile keep
// their stored form (nothing is rewritten), a user with one is reported
// once.
func TestPollDDAUpgradeWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(50))
	e.baseline()
	sum := e.run(e.withDDAProfiles)
	if sum.Outcome != OutcomeUnchanged || sum.Writes != 0 {
		t.Fatalf("the first poll listing DDA profiles (none exist): %+v", sum)
	}
	e.giveDDA("mjohnson", "Underwriter", true)
	e.run(e.withDDAProfiles)
	evs := e.take()
	if len(evs) != 1 || !slices.Equal(evs[0].Detail.Changes, []Change{{"dda.roleName", "", "Underwriter"}, {"dda.enabled", "", "true"}}) {
		t.Fatalf("a new DDA profile: %+v", evs)
	}
}

// TestPollDDADrift: a leaver's DDA profile enabled again is drift, like
// the account.
func TestPollDDADrift(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.giveDDA("mjohnson", "Underwriter", false)
	e.modify("mjohnson", func(u *encompasstest.SimUser) { u.Enabled = false })
	if err := e.store.MarkTerminated(context.Background(), "E10001", "mjohnson", "mjohnson"); err != nil {
		t.Fatal(err)
	}
	e.run(e.withDDAProfiles)
	e.take()
	e.giveDDA("mjohnson", "Underwriter", true)
	e.run(e.withDDAProfiles)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed mjohnson", "User Drift Detected mjohnson"}) {
		t.Fatalf("events %q", k)
	}
}
