package directory

import (
	"strconv"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
)

// fromV3 converts a v3 user.
func fromV3(u *encompass.User) *account.Account {
	a := &account.Account{
		ID:      u.ID,
		LoginID: u.LoginID,
		Enabled: u.IsEnabled(),
		Fields: map[string]string{
			account.FieldLoginID:            u.LoginID,
			account.FieldFirstName:          u.FirstName,
			account.FieldMiddleName:         u.MiddleName,
			account.FieldLastName:           u.LastName,
			account.FieldSuffix:             u.Suffix,
			account.FieldEmail:              u.Email,
			account.FieldPhone:              u.Phone,
			account.FieldCellPhone:          u.CellPhone,
			account.FieldFax:                u.Fax,
			account.FieldTitle:              u.Title,
			account.FieldEmployeeID:         u.EmployeeID,
			account.FieldOrganizationID:     u.OrganizationID,
			account.FieldPersonas:           account.JoinSorted(u.PersonaIDs()),
			account.FieldNMLSOriginatorID:   u.NMLSOriginatorID,
			account.FieldNMLSExpirationDate: u.NMLSExpirationDate,
			account.FieldWorkingFolder:      u.WorkingFolder,
			account.FieldSSOOnly:            strconv.FormatBool(u.SSOOnly),
		},
	}
	if a.ID == "" {
		a.ID = strings.ToLower(u.LoginID)
	}
	a.Fields[account.FieldEnabled] = strconv.FormatBool(a.Enabled)
	return a
}

// fromSCIM converts a SCIM user.
func fromSCIM(u *encompass.SCIMUser) *account.Account {
	a := &account.Account{
		ID:      u.EncompassID,
		GUID:    u.ID,
		LoginID: u.UserName,
		Enabled: u.IsEnabled(),
		Fields: map[string]string{
			account.FieldLoginID:            u.UserName,
			account.FieldTitle:              u.JobTitle,
			account.FieldEmployeeID:         u.EmployeeID,
			account.FieldNMLSOriginatorID:   u.NMLSOriginatorID,
			account.FieldNMLSExpirationDate: u.NMLSExpirationDate,
			account.FieldWorkingFolder:      u.WorkingFolder,
		},
	}
	if a.ID == "" {
		a.ID = strings.ToLower(u.UserName)
	}
	if u.Name != nil {
		a.Fields[account.FieldFirstName] = u.Name.GivenName
		a.Fields[account.FieldMiddleName] = u.Name.MiddleName
		a.Fields[account.FieldLastName] = u.Name.FamilyName
		a.Fields[account.FieldSuffix] = u.Name.HonorificSuffix
	}
	putContacts(a.Fields, u.Emails, u.PhoneNumbers, account.FieldEmail, account.FieldPhone, account.FieldCellPhone, account.FieldFax)
	var personas []string
	for _, p := range u.Personas {
		personas = append(personas, p.EntityID)
	}
	a.Fields[account.FieldPersonas] = account.JoinSorted(personas)
	if u.Organization != nil {
		a.Fields[account.FieldOrganizationID] = u.Organization.EntityID
	}
	a.Fields[account.FieldSSOOnly] = strconv.FormatBool(u.IsSSOOnly != nil && *u.IsSSOOnly)
	a.Fields[account.FieldEnabled] = strconv.FormatBool(a.Enabled)
	a.SetLicenses(selectedLicenses(u.Licenses))
	if u.Groups != nil {
		a.GroupsKnown = true
		for _, g := range u.Groups {
			a.Groups = append(a.Groups, g.EntityID)
		}
	}
	return a
}

// selectedLicenses keeps the licenses Encompass marks selected (it answers
// one entry per state, most of them unselected) as HRIS licenses, so that
// they compare with an event's.
func selectedLicenses(ls []encompass.SCIMLicense) []hris.StateLicense {
	var out []hris.StateLicense
	for _, l := range ls {
		if !l.Selected {
			continue
		}
		st := l.LicenseStatusType
		if st == "" {
			st, _ = encompass.LicenseStatusType(l.LicenseStatus)
		}
		out = append(out, hris.StateLicense{
			State: strings.ToUpper(l.StateAbbreviation), LicenseNumber: l.LicenseNumber,
			ExpirationDate: dateOnly(l.EndDate), Status: st,
		})
	}
	return out
}

// dateOnly cuts a date-time Encompass may answer to its yyyy-mm-dd.
func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// scimAttr maps canonical names to EncompassInternalUser attributes.
var scimAttr = map[string]string{
	account.FieldTitle:              "jobTitle",
	account.FieldEmployeeID:         "employeeId",
	account.FieldNMLSOriginatorID:   "nmlsOriginatorId",
	account.FieldNMLSExpirationDate: "nmlsExpirationDate",
	account.FieldWorkingFolder:      "workingFolder",
}

