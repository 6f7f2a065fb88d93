package encompass

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func newSCIMUser(userName string) SCIMUser {
	return SCIMUser{
		UserName:     userName,
		Name:         &SCIMName{GivenName: "Jane", MiddleName: "Q", FamilyName: "Doe"},
		Emails:       []SCIMMultiValue{{Value: userName + "@example.com", Type: "work", Primary: true}},
		PhoneNumbers: []SCIMMultiValue{{Value: "555-555-1234", Type: "work"}},
		JobTitle:     "Loan Officer",
		EmployeeID:   "E1",
		Personas:     []SCIMEntity{{EntityID: "10"}},
		Organization: &SCIMEntity{EntityID: "1"},
		IsSSOOnly:    ptr(true),
		Licenses:     []SCIMLicense{{StateAbbreviation: "CA", Selected: true, LicenseNumber: "CA-99", LicenseStatusType: "Approved", EndDate: "2027-01-01"}},
	}
}

func ptr[T any](v T) *T { return &v }

// everySCIMRequestHasSchema checks the required schema query parameter.
func everySCIMRequestHasSchema(t *testing.T, srv *encompasstest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.Path, "/scim2/") {
			continue
		}
		q, err := url.ParseQuery(r.Query)
		if err != nil || q.Get("schema") == "" {
			t.Errorf("%s %s?%s without schema", r.Method, r.Path, r.Query)
		}
	}
}

