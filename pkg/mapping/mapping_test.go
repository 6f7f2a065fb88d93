package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

func TestParseExampleAndMatch(t *testing.T) {
	t.Parallel()
	r, err := LoadFile("testdata/mapping.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		a    Attributes
		want int
	}{
		{Attributes{JobCode: "LO2"}, 0},
		{Attributes{JobCode: "lo9", Department: "Processing"}, 0}, // first match wins
		{Attributes{Department: "PROCESSING", Location: "branch 12"}, 1},
		{Attributes{Department: "Processing"}, -1}, // every key must match
		{Attributes{JobTitle: "Senior Underwriter II"}, 2},
		{Attributes{JobCode: "CLO"}, -1},
		{Attributes{}, -1},
	}
	for _, tc := range cases {
		if got := r.Match(tc.a); got != tc.want {
			t.Errorf("Match(%+v) = %d, want %d", tc.a, got, tc.want)
		}
	}
}

func TestDefaultRulesParse(t *testing.T) {
	t.Parallel()
	r := Default()
	if len(r.Rules) == 0 || *r.Defaults.Organization != "Administration" {
		t.Fatalf("built-in rules: %+v", r)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, want string }{
		"unknown top-level key": {"defaults: {organization: A, personas: [P]}\nrule: []\n", "field rule not found"},
		"unknown rule key":      {"defaults: {organization: A, personas: [P]}\nrules: [{when: {jobCode: x}, persona: [P]}]\n", "field persona not found"},
		"unknown when key":      {"defaults: {organization: A, personas: [P]}\nrules: [{when: {grade: x}}]\n", "rules[0].when.grade is not a matchable attribute"},
		"bad glob":              {"defaults: {organization: A, personas: [P]}\nrules: [{when: {jobCode: \"[\"}}]\n", "not a valid glob"},
		"no organization":       {"defaults: {personas: [P]}\n", "defaults.organization is required"},
		"no personas":           {"defaults: {organization: A}\n", "defaults.personas needs at least one"},
		"empty rule personas":   {"defaults: {organization: A, personas: [P]}\nrules: [{when: {jobCode: x}, personas: []}]\n", "rules[0].personas is empty"},
		"empty when":            {"defaults: {organization: A, personas: [P]}\nrules: [{personas: [Q]}]\n", "rules[0].when is empty"},
		"empty name":            {"defaults: {organization: A, personas: [\"\"]}\n", "defaults.personas contains an empty name"},
		"empty file":            {"", "empty"},
		"wrong type":            {"defaults: [1, 2]\n", "invalid mapping"},
		"two documents":         {"defaults: {organization: A, personas: [P]}\n---\nx: 1\n", "more than one"},
		"not yaml":              {"{defaults: ", "invalid mapping"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`{"defaults":{"organization":"A","personas":["P"]},"rules":[{"when":{"jobCode":"X*"},"personas":["Q"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Match(Attributes{JobCode: "x1"}) != 0 {
		t.Fatal("JSON rule did not match")
	}
}

func TestLoadFileMissing(t *testing.T) {
	t.Parallel()
	_, err := LoadFile("testdata/nope.yaml")
	if err == nil || !strings.Contains(err.Error(), "MAPPING_FILE") {
		t.Fatalf("error %v should name MAPPING_FILE", err)
	}
}

// directory is a fixed name->id table standing in for an Encompass instance's
// names; the real Encompass client is exercised in pkg/provisioning's tests.
func directory(kind string, known map[string]string) ResolveFunc {
	return func(_ context.Context, names []string) (map[string]string, error) {
		out := map[string]string{}
		var unknown []string
		for _, n := range names {
			found := false
			for k, id := range known {
				if strings.EqualFold(k, n) {
					out[n], found = id, true
				}
			}
			if !found {
				unknown = append(unknown, n)
			}
		}
		if unknown != nil {
			var all []string
			for k := range known {
				all = append(all, k)
			}
			return nil, fmt.Errorf("unknown %s names %q (known: %q)", kind, unknown, all)
		}
		return out, nil
	}
}

var testResolvers = Resolvers{
	Personas:      directory("persona", map[string]string{"Loan Officer": "p1", "Loan Processor": "p2", "Underwriter": "p3"}),
	Organizations: directory("organization", map[string]string{"Administration": "0", "Retail Lending": "2", "Processing": "3"}),
	Groups:        directory("group", map[string]string{"Retail Loan Officers": "g1", "Processors": "g2", "All Users": "g0"}),
}

func TestResolveAndAssign(t *testing.T) {
	t.Parallel()
	r, err := LoadFile("testdata/mapping.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(context.Background(), r, testResolvers)
	if err != nil {
		t.Fatal(err)
	}
	as := res.Assign(Attributes{JobCode: "LO1"}, nil)
	if as.Rule != "rules[0]" || as.Organization.ID != "2" || strings.Join(as.PersonaIDs(), ",") != "p1" ||
		len(as.UserGroups) != 1 || as.UserGroups[0].ID != "g1" || as.WorkingFolder != "My Pipeline" || !as.SSOOnly {
		t.Errorf("LO assignment = %+v", as)
	}
	// Fields the rule leaves out keep their defaults; employee.ssoOnly overrides.
	no := false
	as = res.Assign(Attributes{JobTitle: "Underwriter"}, &no)
	if as.Organization.ID != "0" || as.SSOOnly || len(as.UserGroups) != 0 {
		t.Errorf("underwriter assignment = %+v", as)
	}
	yes := true
	if as := res.Assign(Attributes{JobTitle: "Underwriter"}, &yes); !as.SSOOnly {
		t.Error("employee ssoOnly=true must override the rule's false")
	}
	managed := res.ManagedGroups()
	if len(managed) != 2 || managed[0].Name != "Processors" || managed[1].Name != "Retail Loan Officers" {
		t.Errorf("managed groups = %+v (All Users is never named, so never managed)", managed)
	}
}

func TestResolveUnknownNamesFailsWithKnownNames(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte("defaults: {organization: Nowhere, personas: [Loan Officer, Astronaut]}\nrules: [{when: {jobCode: x}, userGroups: [Ghosts]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), r, testResolvers)
	if err == nil {
		t.Fatal("unknown names resolved")
	}
	for _, want := range []string{"Astronaut", "Nowhere", "Ghosts", "Loan Processor", "Administration", "Processors"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error does not mention %q:\n%v", want, err)
		}
	}
}

func TestResolveWithoutGroups(t *testing.T) {
	t.Parallel()
	res, err := Resolve(context.Background(), Default(), Resolvers{Personas: testResolvers.Personas, Organizations: testResolvers.Organizations})
	if err != nil {
		t.Fatal(err)
	}
	if res.GroupsManaged || len(res.ManagedGroups()) != 0 || len(res.Assign(Attributes{JobCode: "LO1"}, nil).UserGroups) != 0 {
		t.Error("without a group resolver no groups may be managed")
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != PasswordLength || seen[p] {
			t.Fatalf("password length %d or repeated", len(p))
		}
		seen[p] = true
		var lower, upper, digit, special bool
		for _, r := range p {
			switch {
			case unicode.IsLower(r):
				lower = true
			case unicode.IsUpper(r):
				upper = true
			case unicode.IsDigit(r):
				digit = true
			case strings.ContainsRune(specialChars, r):
				special = true
			default:
				t.Fatalf("unexpected character %q", r)
			}
		}
		if !lower || !upper || !digit || !special {
			t.Fatal("password misses a character class")
		}
	}
}

func TestDDAKey(t *testing.T) {
	t.Parallel()
	r, err := Parse([]byte(`
defaults: {organization: A, personas: [P], dda: {roleName: Closer}}
rules:
  - when: {jobCode: "UW*"}
    dda: {roleName: Underwriter, ssoOnly: false}
  - when: {jobCode: "LO*"}
    dda: null
  - when: {jobCode: "PR*"}
    personas: [Q]
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(context.Background(), r, Resolvers{Personas: directory("persona", map[string]string{"P": "1", "Q": "2"}), Organizations: directory("organization", map[string]string{"A": "0"})})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	for _, c := range []struct {
		code    string
		sso     *bool
		want    string
		wantSSO bool
	}{
		{"UW1", nil, "Underwriter", false},
		{"UW1", &yes, "Underwriter", true}, // employee.ssoOnly overrides the rule
		{"LO1", nil, "", false},            // dda: null grants none
		{"PR1", nil, "Closer", true},       // left out: the default, SSO-only by default
		{"XX", &no, "Closer", false},
	} {
		as := res.Assign(Attributes{JobCode: c.code}, c.sso)
		switch {
		case c.want == "" && as.DDA != nil:
			t.Errorf("%s: DDA %+v, want none", c.code, as.DDA)
		case c.want != "" && (as.DDA == nil || as.DDA.RoleName != c.want || as.DDA.SSOOnly != c.wantSSO):
			t.Errorf("%s (ssoOnly %v): DDA %+v, want %s sso=%v", c.code, c.sso, as.DDA, c.want, c.wantSSO)
		}
	}
	if got := strings.Join(r.DDAKeys(), " "); got != "defaults.dda rules[0].dda" {
		t.Errorf("DDAKeys = %q", got)
	}
	if keys := Default().DDAKeys(); len(keys) != 0 {
		t.Errorf("the built-in rules name dda (%v): they must start in v3 mode too", keys)
	}
	if !res.NamesDDA() {
		t.Error("NamesDDA is false for rules that grant DDA")
	}
	plain, err := Resolve(context.Background(), Default(), testResolvers)
	if err != nil {
		t.Fatal(err)
	}
	if plain.NamesDDA() {
		t.Error("NamesDDA is true for the built-in rules")
	}
}

func TestDDAKeyRejects(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ yaml, want string }{
		"no role":         {"defaults: {organization: A, personas: [P]}\nrules: [{when: {jobCode: x}, dda: {ssoOnly: true}}]\n", "rules[0].dda.roleName is required"},
		"blank role":      {"defaults: {organization: A, personas: [P], dda: {roleName: \" \"}}\n", "defaults.dda.roleName is required"},
		"unknown dda key": {"defaults: {organization: A, personas: [P]}\nrules:\n  - when: {jobCode: x}\n    dda: {role: U}\n", "line 4: dda must be"},
		"dda a list":      {"defaults: {organization: A, personas: [P], dda: [U]}\n", "dda must be"},
		"ssoOnly a word":  {"defaults: {organization: A, personas: [P], dda: {roleName: U, ssoOnly: maybe}}\n", "dda must be"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse error = %v, want it to say %q", err, c.want)
			}
		})
	}
}
