package encompasstest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

type scimListResp struct {
	TotalResults *string `json:"totalResults"`
	ItemsPerPage *string `json:"itemsPerPage"`
	StartIndex   *string `json:"startIndex"`
	Resources    []struct {
		ID   string `json:"id"`
		User struct {
			ID             string `json:"id"`
			UserName       string `json:"userName"`
			AccountEnabled bool   `json:"accountEnabled"`
			Personas       []any  `json:"personas"`
			Licenses       []any  `json:"licenses"`
		} `json:"urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassInternalUser"`
	} `json:"Resources"`
}

func (a *api) scimList(query string) scimListResp {
	a.t.Helper()
	var l scimListResp
	a.must(200, "GET", "/scim2/v1/users?"+userSchemaQuery+query, nil, &l)
	if l.TotalResults == nil || l.ItemsPerPage == nil || l.StartIndex == nil {
		a.t.Fatalf("list totals missing or not strings")
	}
	return l
}

func filter(f string) string { return "&filter=" + url.QueryEscape(f) }

// scimUser creates a SCIM user and returns its global user id.
func (a *api) scimUser(userName string, extra map[string]any) string {
	a.t.Helper()
	u := map[string]any{
		"userName": userName, "name": map[string]any{"givenName": "Sam", "familyName": "Cim"},
		"emails":    []any{map[string]any{"value": userName + "@example.com", "type": "work", "primary": true}},
		"isSsoOnly": true, "organization": map[string]any{"entityId": 1}, "personas": []any{map[string]any{"entityId": 10}},
	}
	for k, v := range extra {
		if v == nil {
			delete(u, k)
		} else {
			u[k] = v
		}
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User", ext}, ext: u}
	var res struct{ ID string }
	a.must(201, "POST", "/scim2/v1/users", body, &res)
	return res.ID
}

func patchBody(key string, ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, key: ops}
}

func TestSCIMSchemaRequired(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mj, _ := a.srv.User("mjohnson")
	for _, path := range []string{"/scim2/v1/users", "/scim2/v1/users/" + mj.GlobalUserID, "/scim2/v1/groups", "/scim2/v1/groups/1"} {
		for _, method := range []string{"GET", "DELETE"} {
			if method == "DELETE" && !strings.HasPrefix(path, "/scim2/v1/users/") {
				continue
			}
			status, body, _ := a.do(method, path, nil)
			if status != 400 || !strings.Contains(string(body), "schema query parameter is required") {
				t.Errorf("%s %s without schema: %d %s", method, path, status, body)
			}
		}
	}
	if u, _ := a.srv.User("mjohnson"); !u.Enabled {
		t.Fatal("DELETE without schema disabled the user")
	}
	status, body, _ := a.do("GET", "/scim2/v1/users?schema=urn:x", nil)
	if status != 400 || !strings.Contains(string(body), "not supported") {
		t.Fatalf("unknown schema: %d %s", status, body)
	}
	// The enterprise spelling of the schema is accepted too.
	a.must(200, "GET", "/scim2/v1/users?schema="+url.QueryEscape(encompasstest.SchemaEncompassUserAlt), nil, nil)
}

func TestSCIMListOnlyUsersWithGlobalID(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// Seed: apiadmin (root org), mjohnson, asmith have GUIDs; bwilliams and formeremployee do not.
	l := a.scimList(filter("enc_isRecursive eq true"))
	if *l.TotalResults != "3" || len(l.Resources) != 3 {
		t.Fatalf("recursive list: total %s, %d resources", *l.TotalResults, len(l.Resources))
	}
	a.must(201, "POST", "/encompass/v3/users", newV3User("v3only"), nil)
	if l := a.scimList(filter("enc_isRecursive eq true")); *l.TotalResults != "3" {
		t.Fatalf("a v3-created user appeared in SCIM: total %s", *l.TotalResults)
	}
	if l := a.scimList(filter(`userName eq "v3only"`)); *l.TotalResults != "0" {
		t.Fatalf("userName filter found a user without GUID")
	}
	guid := a.scimUser("viascim", nil)
	if l := a.scimList(filter(`userName eq "VIASCIM"`)); *l.TotalResults != "1" || l.Resources[0].ID != guid {
		t.Fatalf("userName filter: %+v", l)
	}
	// ... and the SCIM user is a v3 user too.
	var v3 v3User
	a.must(200, "GET", "/encompass/v3/users/viascim", nil, &v3)
	if v3.LoginID != "viascim" || v3.OrganizationID != "1" {
		t.Fatalf("v3 view of a SCIM user: %+v", v3)
	}
	// AssignGlobalUserID makes a v3 user visible (what account links do).
	if _, err := a.srv.AssignGlobalUserID("v3only"); err != nil {
		t.Fatal(err)
	}
	if l := a.scimList(filter(`userName eq "v3only"`)); *l.TotalResults != "1" {
		t.Fatal("linked user not listed")
	}
}

