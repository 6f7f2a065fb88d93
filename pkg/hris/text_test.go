package hris

import (
	"strings"
	"testing"
	"unicode"
)

// invisible are characters no profile field may hold, each with the way it
// is named in the rejection.
var invisible = []struct {
	r    rune
	name string
}{
	{'\u200b', "U+200B ZERO WIDTH SPACE"},
	{'\u200c', "U+200C ZERO WIDTH NON-JOINER"},
	{'\u200d', "U+200D ZERO WIDTH JOINER"},
	{'\u2060', "U+2060 WORD JOINER"},
	{'\ufeff', "U+FEFF ZERO WIDTH NO-BREAK SPACE"}, // the byte order mark
	{'\u00ad', "U+00AD SOFT HYPHEN"},
	{'\u202a', "U+202A LEFT-TO-RIGHT EMBEDDING"},
	{'\u202b', "U+202B RIGHT-TO-LEFT EMBEDDING"},
	{'\u202c', "U+202C POP DIRECTIONAL FORMATTING"},
	{'\u202d', "U+202D LEFT-TO-RIGHT OVERRIDE"},
	{'\u202e', "U+202E RIGHT-TO-LEFT OVERRIDE"},
	{'\u2066', "U+2066 LEFT-TO-RIGHT ISOLATE"},
	{'\u2067', "U+2067 RIGHT-TO-LEFT ISOLATE"},
	{'\u2068', "U+2068 FIRST STRONG ISOLATE"},
	{'\u2069', "U+2069 POP DIRECTIONAL ISOLATE"},
	{'\u200e', "U+200E LEFT-TO-RIGHT MARK"},
	{'\u200f', "U+200F RIGHT-TO-LEFT MARK"},
	{'\u061c', "U+061C ARABIC LETTER MARK"},
	{'\u2028', "U+2028 LINE SEPARATOR"},
	{'\u2029', "U+2029 PARAGRAPH SEPARATOR"},
	{'\u3164', "U+3164 HANGUL FILLER"},
	{'\U000E0041', "U+E0041 TAG LATIN CAPITAL LETTER A"},
	{'\ufffd', "U+FFFD REPLACEMENT CHARACTER"},
	{'\u0085', "U+0085 (control)"}, // a C1 control: Unicode gives it no name of its own
}

// profileFields are the string fields of an event, each with a valid value
// to put an invisible character into and the type of event that carries it.
var profileFields = []struct {
	path, value string
	terminate   bool
}{
	{"employee.givenName", "Jane", false},
	{"employee.middleName", "Quinn", false},
	{"employee.familyName", "Doe", false},
	{"employee.suffix", "III", false},
	{"employee.email", "jane.doe@example.com", false},
	{"employee.workPhone", "555-555-1234", false},
	{"employee.mobilePhone", "555-555-0000", false},
	{"employee.fax", "555-555-9999", false},
	{"employee.jobTitle", "Loan Officer", false},
	{"employee.jobCode", "LO2", false},
	{"employee.department", "Retail Lending", false},
	{"employee.location", "Branch 12", false},
	{"employee.nmlsId", "123456", false},
	{"employee.nmlsExpirationDate", "2027-06-30", false},
	{"employee.userName", "jdoe", false},
	{"employee.encompassUserName", "jdoe.legacy", false},
	{"employee.ddaAuthId", "jane.doe@idp.example.com", false},
	{"employee.employeeId", "E12345", false},
	{"employee.stateLicenses[0].state", "CA", false},
	{"employee.stateLicenses[0].licenseNumber", "CA-99", false},
	{"employee.stateLicenses[0].expirationDate", "2027-01-01", false},
	{"employee.stateLicenses[0].status", "Approved", false},
	{"eventId", "hris-2026-000123", false},
	{"source", "workday", false},
	{"terminationReason", "RESIGNATION", true},
}

