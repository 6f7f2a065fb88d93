package poll

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Field indexes a Canonical user. New fields are only ever appended (see
// decodeCanonical): a snapshot item with fewer fields was written by an older
// version, and its missing fields are unknown rather than empty.
type Field int

// The compared fields, in storage order.
const (
	FieldLoginID Field = iota
	FieldFirstName
	FieldMiddleName
	FieldLastName
	FieldSuffix
	FieldEmail
	FieldPhone
	FieldCellPhone
	FieldFax
	FieldTitle
	FieldEmployeeID
	FieldOrganizationID
	FieldPersonas
	FieldEnabled
	FieldLocked
	FieldNMLSOriginatorID
	// The DDA (AIQ) profile on the user's global user id, when the poll
	// lists DDA profiles (Config.DDA): its role and state. A user without
	// one stores only the fields before these (legacyFields), so that
	// adding them changed no stored form.
	FieldDDARoleName
	FieldDDAEnabled
	NumFields
)

// legacyFields is how many fields a form without a DDA profile carries:
// the fields before FieldDDARoleName.
const legacyFields = int(FieldDDARoleName)

// fieldNames are the canonical v3 names of docs/ARCHITECTURE.md, the same
// names the provisioning functions write in their write log.
var fieldNames = [NumFields]string{
	"loginId", "firstName", "middleName", "lastName", "suffix", "email",
	"phone", "cellPhone", "fax", "title", "employeeId", "organizationId",
	"personas", "enabled", "locked", "nmlsOriginatorId",
	"dda.roleName", "dda.enabled",
}

// String returns the canonical field name.
func (f Field) String() string {
	if f < 0 || f >= NumFields {
		return "unknown"
	}
	return fieldNames[f]
}

// FieldByName returns the field with the canonical name, case-insensitively.
func FieldByName(name string) (Field, bool) {
	for i, n := range fieldNames {
		if strings.EqualFold(n, name) {
			return Field(i), true
		}
	}
	return 0, false
}

// Canonical is a user reduced to the fields an identity team cares about,
// each normalised so that equal users have equal forms.
type Canonical [NumFields]string

// Enabled reports the canonical account state.
func (c Canonical) Enabled() bool { return c[FieldEnabled] == "true" }

// HasDDA reports whether the user has a DDA profile; DDAEnabled whether it
// is enabled.
func (c Canonical) HasDDA() bool     { return c[FieldDDAEnabled] != "" }
func (c Canonical) DDAEnabled() bool { return c[FieldDDAEnabled] == "true" }

// maxFieldBytes caps a field's length: Encompass's own limits are far lower
// (64 for names), so a longer value is hostile or broken input, and the cap
// keeps every snapshot item far below DynamoDB's 400 KB item limit.
const maxFieldBytes = 512

// maxKeyBytes caps a user key, well below DynamoDB's 1024-byte sort key.
const maxKeyBytes = 256

// sep separates fields in the stored form. normalise removes it (and every
// other control character) from values, so no escaping is needed.
const sep = "\x1f"

// FromUser returns the user's key (its id, or its lower-cased login id when
// the answer has no id) and canonical form. ok is false for a user that
// cannot be tracked: no id and no login id, or an id that is not valid text
// or too long.
func FromUser(u encompass.User) (key string, c Canonical, ok bool) {
	key = strings.TrimSpace(u.ID)
	if key == "" {
		key = strings.ToLower(strings.TrimSpace(u.LoginID))
	}
	if key == "" || len(key) > maxKeyBytes || !utf8.ValidString(key) || strings.ContainsFunc(key, isControl) {
		return "", c, false
	}
	c[FieldLoginID] = u.LoginID
	c[FieldFirstName] = u.FirstName
	c[FieldMiddleName] = u.MiddleName
	c[FieldLastName] = u.LastName
	c[FieldSuffix] = u.Suffix
	c[FieldEmail] = u.Email
	c[FieldPhone] = u.Phone
	c[FieldCellPhone] = u.CellPhone
	c[FieldFax] = u.Fax
	c[FieldTitle] = u.Title
	c[FieldEmployeeID] = u.EmployeeID
	c[FieldOrganizationID] = u.OrganizationID
	switch len(u.Personas) {
	case 0:
	case 1:
		c[FieldPersonas] = u.Personas[0].ID
	default:
		c[FieldPersonas] = strings.Join(u.PersonaIDs(), ",")
	}
	c[FieldEnabled] = boolString(u.IsEnabled())
	// A live tenant may report the lock in userIndicators or (simulator,
	// some answers) as a boolean; IsLocked reads the indicators.
	c[FieldLocked] = boolString(u.IsLocked())
	c[FieldNMLSOriginatorID] = u.NMLSOriginatorID
	for f := range c {
		c[f] = normalise(Field(f), c[f])
	}
	return key, c, true
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// normalise brings a value to its canonical form. The same function is
// applied to write-log values, so that "matches a recorded write" compares
// like with like.
func normalise(f Field, v string) string {
	if plain(f, v) {
		return v
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if strings.ContainsFunc(v, isControl) {
		v = strings.Map(func(r rune) rune {
			if isControl(r) {
				return ' '
			}
			return r
		}, v)
	}
	v = strings.TrimSpace(v)
	switch f {
	case FieldEmail:
		// E-mail addresses are compared case-insensitively everywhere else in
		// the product (adoption rule); a case-only change is not a change.
		v = strings.ToLower(v)
	case FieldPersonas:
		ids := strings.Split(v, ",")
		for i := range ids {
			ids[i] = strings.TrimSpace(ids[i])
		}
		ids = slices.DeleteFunc(ids, func(s string) bool { return s == "" })
		slices.Sort(ids)
		v = strings.Join(slices.Compact(ids), ",")
	case FieldEnabled, FieldLocked, FieldDDAEnabled:
		v = strings.ToLower(v)
	}
	if len(v) > maxFieldBytes {
		cut := maxFieldBytes
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}

// plain reports, in one pass, that v is already canonical: printable ASCII
// without surrounding spaces, short enough, and (for the fields that fold
// case or sort a list) free of what normalise would change. Almost every
// value is, and the listing of a large tenant normalises millions of them.
func plain(f Field, v string) bool {
	if len(v) > maxFieldBytes {
		return false
	}
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	fold := f == FieldEmail || f == FieldEnabled || f == FieldLocked || f == FieldDDAEnabled
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b < 0x20 || b >= 0x7f || (fold && 'A' <= b && b <= 'Z') || (f == FieldPersonas && (b == ',' || b == ' ')) {
			return false
		}
	}
	return true
}

// encode is the stored form: the fields joined by sep. Two users are equal
// exactly when their encodings are, so the diff compares strings and decodes
// only the users that changed. A user without a DDA profile is stored
// without the DDA fields, as before they existed.
func (c Canonical) encode() string {
	if c[FieldDDARoleName] == "" && c[FieldDDAEnabled] == "" {
		return strings.Join(c[:legacyFields], sep)
	}
	return strings.Join(c[:], sep)
}

// decodeCanonical reads a stored form. known is how many fields it carried:
// fewer than NumFields for an item written by an older version (fields are
// only appended), and ok is false for a form with more fields than this
// version knows (written by a newer version) or none at all. A form of
// legacyFields fields is a user without a DDA profile: its DDA fields are
// known to be empty.
func decodeCanonical(s string) (c Canonical, known int, ok bool) {
	parts := strings.Split(s, sep)
	if s == "" || len(parts) > int(NumFields) {
		return c, 0, false
	}
	copy(c[:], parts)
	return c, knownOf(len(parts)), true
}

// ParseForm reads a user's form as the poller's snapshot stores it
// (state.SnapshotUser.Form), for readers of the snapshot other than the
// poller (reconciliation). Fields a form written by an older version does
// not carry are empty. ok is false for a form this version cannot read.
func ParseForm(form string) (c Canonical, ok bool) {
	c, _, ok = decodeCanonical(form)
	return c, ok
}

// knownFields is decodeCanonical's known and ok without decoding: loading
// a snapshot checks every stored form but decodes only the changed ones.
func knownFields(s string) (int, bool) {
	n := strings.Count(s, sep) + 1
	if s == "" || n > int(NumFields) {
		return 0, false
	}
	return knownOf(n), true
}

// knownOf is how many fields a form of n fields tells about.
func knownOf(n int) int {
	if n == legacyFields {
		return int(NumFields)
	}
	return n
}

// Change is one field's difference, as published in `changes`.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// diff lists the fields that differ between old and new, in field order,
// skipping the account state (reported as User Disabled/Enabled instead) and
// the fields old does not know (only the first known fields are compared).
func diff(old, new Canonical, known int) []Change {
	var out []Change
	for f := Field(0); f < NumFields && int(f) < known; f++ {
		if f == FieldEnabled || old[f] == new[f] {
			continue
		}
		out = append(out, Change{Field: f.String(), From: old[f], To: new[f]})
	}
	return out
}