func TestSCIMListFiltersAndPaging(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := range 25 {
		a.scimUser(fmt.Sprintf("pager%02d", i), nil) // all in org 1
	}
	tests := []struct {
		query                string
		total, items, start  string
		wantStatus, firstIdx int
	}{
		{"", "1", "1", "1", 200, 0},                                  // root org only, not recursive: apiadmin
		{filter("enc_isRecursive eq true"), "28", "10", "1", 200, 0}, // default count 10
		{filter("enc_orgId eq 1"), "26", "10", "1", 200, 0},          // mjohnson + 25
		{filter("enc_orgId eq 1 and enc_isRecursive eq true"), "26", "10", "1", 200, 0},
		{filter("enc_isRecursive eq true and enc_orgId eq 0"), "28", "10", "1", 200, 0},
		{filter("enc_orgId eq 0"), "1", "1", "1", 200, 0},
		{filter("enc_isRecursive eq true") + "&startIndex=21&count=5", "28", "5", "21", 200, 0},
		{filter("enc_isRecursive eq true") + "&startIndex=26&count=5", "28", "3", "26", 200, 0},
		{filter("enc_isRecursive eq true") + "&count=500", "28", "28", "1", 200, 0},
		{filter(`userName eq "asmith" and enc_orgId eq 2`), "", "", "", 400, 0},
		{filter(`displayName eq "x"`), "", "", "", 400, 0},
		{filter(`userName co "x"`), "", "", "", 400, 0},
		{filter(`userName eq "unterminated`), "", "", "", 400, 0},
		{"&count=-1", "", "", "", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, body, _ := a.do("GET", "/scim2/v1/users?"+userSchemaQuery+tt.query, nil)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if status != 200 {
				return
			}
			var l scimListResp
			_ = json.Unmarshal(body, &l)
			if *l.TotalResults != tt.total || *l.ItemsPerPage != tt.items || *l.StartIndex != tt.start {
				t.Fatalf("totals %s/%s/%s, want %s/%s/%s", *l.TotalResults, *l.ItemsPerPage, *l.StartIndex, tt.total, tt.items, tt.start)
			}
		})
	}
	// count is capped at 100.
	for i := range 80 {
		a.scimUser(fmt.Sprintf("more%02d", i), nil)
	}
	if l := a.scimList(filter("enc_isRecursive eq true") + "&count=500"); *l.ItemsPerPage != "100" {
		t.Fatalf("count over 100 gave %s items", *l.ItemsPerPage)
	}
	// attributes=personas,licenses adds them to list items.
	l := a.scimList(filter(`userName eq "mjohnson"`))
	if l.Resources[0].User.Personas != nil {
		t.Fatal("personas listed without attributes=personas")
	}
	l = a.scimList(filter(`userName eq "mjohnson"`) + "&attributes=personas,licenses")
	if len(l.Resources[0].User.Personas) != 1 || len(l.Resources[0].User.Licenses) != 54 {
		t.Fatalf("attributes=personas,licenses: %+v", l.Resources[0].User)
	}
}

func TestSCIMCreateValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	post := func(u map[string]any) (int, string) {
		base := map[string]any{
			"userName": "newbie", "name": map[string]any{"givenName": "New", "familyName": "Bie"},
			"emails": []any{map[string]any{"value": "newbie@example.com"}}, "isSsoOnly": true,
		}
		for k, v := range u {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		status, body, _ := a.do("POST", "/scim2/v1/users", map[string]any{ext: base})
		return status, string(body)
	}
	tests := []struct {
		name   string
		change map[string]any
		status int
		detail string
	}{
		{"no userName", map[string]any{"userName": nil}, 400, "userName is required"},
		{"leading period", map[string]any{"userName": ".x"}, 400, "period"},
		{"backslash", map[string]any{"userName": `a\b`}, 400, "cannot contain"},
		{"asterisk", map[string]any{"userName": "a*b"}, 400, "cannot contain"},
		{"question", map[string]any{"userName": "a?b"}, 400, "cannot contain"},
		{"no familyName", map[string]any{"name": map[string]any{"givenName": "x"}}, 400, "lastName is required"},
		{"long givenName", map[string]any{"name": map[string]any{"givenName": strings.Repeat("g", 65), "familyName": "x"}}, 400, "64"},
		{"no emails", map[string]any{"emails": nil}, 400, "email is required"},
		{"long employeeId", map[string]any{"employeeId": "ABCDEFGHIJK"}, 400, "10"},
		{"long jobTitle", map[string]any{"jobTitle": strings.Repeat("j", 65)}, 400, "64"},
		{"long chumId", map[string]any{"chumId": "12345678901"}, 400, "10"},
		{"bad phone", map[string]any{"phoneNumbers": []any{map[string]any{"value": "12345", "type": "work"}}}, 400, "phone"},
		{"bad phone type", map[string]any{"phoneNumbers": []any{map[string]any{"value": "1234567890", "type": "pager"}}}, 400, "not supported"},
		{"password with sso", map[string]any{"password": "Password@1"}, 400, "cannot be set"},
		{"no password without sso", map[string]any{"isSsoOnly": false}, 400, "password is required"},
		{"password too long", map[string]any{"isSsoOnly": false, "password": "Aa1" + strings.Repeat("x", 48)}, 400, "50"},
		{"unknown persona", map[string]any{"personas": []any{map[string]any{"entityId": 404}}}, 400, "persona"},
		{"unknown org", map[string]any{"organization": map[string]any{"entityId": 404}}, 400, "organization"},
		{"unknown attribute", map[string]any{"shoeSize": 44}, 400, "not supported"},
		{"duplicate of a v3 user", map[string]any{"userName": "BWilliams"}, 409, "already exists"},
		{"ok", nil, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.change)
			if status != tt.status || !strings.Contains(body, tt.detail) {
				t.Fatalf("status %d body %s, want %d mentioning %q", status, body, tt.status, tt.detail)
			}
		})
	}
	status, body, _ := a.do("POST", "/scim2/v1/users", map[string]any{encompasstest.SchemaAIQUser: map[string]any{"userName": "x"}})
	if status != 400 {
		t.Fatalf("AIQ-only create: %d %s", status, body)
	}
}