// set puts v at path in the sample event.
func set(ev, emp map[string]any, path string, v any) {
	switch {
	case strings.HasPrefix(path, "employee.stateLicenses[0]."):
		l := map[string]any{"state": "CA", "licenseNumber": "CA-99", "expirationDate": "2027-01-01", "status": "Approved"}
		l[strings.TrimPrefix(path, "employee.stateLicenses[0].")] = v
		emp["stateLicenses"] = []any{l}
	case strings.HasPrefix(path, "employee."):
		emp[strings.TrimPrefix(path, "employee.")] = v
	default:
		ev[path] = v
	}
}

// Defect 6 of issue 10: a zero-width space or a right-to-left override in
// any field made values that look alike but are not, and names that display
// in another order than they are stored. Every string field refuses them,
// naming the field and the character, without echoing it.
func TestDecodeRejectsInvisibleCharactersInEveryField(t *testing.T) {
	t.Parallel()
	for _, f := range profileFields {
		for _, c := range invisible {
			// In the middle of the value, where trimming cannot hide it.
			v := f.value[:1] + string(c.r) + f.value[1:]
			q := QueueProvision
			if f.terminate {
				q = QueueDeprovision
			}
			_, he := decodeWith(t, q, func(ev, emp map[string]any) { set(ev, emp, f.path, v) })
			if he == nil {
				t.Errorf("%s with %s: accepted", f.path, c.name)
				continue
			}
			if he.Reason != ReasonInvalidField || he.Field != f.path {
				t.Errorf("%s with %s: %s/%s, want invalid_field/%s (%v)", f.path, c.name, he.Reason, he.Field, f.path, he)
				continue
			}
			if !strings.Contains(he.Message, c.name+" at position 2") {
				t.Errorf("%s with %s: message %q does not name the character and its position", f.path, c.name, he.Message)
			}
			if strings.ContainsRune(he.Error(), c.r) {
				t.Errorf("%s with %s: the error echoes the character raw: %q", f.path, c.name, he.Error())
			}
		}
	}
}

func TestDecodeUserNameIsPrintableASCII(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		userName, says string
	}{
		{"h048\u200b", "must be printable ASCII; found U+200B ZERO WIDTH SPACE at position 5"},
		{"\u0430dmin", "must be printable ASCII; found U+0430 CYRILLIC SMALL LETTER A at position 1"},
		{"\u0391dmin", "found U+0391 GREEK CAPITAL LETTER ALPHA at position 1"},
		{"\ufeffjdoe", "found U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1"},
		{"jdoe\u202e", "found U+202E RIGHT-TO-LEFT OVERRIDE at position 5"},
		{"jose\u0301", "found U+0301 COMBINING ACUTE ACCENT at position 5"}, // a combining mark: fine in a name, not in a login
		{"jos\u00e9", "found U+00E9 LATIN SMALL LETTER E WITH ACUTE at position 4"},
		{"j doe", "found U+0020 SPACE at position 2"},
		{"j\u00a0doe", "found U+00A0 NO-BREAK SPACE at position 2"},
		{"\uff4adoe", "found U+FF4A FULLWIDTH LATIN SMALL LETTER J at position 1"},
		{"j/doe", "cannot contain"}, // ASCII, so Encompass's own rules speak
	} {
		for _, key := range []string{"userName", "encompassUserName"} {
			_, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp[key] = tc.userName })
			if he == nil {
				t.Errorf("%s %+q: accepted", key, tc.userName)
				continue
			}
			if he.Reason != ReasonInvalidField || he.Field != "employee."+key || !strings.Contains(he.Message, tc.says) {
				t.Errorf("%s %+q: %v, want invalid_field saying %q", key, tc.userName, he, tc.says)
			}
		}
	}
}

