package encompass

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestUsersGetAndFind(t *testing.T) {
	t.Parallel()
	for _, style := range []encompasstest.StatusStyle{encompasstest.StatusBoth, encompasstest.StatusEnabled, encompasstest.StatusIndicators} {
		t.Run(fmt.Sprint("style", style), func(t *testing.T) {
			t.Parallel()
			tc := newSimClient(t, nil, encompasstest.WithStatusStyle(style))
			ctx := context.Background()
			u, err := tc.Users.Get(ctx, "mjohnson")
			if err != nil {
				t.Fatal(err)
			}
			if u.LoginID != "mjohnson" || !u.IsEnabled() || u.NMLSOriginatorID != "1234567" || len(u.Personas) != 1 || u.Personas[0].ID != "10" {
				t.Fatalf("%+v", u)
			}
			former, err := tc.Users.FindByLoginID(ctx, "FormerEmployee")
			if err != nil {
				t.Fatal(err)
			}
			if former.IsEnabled() {
				t.Fatalf("disabled user reads enabled: %+v", former)
			}
			if _, err := tc.Users.Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) || IsRetryable(err) {
				t.Fatalf("missing user: %v", err)
			}
			if _, err := tc.Users.FindByLoginID(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("find missing user: %v", err)
			}
		})
	}
}

func TestFindByLoginIDWhenTheFilterIsIgnored(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithIgnoredLoginFilter(), encompasstest.WithUsers(30))
	ctx := context.Background()
	u, err := tc.Users.FindByLoginID(ctx, "simuser000025")
	if err != nil {
		t.Fatal(err)
	}
	if u.LoginID != "simuser000025" {
		t.Fatalf("found the wrong user %s", u.LoginID)
	}
	if _, err := tc.Users.FindByLoginID(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find missing user: %v", err)
	}
	// With the filter ignored the list answered other users; the client must
	// not have taken the first of them.
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 2 {
		t.Fatalf("fallback GETs = %d, want 2", n)
	}
}