func TestSCIMUserLifecycle(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	created, err := tc.SCIM.CreateUser(ctx, newSCIMUser("scimjane"))
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.UserName != "scimjane" || !created.IsEnabled() {
		t.Fatalf("created %+v", created)
	}
	got, err := tc.SCIM.GetUser(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	ca := false
	for _, l := range got.Licenses {
		ca = ca || (l.StateAbbreviation == "CA" && l.Selected && l.LicenseNumber == "CA-99")
	}
	if !ca {
		t.Fatalf("license not applied: %+v", got.Licenses)
	}
	if got.ID != created.ID || got.Name.FamilyName != "Doe" || len(got.Personas) != 1 || got.Personas[0].EntityID != "10" || got.Organization.EntityID != "1" {
		t.Fatalf("get %+v", got)
	}
	found, err := tc.SCIM.FindUserByUserName(ctx, "SCIMJANE")
	if err != nil || found.ID != created.ID {
		t.Fatalf("find: %+v %v", found, err)
	}

	// PATCH: add without path, replace with path, remove with path.
	ops := []PatchOp{
		{Op: "add", Value: map[string]any{SchemaEncompassUser: map[string]any{"jobTitle": "Senior Loan Officer"}}},
		{Op: "replace", Path: UserPath("name.givenName"), Value: "Janet"},
		{Op: "remove", Path: UserPath("name.middleName")},
	}
	if err := tc.SCIM.PatchUser(ctx, created.ID, ops); err != nil {
		t.Fatal(err)
	}
	sim, _ := tc.srv.User("scimjane")
	if sim.Title != "Senior Loan Officer" || sim.FirstName != "Janet" || sim.MiddleName != "" {
		t.Fatalf("after patch: %+v", sim)
	}

	if err := tc.SCIM.DisableUser(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	got, err = tc.SCIM.GetUser(ctx, created.ID)
	if err != nil || got.IsEnabled() {
		t.Fatalf("after disable: %+v %v", got, err)
	}
	if err := tc.SCIM.EnableUser(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if sim, _ := tc.srv.User("scimjane"); !sim.Enabled {
		t.Fatal("not re-enabled")
	}
	everySCIMRequestHasSchema(t, tc.srv)
}

func TestSCIMErrors(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	if _, err := tc.SCIM.GetUser(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := tc.SCIM.FindUserByUserName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find missing: %v", err)
	}
	if _, err := tc.SCIM.CreateUser(ctx, newSCIMUser("mjohnson")); !errors.Is(err, ErrConflict) && !errors.Is(err, ErrBadRequest) {
		t.Fatalf("duplicate create: %v", err)
	}
	bad := newSCIMUser("bad/name")
	var ae *APIError
	if _, err := tc.SCIM.CreateUser(ctx, bad); !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Details == "" || IsRetryable(err) {
		t.Fatalf("invalid create: %v", err)
	}
	if err := tc.SCIM.PatchUser(ctx, "8d3e6b1a-0c55-4f0e-8a7b-3c2d1e0f9a02", nil); err == nil {
		t.Fatal("empty patch sent")
	}
	if err := tc.SCIM.PatchUser(ctx, "8d3e6b1a-0c55-4f0e-8a7b-3c2d1e0f9a02", []PatchOp{{Op: "explode"}}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad op: %v", err)
	}
	for _, hostile := range []string{`a" or "1" eq "1`, ``, `x\`} {
		if _, err := tc.SCIM.FindUserByUserName(ctx, hostile); err == nil || IsRetryable(err) {
			t.Fatalf("hostile user name %q: %v", hostile, err)
		}
	}
}

func TestSCIMListPaging(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	for i := range 230 {
		if _, err := tc.SCIM.CreateUser(ctx, newSCIMUser(fmt.Sprintf("page%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	page, err := tc.SCIM.ListUsers(ctx, SCIMListOptions{StartIndex: 1, Count: 500, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Users) != MaxSCIMPageSize || page.TotalResults < 233 || page.StartIndex != 1 {
		t.Fatalf("page: %d users, total %d, start %d", len(page.Users), page.TotalResults, page.StartIndex)
	}
	tc.srv.ResetRequests()
	seen := map[string]bool{}
	for u, err := range tc.SCIM.AllUsers(ctx, SCIMListOptions{Recursive: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[u.ID] {
			t.Fatalf("%s listed twice", u.ID)
		}
		seen[u.ID] = true
	}
	if len(seen) != page.TotalResults {
		t.Fatalf("listed %d of %d", len(seen), page.TotalResults)
	}
	root, err := tc.SCIM.ListUsers(ctx, SCIMListOptions{})
	if err != nil || root.TotalResults >= page.TotalResults {
		t.Fatalf("root-only list: %+v %v", root, err)
	}
	want := (page.TotalResults+MaxSCIMPageSize-1)/MaxSCIMPageSize + 1 // + the root-only list
	if n := tc.srv.Count("GET /scim2/v1/users"); n != want {
		t.Fatalf("list calls = %d, want %d", n, want)
	}
	everySCIMRequestHasSchema(t, tc.srv)
}

func TestSCIMCreateWithDroppedConnectionCreatesExactlyOnce(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.DropAfterApply(1, "POST /scim2/v1/users")
	u, err := tc.SCIM.CreateUser(context.Background(), newSCIMUser("dropscim"))
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.UserName != "dropscim" {
		t.Fatalf("%+v", u)
	}
	if n := tc.srv.Count("POST /scim2/v1/users"); n != 1 {
		t.Fatalf("POSTs = %d, want 1", n)
	}
	n := 0
	for _, su := range tc.srv.Users() {
		if su.LoginID == "dropscim" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d users created", n)
	}
}

func TestSCIMGroups(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	list, err := tc.SCIM.ListGroups(ctx, SCIMListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if list.TotalResults != len(tc.srv.Groups()) || len(list.Groups) != list.TotalResults {
		t.Fatalf("%+v", list)
	}
	ids, err := tc.SCIM.ResolveGroups(ctx, []string{"Retail Loan Officers", "processors"})
	if err != nil {
		t.Fatal(err)
	}
	rlo := ids["Retail Loan Officers"]
	g, err := tc.SCIM.GetGroup(ctx, rlo)
	if err != nil {
		t.Fatal(err)
	}
	if g.DisplayName != "Retail Loan Officers" || !g.HasUser("mjohnson") {
		t.Fatalf("%+v", g)
	}
	if err := tc.SCIM.AddGroupMembers(ctx, rlo, UserMember("asmith")); err != nil {
		t.Fatal(err)
	}
	if err := tc.SCIM.RemoveGroupMember(ctx, rlo, UserMember("mjohnson")); err != nil {
		t.Fatal(err)
	}
	g, err = tc.SCIM.GetGroup(ctx, rlo)
	if err != nil {
		t.Fatal(err)
	}
	if !g.HasUser("asmith") || g.HasUser("mjohnson") {
		t.Fatalf("members after patch: %+v", g.Members)
	}
	if _, err := tc.SCIM.ResolveGroups(ctx, []string{"Astronauts"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := tc.SCIM.GetGroup(ctx, "999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing group: %v", err)
	}
	if err := tc.SCIM.RemoveGroupMember(ctx, rlo, SCIMGroupMember{Value: `x"]`, Type: "User"}); err == nil {
		t.Fatal("hostile member value sent")
	}
	everySCIMRequestHasSchema(t, tc.srv)
}

func TestSCIMNeedsAdmin(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithNonAdmin())
	_, err := tc.SCIM.ListUsers(context.Background(), SCIMListOptions{})
	if !errors.Is(err, ErrForbidden) || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}