func TestSCIMPatchOperations(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guid := a.scimUser("patchme", map[string]any{"isSsoOnly": false, "password": "Password@1"})
	p := func(attr string) string { return ext + ":" + attr }
	tests := []struct {
		name  string
		key   string // "operations" or "Operations"
		ops   []map[string]any
		check func(u encompasstest.SimUser) bool
	}{
		{"replace middle name with path", "operations",
			[]map[string]any{{"op": "replace", "path": p("name.middleName"), "value": "Q"}},
			func(u encompasstest.SimUser) bool { return u.MiddleName == "Q" }},
		{"remove middle name", "operations",
			[]map[string]any{{"op": "remove", "path": p("name.middleName")}},
			func(u encompasstest.SimUser) bool { return u.MiddleName == "" }},
		{"RFC Operations key and capitalised op", "Operations",
			[]map[string]any{{"op": "Replace", "path": "jobTitle", "value": "Processor"}},
			func(u encompasstest.SimUser) bool { return u.Title == "Processor" }},
		{"emails with path", "operations",
			[]map[string]any{{"op": "add", "path": p("emails"), "value": []any{map[string]any{"value": "new@example.com"}}}},
			func(u encompasstest.SimUser) bool { return u.Email == "new@example.com" }},
		{"emails.value", "operations",
			[]map[string]any{{"op": "replace", "path": p("emails.value"), "value": "newer@example.com"}},
			func(u encompasstest.SimUser) bool { return u.Email == "newer@example.com" }},
		{"phones normalised", "operations",
			[]map[string]any{{"op": "add", "value": map[string]any{ext: map[string]any{"phoneNumbers": []any{
				map[string]any{"value": "(555) 555-1234", "type": "work"}, map[string]any{"value": "555.555.9999 12", "type": "mobile"}}}}}},
			func(u encompasstest.SimUser) bool {
				return u.Phone == "555-555-1234" && u.CellPhone == "555-555-9999 12"
			}},
		{"phone by type filter", "operations",
			[]map[string]any{{"op": "replace", "path": p(`phoneNumbers[type eq "fax"].value`), "value": "5555550000"}},
			func(u encompasstest.SimUser) bool { return u.Fax == "555-555-0000" }},
		{"remove one phone", "operations",
			[]map[string]any{{"op": "remove", "path": p(`phoneNumbers[type eq "mobile"]`)}},
			func(u encompasstest.SimUser) bool { return u.CellPhone == "" && u.Phone != "" }},
		{"personas add then remove by filter", "operations",
			[]map[string]any{{"op": "add", "path": p("personas"), "value": []any{map[string]any{"entityId": 11}}},
				{"op": "remove", "path": p(`personas[entityId eq "10"]`)}},
			func(u encompasstest.SimUser) bool { return strings.Join(u.Personas, ",") == "11" }},
		{"personas replace", "operations",
			[]map[string]any{{"op": "replace", "path": p("personas"), "value": []any{map[string]any{"entityId": "12"}, map[string]any{"entityId": 10}}}},
			func(u encompasstest.SimUser) bool { return strings.Join(u.Personas, ",") == "10,12" }},
		{"several attributes without path", "operations",
			[]map[string]any{{"op": "replace", "value": map[string]any{ext: map[string]any{
				"employeeId": "E1", "workingFolder": "Pipeline 2", "nmlsOriginatorId": "42", "requirePasswordChange": true}}}},
			func(u encompasstest.SimUser) bool {
				return u.EmployeeID == "E1" && u.WorkingFolder == "Pipeline 2" && u.NMLSOriginatorID == "42" && u.RequirePasswordChange
			}},
		{"password change", "operations",
			[]map[string]any{{"op": "replace", "path": p("password"), "value": "NewPassw0rd"}},
			func(u encompasstest.SimUser) bool { return u.Password == "NewPassw0rd" }},
		{"switch to SSO drops the password", "operations",
			[]map[string]any{{"op": "replace", "path": p("isSsoOnly"), "value": true}},
			func(u encompasstest.SimUser) bool { return u.SSOOnly && u.Password == "" }},
		{"disable and re-enable", "operations",
			[]map[string]any{{"op": "replace", "path": p("accountEnabled"), "value": false},
				{"op": "replace", "value": map[string]any{"accountEnabled": true}}},
			func(u encompasstest.SimUser) bool { return u.Enabled }},
		{"licenses", "operations",
			[]map[string]any{{"op": "add", "path": p("licenses"), "value": []any{map[string]any{"stateAbbreviation": "ca", "selected": true, "licenseNumber": "CA-99"}}}},
			func(u encompasstest.SimUser) bool {
				return len(u.Licenses) == 1 && u.Licenses[0].StateAbbreviation == "CA"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := a.do("PATCH", "/scim2/v1/users/"+guid, patchBody(tt.key, tt.ops...))
			wantNoContent(t, status, body)
			u, _ := a.srv.User(guid)
			if !tt.check(u) {
				t.Fatalf("after patch: %+v", u)
			}
		})
	}
}

