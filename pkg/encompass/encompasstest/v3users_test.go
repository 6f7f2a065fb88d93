package encompasstest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

type v3User struct {
	ID             string `json:"id"`
	LoginID        string `json:"loginId"`
	FirstName      string `json:"firstName"`
	MiddleName     string `json:"middleName"`
	LastName       string `json:"lastName"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	Title          string `json:"title"`
	EmployeeID     string `json:"employeeId"`
	OrganizationID string `json:"organizationId"`
	Personas       []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"personas"`
	Enabled        *bool    `json:"enabled"`
	UserIndicators []string `json:"userIndicators"`
	Password       *string  `json:"password"`
	SSOOnly        bool     `json:"ssoOnly"`
}

func newV3User(login string) map[string]any {
	return map[string]any{
		"loginId": login, "firstName": "Jane", "lastName": "Doe", "email": login + "@example.com",
		"organizationId": "1", "password": "TempPass123!", "personas": []map[string]string{{"id": "10"}},
	}
}

func TestV3CreateGetPatchDelete(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var created v3User
	a.must(201, "POST", "/encompass/v3/users", newV3User("JSmith"), &created)
	if created.ID != "jsmith" || created.LoginID != "JSmith" || created.Password != nil {
		t.Fatalf("created %+v: id must be the lower-cased login id and no password returned", created)
	}
	if len(created.Personas) != 1 || created.Personas[0].Name != "Loan Officer" {
		t.Fatalf("personas %+v", created.Personas)
	}
	var got v3User
	a.must(200, "GET", "/encompass/v3/users/JSMITH", nil, &got)
	if got.Email != "JSmith@example.com" || got.Enabled == nil || !*got.Enabled || got.UserIndicators[0] != "Enabled" {
		t.Fatalf("got %+v", got)
	}
	// PATCH answers the id and the fields sent, like the reference.
	var patched map[string]any
	a.must(200, "PATCH", "/encompass/v3/users/jsmith", map[string]any{"title": "Senior Loan Officer", "enabled": false}, &patched)
	if len(patched) != 3 || patched["id"] != "jsmith" || patched["title"] != "Senior Loan Officer" || patched["enabled"] != false {
		t.Fatalf("patch answer %v", patched)
	}
	u, _ := a.srv.User("jsmith")
	if u.Enabled || u.Title != "Senior Loan Officer" {
		t.Fatalf("state after patch %+v", u)
	}
	// Explicit null clears an optional field.
	a.must(200, "PATCH", "/encompass/v3/users/jsmith", `{"title": null, "middleName": "Q"}`, nil)
	if u, _ := a.srv.User("jsmith"); u.Title != "" || u.MiddleName != "Q" {
		t.Fatalf("null did not clear: %+v", u)
	}
	a.wantAPIError(409, "POST", "/encompass/v3/users", newV3User("jsmith"), "already exists")
	if status, _, _ := a.do("DELETE", "/encompass/v3/users/jsmith", nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	a.wantAPIError(404, "GET", "/encompass/v3/users/jsmith", nil, "not found")
	a.wantAPIError(404, "PATCH", "/encompass/v3/users/jsmith", map[string]any{"title": "x"}, "not found")
	a.wantAPIError(404, "DELETE", "/encompass/v3/users/jsmith", nil, "not found")
}

func TestV3CreateValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	with := func(k string, v any) map[string]any {
		u := newV3User("valid")
		if v == nil {
			delete(u, k)
		} else {
			u[k] = v
		}
		return u
	}
	tests := []struct {
		name   string
		body   any
		detail string
	}{
		{"missing loginId", with("loginId", nil), "userName is required"},
		{"leading period", with("loginId", ".jdoe"), "period"},
		{"slash", with("loginId", "j/doe"), "cannot contain"},
		{"colon", with("loginId", "j:doe"), "cannot contain"},
		{"quote", with("loginId", `j"doe`), "cannot contain"},
		{"angle", with("loginId", "j<doe"), "cannot contain"},
		{"missing firstName", with("firstName", nil), "firstName is required"},
		{"missing lastName", with("lastName", nil), "lastName is required"},
		{"missing email", with("email", nil), "email is required"},
		{"bad email", with("email", "not-an-email"), "valid e-mail"},
		{"missing org", with("organizationId", nil), "organizationId is required"},
		{"unknown org", with("organizationId", "999"), "organization"},
		{"unknown persona", with("personas", []map[string]string{{"id": "999"}}), "persona"},
		{"long firstName", with("firstName", strings.Repeat("a", 65)), "64"},
		{"long lastName", with("lastName", strings.Repeat("a", 65)), "64"},
		{"long employeeId", with("employeeId", "12345678901"), "10"},
		{"long password", with("password", "Aa1"+strings.Repeat("x", 48)), "50"},
		{"weak password", with("password", "password"), "password"},
		{"missing password", with("password", nil), "password is required"},
		{"password with ssoOnly", with("ssoOnly", true), "SSO"},
		{"bad phone", with("phone", "5555551234"), "###-###-####"},
		{"long extension", with("phone", "555-555-1234 12345"), "###-###-####"},
		{"unknown field", with("favouriteColour", "blue"), "unknown field"},
		{"wrong type", with("enabled", "yes"), "true or false"},
		{"not an object", `[1,2]`, "not a JSON object"},
		{"malformed", `{"loginId": `, "not a JSON object"},
		{"trailing data", `{"loginId": "x"} {}`, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.wantAPIError(400, "POST", "/encompass/v3/users", tt.body, tt.detail)
		})
	}
	// Valid edge cases.
	ok := with("phone", "555-555-1234 12")
	ok["ssoOnly"] = true
	delete(ok, "password")
	ok["firstName"] = strings.Repeat("a", 64)
	a.must(201, "POST", "/encompass/v3/users", ok, nil)
	if n := a.srv.UserCount(); n != 6 {
		t.Fatalf("%d users after one valid create, want 6", n)
	}
}

