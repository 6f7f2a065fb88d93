package encompasstest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzSCIMPatch feeds arbitrary bodies to the SCIM PATCH parser and applies
// what parses to a real user. Whatever the input, the simulator must not
// panic, paths must round-trip, and a PATCH that is accepted must leave a
// valid user whose identity and organization (read-only in SCIM) did not
// change. `make test` runs the seed corpus; `go test -fuzz FuzzSCIMPatch`
// explores further.
func FuzzSCIMPatch(f *testing.F) {
	for _, name := range []string{"scim_patch_no_path_request.json", "scim_patch_with_path_request.json",
		"scim_patch_add_request.json", "scim_patch_remove_middlename_request.json", "scim_patch_aiq_link_request.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"Operations":[{"op":"Replace","path":"accountEnabled","value":true}]}`,
		`{"operations":[{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"}]}`,
		`{"operations":[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"(555) 555-1234 12"}]}`,
		`{"operations":[{"op":"add","path":"personas","value":[{"entityId":11},{"entityId":"12"}]}]}`,
		`{"operations":[{"op":"remove","path":"personas[entityId eq \"10\"]"}]}`,
		`{"operations":[{"op":"replace","path":"organization","value":{"entityId":2}}]}`,
		`{"operations":[{"op":"add","value":{"name":{"givenName":"A","familyName":"B"},"jobTitle":"T"}}]}`,
		`{"operations":[{"op":"replace","path":"password","value":"Passw0rdX"}]}`,
		`{"operations":[{"op":"add","path":"members[value eq \"aa03\" and type eq\"User\"]"}]}`,
		`{"operations":[{"op":"add","path":"licenses","value":[{"stateAbbreviation":"tx","selected":true}]}]}`,
		`{"operations":[]}`, `{"operations":null}`, `[]`, `{}`, `null`, `{"operations":[{"op":"remove"}]}`,
		`{"operations":[{"op":"remove","path":"name[a eq \"]\"].x"}]}`,
	} {
		f.Add([]byte(s))
	}
	srv, err := build()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := parseSCIMPatch(body, SchemaEncompassUser, SchemaEncompassUserAlt, SchemaAIQUser)
		if err != nil {
			return
		}
		for _, op := range ops {
			if op.Path == nil {
				continue
			}
			again, err := parseSCIMPath(op.Path.String())
			if err != nil {
				t.Fatalf("path %q re-parsed from %q: %v", op.Path.String(), body, err)
			}
			again.Schema = op.Path.Schema
			if !reflect.DeepEqual(again, op.Path) {
				t.Fatalf("path round trip: %+v became %+v", op.Path, again)
			}
		}
		srv.st.mu.Lock()
		defer srv.st.mu.Unlock()
		orig := srv.st.lookup("mjohnson")
		u := orig.clone()
		if err := srv.applySCIMOps(&u, ops); err != nil {
			return
		}
		if err := srv.st.checkUser(&u); err != nil {
			t.Fatalf("accepted PATCH %q left an invalid user: %v", body, err)
		}
		if u.ID != orig.ID || u.LoginID != orig.LoginID || u.GlobalUserID != orig.GlobalUserID || u.OrganizationID != orig.OrganizationID {
			t.Fatalf("PATCH %q changed identity or organization: %+v", body, u)
		}
		if u.Password != "" && checkPasswordPolicy(u.Password) != nil {
			t.Fatalf("PATCH %q set a password outside the policy", body)
		}
	})
}
