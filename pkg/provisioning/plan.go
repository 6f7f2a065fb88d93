package provisioning

import (
	"slices"
	"strconv"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// Change is one field this system changes, by canonical name. Passwords are
// never a Change.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Desired is the state an event asks for: canonical field values, present only
// for the fields the event (or the mapping) speaks about. An empty value means
// "clear".
type Desired struct {
	LoginID string
	Fields  map[string]string
	// Access is the mapping's assignment when the event decides access (see
	// Target); nil leaves organization, personas, groups and working folder
	// as they are.
	Access *mapping.Assignment
	// Licenses are the state licenses the event lists (Fields carries their
	// canonical value under FieldStateLicenses when the event speaks of
	// them; null or [] clears them).
	Licenses []hris.StateLicense
}

// accessKeysPresent reports whether the event carries any attribute the
// mapping matches on. An update that carries none says nothing about the
// employee's role, so the mapping is not re-applied (a rule evaluated against
// absent attributes would otherwise fall to the defaults and strip access).
func accessKeysPresent(e hris.Employee) bool {
	return e.JobCode.Present || e.JobTitle.Present || e.Department.Present || e.Location.Present
}

// Target computes the Desired state for ev. decideAccess forces the mapping to
// be applied (creates, adoptions, hires and rehires).
func Target(ev *hris.Event, rules *mapping.Resolved, decideAccess bool) Desired {
	e := ev.Employee
	d := Desired{LoginID: e.UserName, Fields: map[string]string{}}
	put := func(field string, f hris.Field[string]) {
		if f.Present {
			d.Fields[field] = f.Value // "" when null: clear
		}
	}
	put(FieldFirstName, e.GivenName)
	put(FieldMiddleName, e.MiddleName)
	put(FieldLastName, e.FamilyName)
	put(FieldSuffix, e.Suffix)
	put(FieldEmail, e.Email)
	put(FieldPhone, e.WorkPhone)
	put(FieldCellPhone, e.MobilePhone)
	put(FieldFax, e.Fax)
	put(FieldTitle, e.JobTitle)
	put(FieldNMLSOriginatorID, e.NMLSID)
	put(FieldNMLSExpirationDate, e.NMLSExpirationDate)
	// The HRIS id goes to Encompass only when it fits; the link is kept in
	// the state table either way.
	if len(e.EmployeeID) <= encompass.MaxEmployeeIDLength {
		d.Fields[FieldEmployeeID] = e.EmployeeID
	}
	if e.StateLicenses.Present {
		d.Licenses = e.StateLicenses.Value // nil when null: clear
		d.Fields[FieldStateLicenses] = licensesValue(d.Licenses)
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
		d.Fields[FieldOrganizationID] = as.Organization.ID
		d.Fields[FieldPersonas] = joinSorted(as.PersonaIDs())
		if as.WorkingFolder != "" {
			d.Fields[FieldWorkingFolder] = as.WorkingFolder
		}
		d.Fields[FieldSSOOnly] = strconv.FormatBool(as.SSOOnly)
		if rules.GroupsManaged {
			d.Fields[FieldUserGroups] = groupNames(as.UserGroups)
		}
	} else if sso != nil {
		// employee.ssoOnly overrides the rule even when the rule is not
		// re-evaluated.
		d.Fields[FieldSSOOnly] = strconv.FormatBool(*sso)
	}
	return d
}

func groupNames(gs []mapping.Named) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return joinSorted(names)
}

// Action is what a plan does to the account.
type Action string

// The plan actions; they name the outcome in events and metrics.
const (
	ActionCreate     Action = "created"
	ActionAdopt      Action = "adopted"
	ActionUpdate     Action = "updated"
	ActionReactivate Action = "reactivated"
	ActionDisable    Action = "disabled"
	ActionNone       Action = "unchanged"
)

// Plan is the change to make to one Encompass account.
type Plan struct {
	Action Action
	// Changes are sorted by field; they list every field written.
	Changes []Change
	// Enable and Disable change the account state (also listed in Changes).
	Enable, Disable bool
	// SetPassword asks for a new random password with requirePasswordChange
	// (a user who is, or becomes, not SSO-only).
	SetPassword bool
	// GroupsAdd and GroupsRemove reconcile the mapped user groups.
	GroupsAdd, GroupsRemove []mapping.Named
	// Licenses is the whole new set of state licenses when they change;
	// LicensesDropped are the states licensed before and not any more.
	Licenses        []hris.StateLicense
	LicensesDropped []string
}

// Writes reports whether the plan writes anything to Encompass.
func (p Plan) Writes() bool {
	return len(p.Changes) > 0 || p.SetPassword
}

// Changed returns the planned new value of field and whether it changes.
func (p Plan) Changed(field string) (string, bool) {
	for _, c := range p.Changes {
		if c.Field == field {
			return c.To, true
		}
	}
	return "", false
}

// PlanCreate plans a new account with every desired field.
func PlanCreate(want Desired) Plan {
	p := Plan{Action: ActionCreate}
	p.Changes = append(p.Changes, Change{Field: FieldLoginID, To: want.LoginID})
	for f, v := range want.Fields {
		if v != "" && f != FieldUserGroups {
			p.Changes = append(p.Changes, Change{Field: f, To: v})
		}
	}
	if want.Access != nil && len(want.Access.UserGroups) > 0 {
		p.Changes = append(p.Changes, Change{Field: FieldUserGroups, To: groupNames(want.Access.UserGroups)})
		p.GroupsAdd = slices.Clone(want.Access.UserGroups)
	}
	p.Changes = append(p.Changes, Change{Field: FieldEnabled, To: "true"})
	p.SetPassword = want.Fields[FieldSSOOnly] != "true"
	p.Licenses = want.Licenses
	sortChanges(p.Changes)
	return p
}

// PlanUpdate plans the changes that bring cur to want: only fields whose value
// differs are written. enable re-enables a disabled account (rehire); an
// update never does. managed are the mapped groups (nil when groups are not
// managed).
func PlanUpdate(cur *Account, want Desired, enable bool, managed []mapping.Named) Plan {
	p := Plan{Action: ActionUpdate}
	for f, v := range want.Fields {
		if f == FieldUserGroups || f == FieldStateLicenses && !cur.LicensesKnown {
			continue
		}
		if from := cur.field(f); from != v {
			p.Changes = append(p.Changes, Change{Field: f, From: from, To: v})
		}
	}
	if _, ok := p.Changed(FieldStateLicenses); ok {
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
			p.Changes = append(p.Changes, Change{Field: FieldUserGroups, From: cur.field(FieldUserGroups), To: groupNames(wanted)})
		}
	}
	if enable && !cur.Enabled {
		p.Enable = true
		p.Action = ActionReactivate
		p.Changes = append(p.Changes, Change{Field: FieldEnabled, From: "false", To: "true"})
	}
	if to, ok := p.Changed(FieldSSOOnly); ok && to == "false" {
		p.SetPassword = true
	}
	if len(p.Changes) == 0 {
		p.Action = ActionNone
	}
	sortChanges(p.Changes)
	return p
}

// PlanDisable plans disabling cur (nothing when it is disabled already).
func PlanDisable(cur *Account) Plan {
	if !cur.Enabled {
		return Plan{Action: ActionNone}
	}
	return Plan{Action: ActionDisable, Disable: true, Changes: []Change{{Field: FieldEnabled, From: "true", To: "false"}}}
}

func sortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int { return strings.Compare(a.Field, b.Field) })
}

// emailMatches is the adoption rule: an existing account is adopted only if
// its e-mail equals the event's, case-insensitively.
func emailMatches(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