func TestV3ListPaging(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithSeed(encompasstest.Seed{
		Personas:      []encompasstest.Persona{{ID: "1", Name: "Loan Officer"}},
		Organizations: []encompasstest.Organization{{ID: "0", Name: "Administration"}},
	}), encompasstest.WithUsers(450))
	seen := map[string]bool{}
	for start := 0; ; start += 200 {
		var page []v3User
		a.must(200, "GET", fmt.Sprintf("/encompass/v3/users?start=%d&limit=500", start), nil, &page)
		for _, u := range page {
			if seen[u.ID] {
				t.Fatalf("user %s listed twice", u.ID)
			}
			seen[u.ID] = true
		}
		if len(page) < 200 {
			break
		}
	}
	if len(seen) != 450 {
		t.Fatalf("listed %d users, want 450", len(seen))
	}
	var page []v3User
	a.must(200, "GET", "/encompass/v3/users", nil, &page)
	if len(page) != 25 {
		t.Fatalf("default page %d, want 25", len(page))
	}
	if got := a.srv.Count("GET /encompass/v3/users"); got != 4 {
		t.Fatalf("Count = %d, want 4", got)
	}
	a.wantAPIError(400, "GET", "/encompass/v3/users?start=-1", nil, "non-negative")
	a.wantAPIError(400, "GET", "/encompass/v3/users?limit=abc", nil, "non-negative")
}

func TestV3ListFiltersAndStyles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      []encompasstest.Option
		query     string
		wantIDs   int
		wrapped   bool
		enabled   bool
		indicator bool
	}{
		{"loginId filter", nil, "?loginId=MJohnson", 1, false, true, true},
		{"loginId filter no match", nil, "?loginId=nobody", 0, false, true, true},
		{"ignored loginId filter", []encompasstest.Option{encompasstest.WithIgnoredLoginFilter()}, "?loginId=mjohnson", 5, false, true, true},
		{"org filter", nil, "?orgId=1", 2, false, true, true},
		{"org recursive", nil, "?orgId=0&isRecursive=true", 5, false, true, true},
		{"org not recursive", nil, "?orgId=0", 1, false, true, true},
		{"items wrapper", []encompasstest.Option{encompasstest.WithListWrapper(encompasstest.ListItemsObject)}, "", 5, true, true, true},
		{"enabled only", []encompasstest.Option{encompasstest.WithStatusStyle(encompasstest.StatusEnabled)}, "", 5, false, true, false},
		{"indicators only", []encompasstest.Option{encompasstest.WithStatusStyle(encompasstest.StatusIndicators)}, "", 5, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, tt.opts...)
			_, body, _ := a.do("GET", "/encompass/v3/users"+tt.query, nil)
			var users []v3User
			if tt.wrapped {
				var w struct {
					Items      []v3User `json:"items"`
					TotalCount *int     `json:"totalCount"`
				}
				if err := json.Unmarshal(body, &w); err != nil || w.TotalCount == nil || *w.TotalCount != tt.wantIDs {
					t.Fatalf("wrapped body %s", body)
				}
				users = w.Items
			} else if err := json.Unmarshal(body, &users); err != nil {
				t.Fatalf("bare array expected: %s", body)
			}
			if len(users) != tt.wantIDs {
				t.Fatalf("%d users, want %d: %s", len(users), tt.wantIDs, body)
			}
			for _, u := range users {
				if (u.Enabled != nil) != tt.enabled || (u.UserIndicators != nil) != tt.indicator {
					t.Fatalf("status style of %s: enabled=%v indicators=%v", u.ID, u.Enabled, u.UserIndicators)
				}
			}
		})
	}
}

