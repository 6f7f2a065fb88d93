// Package account is the vocabulary shared by provisioning and the
// Encompass directory adapters: an Encompass account as this product
// compares it (canonical field values, whichever API it was read through),
// and the plan of a change to it.
package account

import (
	"slices"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// Canonical field names (docs/ARCHITECTURE.md): the v3 user JSON names, used
// in plans, outcome events and the write log.
const (
	FieldLoginID            = "loginId"
	FieldFirstName          = "firstName"
	FieldMiddleName         = "middleName"
	FieldLastName           = "lastName"
	FieldSuffix             = "suffix"
	FieldEmail              = "email"
	FieldPhone              = "phone"
	FieldCellPhone          = "cellPhone"
	FieldFax                = "fax"
	FieldTitle              = "title"
	FieldEmployeeID         = "employeeId"
	FieldOrganizationID     = "organizationId"
	FieldPersonas           = "personas"
	FieldUserGroups         = "userGroups"
	FieldEnabled            = "enabled"
	FieldNMLSOriginatorID   = "nmlsOriginatorId"
	FieldNMLSExpirationDate = "nmlsExpirationDate"
	FieldWorkingFolder      = "workingFolder"
	FieldSSOOnly            = "ssoOnly"
	// FieldStateLicenses is written through SCIM only (the v3 API does not
	// document the shape of stateLicenses); its value is LicensesValue.
	FieldStateLicenses = "stateLicenses"
)

// Account is an Encompass user as this product compares it: canonical field
// values as strings, whichever API it was read through.
type Account struct {
	// ID is the Encompass user id (the lower-case login id).
	ID string
	// GUID is the SCIM global user id; empty for users created through v3.
	GUID    string
	LoginID string
	Enabled bool
	// Fields holds canonical field values; a missing key means empty.
	Fields map[string]string
	// Groups are the ids of the user's groups when known (SCIM reads carry
	// them); GroupsKnown is false when they must be looked up.
	Groups      []string
	GroupsKnown bool
	// Licenses are the selected state licenses, known only when the account
	// was read through SCIM (LicensesKnown); only then are they compared
	// and written.
	Licenses      []hris.StateLicense
	LicensesKnown bool
	// DDAKnown is true once the DDA (AIQ) profile on the account's global
	// user id was read (or assumed from the employee link); HasDDA then
	// says whether there is one, and Fields holds its dda.* values.
	DDAKnown bool
	HasDDA   bool
}

// Field returns a canonical field's value ("" when unknown or nil).
func (a *Account) Field(name string) string {
	if a == nil {
		return ""
	}
	return a.Fields[name]
}

// SetLicenses records the account's selected state licenses.
func (a *Account) SetLicenses(ls []hris.StateLicense) {
	a.Licenses = ls
	a.LicensesKnown = true
	a.Fields[FieldStateLicenses] = LicensesValue(ls)
}

// SetGroups fills the canonical userGroups value: the names of the mapped
// groups the user is in. Groups the mapping never names are left out,
// because they are never touched.
func (a *Account) SetGroups(managed []mapping.Named) {
	var names []string
	for _, g := range managed {
		if slices.Contains(a.Groups, g.ID) {
			names = append(names, g.Name)
		}
	}
	a.Fields[FieldUserGroups] = JoinSorted(names)
}

// LicensesValue is the canonical value of a set of licenses, as outcome
// events show it: "CA CA-99 Approved until 2027-01-01; TX ...", by state.
func LicensesValue(ls []hris.StateLicense) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		p := l.State
		for _, v := range []string{l.LicenseNumber, l.Status} {
			if v != "" {
				p += " " + v
			}
		}
		if l.ExpirationDate != "" {
			p += " until " + l.ExpirationDate
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// JoinSorted is the canonical form of a set of names or ids: sorted,
// without repeats, joined by ",".
func JoinSorted(v []string) string {
	v = slices.Clone(v)
	slices.Sort(v)
	v = slices.Compact(v)
	return strings.Join(v, ",")
}

// SplitList splits a canonical list value.
func SplitList(s string) []string {
	if s == "" {
		return nil
	}
	return slices.DeleteFunc(strings.Split(s, ","), func(v string) bool { return v == "" })
}

// EmailMatches is the adoption rule: an existing account is adopted only if
// its e-mail equals the event's, case-insensitively.
func EmailMatches(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
