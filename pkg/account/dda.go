package account

import (
	"log/slog"
	"maps"
	"strconv"
	"strings"
)

// Products named in outcome events (CONTRACTS section 3, detail.products).
const (
	ProductEncompass = "encompass"
	ProductDDA       = "dda"
)

// Canonical names of the DDA (AIQ) profile's fields, the profile linked to
// the account's global user id (CONTRACTS section 6). Plans, the write log
// and outcome events name them like the Encompass fields, so that the
// poller and a resumed attempt see DDA changes as they see the others.
const (
	DDAPrefix          = "dda."
	FieldDDAUserName   = "dda.userName"
	FieldDDARoleName   = "dda.roleName"
	FieldDDAEnabled    = "dda.enabled"
	FieldDDASSOOnly    = "dda.ssoOnly"
	FieldDDAAuthID     = "dda.authId"
	FieldDDAFirstName  = "dda.firstName"
	FieldDDAMiddleName = "dda.middleName"
	FieldDDALastName   = "dda.lastName"
	FieldDDAEmail      = "dda.email"
	FieldDDAPhone      = "dda.phone"
	FieldDDACellPhone  = "dda.cellPhone"
	FieldDDAFax        = "dda.fax"
)

// DDAMirror maps the Encompass fields a DDA profile carries too (the
// employee's names, e-mail and phones) to their DDA names. The AIQ schema
// has no suffix.
var DDAMirror = map[string]string{
	FieldFirstName: FieldDDAFirstName, FieldMiddleName: FieldDDAMiddleName, FieldLastName: FieldDDALastName,
	FieldEmail: FieldDDAEmail, FieldPhone: FieldDDAPhone, FieldCellPhone: FieldDDACellPhone, FieldFax: FieldDDAFax,
}

// IsDDAField reports whether a canonical field belongs to the DDA profile.
func IsDDAField(field string) bool { return strings.HasPrefix(field, DDAPrefix) }

// DDA states an employee link records (state.Employee.DDA): what this
// system last left the profile as.
const (
	DDANone     = ""
	DDAEnabled  = "enabled"
	DDADisabled = "disabled"
)

// SetDDA records that the account's global user id holds a DDA profile
// with these canonical dda.* values.
func (a *Account) SetDDA(fields map[string]string) {
	a.clearDDA()
	a.DDAKnown, a.HasDDA = true, true
	for f, v := range fields {
		if IsDDAField(f) {
			a.Fields[f] = v
		}
	}
}

// SetNoDDA records that the account holds no DDA profile.
func (a *Account) SetNoDDA() {
	a.clearDDA()
	a.DDAKnown, a.HasDDA = true, false
}

func (a *Account) clearDDA() {
	if a.Fields == nil {
		a.Fields = map[string]string{}
	}
	maps.DeleteFunc(a.Fields, func(f, _ string) bool { return IsDDAField(f) })
}

// DDAEnabled reports whether the account has an enabled DDA profile.
func (a *Account) DDAEnabled() bool { return a.HasDDA && a.Fields[FieldDDAEnabled] == "true" }

// DDAState is the link's record of the DDA profile (DDANone, DDAEnabled or
// DDADisabled).
func (a *Account) DDAState() string {
	switch {
	case !a.HasDDA:
		return DDANone
	case a.DDAEnabled():
		return DDAEnabled
	}
	return DDADisabled
}

// AssumeDDA records the DDA profile as the employee link knows it, without
// a read: enabled or disabled as this system last left it.
func (a *Account) AssumeDDA(state string) {
	switch state {
	case DDAEnabled, DDADisabled:
		a.SetDDA(map[string]string{FieldDDAEnabled: strconv.FormatBool(state == DDAEnabled)})
	default:
		a.SetNoDDA()
	}
}

// DDAPlan is what a plan does to the DDA profile. Changes of its fields
// other than by Add and Disable are the plan's dda.* Changes (a changed
// role, names, SSO mode, or enabled again).
type DDAPlan struct {
	// Add creates the profile on the account's global user id (giving the
	// account one first when it has none); its values are the plan's
	// dda.* Changes.
	Add bool
	// Disable disables the profile (SCIM DELETE with the AIQUser schema)
	// and reads it back.
	Disable bool
	// SetPassword sends a new random password: a profile that is, or
	// becomes, not SSO-only.
	SetPassword bool
}

// Secrets are the passwords a plan sends, generated for it: the Encompass
// one and the DDA profile's. They are never logged, stored or published.
type Secrets struct {
	Password    string
	DDAPassword string
}

// String keeps the passwords out of any print.
func (Secrets) String() string { return "Secrets{[REDACTED]}" }

// LogValue keeps the passwords out of any log line.
func (Secrets) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// All returns the non-empty secrets, for scrubbing errors.
func (s Secrets) All() []string {
	var out []string
	for _, v := range []string{s.Password, s.DDAPassword} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ApplyDDA records on a the DDA profile as the written plan left it, so
// that the employee link and a compensation see it.
func (a *Account) ApplyDDA(p Plan) {
	if !p.WritesDDA() {
		return
	}
	fields := map[string]string{}
	for f, v := range a.Fields {
		if IsDDAField(f) {
			fields[f] = v
		}
	}
	for _, c := range p.Changes {
		if IsDDAField(c.Field) {
			fields[c.Field] = c.To
		}
	}
	if p.DDA.Disable {
		fields[FieldDDAEnabled] = "false"
	}
	if a.HasDDA || p.DDA.Add {
		a.SetDDA(fields)
	}
}
