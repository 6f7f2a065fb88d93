package poll

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// oddUsers is a list page with every kind of odd user seen or feared on
// live tenants.
const oddUsers = `[
 {"id":"noemail","loginId":"noemail","firstName":"No","lastName":"Mail","enabled":true},
 {"id":"jdoe","loginId":"JDoe","firstName":"Jane","lastName":"Doe","email":"jd@example.com","title":"A","enabled":true},
 {"id":"jdoe","loginId":"jdoe","firstName":"Jane","lastName":"Doe","email":"jd@example.com","title":"B","enabled":true},
 {"id":"indicators","loginId":"indicators","firstName":"I","lastName":"Only","userIndicators":["Disabled","Locked","SuperAdminnistrator"]},
 {"id":"disagree","loginId":"disagree","firstName":"D","lastName":"Both","enabled":true,"userIndicators":["Disabled"]},
 {"id":"extra","loginId":"extra","firstName":"E","lastName":"X","favouriteColour":"blue","nested":{"a":[1,2,{"b":null}]},"enabled":true},
 {"firstName":"Ghost","lastName":"NoIds"},
 {"loginId":"NoID","firstName":"N","lastName":"Id"},
 {"id":"hostile","loginId":"hostile","firstName":"Bad\u0000Name\u001f\u001e","lastName":"\ud800Surrogate","title":"` + "%TITLE%" + `",
  "personas":[{"id":"p2"},{"entityId":"p1"},"p2"," p3 "],"nmlsOriginatorID":"777","enabled":true}
]`

// oddUsersReordered is the same users in another order, the duplicate
// login ids swapped: the canonical result must not depend on the order.
const oddUsersReordered = `[
 {"loginId":"NoID","firstName":"N","lastName":"Id"},
 {"id":"hostile","loginId":"hostile","firstName":"Bad\u0000Name\u001f\u001e","lastName":"\ud800Surrogate","title":"` + "%TITLE%" + `",
  "personas":["p2"," p3 ",{"entityId":"p1"}],"nmlsOriginatorId":"777","enabled":true},
 {"id":"jdoe","loginId":"jdoe","firstName":"Jane","lastName":"Doe","email":"jd@example.com","title":"B","enabled":true},
 {"id":"extra","loginId":"extra","firstName":"E","lastName":"X","somethingNew":true,"enabled":true},
 {"id":"disagree","loginId":"disagree","firstName":"D","lastName":"Both","enabled":true,"userIndicators":["Disabled"]},
 {"id":"indicators","loginId":"indicators","firstName":"I","lastName":"Only","userIndicators":["Locked","Disabled"]},
 {"firstName":"Ghost","lastName":"NoIds"},
 {"id":"jdoe","loginId":"JDoe","firstName":"Jane","lastName":"Doe","email":"jd@example.com","title":"A","enabled":true},
 {"id":"noemail","loginId":"noemail","firstName":"No","lastName":"Mail","enabled":true}
]`

func TestUsersWithMissingOrOddFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	title := strings.Repeat("T", 10000)
	page := strings.ReplaceAll(oddUsers, "%TITLE%", title)
	e.onPages(nil, func(_, status int, _ []byte) (int, []byte) { return status, []byte(page) })

	sum := e.baseline()
	if sum.Listed != 9 || sum.Invalid != 1 || sum.Duplicates != 1 {
		t.Fatalf("summary %+v, want 9 listed, 1 invalid, 1 duplicate", sum)
	}
	stored := func(key string) Canonical {
		t.Helper()
		c, known, ok := decodeCanonical(storedEnc(t, e, key))
		if !ok || known != int(NumFields) {
			t.Fatalf("%s: stored form unreadable", key)
		}
		return c
	}
	cases := []struct {
		key   string
		field Field
		want  string
	}{
		{"noemail", FieldEmail, ""},
		{"jdoe", FieldTitle, "A"}, // the smaller canonical form wins, whatever the order
		{"indicators", FieldEnabled, "false"},
		{"indicators", FieldLocked, "true"},
		{"disagree", FieldEnabled, "true"}, // an explicit `enabled` wins over userIndicators
		{"extra", FieldLastName, "X"},
		{"noid", FieldLoginID, "NoID"},
		{"hostile", FieldPersonas, "p1,p2,p3"},
		{"hostile", FieldNMLSOriginatorID, "777"},
		{"hostile", FieldFirstName, "Bad Name"},
		{"hostile", FieldLastName, "\uFFFDSurrogate"},
	}
	for _, tc := range cases {
		if got := stored(tc.key)[tc.field]; got != tc.want {
			t.Errorf("%s.%s = %q, want %q", tc.key, tc.field, got, tc.want)
		}
	}
	if got := stored("hostile")[FieldTitle]; len(got) != maxFieldBytes || !utf8.ValidString(got) {
		t.Errorf("oversized title stored with %d bytes, want it capped at %d", len(got), maxFieldBytes)
	}

	// The same users in another order: nothing changed.
	e.onPages(nil, func(_, status int, _ []byte) (int, []byte) {
		return status, []byte(strings.ReplaceAll(oddUsersReordered, "%TITLE%", title))
	})
	sum = e.run(nil)
	if sum.Outcome != OutcomeUnchanged || sum.Writes != 0 {
		t.Fatalf("reordered listing: %+v, events %q", sum, kinds(e.take()))
	}
}