func TestFindByLoginIDRejectsHostileInput(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	for _, bad := range []string{"", "a/../b", "x?y=1", strings.Repeat("a", 1000)} {
		if _, err := tc.Users.FindByLoginID(context.Background(), bad); !errors.Is(err, ErrInvalidArgument) || IsRetryable(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if tc.srv.Count("GET /encompass/v3/users") != 0 {
		t.Fatal("hostile input reached the server")
	}
}

func TestUsersCreatePatchDisable(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	created, err := tc.Users.Create(ctx, User{
		LoginID: "jdoe", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@example.com",
		OrganizationID: "1", Personas: []PersonaRef{{ID: "10"}}, SSOOnly: true, Phone: "555-555-1234",
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "jdoe" || !created.IsEnabled() {
		t.Fatalf("%+v", created)
	}
	if _, err := tc.Users.Create(ctx, User{LoginID: "JDoe", FirstName: "J", LastName: "D", Email: "j@example.com", OrganizationID: "1", SSOOnly: true}); !errors.Is(err, ErrConflict) || IsRetryable(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	patched, err := tc.Users.Patch(ctx, "jdoe", UserPatch{"title": "Loan Officer", "middleName": nil})
	if err != nil {
		t.Fatal(err)
	}
	if patched.Title != "Loan Officer" {
		t.Fatalf("patch answer %+v", patched)
	}
	if _, err := tc.Users.SetEnabled(ctx, "jdoe", false); err != nil {
		t.Fatal(err)
	}
	got, err := tc.Users.Get(ctx, "jdoe")
	if err != nil {
		t.Fatal(err)
	}
	if got.IsEnabled() || got.Title != "Loan Officer" {
		t.Fatalf("after disable: %+v", got)
	}
	sim, _ := tc.srv.User("jdoe")
	if sim.Enabled || sim.Title != "Loan Officer" {
		t.Fatalf("simulator state: %+v", sim)
	}
	if _, err := tc.Users.Patch(ctx, "jdoe", UserPatch{}); err == nil {
		t.Fatal("empty patch sent")
	}
	if _, err := tc.Users.Patch(ctx, "jdoe", UserPatch{"phone": "not a phone"}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("invalid patch: %v", err)
	}
	if _, err := tc.Users.Create(ctx, User{}); err == nil {
		t.Fatal("create without loginId sent")
	}
}

func TestUsersCreateSendsPasswordButNeverLogsIt(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	const pw = "Vry-S3cret-Passw0rd!"
	_, err := tc.Users.Create(context.Background(), User{LoginID: "pwuser", FirstName: "P", LastName: "W", Email: "pw@example.com", OrganizationID: "1", Password: pw, RequirePasswordChange: true})
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := tc.srv.User("pwuser")
	if sim.Password != pw || !sim.RequirePasswordChange {
		t.Fatal("password not applied")
	}
	if strings.Contains(tc.logs.String(), pw) {
		t.Fatal("password logged")
	}
}

func TestUsersAllPagesAndCountsCalls(t *testing.T) {
	t.Parallel()
	for _, wrapper := range []encompasstest.ListWrapper{encompasstest.ListBareArray, encompasstest.ListItemsObject} {
		for _, n := range []int{-5, 0, 195, 395, 995, 1000} {
			t.Run(fmt.Sprintf("wrapper%d/n%d", wrapper, n), func(t *testing.T) {
				t.Parallel()
				opts := []encompasstest.Option{encompasstest.WithListWrapper(wrapper)}
				if n < 0 { // no users at all
					seed := encompasstest.DefaultSeed()
					seed.Users, seed.UserGroups = nil, nil
					opts = append(opts, encompasstest.WithSeed(seed))
				} else {
					opts = append(opts, encompasstest.WithUsers(n))
				}
				tc := newSimClient(t, func(c *Config) { c.Grant = GrantClientCredentials }, opts...)
				total := tc.srv.UserCount()
				seen := map[string]bool{}
				for u, err := range tc.Users.All(context.Background(), nil) {
					if err != nil {
						t.Fatal(err)
					}
					if seen[u.ID] {
						t.Fatalf("user %s listed twice", u.ID)
					}
					seen[u.ID] = true
				}
				if len(seen) != total {
					t.Fatalf("listed %d users, simulator has %d", len(seen), total)
				}
				// ceil(N/200) pages plus one token request. A bare array whose
				// last page is full needs one more, empty, page to prove the
				// end; the items object says its totalCount.
				pages := (total + MaxUsersPageSize - 1) / MaxUsersPageSize
				if total%MaxUsersPageSize == 0 && (wrapper == encompasstest.ListBareArray || total == 0) {
					pages++
				}
				if got := tc.srv.Count("GET /encompass/v3/users"); got != pages {
					t.Fatalf("list calls = %d, want %d", got, pages)
				}
				if got := tc.calls.total(); got != pages+1 {
					t.Fatalf("hook saw %d calls, want %d", got, pages+1)
				}
				if got := tc.calls.count(tokenEndpoint); got != 1 {
					t.Fatalf("token calls = %d", got)
				}
			})
		}
	}
}

func TestUsersAllStopsEarly(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithUsers(1000))
	n := 0
	for _, err := range tc.Users.All(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 250 {
			break
		}
	}
	if got := tc.srv.Count("GET /encompass/v3/users"); got != 2 {
		t.Fatalf("list calls = %d, want 2", got)
	}
}

func TestUsersAllYieldsErrorOnce(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.MaxAttempts = 2 }, encompasstest.WithUsers(500))
	tc.srv.FailNext(100, 503, "GET /encompass/v3/users")
	var errs int
	for _, err := range tc.Users.All(context.Background(), nil) {
		if err != nil {
			errs++
			if !IsRetryable(err) || !errors.Is(err, ErrServer) {
				t.Fatalf("err %v", err)
			}
		}
	}
	if errs != 1 {
		t.Fatalf("%d errors yielded", errs)
	}
}

func TestUsersListPageOptions(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithUsers(30))
	ctx := context.Background()
	page, err := tc.Users.ListPage(ctx, ListUsersOptions{Start: 5, Limit: 10})
	if err != nil || len(page) != 10 {
		t.Fatalf("%d users, %v", len(page), err)
	}
	all := tc.srv.Users()
	if page[0].ID != all[5].ID {
		t.Fatalf("page starts at %s, want %s", page[0].ID, all[5].ID)
	}
	inOrg, err := tc.Users.ListPage(ctx, ListUsersOptions{OrgID: "2"})
	if err != nil || len(inOrg) != 1 || inOrg[0].LoginID != "asmith" {
		t.Fatalf("org 2: %+v %v", inOrg, err)
	}
	tree, err := tc.Users.ListPage(ctx, ListUsersOptions{OrgID: "0", IsRecursive: true})
	if err != nil || len(tree) != MaxUsersPageSize && len(tree) != len(all) {
		t.Fatalf("recursive: %d users, %v", len(tree), err)
	}
	tc.srv.Count("GET /encompass/v3/users")
	q := tc.srv.Requests()[len(tc.srv.Requests())-1].Query
	if !strings.Contains(q, "isRecursive=true") || !strings.Contains(q, "orgId=0") || !strings.Contains(q, "limit=200") {
		t.Fatalf("query %s", q)
	}
}

func TestInvalidateTokenFetchesANewOne(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.InvalidateToken()
	if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
		t.Fatal(err)
	}
	if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}

func TestIDsAreEscapedOnce(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	for _, id := range []string{"a b", "a+b", "a%20b", "j.doe@example"} {
		if _, err := tc.Users.Get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%q: %v", id, err)
		}
		tc.srv.Count("GET /encompass/v3/users/{id}")
		reqs := tc.srv.Requests()
		if got := reqs[len(reqs)-1].Path; got != "/encompass/v3/users/"+id {
			t.Fatalf("%q reached the server as %q", id, got)
		}
		tc.srv.ResetRequests()
	}
}