var scimName = map[string]string{
	account.FieldFirstName: "givenName", account.FieldMiddleName: "middleName", account.FieldLastName: "familyName", account.FieldSuffix: "honorificSuffix",
}

// putContacts sets in f, under the canonical fields named, a SCIM
// profile's primary e-mail (the first when none is primary) and its work,
// mobile and fax numbers; what the profile lacks stays unset.
func putContacts(f map[string]string, emails, phones []encompass.SCIMMultiValue, email, work, mobile, fax string) {
	for _, e := range emails {
		if e.Primary || f[email] == "" {
			f[email] = e.Value
		}
	}
	for _, p := range phones {
		switch strings.ToLower(p.Type) {
		case "work":
			f[work] = p.Value
		case "mobile":
			f[mobile] = p.Value
		case "fax":
			f[fax] = p.Value
		}
	}
}

// workEmail is a profile's e-mail list: the one work address, primary.
func workEmail(v string) []encompass.SCIMMultiValue {
	return []encompass.SCIMMultiValue{{Value: v, Type: "work", Primary: true}}
}

// scimOps turns the plan into SCIM PATCH operations: one replace without a
// path for every value set, and one remove with a path per cleared attribute.
func scimOps(acc *account.Account, plan account.Plan, password string) []encompass.PatchOp {
	attrs := map[string]any{}
	name := map[string]any{}
	var removes []encompass.PatchOp
	remove := func(attr string) {
		removes = append(removes, encompass.PatchOp{Op: "remove", Path: encompass.UserPath(attr)})
	}
	phonesChanged := false
	for _, c := range plan.Changes {
		switch c.Field {
		case account.FieldUserGroups, account.FieldLoginID, account.FieldOrganizationID:
			// Groups go through SCIM groups, organizations through v3.
		case account.FieldFirstName, account.FieldMiddleName, account.FieldLastName, account.FieldSuffix:
			if c.To == "" {
				remove("name." + scimName[c.Field])
			} else {
				name[scimName[c.Field]] = c.To
			}
		case account.FieldEmail:
			attrs["emails"] = workEmail(c.To)
		case account.FieldPhone, account.FieldCellPhone, account.FieldFax:
			phonesChanged = true
		case account.FieldPersonas:
			var ents []encompass.SCIMEntity
			for _, id := range account.SplitList(c.To) {
				ents = append(ents, encompass.SCIMEntity{EntityID: id})
			}
			attrs["personas"] = ents
		case account.FieldStateLicenses:
			attrs["licenses"] = scimLicenses(plan.Licenses, plan.LicensesDropped)
		case account.FieldEnabled:
			attrs["accountEnabled"] = c.To == "true"
		case account.FieldSSOOnly:
			attrs["isSsoOnly"] = c.To == "true"
		default:
			if a, ok := scimAttr[c.Field]; ok {
				if c.To == "" {
					remove(a)
				} else {
					attrs[a] = c.To
				}
			}
		}
	}
	if phonesChanged {
		// phoneNumbers is multi-valued: a replace sets the whole list, so
		// send every phone the account should keep.
		v := func(f string) string { return plan.After(acc, f) }
		if nums := phoneNumbers(v(account.FieldPhone), v(account.FieldCellPhone), v(account.FieldFax)); len(nums) > 0 {
			attrs["phoneNumbers"] = nums
		} else {
			remove("phoneNumbers")
		}
	}
	if len(name) > 0 {
		attrs["name"] = name
	}
	var ops []encompass.PatchOp
	if len(attrs) > 0 {
		ops = append(ops, encompass.ReplaceUserAttrs(attrs))
	}
	if plan.SetPassword && password != "" {
		// A separate operation: SCIM refuses a password next to isSsoOnly.
		yes := true
		ops = append(ops, encompass.ReplaceUserAttrs(map[string]any{"password": password, "requirePasswordChange": yes}))
	}
	return append(ops, removes...)
}

// scimLicenses is the SCIM licenses value: every wanted license selected, and
// every dropped state explicitly unselected, so that a tenant that merges
// license lists by state drops it as well as one that replaces the list.
func scimLicenses(want []hris.StateLicense, dropped []string) []encompass.SCIMLicense {
	var out []encompass.SCIMLicense
	for _, l := range want {
		out = append(out, encompass.SCIMLicense{
			StateAbbreviation: l.State, Selected: true, LicenseNumber: l.LicenseNumber,
			LicenseStatusType: l.Status, EndDate: l.ExpirationDate,
		})
	}
	for _, st := range dropped {
		out = append(out, encompass.SCIMLicense{StateAbbreviation: st, Selected: false})
	}
	return out
}

func phoneNumbers(work, mobile, fax string) []encompass.SCIMMultiValue {
	var out []encompass.SCIMMultiValue
	for _, p := range []encompass.SCIMMultiValue{{Value: work, Type: "work"}, {Value: mobile, Type: "mobile"}, {Value: fax, Type: "fax"}} {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}
