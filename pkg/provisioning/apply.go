package provisioning

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// errStillEnabled: a disable was acknowledged but the read-back shows the
// account enabled. It is retryable: SQS delivers the message again.
var errStillEnabled = errors.New("account still enabled after disable")

// directory reads and writes Encompass accounts through the configured user
// API. In scim mode users are created, patched and disabled through SCIM and
// addressed by their global user id; an account that has no global user id
// (created through v3 before this system existed, so SCIM cannot see it) is
// managed through the v3 API instead, and only its group memberships go
// through SCIM. Organization changes always use v3, because SCIM PATCH treats
// the organization as read-only.
type directory struct {
	api     UserAPI
	users   Users
	scim    SCIM
	managed []mapping.Named // mapped groups; nil when groups are not managed
	joiner  *groupJoiner    // coalesces the group joins of concurrent events
}

func (d *directory) scimMode() bool { return d.api == UserAPISCIM && d.scim != nil }

// read returns the linked account by its ids.
func (d *directory) read(ctx context.Context, userID, guid string) (*Account, error) {
	var acc *Account
	if d.scimMode() && guid != "" {
		u, err := d.scim.GetUser(ctx, guid)
		if err != nil {
			return nil, err
		}
		acc = accountFromSCIM(u)
	} else {
		u, err := d.users.Get(ctx, userID)
		if err != nil {
			return nil, err
		}
		acc = accountFromV3(u)
	}
	return acc, d.loadGroups(ctx, acc)
}

// find looks an account up by login id through v3, which sees every user, and
// in scim mode also fetches its global user id when SCIM knows it.
func (d *directory) find(ctx context.Context, loginID string) (*Account, error) {
	u, err := d.users.FindByLoginID(ctx, loginID)
	if err != nil {
		return nil, err
	}
	acc := accountFromV3(u)
	if d.scimMode() {
		// SCIM list answers carry only a few attributes, so the v3 record
		// stays the source of the fields; SCIM adds the global user id.
		su, err := d.scim.FindUserByUserName(ctx, loginID)
		switch {
		case err == nil:
			acc.GUID = su.ID
			if su.Licenses != nil {
				acc.setLicenses(su.Licenses)
			}
		case !errors.Is(err, encompass.ErrNotFound):
			return nil, err
		}
	}
	return acc, d.loadGroups(ctx, acc)
}

// loadGroups fills the account's mapped-group memberships when the read did
// not carry them, one group read per mapped group.
func (d *directory) loadGroups(ctx context.Context, acc *Account) error {
	if d.managed == nil || !d.scimMode() {
		acc.Fields[FieldUserGroups] = ""
		return nil
	}
	if !acc.GroupsKnown {
		for _, g := range d.managed {
			grp, err := d.scim.GetGroup(ctx, g.ID)
			if err != nil {
				return fmt.Errorf("read group %s: %w", g.Name, err)
			}
			if grp.HasUser(acc.ID) {
				acc.Groups = append(acc.Groups, g.ID)
			}
		}
		acc.GroupsKnown = true
	}
	acc.setGroups(d.managed)
	return nil
}