func TestSCIMPatchRejected(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mj, _ := a.srv.User("mjohnson")
	p := func(attr string) string { return ext + ":" + attr }
	tests := []struct {
		name   string
		body   any
		detail string
	}{
		{"organization read-only with path", patchBody("operations", map[string]any{"op": "replace", "path": p("organization"), "value": map[string]any{"entityId": 2}}), "read-only"},
		{"organization read-only without path", patchBody("operations", map[string]any{"op": "add", "value": map[string]any{ext: map[string]any{"organization": map[string]any{"entityId": 2}}}}), "read-only"},
		{"userName change", patchBody("operations", map[string]any{"op": "replace", "path": "userName", "value": "other"}), "cannot be changed"},
		{"remove family name", patchBody("operations", map[string]any{"op": "remove", "path": p("name.familyName")}), "lastName is required"},
		{"remove emails", patchBody("operations", map[string]any{"op": "remove", "path": p("emails")}), "email is required"},
		{"bad op", patchBody("operations", map[string]any{"op": "move", "path": "jobTitle", "value": "x"}), "op must be"},
		{"remove without path", patchBody("operations", map[string]any{"op": "remove", "value": map[string]any{}}), "requires a path"},
		{"add without value", patchBody("operations", map[string]any{"op": "add", "path": "jobTitle"}), "requires a value"},
		{"value not object without path", patchBody("operations", map[string]any{"op": "add", "value": "x"}), "must be an object"},
		{"no operations", map[string]any{"schemas": []string{encompasstest.SchemaPatchOp}}, "operations is required"},
		{"empty operations", patchBody("operations"), "empty"},
		{"both keys", map[string]any{"operations": []any{}, "Operations": []any{}}, "twice"},
		{"unknown schema in path", patchBody("operations", map[string]any{"op": "add", "path": "urn:x:y:jobTitle", "value": "x"}), "unsupported schema"},
		{"bad filter", patchBody("operations", map[string]any{"op": "remove", "path": p(`phoneNumbers[type ne "work"]`)}), "eq"},
		{"unclosed filter", patchBody("operations", map[string]any{"op": "remove", "path": p(`phoneNumbers[type eq "work"`)}), "unclosed"},
		{"unknown attribute", patchBody("operations", map[string]any{"op": "add", "path": "favouriteColour", "value": "x"}), "not supported"},
		{"wrong type", patchBody("operations", map[string]any{"op": "replace", "path": "accountEnabled", "value": "yes"}), "true or false"},
		{"weak password", patchBody("operations", map[string]any{"op": "replace", "path": "password", "value": "short"}), "SSO"},
		{"malformed", `{"operations": [`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := a.srv.User("mjohnson")
			status, body, _ := a.do("PATCH", "/scim2/v1/users/"+mj.GlobalUserID, tt.body)
			if status != 400 || !strings.Contains(string(body), tt.detail) {
				t.Fatalf("status %d body %s, want 400 mentioning %q", status, body, tt.detail)
			}
			var e struct{ Schemas []string }
			if json.Unmarshal(body, &e) != nil || len(e.Schemas) != 1 || e.Schemas[0] != encompasstest.SchemaError {
				t.Fatalf("SCIM error body %s", body)
			}
			if after, _ := a.srv.User("mjohnson"); fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatal("a rejected PATCH changed the user")
			}
		})
	}
	status, _, _ := a.do("PATCH", "/scim2/v1/users/00000000-0000-4000-8000-000000000000", patchBody("operations", map[string]any{"op": "replace", "path": "jobTitle", "value": "x"}))
	if status != 404 {
		t.Fatalf("unknown GUID: %d", status)
	}
	// A login id is not a SCIM id.
	if status, _, _ := a.do("GET", "/scim2/v1/users/mjohnson?"+userSchemaQuery, nil); status != 404 {
		t.Fatalf("GET by login id: %d", status)
	}
}

func TestSCIMDeleteDisablesAndReplaceReenables(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mj, _ := a.srv.User("mjohnson")
	status, body, _ := a.do("DELETE", "/scim2/v1/users/"+mj.GlobalUserID+"?"+userSchemaQuery, nil)
	wantNoContent(t, status, body)
	var v3 v3User
	a.must(200, "GET", "/encompass/v3/users/mjohnson", nil, &v3)
	if *v3.Enabled || v3.UserIndicators[0] != "Disabled" {
		t.Fatalf("after SCIM DELETE the v3 user is %+v", v3)
	}
	l := a.scimList(filter(`userName eq "mjohnson"`))
	if len(l.Resources) != 1 || l.Resources[0].User.AccountEnabled {
		t.Fatal("a disabled user must still be listed, with accountEnabled false")
	}
	status, body, _ = a.do("PATCH", "/scim2/v1/users/"+mj.GlobalUserID, patchBody("operations",
		map[string]any{"op": "replace", "path": ext + ":accountEnabled", "value": true}))
	wantNoContent(t, status, body)
	if u, _ := a.srv.User("mjohnson"); !u.Enabled {
		t.Fatal("replace accountEnabled=true did not re-enable")
	}
	if status, _, _ := a.do("DELETE", "/scim2/v1/users/00000000-0000-4000-8000-000000000000?"+userSchemaQuery, nil); status != 404 {
		t.Fatalf("DELETE unknown: %d", status)
	}
}

