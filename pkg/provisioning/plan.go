package provisioning

import (
	"fmt"
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
	// The DDA profile carries the same names, e-mail and phones (planDDA
	// compares them only when the employee has, or gets, one).
	for f, dda := range account.DDAMirror {
		if v, ok := d.Fields[f]; ok {
			d.Fields[dda] = v
		}
	}
	put(account.FieldDDAAuthID, e.DDAAuthID)
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
		if as.DDA != nil {
			d.Fields[account.FieldDDARoleName] = as.DDA.RoleName
			d.Fields[account.FieldDDASSOOnly] = strconv.FormatBool(as.DDA.SSOOnly)
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

// grantsDDA reports whether want decides access and grants a DDA profile.
func grantsDDA(want account.Desired) bool { return want.Access != nil && want.Access.DDA != nil }

// PlanCreate plans a new account with every desired field, and its DDA
// profile when the mapping grants one.
func PlanCreate(want account.Desired) account.Plan {
	p := account.Plan{Action: account.ActionCreate}
	p.Changes = append(p.Changes, account.Change{Field: account.FieldLoginID, To: want.LoginID})
	for f, v := range want.Fields {
		if v != "" && f != account.FieldUserGroups && !account.IsDDAField(f) {
			p.Changes = append(p.Changes, account.Change{Field: f, To: v})
		}
	}
	if grantsDDA(want) {
		planDDAAdd(&p, nil, want)
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
		if f == account.FieldUserGroups || f == account.FieldStateLicenses && !cur.LicensesKnown || account.IsDDAField(f) {
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
	planDDA(&p, cur, want)
	if len(p.Changes) == 0 {
		p.Action = account.ActionNone
	}
	account.SortChanges(p.Changes)
	return p
}

// planDDA adds to p what the DDA profile needs (CONTRACTS section 6), when
// cur's profile was read (cur.DDAKnown): a profile the mapping grants is
// added to an enabled account that has none, its role and profile fields
// are replaced when they differ, and it is enabled again when the account
// is (a rehire, or DDA granted again); a profile the mapping no longer
// grants, or of an account that is disabled, is disabled and read back.
// When the event does not decide access, only the profile's fields follow
// the employee's.
func planDDA(p *account.Plan, cur *account.Account, want account.Desired) {
	if !cur.DDAKnown {
		return
	}
	enabledAfter := cur.Enabled && !p.Disable || p.Enable
	switch {
	case !cur.HasDDA:
		if grantsDDA(want) && enabledAfter {
			planDDAAdd(p, cur, want)
		}
		return
	case want.Access != nil && want.Access.DDA == nil || !enabledAfter:
		if cur.DDAEnabled() {
			p.DDA.Disable = true
			p.Changes = append(p.Changes, account.Change{Field: account.FieldDDAEnabled, From: "true", To: "false"})
		}
		return
	}
	for f, v := range want.Fields {
		if !account.IsDDAField(f) {
			continue
		}
		if from := cur.Field(f); from != v {
			p.Changes = append(p.Changes, account.Change{Field: f, From: from, To: v})
		}
	}
	if grantsDDA(want) && !cur.DDAEnabled() {
		p.Changes = append(p.Changes, account.Change{Field: account.FieldDDAEnabled, From: "false", To: "true"})
	}
	if to, ok := p.Changed(account.FieldDDASSOOnly); ok && to == "false" {
		p.DDA.SetPassword = true
	}
}

// planDDAAdd plans a new DDA profile on cur (nil for an account being
// created) with every desired dda.* value, the names, e-mail and phones the
// account has where the event does not give them, the login id as its
// userName, enabled.
func planDDAAdd(p *account.Plan, cur *account.Account, want account.Desired) {
	p.DDA.Add = true
	login := want.LoginID
	if cur != nil && cur.LoginID != "" {
		login = cur.LoginID
	}
	p.Changes = append(p.Changes,
		account.Change{Field: account.FieldDDAUserName, To: login},
		account.Change{Field: account.FieldDDAEnabled, To: "true"})
	values := map[string]string{}
	for f, dda := range account.DDAMirror {
		values[dda] = cur.Field(f)
	}
	for f, v := range want.Fields {
		if account.IsDDAField(f) {
			values[f] = v
		}
	}
	for f, v := range values {
		if v != "" && (f != account.FieldDDAAuthID || values[account.FieldDDASSOOnly] == "true") {
			p.Changes = append(p.Changes, account.Change{Field: f, To: v})
		}
	}
	p.DDA.SetPassword = want.Fields[account.FieldDDASSOOnly] != "true"
	account.SortChanges(p.Changes)
}

// ddaProblem refuses a plan that leaves an SSO-only DDA profile without the
// employee's SSO subject: DDA would refuse it, and only the HRIS can supply
// it (employee.ddaAuthId).
func ddaProblem(cur *account.Account, plan account.Plan) error {
	if !plan.WritesDDA() || plan.DDA.Disable {
		return nil
	}
	if plan.After(cur, account.FieldDDASSOOnly) == "true" && plan.After(cur, account.FieldDDAAuthID) == "" {
		return &rejection{Reason: hris.ReasonInvalidField, Field: "employee.ddaAuthId", Message: fmt.Sprintf(
			"the mapping gives this employee an SSO-only DDA profile (role %q), which needs employee.ddaAuthId, the DDA SSO subject",
			plan.After(cur, account.FieldDDARoleName))}
	}
	return nil
}

// PlanDisable plans disabling cur and every product profile it has: the
// Encompass account when it is enabled, and the DDA profile whenever cur
// has one (it is disabled and read back even when already disabled, as the
// account is: the read-back is the leaver's proof).
func PlanDisable(cur *account.Account) account.Plan {
	p := account.Plan{Action: account.ActionNone}
	if cur.Enabled {
		p.Action, p.Disable = account.ActionDisable, true
		p.Changes = append(p.Changes, account.Change{Field: account.FieldEnabled, From: "true", To: "false"})
	}
	if cur.HasDDA {
		p.DDA.Disable = true
		if cur.DDAEnabled() {
			p.Action = account.ActionDisable
			p.Changes = append(p.Changes, account.Change{Field: account.FieldDDAEnabled, From: "true", To: "false"})
		}
	}
	account.SortChanges(p.Changes)
	return p
}