// create makes the account. password is empty for SSO-only users.
func (d *directory) create(ctx context.Context, want Desired, plan Plan, password string) (*Account, error) {
	f := want.Fields
	sso := f[FieldSSOOnly] == "true"
	var acc *Account
	if d.scimMode() {
		su := encompass.SCIMUser{
			UserName:           want.LoginID,
			Name:               &encompass.SCIMName{GivenName: f[FieldFirstName], MiddleName: f[FieldMiddleName], FamilyName: f[FieldLastName], HonorificSuffix: f[FieldSuffix]},
			Emails:             []encompass.SCIMMultiValue{{Value: f[FieldEmail], Type: "work", Primary: true}},
			PhoneNumbers:       phoneNumbers(f[FieldPhone], f[FieldCellPhone], f[FieldFax]),
			JobTitle:           f[FieldTitle],
			EmployeeID:         f[FieldEmployeeID],
			NMLSOriginatorID:   f[FieldNMLSOriginatorID],
			NMLSExpirationDate: f[FieldNMLSExpirationDate],
			WorkingFolder:      f[FieldWorkingFolder],
			Organization:       &encompass.SCIMEntity{EntityID: f[FieldOrganizationID]},
			Licenses:           scimLicenses(plan.Licenses, nil),
		}
		for _, id := range splitList(f[FieldPersonas]) {
			su.Personas = append(su.Personas, encompass.SCIMEntity{EntityID: id})
		}
		// SCIM accepts isSsoOnly only without a password, and a password
		// only for users who are not SSO-only.
		if sso {
			su.IsSSOOnly = &sso
		} else {
			yes := true
			su.Password, su.RequirePasswordChange = password, &yes
		}
		created, err := d.scim.CreateUser(ctx, su)
		if err != nil {
			return nil, err
		}
		acc = accountFromSCIM(created)
	} else {
		u := encompass.User{
			LoginID: want.LoginID, FirstName: f[FieldFirstName], MiddleName: f[FieldMiddleName], LastName: f[FieldLastName],
			Suffix: f[FieldSuffix], Email: f[FieldEmail], Phone: f[FieldPhone], CellPhone: f[FieldCellPhone], Fax: f[FieldFax],
			Title: f[FieldTitle], EmployeeID: f[FieldEmployeeID], OrganizationID: f[FieldOrganizationID],
			NMLSOriginatorID: f[FieldNMLSOriginatorID], NMLSExpirationDate: f[FieldNMLSExpirationDate],
			WorkingFolder: f[FieldWorkingFolder], SSOOnly: sso,
		}
		for _, id := range splitList(f[FieldPersonas]) {
			u.Personas = append(u.Personas, encompass.PersonaRef{ID: id})
		}
		if !sso {
			u.Password, u.RequirePasswordChange = password, true
		}
		created, err := d.users.Create(ctx, u)
		if err != nil {
			return nil, err
		}
		acc = accountFromV3(created)
	}
	if !emailMatches(acc.field(FieldEmail), f[FieldEmail]) && acc.field(FieldEmail) != "" {
		// The client resolved an unknown-outcome create by finding an
		// account with this login id that is not the one we sent.
		return acc, errUserNameConflict(want.LoginID, acc.field(FieldEmail))
	}
	if err := d.reconcileGroups(ctx, acc, plan); err != nil {
		return acc, err
	}
	return acc, nil
}

// update writes the plan's changes to an existing account.
func (d *directory) update(ctx context.Context, acc *Account, plan Plan, password string) error {
	if org, ok := plan.Changed(FieldOrganizationID); ok && d.scimMode() && acc.GUID != "" {
		if _, err := d.users.Patch(ctx, acc.ID, encompass.UserPatch{FieldOrganizationID: org}); err != nil {
			return fmt.Errorf("move to organization %s: %w", org, err)
		}
	}
	if d.scimMode() && acc.GUID != "" {
		if ops := scimOps(acc, plan, password); len(ops) > 0 {
			if err := d.scim.PatchUser(ctx, acc.GUID, ops); err != nil {
				return err
			}
		}
	} else if patch := v3Patch(plan, password); len(patch) > 0 {
		if _, err := d.users.Patch(ctx, acc.ID, patch); err != nil {
			return err
		}
	}
	return d.reconcileGroups(ctx, acc, plan)
}

func (d *directory) reconcileGroups(ctx context.Context, acc *Account, plan Plan) error {
	if !d.scimMode() {
		return nil
	}
	for _, g := range plan.GroupsAdd {
		if err := d.joiner.join(ctx, g.ID, encompass.UserMember(acc.ID)); err != nil {
			return fmt.Errorf("add to group %s: %w", g.Name, err)
		}
	}
	for _, g := range plan.GroupsRemove {
		if err := d.scim.RemoveGroupMember(ctx, g.ID, encompass.UserMember(acc.ID)); err != nil {
			return fmt.Errorf("remove from group %s: %w", g.Name, err)
		}
	}
	return nil
}

