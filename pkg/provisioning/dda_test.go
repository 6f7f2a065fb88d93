package provisioning_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// ddaRules are the built-in rules plus underwriters with an SSO-only DDA
// profile, senior underwriters with another DDA role, and closers with a
// DDA profile that signs in with a password.
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
  - when: {jobCode: "SUW*"}
    personas: ["Underwriter"]
    dda: {roleName: "Senior Underwriter", ssoOnly: true}
  - when: {jobCode: "UW*"}
    personas: ["Underwriter"]
    dda: {roleName: "Underwriter", ssoOnly: true}
  - when: {jobCode: "CL*"}
    personas: ["Underwriter"]
    ssoOnly: false
    dda: {roleName: "Closer", ssoOnly: false}
`

func withMapping(t testing.TB, yaml string) envOption {
	r, err := mapping.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return func(o *envOptions) { o.mapping = r }
}

func newDDAEnv(t *testing.T, opts ...envOption) *env {
	return newEnv(t, config.UserAPISCIM, append([]envOption{withMapping(t, ddaRules)}, opts...)...)
}

// underwriter is a hire's employee with an SSO-only DDA profile.
func underwriter(userName string) map[string]any {
	return map[string]any{
		"userName": userName, "givenName": "Uma", "familyName": "Reyes",
		"email": userName + "@lender.example", "workPhone": "555-555-0142",
		"jobTitle": "Underwriter", "jobCode": "UW1", "department": "Credit",
		"ddaAuthId": userName + "@idp.lender.example",
	}
}

// calls returns the Encompass requests since the last ResetRequests, as
// "METHOD /path?schema" (the product a SCIM call addresses), without the
// token requests.
func (e *env) callList() []string {
	var out []string
	for _, r := range e.sim.Requests() {
		if strings.HasPrefix(r.Endpoint, "POST /oauth2") {
			continue
		}
		c := r.Endpoint
		if strings.Contains(r.Query, "AIQUser") {
			c += " [dda]"
		}
		out = append(out, c)
	}
	return out
}

func products(detail map[string]any) string {
	list, _ := detail["products"].([]any)
	var out []string
	for _, p := range list {
		out = append(out, p.(string))
	}
	return strings.Join(out, ",")
}

// TestDDAHire: a hire the mapping gives DDA gets the AIQ profile on the
// global user id of its new Encompass account, for one call more than a
// hire without DDA (measured: 1 call, the PATCH add).
func TestDDAHire(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	// Without DDA (the defaults' rule, no groups): the calls of a hire.
	plain := joiner("E1400", "plainhire")
	plain["jobCode"] = "AE1"
	e.sim.ResetRequests()
	e.mustSend(e.prov, hrisEvent("hire", "E1400", t0, plain).body())
	without := e.callList()
	e.sim.ResetRequests()
	e.mustSend(e.prov, hrisEvent("hire", "E1401", t0, underwriter("uwhire")).body())
	with := e.callList()
	t.Logf("calls per hire: %d without DDA %v, %d with DDA %v", len(without), without, len(with), with)
	if len(with) != len(without)+1 || !slices.Contains(with, "PATCH /scim2/v1/users/{id} [dda]") {
		t.Fatalf("calls per hire: %v without DDA, %v with DDA; want exactly one more, the DDA add", without, with)
	}
	u := e.user("uwhire")
	p, ok := e.sim.AIQ("uwhire")
	if !ok || u.GlobalUserID == "" {
		t.Fatalf("no DDA profile on the new global user id: %+v", u)
	}
	if !p.Enabled || p.UserName != "uwhire" || p.RoleName != "Underwriter" || !p.SSOOnly || p.AuthID != "uwhire@idp.lender.example" ||
		p.FirstName != "Uma" || p.LastName != "Reyes" || p.Email != "uwhire@lender.example" || p.Phone != "555-555-0142" || p.Password != "" {
		t.Fatalf("DDA profile %+v", p)
	}
	got := e.published(catalog.UserProvisioned)
	if len(got) != 2 || products(got[0]) != "encompass" || products(got[1]) != "encompass,dda" {
		t.Fatalf("published %v", got)
	}
	c := changed(got[1])
	if c["dda.roleName"][1] != "Underwriter" || c["dda.enabled"][1] != "true" || c["dda.userName"][1] != "uwhire" || got[1]["globalUserId"] != u.GlobalUserID {
		t.Fatalf("changes %v", c)
	}
	if l := e.link("E1401"); l.DDA != "enabled" || l.GlobalUserID != u.GlobalUserID {
		t.Fatalf("link %+v", l)
	}
	// The write log names the DDA fields, for the poller and a resumed
	// attempt.
	ws, err := e.store.WritesSince(context.Background(), "uwhire", time.Time{})
	if err != nil || len(ws) != 1 || ws[0].Fields["dda.roleName"] != "Underwriter" || ws[0].Fields["dda.enabled"] != "true" {
		t.Fatalf("write log %+v %v", ws, err)
	}
}

// TestDDASSOWithoutAuthID: an SSO-only DDA rule with no ddaAuthId is
// invalid_field, refused before anything is written.
func TestDDASSOWithoutAuthID(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	p := underwriter("noauth")
	delete(p, "ddaAuthId")
	ev := hrisEvent("hire", "E1402", t0, p)
	e.mustSend(e.prov, ev.body())
	dt, d := e.eventFor(ev.id())
	if dt != catalog.HRISEventRejected || d["reason"] != "invalid_field" || d["field"] != "employee.ddaAuthId" || !strings.Contains(d["error"].(string), "Underwriter") {
		t.Fatalf("%s %v", dt, d)
	}
	if e.usersNamed("noauth") != 0 || e.writes() != 0 {
		t.Fatal("an event refused for its DDA profile wrote to Encompass")
	}
	// Null is the same as absent for an SSO subject.
	p["ddaAuthId"] = nil
	ev = hrisEvent("hire", "E1402", t0.Add(time.Minute), p)
	e.mustSend(e.prov, ev.body())
	if dt, d := e.eventFor(ev.id()); dt != catalog.HRISEventRejected || d["field"] != "employee.ddaAuthId" {
		t.Fatalf("null ddaAuthId: %s %v", dt, d)
	}
}

// TestDDAPasswordProfile: a DDA rule that is not SSO-only gets a generated
// password meeting the policy, which appears in no log or event.
func TestDDAPasswordProfile(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	p := underwriter("closer")
	p["jobCode"] = "CL1"
	delete(p, "ddaAuthId")
	e.mustSend(e.prov, hrisEvent("hire", "E1403", t0, p).body())
	prof, ok := e.sim.AIQ("closer")
	if !ok || prof.SSOOnly || len(prof.Password) < 12 || prof.RoleName != "Closer" || prof.AuthID != "" {
		t.Fatalf("profile %+v", prof)
	}
	if u := e.user("closer"); u.Password == prof.Password {
		t.Fatal("the DDA profile got the Encompass password")
	}
	for _, ev := range e.eb.Events() {
		if strings.Contains(string(ev.Detail), prof.Password) {
			t.Fatal("the DDA password was published")
		}
	}
	// (newEnv's cleanup checks the logs with LeakedSecrets, which knows
	// every DDA password the simulator stored.)
}

// TestDDAMover: a changed role is replaced; a move out of DDA disables the
// profile and reads it back; a move into DDA adds a profile (or enables the
// one withdrawn before).
func TestDDAMover(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	e.mustSend(e.prov, hrisEvent("hire", "E1404", t0, underwriter("mover")).body())

	e.sim.ResetRequests()
	promote := hrisEvent("update", "E1404", t0.Add(time.Hour), map[string]any{"jobCode": "SUW2", "jobTitle": "Senior Underwriter"})
	e.mustSend(e.prov, promote.body())
	if p, _ := e.sim.AIQ("mover"); p.RoleName != "Senior Underwriter" || !p.Enabled {
		t.Fatalf("after the promotion: %+v", p)
	}
	_, d := e.eventFor(promote.id())
	if c := changed(d); c["dda.roleName"] != [2]string{"Underwriter", "Senior Underwriter"} || products(d) != "encompass,dda" {
		t.Fatalf("promotion published %v", d)
	}
	if n := e.sim.Count("GET /scim2/v1/users/{id}"); n != 2 {
		t.Fatalf("%d reads for a mover with DDA, want 2 (the account and its DDA profile)", n)
	}

	e.sim.ResetRequests()
	out := hrisEvent("update", "E1404", t0.Add(2*time.Hour), map[string]any{"jobCode": "LO1", "jobTitle": "Loan Officer"})
	e.mustSend(e.prov, out.body())
	calls := e.callList()
	i := slices.Index(calls, "DELETE /scim2/v1/users/{id} [dda]")
	if i < 0 || i+1 >= len(calls) || calls[i+1] != "GET /scim2/v1/users/{id} [dda]" {
		t.Fatalf("DDA withdrawn: calls %v, want the DDA disable followed by its read-back", calls)
	}
	if p, _ := e.sim.AIQ("mover"); p.Enabled {
		t.Fatal("the withdrawn DDA profile is still enabled")
	}
	if u := e.user("mover"); !u.Enabled {
		t.Fatal("the Encompass account was disabled with the DDA profile")
	}
	_, d = e.eventFor(out.id())
	if c := changed(d); c["dda.enabled"] != [2]string{"true", "false"} || products(d) != "encompass,dda" {
		t.Fatalf("move out of DDA published %v", d)
	}
	if l := e.link("E1404"); l.DDA != "disabled" {
		t.Fatalf("link %+v", l)
	}

	// Granted again: the profile withdrawn before is enabled again.
	back := hrisEvent("update", "E1404", t0.Add(3*time.Hour), map[string]any{"jobCode": "UW3", "jobTitle": "Underwriter"})
	e.mustSend(e.prov, back.body())
	if p, _ := e.sim.AIQ("mover"); !p.Enabled || p.RoleName != "Underwriter" {
		t.Fatalf("granted again: %+v", p)
	}

	// A loan officer granted DDA for the first time gets a profile added.
	e.mustSend(e.prov, hrisEvent("hire", "E1405", t0, joiner("E1405", "lotouw")).body())
	if _, ok := e.sim.AIQ("lotouw"); ok {
		t.Fatal("a loan officer got a DDA profile")
	}
	in := hrisEvent("update", "E1405", t0.Add(time.Hour), map[string]any{"jobCode": "UW1", "ddaAuthId": "lotouw@idp.lender.example"})
	e.mustSend(e.prov, in.body())
	if p, ok := e.sim.AIQ("lotouw"); !ok || !p.Enabled || p.FirstName != "Jane" || p.Email != "lotouw@lender.example" {
		t.Fatalf("DDA granted: %+v", p)
	}
	// A name change reaches the DDA profile too; an event that changes
	// nothing writes nothing.
	rename := hrisEvent("update", "E1405", t0.Add(2*time.Hour), map[string]any{"familyName": "Okoro"})
	e.mustSend(e.prov, rename.body())
	if p, _ := e.sim.AIQ("lotouw"); p.LastName != "Okoro" {
		t.Fatalf("renamed: %+v", p)
	}
	before := e.writes()
	e.mustSend(e.prov, hrisEvent("update", "E1405", t0.Add(3*time.Hour), map[string]any{"familyName": "Okoro"}).body())
	if e.writes() != before {
		t.Fatal("an update that changes nothing wrote")
	}
}

// TestDDALeaver: every profile is disabled and read back before User
// Deprovisioned: two disables and two read-backs, nothing else.
func TestDDALeaver(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	e.mustSend(e.prov, hrisEvent("hire", "E1406", t0, underwriter("leaver")).body())
	e.sim.ResetRequests()
	e.mustSend(e.deprov, hrisEvent("terminate", "E1406", t0.Add(time.Hour), nil).body())
	want := []string{"DELETE /scim2/v1/users/{id}", "GET /scim2/v1/users/{id}", "DELETE /scim2/v1/users/{id} [dda]", "GET /scim2/v1/users/{id} [dda]"}
	if got := e.callList(); !slices.Equal(got, want) {
		t.Fatalf("leaver calls %v, want %v", got, want)
	}
	if u := e.user("leaver"); u.Enabled {
		t.Fatal("Encompass account still enabled")
	}
	if p, _ := e.sim.AIQ("leaver"); p.Enabled {
		t.Fatal("DDA profile still enabled")
	}
	d := e.published(catalog.UserDeprovisioned)
	if len(d) != 1 || products(d[0]) != "encompass,dda" {
		t.Fatalf("published %v", d)
	}
	if c := changed(d[0]); c["enabled"] != [2]string{"true", "false"} || c["dda.enabled"] != [2]string{"true", "false"} {
		t.Fatalf("changes %v", c)
	}
	if l := e.link("E1406"); l.DDA != "disabled" || l.Status != state.StatusTerminated {
		t.Fatalf("link %+v", l)
	}

	// A rehire re-enables what the current rule grants: both profiles.
	e.mustSend(e.prov, hrisEvent("rehire", "E1406", t0.Add(2*time.Hour), underwriter("leaver")).body())
	if p, _ := e.sim.AIQ("leaver"); !p.Enabled || !e.user("leaver").Enabled {
		t.Fatal("the rehire did not re-enable both profiles")
	}
	r := e.published(catalog.UserReactivated)
	if len(r) != 1 || changed(r[0])["dda.enabled"] != [2]string{"false", "true"} || products(r[0]) != "encompass,dda" {
		t.Fatalf("reactivated %v", r)
	}

	// A rehire into a role without DDA leaves the DDA profile disabled.
	e.mustSend(e.deprov, hrisEvent("terminate", "E1406", t0.Add(3*time.Hour), nil).body())
	lo := underwriter("leaver")
	lo["jobCode"] = "LO1"
	e.mustSend(e.prov, hrisEvent("rehire", "E1406", t0.Add(4*time.Hour), lo).body())
	if p, _ := e.sim.AIQ("leaver"); p.Enabled || !e.user("leaver").Enabled {
		t.Fatalf("rehired as a loan officer: DDA %+v", p)
	}
}

// TestDDALeaverHandAddedProfile (CONTRACTS sections 3 and 6: a leaver's
// every profile is disabled and read back): a linked employee whose link
// records no DDA profile, in a tenant whose mapping names DDA, may still
// have one, added by hand in DDA. The leaver looks for it beside the
// Encompass disable (one call, in parallel) and disables and reads back
// one that is enabled (two more). Measured: 3 calls without a profile, 5
// with one; 2 in a tenant whose mapping names no DDA
// (TestLinkedLeaverCostsTwoCalls).
func TestDDALeaverHandAddedProfile(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	lo := underwriter("handadded")
	lo["jobCode"] = "LO1" // a rule without DDA
	e.mustSend(e.prov, hrisEvent("hire", "E1411", t0, lo).body())
	e.mustSend(e.prov, hrisEvent("hire", "E1412", t0, joiner("E1412", "noprofile")).body())
	if l := e.link("E1411"); l.DDA != "" {
		t.Fatalf("seed: the link records a DDA profile: %+v", l)
	}
	if err := e.sim.ModifyAIQ("handadded", func(p *encompasstest.AIQProfile) {
		p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = "handadded", "Underwriter", true, true, "handadded@idp"
	}); err != nil {
		t.Fatal(err)
	}

	e.sim.ResetRequests()
	e.mustSend(e.deprov, hrisEvent("terminate", "E1411", t0.Add(time.Hour), nil).body())
	calls := e.callList()
	t.Logf("linked leaver with a DDA profile the link does not record: %d calls: %v", len(calls), calls)
	// The look-up runs beside the disable: their order varies.
	want := []string{"DELETE /scim2/v1/users/{id}", "GET /scim2/v1/users/{id}", "GET /scim2/v1/users/{id} [dda]"}
	if len(calls) != 5 || !sameCalls(calls[:3], want) || !slices.Equal(calls[3:], []string{"DELETE /scim2/v1/users/{id} [dda]", "GET /scim2/v1/users/{id} [dda]"}) {
		t.Fatalf("leaver calls %v, want %v in any order, then the DDA disable and its read-back", calls, want)
	}
	if p, _ := e.sim.AIQ("handadded"); p.Enabled || e.user("handadded").Enabled {
		t.Fatal("the leaver kept a profile")
	}
	d := e.published(catalog.UserDeprovisioned)
	if len(d) != 1 || products(d[0]) != "encompass,dda" {
		t.Fatalf("published %v", d)
	}
	if c := changed(d[0]); c["enabled"] != [2]string{"true", "false"} || c["dda.enabled"] != [2]string{"true", "false"} {
		t.Fatalf("changes %v", c)
	}
	if l := e.link("E1411"); l.DDA != "disabled" || l.Status != state.StatusTerminated {
		t.Fatalf("link %+v", l)
	}

	// A profile found disabled: the read is its proof, and the employee
	// has one.
	e.mustSend(e.prov, hrisEvent("hire", "E1414", t0, joiner("E1414", "handoff")).body())
	if err := e.sim.ModifyAIQ("handoff", func(p *encompasstest.AIQProfile) {
		p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = "handoff", "Underwriter", false, true, "handoff@idp"
	}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	e.eb.Reset()
	e.mustSend(e.deprov, hrisEvent("terminate", "E1414", t0.Add(time.Hour), nil).body())
	if calls := e.callList(); !sameCalls(calls, want) {
		t.Fatalf("leaver calls %v, want %v in any order", calls, want)
	}
	if d := e.published(catalog.UserDeprovisioned); len(d) != 1 || products(d[0]) != "encompass,dda" || len(changed(d[0])) != 1 {
		t.Fatalf("published %v", d)
	}
	if l := e.link("E1414"); l.DDA != "disabled" {
		t.Fatalf("link %+v", l)
	}

	// No profile: the look-up finds none, and that is all it costs.
	e.sim.ResetRequests()
	e.eb.Reset()
	e.mustSend(e.deprov, hrisEvent("terminate", "E1412", t0.Add(time.Hour), nil).body())
	calls = e.callList()
	t.Logf("linked leaver without a DDA profile, mapping names DDA: %d calls: %v", len(calls), calls)
	if !sameCalls(calls, want) {
		t.Fatalf("leaver calls %v, want %v in any order", calls, want)
	}
	if d := e.published(catalog.UserDeprovisioned); len(d) != 1 || products(d[0]) != "encompass" {
		t.Fatalf("published %v", d)
	}
}

// TestDDALeaverHandAddedProfileDisableFails: the DELETE of the DDA profile
// the link does not record answers 5xx after the Encompass disable. The
// message is retried and nothing is published; the redelivery reads both
// profiles (the mapping names DDA), disables only the DDA profile and
// publishes User Deprovisioned once, with both changes.
func TestDDALeaverHandAddedProfileDisableFails(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	e.mustSend(e.prov, hrisEvent("hire", "E1413", t0, joiner("E1413", "handfail")).body())
	if err := e.sim.ModifyAIQ("handfail", func(p *encompasstest.AIQProfile) {
		p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = "handfail", "Underwriter", true, true, "handfail@idp"
	}); err != nil {
		t.Fatal(err)
	}
	guid := e.user("handfail").GlobalUserID
	e.sim.FailNext(3, 502, "DELETE /scim2/v1/users/"+guid+"?schema="+encompasstest.SchemaAIQUser)
	r := record(hrisEvent("terminate", "E1413", t0.Add(time.Hour), nil).body(), 0)
	if failed := e.sendRecords(e.deprov, r); failed != 1 {
		t.Fatal("the leaver must be retried while its DDA profile is enabled")
	}
	if p, _ := e.sim.AIQ("handfail"); !p.Enabled || e.user("handfail").Enabled {
		t.Fatal("the failure was not the DDA disable's, after the Encompass disable")
	}
	if len(e.published(catalog.UserDeprovisioned)) != 0 {
		t.Fatal("User Deprovisioned published before every profile read back disabled")
	}
	e.sim.ResetRequests()
	if failed := e.sendRecords(e.deprov, r); failed != 0 {
		t.Fatalf("redelivery failed:\n%s", e.logs.Tail(10))
	}
	want := []string{"GET /scim2/v1/users/{id}", "GET /scim2/v1/users/{id} [dda]", "DELETE /scim2/v1/users/{id} [dda]", "GET /scim2/v1/users/{id} [dda]"}
	if got := e.callList(); !slices.Equal(got, want) {
		t.Fatalf("redelivery calls %v, want %v (the Encompass disable not repeated)", got, want)
	}
	d := e.published(catalog.UserDeprovisioned)
	if len(d) != 1 || products(d[0]) != "encompass,dda" {
		t.Fatalf("published %v", d)
	}
	if c := changed(d[0]); c["enabled"] != [2]string{"true", "false"} || c["dda.enabled"] != [2]string{"true", "false"} {
		t.Fatalf("changes %v", c)
	}
	if p, _ := e.sim.AIQ("handfail"); p.Enabled {
		t.Fatal("DDA profile still enabled")
	}
}

// sameCalls reports whether two call lists hold the same calls, in any
// order.
func sameCalls(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestDDADisableFailsAfterEncompassDisable: the DDA profile's DELETE
// answers 5xx after the Encompass disable succeeded. The message is
// retried and nothing is published; the redelivery reads first, disables
// only the DDA profile (the Encompass disable is not sent again), and
// publishes User Deprovisioned once, with both changes.
func TestDDADisableFailsAfterEncompassDisable(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	e.mustSend(e.prov, hrisEvent("hire", "E1407", t0, underwriter("halfleft")).body())
	guid := e.user("halfleft").GlobalUserID
	e.sim.FailNext(3, 502, "DELETE /scim2/v1/users/"+guid+"?schema="+encompasstest.SchemaAIQUser)
	leave := hrisEvent("terminate", "E1407", t0.Add(time.Hour), nil)
	r := record(leave.body(), 0)
	if failed := e.sendRecords(e.deprov, r); failed != 1 {
		t.Fatal("the leaver must be retried while its DDA profile is enabled")
	}
	if e.user("halfleft").Enabled {
		t.Fatal("the Encompass disable did not happen")
	}
	if p, _ := e.sim.AIQ("halfleft"); !p.Enabled {
		t.Fatal("the DDA disable was not the one to fail")
	}
	if len(e.published(catalog.UserDeprovisioned)) != 0 {
		t.Fatal("User Deprovisioned published before every profile read back disabled")
	}
	e.sim.ResetRequests()
	if failed := e.sendRecords(e.deprov, r); failed != 0 {
		t.Fatalf("redelivery failed:\n%s", e.logs.Tail(10))
	}
	want := []string{"GET /scim2/v1/users/{id}", "GET /scim2/v1/users/{id} [dda]", "DELETE /scim2/v1/users/{id} [dda]", "GET /scim2/v1/users/{id} [dda]"}
	if got := e.callList(); !slices.Equal(got, want) {
		t.Fatalf("redelivery calls %v, want %v (the Encompass disable not repeated)", got, want)
	}
	d := e.published(catalog.UserDeprovisioned)
	if len(d) != 1 || d[0]["disabledAt"] == nil {
		t.Fatalf("published %v", d)
	}
	if c := changed(d[0]); c["enabled"] != [2]string{"true", "false"} || c["dda.enabled"] != [2]string{"true", "false"} || products(d[0]) != "encompass,dda" {
		t.Fatalf("changes %v", c)
	}
	if p, _ := e.sim.AIQ("halfleft"); p.Enabled {
		t.Fatal("DDA profile still enabled")
	}
}

// TestDDAAddFailsAfterCreate: the DDA add answers 5xx after the Encompass
// account was created. The redelivery finds the account (it does not
// create it again) and adds the profile; the hire is published once, as
// created, with every field of both profiles.
func TestDDAAddFailsAfterCreate(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	e.sim.FailNext(3, 503, "PATCH /scim2/v1/users/{id}")
	hire := hrisEvent("hire", "E1408", t0, underwriter("halfhired"))
	r := record(hire.body(), 0)
	if failed := e.sendRecords(e.prov, r); failed != 1 {
		t.Fatal("the hire must be retried while its DDA profile is missing")
	}
	if _, ok := e.sim.AIQ("halfhired"); ok || e.usersNamed("halfhired") != 1 {
		t.Fatal("the failure was not the DDA add's")
	}
	if failed := e.sendRecords(e.prov, r); failed != 0 {
		t.Fatalf("redelivery failed:\n%s", e.logs.Tail(10))
	}
	if n := e.sim.Count("POST /scim2/v1/users"); n != 1 {
		t.Fatalf("%d creates, want 1: the redelivery must find the account", n)
	}
	if p, ok := e.sim.AIQ("halfhired"); !ok || !p.Enabled {
		t.Fatal("no DDA profile after the redelivery")
	}
	got := e.published(catalog.UserProvisioned)
	if len(got) != 1 || got[0]["action"] != "created" || products(got[0]) != "encompass,dda" {
		t.Fatalf("published %v", got)
	}
	if c := changed(got[0]); c["email"][1] != "halfhired@lender.example" || c["dda.roleName"][1] != "Underwriter" {
		t.Fatalf("changes %v", c)
	}
}

// TestDDAUserNameTaken: the AIQ userName belongs to another DDA user: the
// event is rejected (userName_conflict, naming DDA), not retried.
func TestDDAUserNameTaken(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	if err := e.sim.ModifyAIQ("mjohnson", func(p *encompasstest.AIQProfile) {
		p.UserName, p.Enabled, p.SSOOnly, p.AuthID = "taken", true, true, "x"
	}); err != nil {
		t.Fatal(err)
	}
	hire := hrisEvent("hire", "E1409", t0, underwriter("taken"))
	e.mustSend(e.prov, hire.body())
	dt, d := e.eventFor(hire.id())
	if dt != catalog.HRISEventRejected || d["reason"] != "userName_conflict" || !strings.Contains(d["error"].(string), "DDA") {
		t.Fatalf("%s %v", dt, d)
	}
	if p, _ := e.sim.AIQ("mjohnson"); p.UserName != "taken" {
		t.Fatal("the other user's DDA profile was touched")
	}
}

// TestDDAAdoptionNeedsGlobalUserID: an existing account created outside
// SCIM (no global user id) adopted into a DDA role gets a global user id
// through Account Links first, and the DDA profile on it.
func TestDDAAdoptionNeedsGlobalUserID(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	if u := e.user("bwilliams"); u.GlobalUserID != "" {
		t.Fatal("seed: bwilliams has a global user id")
	}
	e.sim.ResetRequests()
	adopt := hrisEvent("update", "E10003", t0, map[string]any{
		"userName": "bwilliams", "email": "bea.williams@lender.example", "jobCode": "UW1", "ddaAuthId": "bea@idp.lender.example",
	})
	e.mustSend(e.prov, adopt.body())
	calls := e.callList()
	u := e.user("bwilliams")
	p, ok := e.sim.AIQ("bwilliams")
	if u.GlobalUserID == "" || !ok || !p.Enabled || p.RoleName != "Underwriter" {
		t.Fatalf("adopted %+v, DDA %+v", u, p)
	}
	link := slices.Index(calls, "POST /scim2/v1/accountLinks")
	add := slices.Index(calls, "PATCH /scim2/v1/users/{id} [dda]")
	if link < 0 || add < link {
		t.Fatalf("calls %v: the global user id must be created before the DDA profile is added", calls)
	}
	t.Logf("adoption needing a global user id: %d calls: %v", len(calls), calls)
	dt, d := e.eventFor(adopt.id())
	if dt != catalog.UserProvisioned || d["globalUserId"] != u.GlobalUserID || products(d) != "encompass,dda" {
		t.Fatalf("%s %v", dt, d)
	}
	if l := e.link("E10003"); l.GlobalUserID != u.GlobalUserID || l.DDA != "enabled" {
		t.Fatalf("link %+v", l)
	}
	// From now on the account is managed through SCIM by its global user id.
	e.sim.ResetRequests()
	e.mustSend(e.deprov, hrisEvent("terminate", "E10003", t0.Add(time.Hour), nil).body())
	if got := e.callList(); len(got) != 4 || e.user("bwilliams").Enabled {
		t.Fatalf("leaver after the adoption: %v", got)
	}
}

// TestDDAAccountLinksConflict: Account Links answers 409 because the
// account got a global user id meanwhile: it is looked up and used.
func TestDDAAccountLinksConflict(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	gate := e.sim.Hold("POST /scim2/v1/accountLinks")
	var guid string
	go func() {
		<-gate.Arrived()
		guid, _ = e.sim.AssignGlobalUserID("bwilliams")
		gate.Release()
	}()
	adopt := hrisEvent("update", "E10003", t0, map[string]any{
		"userName": "bwilliams", "email": "bea.williams@lender.example", "jobCode": "UW1", "ddaAuthId": "bea@idp.lender.example",
	})
	e.mustSend(e.prov, adopt.body())
	if guid == "" || e.user("bwilliams").GlobalUserID != guid {
		t.Fatalf("global user id %q, user %+v", guid, e.user("bwilliams"))
	}
	if p, ok := e.sim.AIQ(guid); !ok || !p.Enabled {
		t.Fatal("no DDA profile on the existing global user id")
	}
	if _, d := e.eventFor(adopt.id()); d["globalUserId"] != guid {
		t.Fatalf("published %v", d)
	}
}

// TestDDADryRun: nothing is written, the outcome describes the DDA profile
// that would be added.
func TestDDADryRun(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t, dryRun())
	hire := hrisEvent("hire", "E1410", t0, underwriter("dryuw"))
	e.mustSend(e.prov, hire.body())
	if e.writes() != 0 {
		t.Fatal("a dry run wrote to Encompass")
	}
	dt, d := e.eventFor(hire.id())
	if dt != catalog.UserProvisioned || d["dryRun"] != true || products(d) != "encompass,dda" || changed(d)["dda.roleName"][1] != "Underwriter" {
		t.Fatalf("%s %v", dt, d)
	}
}

// TestDDAExistingStaff: the mapping decides an existing account's DDA
// profile as it decides the rest. An adopted account whose rule grants no
// DDA has the profile it already had disabled (and read back); an unlinked
// leaver's DDA profile is disabled with the account.
func TestDDAExistingStaff(t *testing.T) {
	t.Parallel()
	e := newDDAEnv(t)
	for _, id := range []string{"mjohnson", "asmith"} {
		if err := e.sim.ModifyAIQ(id, func(p *encompasstest.AIQProfile) {
			p.UserName, p.RoleName, p.Enabled, p.SSOOnly, p.AuthID = id, "Underwriter", true, true, id+"@idp"
		}); err != nil {
			t.Fatal(err)
		}
	}
	adopt := hrisEvent("update", "E10001", t0, map[string]any{
		"userName": "mjohnson", "email": "maria.johnson@lender.example", "jobCode": "LO1",
	})
	e.mustSend(e.prov, adopt.body())
	if p, _ := e.sim.AIQ("mjohnson"); p.Enabled {
		t.Fatal("the adopted loan officer kept the DDA profile the mapping does not grant")
	}
	if _, d := e.eventFor(adopt.id()); changed(d)["dda.enabled"] != [2]string{"true", "false"} || products(d) != "encompass,dda" {
		t.Fatalf("adoption published %v", d)
	}
	if l := e.link("E10001"); l.DDA != "disabled" {
		t.Fatalf("link %+v", l)
	}

	leave := hrisEvent("terminate", "E10002", t0, map[string]any{"userName": "asmith", "email": "alex.smith@lender.example"})
	e.mustSend(e.deprov, leave.body())
	if p, _ := e.sim.AIQ("asmith"); p.Enabled || e.user("asmith").Enabled {
		t.Fatal("the unlinked leaver kept a profile")
	}
	if dt, d := e.eventFor(leave.id()); dt != catalog.UserDeprovisioned || changed(d)["dda.enabled"] != [2]string{"true", "false"} {
		t.Fatalf("%s %v", dt, d)
	}
}
