package provisioning

import (
	"slices"
	"strconv"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// accessKeysPresent reports whether the event carries any attribute the
// mapping matches on. An update that carries none says nothing about the
// employee's role, so the mapping is not re-applied (a rule evaluated against
// absent attributes would otherwise fall to the defaults and strip access).
func accessKeysPresent(e hris.Employee) bool {
	return e.JobCode.Present || e.JobTitle.Present || e.Department.Present || e.Location.Present
}

// Target computes the desired state of the account for ev. decideAccess
// forces the mapping to be applied (creates, adoptions, hires and rehires).
func Target(ev *hris.Event, rules *mapping.Resolved, decideAccess bool) account.Desired {
	e := ev.Employee
	d := account.Desired{LoginID: e.UserName, Fields: map[string]string{}}
	put := func(field string, f hris.Field[string]) {
		if f.Present {
			d.Fields[field] = f.Value // "" when null: clear
		}
	}
	put(account.FieldFirstName, e.GivenName)
	put(account.FieldMiddleName, e.MiddleName)
	put(account.FieldLastName, e.FamilyName)
	put(account.FieldSuffix, e.Suffix)
	put(account.FieldEmail, e.Email)
	put(account.FieldPhone, e.WorkPhone)
	put(account.FieldCellPhone, e.MobilePhone)
	put(account.FieldFax, e.Fax)
	put(account.FieldTitle, e.JobTitle)
	put(account.FieldNMLSOriginatorID, e.NMLSID)
	put(account.FieldNMLSExpirationDate, e.NMLSExpirationDate)
	// The HRIS id goes to Encompass only when it fits; the link is kept in
	// the state table either way.
	if len(e.EmployeeID) <= encompass.MaxEmployeeIDLength {
		d.Fields[account.FieldEmployeeID] = e.EmployeeID
	}
	if e.StateLicenses.Present {
		d.Licenses = e.StateLicenses.Value // nil when null: clear
		d.Fields[account.FieldStateLicenses] = account.LicensesValue(d.Licenses)
	}
	var sso *bool
	if e.SSOOnly.IsSet() {
		sso = &e.SSOOnly.Value
	}
	if decideAccess || accessKeysPresent(e) || ev.Type == hris.TypeHire || ev.Type == hris.TypeRehire {
		as := rules.Assign(mapping.Attributes{
			JobCode: e.JobCode.Value, JobTitle: e.JobTitle.Value,
			Department: e.Department.Value, Location: e.Location.Value,
		}, sso)
		d.Access = &as
		d.Fields[account.FieldOrganizationID] = as.Organization.ID
		d.Fields[account.FieldPersonas] = account.JoinSorted(as.PersonaIDs())
		if as.WorkingFolder != "" {
			d.Fields[account.FieldWorkingFolder] = as.WorkingFolder
		}
		d.Fields[account.FieldSSOOnly] = strconv.FormatBool(as.SSOOnly)
		if rules.GroupsManaged {
			d.Fields[account.FieldUserGroups] = groupNames(as.UserGroups)
		}
	} else if sso != nil {
		// employee.ssoOnly overrides the rule even when the rule is not
		// re-evaluated.
		d.Fields[account.FieldSSOOnly] = strconv.FormatBool(*sso)
	}
	return d
}

func groupNames(gs []mapping.Named) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return account.JoinSorted(names)
}

// PlanCreate plans a new account with every desired field.
func PlanCreate(want account.Desired) account.Plan {
	p := account.Plan{Action: account.ActionCreate}
	p.Changes = append(p.Changes, account.Change{Field: account.FieldLoginID, To: want.LoginID})
	for f, v := range want.Fields {
		if v != "" && f != account.FieldUserGroups {
			p.Changes = append(p.Changes, account.Change{Field: f, To: v})
		}
	}
	if want.Access != nil && len(want.Access.UserGroups) > 0 {
		p.Changes = append(p.Changes, account.Change{Field: account.FieldUserGroups, To: groupNames(want.Access.UserGroups)})
		p.GroupsAdd = slices.Clone(want.Access.UserGroups)
	}
	p.Changes = append(p.Changes, account.Change{Field: account.FieldEnabled, To: "true"})
	p.SetPassword = want.Fields[account.FieldSSOOnly] != "true"
	p.Licenses = want.Licenses
	account.SortChanges(p.Changes)
	return p
}

// PlanUpdate plans the changes that bring cur to want: only fields whose value
// differs are written. enable re-enables a disabled account (rehire); an
// update never does. managed are the mapped groups (nil when groups are not
// managed).
func PlanUpdate(cur *account.Account, want account.Desired, enable bool, managed []mapping.Named) account.Plan {
	p := account.Plan{Action: account.ActionUpdate}
	for f, v := range want.Fields {
		if f == account.FieldUserGroups || f == account.FieldStateLicenses && !cur.LicensesKnown {
			continue
		}
		if from := cur.Field(f); from != v {
			p.Changes = append(p.Changes, account.Change{Field: f, From: from, To: v})
		}
	}
	if _, ok := p.Changed(account.FieldStateLicenses); ok {
		p.Licenses = want.Licenses
		for _, l := range cur.Licenses {
			if !slices.ContainsFunc(want.Licenses, func(w hris.StateLicense) bool { return w.State == l.State }) {
				p.LicensesDropped = append(p.LicensesDropped, l.State)
			}
		}
	}
	if want.Access != nil && managed != nil {
		wanted := want.Access.UserGroups
		for _, g := range wanted {
			if !slices.Contains(cur.Groups, g.ID) {
				p.GroupsAdd = append(p.GroupsAdd, g)
			}
		}
		for _, g := range managed {
			if slices.Contains(cur.Groups, g.ID) && !slices.ContainsFunc(wanted, func(w mapping.Named) bool { return w.ID == g.ID }) {
				p.GroupsRemove = append(p.GroupsRemove, g)
			}
		}
		if len(p.GroupsAdd)+len(p.GroupsRemove) > 0 {
			p.Changes = append(p.Changes, account.Change{Field: account.FieldUserGroups, From: cur.Field(account.FieldUserGroups), To: groupNames(wanted)})
		}
	}
	if enable && !cur.Enabled {
		p.Enable = true
		p.Action = account.ActionReactivate
		p.Changes = append(p.Changes, account.Change{Field: account.FieldEnabled, From: "false", To: "true"})
	}
	if to, ok := p.Changed(account.FieldSSOOnly); ok && to == "false" {
		p.SetPassword = true
	}
	if len(p.Changes) == 0 {
		p.Action = account.ActionNone
	}
	account.SortChanges(p.Changes)
	return p
}

// PlanDisable plans disabling cur (nothing when it is disabled already).
func PlanDisable(cur *account.Account) account.Plan {
	if !cur.Enabled {
		return account.Plan{Action: account.ActionNone}
	}
	return account.Plan{Action: account.ActionDisable, Disable: true, Changes: []account.Change{{Field: account.FieldEnabled, From: "true", To: "false"}}}
}