func TestSCIMGroups(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var l struct {
		TotalResults string
		Resources    []struct {
			G struct{ ID, DisplayName string } `json:"urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassGroup"`
		}
	}
	a.must(200, "GET", "/scim2/v1/groups?"+groupSchemaQuery+"&count=2", nil, &l)
	if l.TotalResults != "3" || len(l.Resources) != 2 || l.Resources[0].G.DisplayName != "All Users" {
		t.Fatalf("group list %+v", l)
	}
	gp := func(body any) (int, string) {
		status, b, _ := a.do("PATCH", "/scim2/v1/groups/3", body)
		return status, string(b)
	}
	members := func() string { return strings.Join(a.srv.GroupMembers("Processors"), ",") }
	path := encompasstest.SchemaEncompassGroup + ":members"
	// add with path, value array
	if s, b := gp(patchBody("operations", map[string]any{"op": "add", "path": path, "value": []any{map[string]any{"value": "MJohnson", "type": "User"}}})); s != 200 {
		t.Fatalf("add: %d %s", s, b)
	}
	if members() != "asmith,mjohnson" {
		t.Fatalf("members %s", members())
	}
	// adding again is idempotent
	gp(patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "mjohnson", "type": "User"}}}))
	if members() != "asmith,mjohnson" {
		t.Fatalf("members after re-add %s", members())
	}
	// remove with the documented filter, spaced and unspaced
	if s, b := gp(patchBody("operations", map[string]any{"op": "remove", "path": path + `[value eq "asmith" and type eq"User"]`})); s != 200 {
		t.Fatalf("remove: %d %s", s, b)
	}
	if members() != "mjohnson" {
		t.Fatalf("members after remove %s", members())
	}
	// remove with a value
	gp(patchBody("operations", map[string]any{"op": "remove", "path": "members", "value": []any{map[string]any{"value": "mjohnson", "type": "User"}}}))
	if members() != "" {
		t.Fatalf("members after remove by value %s", members())
	}
	// organization member, then replace its orgLevel
	gp(patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": 2, "type": "Organization", "orgLevel": "Current"}}}))
	if s, b := gp(patchBody("operations", map[string]any{"op": "replace", "path": `members[value eq "2" and type eq "Organization"].orgLevel`, "value": "Recursive"})); s != 200 {
		t.Fatalf("replace orgLevel: %d %s", s, b)
	}
	if g, _ := a.srv.Group("Processors"); len(g.Members) != 1 || g.Members[0].OrgLevel != "Recursive" {
		t.Fatalf("org member %+v", g.Members)
	}
	for name, body := range map[string]any{
		"unknown user":        patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "ghost", "type": "User"}}}),
		"unknown org":         patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "99", "type": "Organization", "orgLevel": "Current"}}}),
		"org without level":   patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "1", "type": "Organization"}}}),
		"replace user":        patchBody("operations", map[string]any{"op": "replace", "path": "members", "value": []any{map[string]any{"value": "asmith", "type": "User"}}}),
		"rename":              patchBody("operations", map[string]any{"op": "replace", "value": map[string]any{"displayName": "x"}}),
		"filter without type": patchBody("operations", map[string]any{"op": "remove", "path": `members[value eq "asmith"]`}),
		"bad member type":     patchBody("operations", map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "x", "type": "Robot"}}}),
	} {
		before, _ := a.srv.Group("Processors")
		if s, b := gp(body); s != 400 {
			t.Errorf("%s: %d %s", name, s, b)
		}
		if after, _ := a.srv.Group("Processors"); fmt.Sprint(before.Members) != fmt.Sprint(after.Members) {
			t.Errorf("%s: rejected patch changed members", name)
		}
	}
	if status, _, _ := a.do("GET", "/scim2/v1/groups/99?"+groupSchemaQuery, nil); status != 404 {
		t.Fatalf("unknown group: %d", status)
	}
	// Deleting a user removes it from groups.
	_ = a.srv.SetGroupMembers("Processors", "asmith")
	a.srv.DeleteUser("asmith")
	if members() != "" {
		t.Fatalf("deleted user still a member: %s", members())
	}
}

// WithIgnoredUserNameFilter: the userName filter is dropped, the answer is
// the unfiltered list (root organization, not recursive), paged as usual.
func TestSCIMIgnoredUserNameFilter(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithIgnoredUserNameFilter())
	a.scimUser("hidden01", nil) // organization 1, not the root
	plain := a.scimList("")
	filtered := a.scimList(filter(`userName eq "hidden01"`))
	if *filtered.TotalResults != *plain.TotalResults || len(filtered.Resources) != len(plain.Resources) {
		t.Fatalf("filtered %s users, unfiltered %s", *filtered.TotalResults, *plain.TotalResults)
	}
	for _, r := range filtered.Resources {
		if strings.EqualFold(r.User.UserName, "hidden01") {
			t.Fatal("the ignored filter still selected the user")
		}
	}
	honoured := newAPI(t)
	honoured.scimUser("hidden01", nil)
	if l := honoured.scimList(filter(`userName eq "hidden01"`)); *l.TotalResults != "1" {
		t.Fatalf("default server: filter answered %s users", *l.TotalResults)
	}
}
