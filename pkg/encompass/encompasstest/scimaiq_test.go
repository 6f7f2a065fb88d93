package encompasstest_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

const aiq = encompasstest.SchemaAIQUser

// aiqProfile is reference 001's "PATCH 10" value.
func aiqProfile(userName string) map[string]any {
	return map[string]any{
		"userName": userName, "roleName": "UnderWriter", "enabled": true, "ssoOnly": true,
		"name":         map[string]any{"familyName": "testlname", "middleName": "testmname", "givenName": "testfirstname"},
		"phoneNumbers": []any{map[string]any{"value": "7972431206", "type": "work"}},
		"emails":       []any{map[string]any{"value": userName + "@example.com", "type": "work", "primary": true}},
		"authId":       "5B9E2D6B-9ECE-7F92-A381-DA863E2E2CF0",
	}
}

func patchAdd(value map[string]any) map[string]any {
	return map[string]any{"schemas": []string{encompasstest.SchemaPatchOp},
		"operations": []any{map[string]any{"op": "add", "value": map[string]any{aiq: value}}}}
}

// TestAIQWire: reference 001's PATCH 10 sample is accepted, and the profile
// reads back with reference 002's response attributes, selected by the
// schema parameter; the Encompass profile of the same id is unchanged.
func TestAIQWire(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guid := a.scimUser("aiqwire", nil)
	q := "?schema=" + url.QueryEscape(aiq)
	if status, body, _ := a.do("PATCH", "/scim2/v1/users/"+guid, patchAdd(aiqProfile("aiqwire"))); status != 200 || !strings.Contains(string(body), "No Content") {
		t.Fatalf("PATCH 10: %d %s", status, body)
	}
	status, body, _ := a.do("GET", "/scim2/v1/users/"+guid+q, nil)
	if status != 200 {
		t.Fatalf("GET: %d %s", status, body)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(got[aiq], &p); err != nil {
		t.Fatalf("no %s object: %s", aiq, body)
	}
	for _, k := range []string{"id", "userName", "roleName", "enabled", "name", "phoneNumbers", "emails", "ssoOnly", "authId", "meta"} {
		if _, ok := p[k]; !ok {
			t.Errorf("the profile lacks %s: %s", k, body)
		}
	}
	if string(got["id"]) != `"`+guid+`"` || p["enabled"] != true || !strings.Contains(string(body), "797-243-1206") {
		t.Fatalf("profile %s", body)
	}
	// The Encompass schema still answers the Encompass profile.
	if status, body, _ := a.do("GET", "/scim2/v1/users/"+guid+"?schema="+url.QueryEscape(encompasstest.SchemaEncompassUser), nil); status != 200 || strings.Contains(string(body), aiq) {
		t.Fatalf("Encompass GET: %d %s", status, body)
	}
	// DELETE with the AIQ schema disables the DDA profile only.
	if status, _, _ := a.do("DELETE", "/scim2/v1/users/"+guid+q, nil); status != 200 {
		t.Fatalf("DELETE: %d", status)
	}
	if p, _ := a.srv.AIQ(guid); p.Enabled {
		t.Fatal("the DDA profile is enabled after its DELETE")
	}
	if u, _ := a.srv.User(guid); !u.Enabled {
		t.Fatal("the Encompass profile was disabled by the DDA DELETE")
	}
	// Malformed and hostile bodies are refused, nothing half-applied.
	for name, body := range map[string]any{
		"AIQ value not an object": patchAdd(nil),
		"unknown attribute":       patchAdd(map[string]any{"shoeSize": 44}),
		"nested inside Encompass": map[string]any{"operations": []any{map[string]any{"op": "replace", "value": map[string]any{encompasstest.SchemaEncompassUser: map[string]any{aiq: map[string]any{"roleName": "x"}}}}}},
		"role not a string":       map[string]any{"operations": []any{map[string]any{"op": "replace", "path": aiq + ":roleName", "value": 7}}},
		"userName change":         map[string]any{"operations": []any{map[string]any{"op": "replace", "path": aiq + ":userName", "value": "other"}}},
		"role over 64 characters": map[string]any{"operations": []any{map[string]any{"op": "replace", "path": aiq + ":roleName", "value": strings.Repeat("r", 65)}}},
		"remove the e-mail":       map[string]any{"operations": []any{map[string]any{"op": "remove", "path": aiq + ":emails"}}},
	} {
		status, resp, _ := a.do("PATCH", "/scim2/v1/users/"+guid, body)
		if status != 400 && status != 409 {
			t.Errorf("%s: %d %s", name, status, resp)
		}
	}
	if p, _ := a.srv.AIQ(guid); p.RoleName != "UnderWriter" || p.Email == "" {
		t.Fatalf("a refused PATCH changed the profile: %+v", p)
	}
	// A sub-attribute the simulator does not model (an e-mail's primary
	// flag) changes nothing, as on the Encompass profile: the e-mail stays.
	before, _ := a.srv.AIQ(guid)
	primary := map[string]any{"operations": []any{map[string]any{"op": "replace", "path": aiq + `:emails[type eq "work"].primary`, "value": true}}}
	if status, resp, _ := a.do("PATCH", "/scim2/v1/users/"+guid, primary); status != 200 {
		t.Fatalf("PATCH of emails[type eq work].primary: %d %s", status, resp)
	}
	if p, _ := a.srv.AIQ(guid); p.Email != before.Email || p.Email == "" {
		t.Fatalf("the e-mail changed from %q to %q", before.Email, p.Email)
	}
}

// TestAccountLinksWire: the body needs the core schema and one product
// schema; the documented refusals.
func TestAccountLinksWire(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	post := func(body any) (int, string) {
		status, b, _ := a.do("POST", "/scim2/v1/accountLinks", body)
		return status, string(b)
	}
	for name, c := range map[string]struct {
		body   any
		status int
		says   string
	}{
		"no core schema":       {map[string]any{"schemas": []string{encompasstest.SchemaEncompassUser}, "userName": "bwilliams"}, 400, "core and product"},
		"no product schema":    {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser}, "userName": "bwilliams"}, 400, "core and product"},
		"two products":         {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser, encompasstest.SchemaEncompassUser, aiq}, "userName": "bwilliams"}, 400, "one product"},
		"userName over 16":     {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser, encompasstest.SchemaEncompassUser}, "userName": "abcdefghijklmnopq"}, 400, "16"},
		"not an object":        {"[1]", 400, "object"},
		"linked already":       {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser, encompasstest.SchemaEncompassUser}, "userName": "mjohnson"}, 409, "already linked"},
		"no such user":         {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser, encompasstest.SchemaEncompassUser}, "userName": "ghost"}, 404, "ghost"},
		"a new global user id": {map[string]any{"schemas": []string{encompasstest.SchemaCoreUser, encompasstest.SchemaEncompassUser}, "userName": "bwilliams"}, 201, `"id"`},
	} {
		if status, body := post(c.body); status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", name, status, body, c.status, c.says)
		}
	}
}