// disable disables the account and reads it back; an account still enabled
// afterwards is an error (CONTRACTS section 2).
func (d *directory) disable(ctx context.Context, acc *Account) (*Account, error) {
	var back *Account
	if d.scimMode() && acc.GUID != "" {
		if err := d.scim.DisableUser(ctx, acc.GUID); err != nil {
			return nil, err
		}
		u, err := d.scim.GetUser(ctx, acc.GUID)
		if err != nil {
			return nil, fmt.Errorf("read back after disable: %w", err)
		}
		back = accountFromSCIM(u)
	} else {
		if _, err := d.users.Patch(ctx, acc.ID, encompass.UserPatch{FieldEnabled: false}); err != nil {
			return nil, err
		}
		u, err := d.users.Get(ctx, acc.ID)
		if err != nil {
			return nil, fmt.Errorf("read back after disable: %w", err)
		}
		back = accountFromV3(u)
	}
	if back.Enabled {
		return back, fmt.Errorf("disable %s: %w", acc.ID, errStillEnabled)
	}
	return back, nil
}

// v3Patch turns the plan into a v3 PATCH body: only changed fields, nil to
// clear.
func v3Patch(plan Plan, password string) encompass.UserPatch {
	patch := encompass.UserPatch{}
	for _, c := range plan.Changes {
		switch c.Field {
		case FieldUserGroups, FieldLoginID, FieldStateLicenses:
			// Licenses are written through SCIM only.
		case FieldEnabled, FieldSSOOnly:
			patch[c.Field] = c.To == "true"
		case FieldPersonas:
			var refs []map[string]string
			for _, id := range splitList(c.To) {
				refs = append(refs, map[string]string{"id": id})
			}
			patch[c.Field] = refs
		default:
			if c.To == "" {
				patch[c.Field] = nil
			} else {
				patch[c.Field] = c.To
			}
		}
	}
	if plan.SetPassword && password != "" {
		patch["password"] = password
		patch["requirePasswordChange"] = true
	}
	return patch
}

// scimAttr maps canonical names to EncompassInternalUser attributes.
var scimAttr = map[string]string{
	FieldTitle:              "jobTitle",
	FieldEmployeeID:         "employeeId",
	FieldNMLSOriginatorID:   "nmlsOriginatorId",
	FieldNMLSExpirationDate: "nmlsExpirationDate",
	FieldWorkingFolder:      "workingFolder",
}

var scimName = map[string]string{
	FieldFirstName: "givenName", FieldMiddleName: "middleName", FieldLastName: "familyName", FieldSuffix: "honorificSuffix",
}

// scimOps turns the plan into SCIM PATCH operations: one replace without a
// path for every value set, and one remove with a path per cleared attribute.
func scimOps(acc *Account, plan Plan, password string) []encompass.PatchOp {
	attrs := map[string]any{}
	name := map[string]any{}
	var removes []encompass.PatchOp
	remove := func(attr string) {
		removes = append(removes, encompass.PatchOp{Op: "remove", Path: encompass.UserPath(attr)})
	}
	phonesChanged := false
	for _, c := range plan.Changes {
		switch c.Field {
		case FieldUserGroups, FieldLoginID, FieldOrganizationID:
			// Groups go through SCIM groups, organizations through v3.
		case FieldFirstName, FieldMiddleName, FieldLastName, FieldSuffix:
			if c.To == "" {
				remove("name." + scimName[c.Field])
			} else {
				name[scimName[c.Field]] = c.To
			}
		case FieldEmail:
			attrs["emails"] = []encompass.SCIMMultiValue{{Value: c.To, Type: "work", Primary: true}}
		case FieldPhone, FieldCellPhone, FieldFax:
			phonesChanged = true
		case FieldPersonas:
			var ents []encompass.SCIMEntity
			for _, id := range splitList(c.To) {
				ents = append(ents, encompass.SCIMEntity{EntityID: id})
			}
			attrs["personas"] = ents
		case FieldStateLicenses:
			attrs["licenses"] = scimLicenses(plan.Licenses, plan.LicensesDropped)
		case FieldEnabled:
			attrs["accountEnabled"] = c.To == "true"
		case FieldSSOOnly:
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
		value := func(f string) string {
			if v, ok := plan.Changed(f); ok {
				return v
			}
			return acc.field(f)
		}
		if nums := phoneNumbers(value(FieldPhone), value(FieldCellPhone), value(FieldFax)); len(nums) > 0 {
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

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return slices.DeleteFunc(strings.Split(s, ","), func(v string) bool { return v == "" })
}