// A login id derived from an e-mail must be printable ASCII too; the
// rejection tells the HRIS what to do.
func TestDecodeDerivedUserNameIsPrintableASCII(t *testing.T) {
	t.Parallel()
	for email, says := range map[string]string{
		"élodie@example.com":    "U+00E9 LATIN SMALL LETTER E WITH ACUTE at position 1",
		"ÉLODIE@example.com":    "U+00E9 LATIN SMALL LETTER E WITH ACUTE at position 1", // lower-cased first
		"аdmin@example.com":     "U+0430 CYRILLIC SMALL LETTER A at position 1",
		"jane.李@example.com":    "U+674E (CJK Ideograph) at position 6",
		"zoe\u0308@example.com": "U+0308 COMBINING DIAERESIS at position 4",
	} {
		_, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { delete(emp, "userName"); emp["email"] = email })
		if he == nil {
			t.Errorf("%s: accepted", email)
			continue
		}
		if he.Reason != ReasonInvalidField || he.Field != "employee.email" || !strings.Contains(he.Message, says) ||
			!strings.Contains(he.Message, "supply employee.userName") || !strings.Contains(he.Message, "printable ASCII") {
			t.Errorf("%s: %v, want the character named and employee.userName asked for", email, he)
		}
	}
	// With a userName supplied, such an e-mail address is fine.
	ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["userName"] = "elodie"; emp["email"] = "élodie@example.com" })
	if he != nil || ev.Employee.UserName != "elodie" || ev.Employee.Email.Value != "élodie@example.com" {
		t.Errorf("supplied userName with a non-ASCII e-mail: %+v %v", ev, he)
	}
}

// Visible text in any script is a name; combining marks are allowed in
// names, and NFC and NFD spellings are both kept exactly as sent (Encompass
// holds what the HRIS sends; normalising would make an unchanged name look
// changed).
func TestDecodeAcceptsNamesInAnyScript(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"Jos\u00e9",          // NFC
		"Jose\u0301",         // NFD
		"Nguy\u1ec5n",        // NFC Vietnamese
		"Nguye\u0302\u0303n", // NFD of the same
		"Zo\u00eb", "O'Brien", "Smith-Jones", "李", "محمد", "Ἀλέξανδρος", "Ольга", "d'Arc", "Mary Ann",
	} {
		ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["givenName"], emp["jobTitle"] = name, name })
		if he != nil {
			t.Errorf("%+q rejected: %v", name, he)
			continue
		}
		if ev.Employee.GivenName.Value != name || ev.Employee.JobTitle.Value != name {
			t.Errorf("%+q kept as %+q", name, ev.Employee.GivenName.Value)
		}
	}
}

// The character classes, one by one: what is refused and what is not.
func TestForbiddenInText(t *testing.T) {
	t.Parallel()
	for _, c := range invisible {
		if forbiddenInText(c.r) == "" {
			t.Errorf("%s allowed", c.name)
		}
		if got := describeRune(c.r); got != c.name {
			t.Errorf("describeRune(%U) = %q, want %q", c.r, got, c.name)
		}
	}
	// Every format character (Unicode category Cf) is refused.
	for _, rg := range unicode.Cf.R16 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			if forbiddenInText(r) == "" {
				t.Errorf("%U (Cf) allowed", r)
			}
		}
	}
	for _, r := range []rune{'a', 'Z', '0', ' ', '\u00a0', '\u00e9', '\u0301', '\u0430', '\u05d0', '\u0627', '\u4e00', '\u3000', '\U0001F600', '-', '\''} {
		if why := forbiddenInText(r); why != "" {
			t.Errorf("%U refused: %s", r, why)
		}
	}
	if got := describeRune('\uE000'); got != "U+E000 (Private Use)" {
		t.Errorf("private use: %q", got)
	}
}

// Truncate cuts at a character boundary and marks the cut.
func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 5, "short"},
		{"longer", 4, "long…"},
		{"Zürich", 2, "Z…"}, // ü is two bytes: not cut in half
		{"Zürich", 3, "Zü…"},
		{"€", 0, "…"},
	} {
		if got := Truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
