package encompass

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func newAIQUser(userName string) AIQUser {
	return AIQUser{
		UserName: userName, RoleName: "Underwriter", Enabled: ptr(true),
		Name:         &SCIMName{GivenName: "Una", MiddleName: "W", FamilyName: "Writer"},
		Emails:       []SCIMMultiValue{{Value: userName + "@example.com", Type: "work", Primary: true}},
		PhoneNumbers: []SCIMMultiValue{{Value: "5555550100", Type: "work"}},
		SSOOnly:      ptr(true), AuthID: "auth-" + userName,
	}
}

// createWithAIQ creates a SCIM user and adds a DDA profile to its global
// user id, as provisioning does for a hire with DDA.
func createWithAIQ(t *testing.T, tc *testClient, userName string) string {
	t.Helper()
	ctx := context.Background()
	u, err := tc.SCIM.CreateUser(ctx, newSCIMUser(userName))
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.SCIM.AddAIQUser(ctx, u.ID, newAIQUser(userName)); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestAIQProfileLifecycle(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	guid := createWithAIQ(t, tc, "aiquna")

	got, err := tc.SCIM.GetAIQUser(ctx, guid)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != guid || got.UserName != "aiquna" || got.RoleName != "Underwriter" || !got.IsEnabled() || !got.IsSSOOnly() ||
		got.AuthID != "auth-aiquna" || got.Name == nil || got.Name.FamilyName != "Writer" || len(got.PhoneNumbers) != 1 || got.PhoneNumbers[0].Value != "555-555-0100" {
		t.Fatalf("read back %+v", got)
	}
	if err := tc.SCIM.PatchAIQUser(ctx, guid, []PatchOp{ReplaceAIQAttrs(map[string]any{"roleName": "Senior Underwriter"})}); err != nil {
		t.Fatal(err)
	}
	if p, _ := tc.srv.AIQ(guid); p.RoleName != "Senior Underwriter" {
		t.Fatalf("role after replace: %q", p.RoleName)
	}
	if err := tc.SCIM.DisableAIQUser(ctx, guid); err != nil {
		t.Fatal(err)
	}
	back, err := tc.SCIM.GetAIQUser(ctx, guid)
	if err != nil || back.IsEnabled() {
		t.Fatalf("after disable: %+v %v", back, err)
	}
	// The Encompass profile of the same global user id is untouched.
	if u, err := tc.SCIM.GetUser(ctx, guid); err != nil || !u.IsEnabled() {
		t.Fatalf("the Encompass profile after the DDA disable: %+v %v", u, err)
	}
	// Every AIQ call names the AIQUser schema; Encompass calls their own.
	for _, r := range tc.srv.Requests() {
		q, _ := url.ParseQuery(r.Query)
		aiq := strings.Contains(string(r.Body), SchemaAIQUser) || q.Get("schema") == SchemaAIQUser
		if strings.HasPrefix(r.Path, "/scim2/v1/users/") && aiq != (q.Get("schema") == SchemaAIQUser) {
			t.Errorf("%s %s?%s: an AIQ call must carry schema=%s", r.Method, r.Path, r.Query, SchemaAIQUser)
		}
	}
	everySCIMRequestHasSchema(t, tc.srv)
}

func TestAIQProfileRules(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	taken := createWithAIQ(t, tc, "aiqtaken")
	u, err := tc.SCIM.CreateUser(ctx, newSCIMUser("aiqrules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		guid string
		edit func(*AIQUser)
		want error
	}{
		{"SSO without authId", u.ID, func(p *AIQUser) { p.AuthID = "" }, ErrBadRequest},
		{"SSO by default without authId", u.ID, func(p *AIQUser) { p.SSOOnly, p.AuthID = nil, "" }, ErrBadRequest},
		{"not enabled at creation", u.ID, func(p *AIQUser) { p.Enabled = ptr(false) }, ErrBadRequest},
		{"enabled left out at creation", u.ID, func(p *AIQUser) { p.Enabled = nil }, ErrBadRequest},
		{"no family name", u.ID, func(p *AIQUser) { p.Name.FamilyName = "" }, ErrBadRequest},
		{"no e-mail", u.ID, func(p *AIQUser) { p.Emails = nil }, ErrBadRequest},
		{"password without SSO missing", u.ID, func(p *AIQUser) { p.SSOOnly, p.AuthID = ptr(false), "" }, ErrBadRequest},
		{"weak password", u.ID, func(p *AIQUser) { p.SSOOnly, p.AuthID, p.Password = ptr(false), "", "short" }, ErrBadRequest},
		{"password next to SSO", u.ID, func(p *AIQUser) { p.Password = "Str0ng-Passw0rd" }, ErrBadRequest},
		{"bad phone", u.ID, func(p *AIQUser) { p.PhoneNumbers[0].Value = "call me" }, ErrBadRequest},
		{"hostile userName", u.ID, func(p *AIQUser) { p.UserName = `a"b` }, ErrBadRequest},
		{"userName of another DDA user", u.ID, func(p *AIQUser) { p.UserName = "AIQTAKEN" }, ErrConflict},
		{"a second profile on one global user id", taken, func(p *AIQUser) { p.UserName = "aiqsecond" }, ErrConflict},
		{"unknown global user id", "0b0e5e1a-0000-4000-8000-000000000000", func(*AIQUser) {}, ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newAIQUser("aiqrules")
			c.edit(&p)
			err := tc.SCIM.AddAIQUser(ctx, c.guid, p)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if _, ok := tc.srv.AIQ(u.ID); ok {
		t.Fatal("a refused add left a profile behind")
	}
	// The accepted add: not SSO-only, with a password that meets the policy.
	p := newAIQUser("aiqrules")
	p.SSOOnly, p.AuthID, p.Password = ptr(false), "", "Str0ng-Passw0rd"
	if err := tc.SCIM.AddAIQUser(ctx, u.ID, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := tc.srv.AIQ(u.ID); got.Password != "Str0ng-Passw0rd" || got.SSOOnly {
		t.Fatalf("stored %+v", got)
	}
	if strings.Contains(tc.logs.String(), "Str0ng-Passw0rd") {
		t.Fatal("the DDA password was logged")
	}
	// Changes keep the rules: SSO-only again needs an authId.
	err = tc.SCIM.PatchAIQUser(ctx, u.ID, []PatchOp{ReplaceAIQAttrs(map[string]any{"ssoOnly": true})})
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("switch to SSO without authId: %v", err)
	}
	// Client-side refusals never reach the server.
	before := tc.calls.total()
	for _, err := range []error{
		tc.SCIM.AddAIQUser(ctx, "", newAIQUser("x")),
		tc.SCIM.AddAIQUser(ctx, "a/b", newAIQUser("x")),
		tc.SCIM.AddAIQUser(ctx, u.ID, AIQUser{}),
		tc.SCIM.PatchAIQUser(ctx, u.ID, nil),
		tc.SCIM.DisableAIQUser(ctx, "../users"),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	if tc.calls.total() != before {
		t.Fatal("an invalid argument made a call")
	}
}

// An add whose answer is lost is looked up, not sent again (a second add
// would be refused as a conflict).
func TestAIQAddUnknownOutcome(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	u, err := tc.SCIM.CreateUser(ctx, newSCIMUser("aiqlost"))
	if err != nil {
		t.Fatal(err)
	}
	tc.srv.DropAfterApply(1, "PATCH /scim2/v1/users/")
	if err := tc.SCIM.AddAIQUser(ctx, u.ID, newAIQUser("aiqlost")); err != nil {
		t.Fatal(err)
	}
	if n := tc.srv.Count("PATCH /scim2/v1/users/{id}"); n != 1 {
		t.Fatalf("%d PATCH calls, want 1 (the look-up found the profile)", n)
	}
	if _, ok := tc.srv.AIQ(u.ID); !ok {
		t.Fatal("no profile")
	}
}

func TestAIQListFilters(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	for _, n := range []string{"aiqa", "aiqb", "aiqc"} {
		createWithAIQ(t, tc, n)
	}
	b, _ := tc.srv.User("aiqb")
	if err := tc.SCIM.DisableAIQUser(ctx, b.GlobalUserID); err != nil {
		t.Fatal(err)
	}
	if err := tc.srv.ModifyAIQ("aiqc", func(p *encompasstest.AIQProfile) { p.RoleName, p.FirstName = "Closer", "Cleo" }); err != nil {
		t.Fatal(err)
	}
	names := func(filter string) string {
		t.Helper()
		var out []string
		for u, err := range tc.SCIM.AIQUsersPaginator(SCIMListOptions{Filter: filter, Count: 1}).All(ctx) {
			if err != nil {
				t.Fatalf("%s: %v", filter, err)
			}
			out = append(out, u.UserName)
		}
		return strings.Join(out, ",")
	}
	for filter, want := range map[string]string{
		"":                                   "aiqa,aiqb,aiqc",
		`userName eq "AIQB"`:                 "aiqb",
		`name.givenName eq "cleo"`:           "aiqc",
		`name.familyName eq "Writer"`:        "aiqa,aiqb,aiqc",
		`name.middleName eq "W"`:             "aiqa,aiqb,aiqc",
		`emails.value eq "aiqa@example.com"`: "aiqa",
		"enabled eq false":                   "aiqb",
		`rolename eq "underwriter" and enabled eq true`: "aiqa",
		`roleName eq "Closer"`:                          "aiqc",
	} {
		if got := names(filter); got != want {
			t.Errorf("filter %q: %s, want %s", filter, got, want)
		}
	}
	if u, err := tc.SCIM.FindAIQUserByUserName(ctx, "AiqC"); err != nil || u.RoleName != "Closer" || u.ID == "" {
		t.Fatalf("find: %+v %v", u, err)
	}
	if _, err := tc.SCIM.FindAIQUserByUserName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find nobody: %v", err)
	}
	for _, bad := range []string{"enc_orgId eq 1", "enabled eq maybe", `title eq "x"`} {
		if _, err := tc.SCIM.ListAIQUsers(ctx, SCIMListOptions{Filter: bad}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("filter %q: %v, want a 400", bad, err)
		}
	}
	if _, err := tc.SCIM.ListAIQUsers(ctx, SCIMListOptions{Recursive: true}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("recursive AIQ list: %v", err)
	}
}

func TestAccountLinks(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	// bwilliams was created outside SCIM: no global user id, invisible to SCIM.
	if _, err := tc.SCIM.FindUserByUserName(ctx, "bwilliams"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("seed: %v", err)
	}
	guid, err := tc.AccountLinks.Create(ctx, "bwilliams", SchemaEncompassUser)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := tc.SCIM.GetUser(ctx, guid); err != nil || u.UserName != "bwilliams" {
		t.Fatalf("the new global user id reads %+v %v", u, err)
	}
	links, err := tc.AccountLinks.Get(ctx, guid)
	if err != nil || links.GlobalUserID != guid || links.UserName(SchemaEncompassUser) != "bwilliams" || links.UserName(SchemaAIQUser) != "" {
		t.Fatalf("links %+v %v", links, err)
	}
	// The documented refusals: a user linked already, a global user id
	// holding a profile of the product already.
	if _, err := tc.AccountLinks.Create(ctx, "bwilliams", SchemaEncompassUser); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	if err := tc.AccountLinks.Link(ctx, guid, "formeremployee", SchemaEncompassUser); !errors.Is(err, ErrConflict) {
		t.Fatalf("link a second Encompass user: %v", err)
	}
	if _, err := tc.AccountLinks.Create(ctx, "nosuchuser", SchemaEncompassUser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	// After a DDA profile is added, the links name it too.
	if err := tc.SCIM.AddAIQUser(ctx, guid, newAIQUser("bwilliams")); err != nil {
		t.Fatal(err)
	}
	if links, err := tc.AccountLinks.Get(ctx, guid); err != nil || links.UserName(SchemaAIQUser) != "bwilliams" {
		t.Fatalf("links after the DDA add %+v %v", links, err)
	}
	// Every call carries the core and the product schema.
	for _, r := range tc.srv.Requests() {
		if r.Method == "POST" && strings.HasPrefix(r.Path, "/scim2/v1/accountLinks") &&
			(!strings.Contains(string(r.Body), SchemaCoreUser) || !strings.Contains(string(r.Body), SchemaEncompassUser)) {
			t.Errorf("account link body without both schemas: %s", r.Body)
		}
	}
	// Refused before any call: more than 16 characters, a schema that is
	// not a product, an invalid id.
	before := tc.calls.total()
	if _, err := tc.AccountLinks.Create(ctx, "seventeen-chars-x", SchemaEncompassUser); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("long userName: %v", err)
	}
	if _, err := tc.AccountLinks.Create(ctx, "bob", SchemaCoreUser); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("core schema as a product: %v", err)
	}
	if _, err := tc.AccountLinks.Create(ctx, "bo:b", SchemaEncompassUser); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("forbidden character: %v", err)
	}
	if _, err := tc.AccountLinks.Get(ctx, "a?b"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("hostile id: %v", err)
	}
	if tc.calls.total() != before {
		t.Fatal("an invalid argument made a call")
	}
}

// A create whose answer is lost is resolved by the userName look-up: one
// global user id, one POST.
func TestAccountLinkCreateUnknownOutcome(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	tc.srv.DropAfterApply(1, "POST /scim2/v1/accountLinks")
	guid, err := tc.AccountLinks.Create(ctx, "bwilliams", SchemaEncompassUser)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := tc.srv.User("bwilliams"); u.GlobalUserID != guid || guid == "" {
		t.Fatalf("global user id %q, stored %q", guid, u.GlobalUserID)
	}
	if n := tc.srv.Count("POST /scim2/v1/accountLinks"); n != 1 {
		t.Fatalf("%d POSTs, want 1", n)
	}
}

func TestDecodeAccountLinks(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"resource shape": `{"schemas":["` + SchemaCoreUser + `"],"id":"g-1","` + SchemaEncompassUser + `":{"userName":"jdoe"},"` + SchemaAIQUser + `":{"userName":"jdoe.dda"}}`,
		"list shape":     `{"globalUserId":"g-1","links":[{"userName":"jdoe","schema":"` + SchemaEncompassUser + `"},{"userName":"jdoe.dda","schemas":["` + SchemaCoreUser + `","` + SchemaAIQUser + `"]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			l, err := decodeAccountLinks([]byte(body))
			if err != nil || l.GlobalUserID != "g-1" || l.UserName(SchemaEncompassUser) != "jdoe" || l.UserName(SchemaAIQUser) != "jdoe.dda" {
				t.Fatalf("%+v %v", l, err)
			}
		})
	}
	for _, bad := range []string{`[]`, `{"links": 7}`, `{"urn:x": {"userName": 7}}`} {
		if _, err := decodeAccountLinks([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	for _, bad := range []string{`{}`, `{"id": "a/b"}`, `not json`} {
		if _, err := decodeGUID([]byte(bad)); err == nil {
			t.Errorf("%s gave a global user id", bad)
		}
	}
}
