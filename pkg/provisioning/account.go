package provisioning

import (
	"slices"
	"strconv"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
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
	// document the shape of stateLicenses); its value is licensesValue.
	FieldStateLicenses = "stateLicenses"
)

// Account is an Encompass user as this package compares it: canonical field
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
}

func (a *Account) field(name string) string {
	if a == nil {
		return ""
	}
	return a.Fields[name]
}

// accountFromV3 converts a v3 user.
func accountFromV3(u *encompass.User) *Account {
	ids := u.PersonaIDs()
	a := &Account{
		ID:      u.ID,
		LoginID: u.LoginID,
		Enabled: u.IsEnabled(),
		Fields: map[string]string{
			FieldLoginID:            u.LoginID,
			FieldFirstName:          u.FirstName,
			FieldMiddleName:         u.MiddleName,
			FieldLastName:           u.LastName,
			FieldSuffix:             u.Suffix,
			FieldEmail:              u.Email,
			FieldPhone:              u.Phone,
			FieldCellPhone:          u.CellPhone,
			FieldFax:                u.Fax,
			FieldTitle:              u.Title,
			FieldEmployeeID:         u.EmployeeID,
			FieldOrganizationID:     u.OrganizationID,
			FieldPersonas:           joinSorted(ids),
			FieldNMLSOriginatorID:   u.NMLSOriginatorID,
			FieldNMLSExpirationDate: u.NMLSExpirationDate,
			FieldWorkingFolder:      u.WorkingFolder,
			FieldSSOOnly:            strconv.FormatBool(u.SSOOnly),
		},
	}
	if a.ID == "" {
		a.ID = strings.ToLower(u.LoginID)
	}
	a.Fields[FieldEnabled] = strconv.FormatBool(a.Enabled)
	return a
}

// accountFromSCIM converts a SCIM user.
func accountFromSCIM(u *encompass.SCIMUser) *Account {
	a := &Account{
		ID:      u.EncompassID,
		GUID:    u.ID,
		LoginID: u.UserName,
		Enabled: u.IsEnabled(),
		Fields: map[string]string{
			FieldLoginID:            u.UserName,
			FieldTitle:              u.JobTitle,
			FieldEmployeeID:         u.EmployeeID,
			FieldNMLSOriginatorID:   u.NMLSOriginatorID,
			FieldNMLSExpirationDate: u.NMLSExpirationDate,
			FieldWorkingFolder:      u.WorkingFolder,
		},
	}
	if a.ID == "" {
		a.ID = strings.ToLower(u.UserName)
	}
	if u.Name != nil {
		a.Fields[FieldFirstName] = u.Name.GivenName
		a.Fields[FieldMiddleName] = u.Name.MiddleName
		a.Fields[FieldLastName] = u.Name.FamilyName
		a.Fields[FieldSuffix] = u.Name.HonorificSuffix
	}
	for _, e := range u.Emails {
		if e.Primary || a.Fields[FieldEmail] == "" {
			a.Fields[FieldEmail] = e.Value
		}
	}
	for _, p := range u.PhoneNumbers {
		switch strings.ToLower(p.Type) {
		case "work":
			a.Fields[FieldPhone] = p.Value
		case "mobile":
			a.Fields[FieldCellPhone] = p.Value
		case "fax":
			a.Fields[FieldFax] = p.Value
		}
	}
	var personas []string
	for _, p := range u.Personas {
		personas = append(personas, p.EntityID)
	}
	a.Fields[FieldPersonas] = joinSorted(personas)
	if u.Organization != nil {
		a.Fields[FieldOrganizationID] = u.Organization.EntityID
	}
	a.Fields[FieldSSOOnly] = strconv.FormatBool(u.IsSSOOnly != nil && *u.IsSSOOnly)
	a.Fields[FieldEnabled] = strconv.FormatBool(a.Enabled)
	a.setLicenses(u.Licenses)
	if u.Groups != nil {
		a.GroupsKnown = true
		for _, g := range u.Groups {
			a.Groups = append(a.Groups, g.EntityID)
		}
	}
	return a
}

// setLicenses keeps the licenses Encompass marks selected (it answers one
// entry per state, most of them unselected) as HRIS licenses, so that they
// compare with an event's.
func (a *Account) setLicenses(ls []encompass.SCIMLicense) {
	a.Licenses = nil
	for _, l := range ls {
		if !l.Selected {
			continue
		}
		st := l.LicenseStatusType
		if st == "" {
			st, _ = encompass.LicenseStatusType(l.LicenseStatus)
		}
		a.Licenses = append(a.Licenses, hris.StateLicense{
			State: strings.ToUpper(l.StateAbbreviation), LicenseNumber: l.LicenseNumber,
			ExpirationDate: dateOnly(l.EndDate), Status: st,
		})
	}
	a.LicensesKnown = true
	a.Fields[FieldStateLicenses] = licensesValue(a.Licenses)
}

// licensesValue is the canonical value of a set of licenses, as outcome
// events show it: "CA CA-99 Approved until 2027-01-01; TX ...", by state.
func licensesValue(ls []hris.StateLicense) string {
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

// dateOnly cuts a date-time Encompass may answer to its yyyy-mm-dd.
func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// setGroups fills the canonical userGroups value: the names of the mapped
// groups the user is in. Groups the mapping never names are left out, because
// they are never touched.
func (a *Account) setGroups(managed []mapping.Named) {
	var names []string
	for _, g := range managed {
		if slices.Contains(a.Groups, g.ID) {
			names = append(names, g.Name)
		}
	}
	a.Fields[FieldUserGroups] = joinSorted(names)
}

func joinSorted(v []string) string {
	v = slices.Clone(v)
	slices.Sort(v)
	v = slices.Compact(v)
	return strings.Join(v, ",")
}