func TestV3Indicators(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var u v3User
	a.must(200, "GET", "/encompass/v3/users/formeremployee", nil, &u)
	if *u.Enabled || u.UserIndicators[0] != "Disabled" {
		t.Fatalf("disabled user %+v", u)
	}
	a.must(200, "GET", "/encompass/v3/users/apiadmin", nil, &u)
	if strings.Join(u.UserIndicators, ",") != "Enabled,TopLevelUser" {
		t.Fatalf("top-level user indicators %v", u.UserIndicators)
	}
	// userIndicators in a PATCH body change the account state too.
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"userIndicators": []string{"Disabled"}}, nil)
	if got, _ := a.srv.User("mjohnson"); got.Enabled {
		t.Fatal("userIndicators [Disabled] did not disable")
	}
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"enabled": true}, nil)
	if got, _ := a.srv.User("mjohnson"); !got.Enabled {
		t.Fatal("enabled:true did not enable")
	}
}

func TestV3PatchValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name   string
		body   any
		detail string
	}{
		{"change loginId", map[string]any{"loginId": "other"}, "cannot be changed"},
		{"change id", map[string]any{"id": "other"}, "cannot be changed"},
		{"clear required", `{"firstName": null}`, "firstName is required"},
		{"unknown org", map[string]any{"organizationId": "77"}, "organization"},
		{"bad phone", map[string]any{"cellPhone": "call me"}, "###-###-####"},
		{"long title", map[string]any{"title": strings.Repeat("t", 65)}, "64"},
		{"persona without id", map[string]any{"personas": []map[string]string{{"name": "Loan Officer"}}}, "id"},
		{"password for sso user", map[string]any{"password": "Abcdefg1"}, "SSO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := a.srv.User("mjohnson")
			a.wantAPIError(400, "PATCH", "/encompass/v3/users/mjohnson", tt.body, tt.detail)
			after, _ := a.srv.User("mjohnson")
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("rejected patch changed the user")
			}
		})
	}
	// Case-insensitive field names, like live tenants (nmlsOriginatorID).
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", `{"nmlsOriginatorID": "999", "personas": ["11", "10"]}`, nil)
	if u, _ := a.srv.User("mjohnson"); u.NMLSOriginatorID != "999" || strings.Join(u.Personas, ",") != "10,11" {
		t.Fatalf("after patch %+v", u)
	}
	if status, _, _ := a.do("PATCH", "/encompass/v3/users/mjohnson", strings.Repeat("x", 5<<20)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", status)
	}
}

func TestV3MeAndUserPersonas(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var me v3User
	a.must(200, "GET", "/encompass/v3/users/me", nil, &me)
	if me.ID != "apiadmin" {
		t.Fatalf("me = %+v", me)
	}
	var ps []struct{ ID, Name string }
	a.must(200, "GET", "/encompass/v3/users/asmith/personas", nil, &ps)
	if len(ps) != 1 || ps[0].Name != "Loan Processor" {
		t.Fatalf("personas %+v", ps)
	}
}

func TestV3TenantQuirkOptions(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithNMLSIDCasing(), encompasstest.WithMisspelledIndicator())
	_, body, _ := a.do("GET", "/encompass/v3/users/mjohnson", nil)
	if !strings.Contains(string(body), `"nmlsOriginatorID":"1234567"`) || strings.Contains(string(body), `"nmlsOriginatorId"`) {
		t.Fatalf("casing quirk: %s", body)
	}
	_, body, _ = a.do("GET", "/encompass/v3/users?limit=200", nil)
	if !strings.Contains(string(body), `"nmlsOriginatorID"`) || !strings.Contains(string(body), `"SuperAdminnistrator"`) {
		t.Fatalf("list quirks: %s", body)
	}
	var admin v3User
	a.must(200, "GET", "/encompass/v3/users/apiadmin", nil, &admin)
	if strings.Join(admin.UserIndicators, ",") != "Enabled,TopLevelUser,SuperAdminnistrator" {
		t.Fatalf("indicators %v", admin.UserIndicators)
	}
	// The input side accepts either casing regardless.
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", `{"nmlsOriginatorId": "1"}`, nil)
	if u, _ := a.srv.User("mjohnson"); u.NMLSOriginatorID != "1" {
		t.Fatal("nmlsOriginatorId not applied")
	}
}