func TestFromUserNormalises(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	cases := []struct {
		name   string
		user   encompass.User
		key    string
		ok     bool
		field  Field
		want   string
		fields int
	}{
		{name: "id wins over login id", user: encompass.User{ID: "abc", LoginID: "ABC"}, key: "abc", ok: true, field: FieldLoginID, want: "ABC"},
		{name: "login id lower-cased as key", user: encompass.User{LoginID: " MiXed "}, key: "mixed", ok: true, field: FieldLoginID, want: "MiXed"},
		{name: "neither id nor login id", user: encompass.User{FirstName: "x"}},
		{name: "key too long", user: encompass.User{ID: strings.Repeat("k", maxKeyBytes+1)}},
		{name: "key with control characters", user: encompass.User{ID: "a\x00b"}},
		{name: "key not UTF-8", user: encompass.User{ID: "a\xffb"}},
		{name: "e-mail case", user: encompass.User{ID: "a", Email: " Jane@Example.COM "}, key: "a", ok: true, field: FieldEmail, want: "jane@example.com"},
		{name: "enabled false wins", user: encompass.User{ID: "a", Enabled: &no, UserIndicators: []string{"Enabled"}}, key: "a", ok: true, field: FieldEnabled, want: "false"},
		{name: "enabled true wins", user: encompass.User{ID: "a", Enabled: &yes, UserIndicators: []string{"Disabled"}}, key: "a", ok: true, field: FieldEnabled, want: "true"},
		{name: "indicators only", user: encompass.User{ID: "a", UserIndicators: []string{"disabled"}}, key: "a", ok: true, field: FieldEnabled, want: "false"},
		{name: "no state at all", user: encompass.User{ID: "a"}, key: "a", ok: true, field: FieldEnabled, want: "true"},
		{name: "separator in a value", user: encompass.User{ID: "a", Title: "x\x1fy"}, key: "a", ok: true, field: FieldTitle, want: "x y"},
		{name: "personas sorted, unique", user: encompass.User{ID: "a", Personas: []encompass.PersonaRef{{ID: "9"}, {ID: "10"}, {ID: "9"}, {ID: ""}}}, key: "a", ok: true, field: FieldPersonas, want: "10,9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, c, ok := FromUser(tc.user)
			if ok != tc.ok || key != tc.key {
				t.Fatalf("FromUser = %q, %v; want %q, %v", key, ok, tc.key, tc.ok)
			}
			if !ok {
				return
			}
			if c[tc.field] != tc.want {
				t.Errorf("%s = %q, want %q", tc.field, c[tc.field], tc.want)
			}
			back, known, dok := decodeCanonical(c.encode())
			if !dok || known != int(NumFields) || back != c {
				t.Errorf("encode/decode round trip lost data: %q", c.encode())
			}
		})
	}
}

func FuzzCanonicalRoundTrip(f *testing.F) {
	f.Add("id", "Login", "Title\x1f", "a@b.c", "p1,p2")
	f.Add("", "", "\xff\xfe", "", ",,")
	f.Fuzz(func(t *testing.T, id, login, title, email, personas string) {
		u := encompass.User{ID: id, LoginID: login, Title: title, Email: email}
		for _, p := range strings.Split(personas, ",") {
			u.Personas = append(u.Personas, encompass.PersonaRef{ID: p})
		}
		key, c, ok := FromUser(u)
		if !ok {
			return
		}
		if key == "" || len(key) > maxKeyBytes {
			t.Fatalf("bad key %q", key)
		}
		back, known, dok := decodeCanonical(c.encode())
		if !dok || known != int(NumFields) || back != c {
			t.Fatalf("round trip failed for %q", c.encode())
		}
		// Normalising twice changes nothing.
		for f := range c {
			if normalise(Field(f), c[f]) != c[f] {
				t.Fatalf("normalise not idempotent on %s %q", Field(f), c[f])
			}
		}
	})
}
