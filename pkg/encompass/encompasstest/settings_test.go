package encompasstest_test

import (
	"fmt"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestPersonasPaging(t *testing.T) {
	t.Parallel()
	var ps []encompasstest.Persona
	for i := range 1200 {
		ps = append(ps, encompasstest.Persona{ID: fmt.Sprint(i), Name: fmt.Sprintf("Persona %d", i)})
	}
	a := newAPI(t, encompasstest.WithSeed(encompasstest.Seed{Personas: ps,
		Organizations: []encompasstest.Organization{{ID: "0", Name: "Administration"}}}))
	tests := []struct {
		query     string
		n         int
		firstName string
	}{
		{"", 100, "Persona 0"},
		{"?start=100", 100, "Persona 100"},
		{"?limit=5000", 1000, "Persona 0"},
		{"?start=1150&limit=100", 50, "Persona 1150"},
		{"?start=5000", 0, ""},
	}
	for _, path := range []string{"/encompass/v3/settings/personas", "/encompass/v1/settings/personas"} {
		for _, tt := range tests {
			var got []encompasstest.Persona
			a.must(200, "GET", path+tt.query, nil, &got)
			if len(got) != tt.n || (tt.n > 0 && got[0].Name != tt.firstName) {
				t.Errorf("%s%s: %d personas, first %v", path, tt.query, len(got), got)
			}
		}
	}
	a.wantAPIError(400, "GET", "/encompass/v3/settings/personas?limit=x", nil, "non-negative")
}

func TestOrganizations(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var orgs []encompasstest.Organization
	a.must(200, "GET", "/encompass/v1/organizations?start=0&limit=20&view=summary", nil, &orgs)
	if len(orgs) != 4 || orgs[0].Name != "Administration" || orgs[0].ID != "0" || orgs[1].ParentID != "0" {
		t.Fatalf("organizations %+v", orgs)
	}
	a.must(200, "GET", "/encompass/v1/organizations?start=2&limit=1", nil, &orgs)
	if len(orgs) != 1 || orgs[0].Name != "Processing" {
		t.Fatalf("paged %+v", orgs)
	}
	a.must(200, "GET", "/encompass/v1/organizations?parentId=0", nil, &orgs)
	if len(orgs) != 3 {
		t.Fatalf("by parent %+v", orgs)
	}
	a.must(200, "GET", "/encompass/v1/organizations/0/children", nil, &orgs)
	if len(orgs) != 3 || orgs[0].Name != "Retail Lending" {
		t.Fatalf("children %+v", orgs)
	}
	var one encompasstest.Organization
	a.must(200, "GET", "/encompass/v1/organizations/3", nil, &one)
	if one.Name != "Wholesale" {
		t.Fatalf("org 3 %+v", one)
	}
	a.wantAPIError(404, "GET", "/encompass/v1/organizations/99", nil, "not found")
	a.wantAPIError(404, "GET", "/encompass/v1/organizations/99/children", nil, "not found")
	a.wantAPIError(400, "GET", "/encompass/v1/organizations?start=-2", nil, "non-negative")
	if got := a.srv.Organizations(); len(got) != 4 {
		t.Fatalf("Organizations() %v", got)
	}
	if got := a.srv.Groups(); len(got) != 3 {
		t.Fatalf("Groups() %v", got)
	}
}

func TestWithCredentials(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithCredentials("BE000111", "cid", "csecret", "robot", "R0bot-Passw0rd"))
	if a.srv.InstanceID != "BE000111" || a.srv.Username != "robot" {
		t.Fatalf("credentials %+v", a.srv)
	}
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	// The default ones no longer work.
	a.srv.ClientSecret = encompasstest.DefaultClientSecret
	status, _, _ := a.form("/oauth2/v1/token", map[string][]string{"grant_type": {"client_credentials"}, "scope": {"lp"}, "instance_id": {"BE000111"}}, true)
	if status != 401 {
		t.Fatalf("default secret accepted: %d", status)
	}
}
