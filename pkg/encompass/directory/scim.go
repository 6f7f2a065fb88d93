package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// SCIM manages accounts through SCIM, falling back to v3 for accounts that
// have no global user id.
type SCIM struct {
	users   V3Users
	scim    SCIMUsers
	links   AccountLinks    // global user ids for accounts made outside SCIM; may be nil
	managed []mapping.Named // mapped groups; nil when groups are not managed
	joiner  *groupJoiner    // coalesces the group joins of concurrent events
}

// NewSCIM returns the SCIM adapter. managed are the mapping's user groups
// (nil when the mapping names none, so that groups are never touched).
func NewSCIM(users V3Users, scim SCIMUsers, managed []mapping.Named) *SCIM {
	return &SCIM{users: users, scim: scim, managed: managed, joiner: newGroupJoiner(scim.AddGroupMembers)}
}

// WithAccountLinks sets the Account Links API the adapter gives a global
// user id with (an account created outside SCIM that is to get a DDA
// profile); without it such an account cannot get one.
func (d *SCIM) WithAccountLinks(links AccountLinks) *SCIM {
	d.links = links
	return d
}

// Read returns the linked account: through SCIM by its global user id, or
// through v3 when it has none.
func (d *SCIM) Read(ctx context.Context, userID, guid string) (*account.Account, error) {
	var acc *account.Account
	if guid != "" {
		u, err := d.scim.GetUser(ctx, guid)
		if err != nil {
			return nil, err
		}
		acc = fromSCIM(u)
	} else {
		u, err := d.users.Get(ctx, userID)
		if err != nil {
			return nil, err
		}
		acc = fromV3(u)
	}
	return acc, d.loadGroups(ctx, acc)
}

// Find looks an account up by login id through v3, which sees every user,
// and fetches its global user id when SCIM knows it.
func (d *SCIM) Find(ctx context.Context, loginID string) (*account.Account, error) {
	u, err := d.users.FindByLoginID(ctx, loginID)
	if err != nil {
		return nil, err
	}
	acc := fromV3(u)
	// SCIM list answers carry only a few attributes, so the v3 record stays
	// the source of the fields; SCIM adds the global user id (and licenses).
	su, err := d.scim.FindUserByUserName(ctx, loginID)
	switch {
	case err == nil:
		acc.GUID = su.ID
		if su.Licenses != nil {
			acc.SetLicenses(selectedLicenses(su.Licenses))
		}
	case !errors.Is(err, encompass.ErrNotFound):
		return nil, err
	}
	return acc, d.loadGroups(ctx, acc)
}

// loadGroups fills the account's mapped-group memberships when the read did
// not carry them, one group read per mapped group.
func (d *SCIM) loadGroups(ctx context.Context, acc *account.Account) error {
	if d.managed == nil {
		withoutGroups(acc)
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
	acc.SetGroups(d.managed)
	return nil
}

// Create makes the account through SCIM, adds its DDA profile when the
// plan grants one (on the global user id the create returned), then joins
// its groups.
func (d *SCIM) Create(ctx context.Context, want account.Desired, plan account.Plan, secrets account.Secrets) (*account.Account, error) {
	created, err := d.scim.CreateUser(ctx, scimUser(want, plan, secrets.Password))
	if err != nil {
		return nil, err
	}
	acc := fromSCIM(created)
	acc.SetNoDDA()
	if err := checkCreated(acc, want); err != nil {
		return acc, err
	}
	if err := d.writeDDA(ctx, acc, plan, secrets.DDAPassword); err != nil {
		return acc, err
	}
	return acc, d.reconcileGroups(ctx, acc, plan)
}

// Update writes the plan: an organization change through v3, the rest in
// one SCIM PATCH (or one v3 PATCH for an account without a global user id),
// then the group changes.
func (d *SCIM) Update(ctx context.Context, acc *account.Account, plan account.Plan, secrets account.Secrets) error {
	if err := d.updateAccount(ctx, acc, plan, secrets.Password); err != nil {
		return err
	}
	if err := d.writeDDA(ctx, acc, plan, secrets.DDAPassword); err != nil {
		return err
	}
	return d.reconcileGroups(ctx, acc, plan)
}

// updateAccount writes the plan's Encompass fields.
func (d *SCIM) updateAccount(ctx context.Context, acc *account.Account, plan account.Plan, password string) error {
	if acc.GUID == "" {
		return patchV3(ctx, d.users, acc, plan, password)
	}
	if org, ok := plan.Changed(account.FieldOrganizationID); ok {
		if _, err := d.users.Patch(ctx, acc.ID, encompass.UserPatch{account.FieldOrganizationID: org}); err != nil {
			return fmt.Errorf("move to organization %s: %w", org, err)
		}
	}
	if ops := scimOps(acc, plan, password); len(ops) > 0 {
		if err := d.scim.PatchUser(ctx, acc.GUID, ops); err != nil {
			return err
		}
	}
	return nil
}

func (d *SCIM) reconcileGroups(ctx context.Context, acc *account.Account, plan account.Plan) error {
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

// Disable disables the account (SCIM DELETE, or v3 for an account without
// a global user id) and reads it back, then does the same for its DDA
// profile when it has one: a leaver keeps no access in any product.
func (d *SCIM) Disable(ctx context.Context, acc *account.Account) (*account.Account, error) {
	var back *account.Account
	var err error
	if acc.GUID == "" {
		back, err = disableV3(ctx, d.users, acc)
	} else {
		back, err = d.disableSCIM(ctx, acc)
	}
	if err != nil || !acc.DDAKnown {
		return back, err
	}
	if back.GUID == "" {
		back.GUID = acc.GUID
	}
	if !acc.HasDDA || back.GUID == "" {
		back.SetNoDDA()
		return back, nil
	}
	fields, err := d.disableDDA(ctx, back.GUID, back.ID)
	if fields == nil {
		back.SetNoDDA()
	} else {
		back.SetDDA(fields)
	}
	return back, err
}

func (d *SCIM) disableSCIM(ctx context.Context, acc *account.Account) (*account.Account, error) {
	if err := d.scim.DisableUser(ctx, acc.GUID); err != nil {
		return nil, err
	}
	u, err := d.scim.GetUser(ctx, acc.GUID)
	if err != nil {
		return nil, fmt.Errorf("read back after disable: %w", err)
	}
	return stillEnabled(acc, fromSCIM(u))
}

// Writes: every canonical field.
func (d *SCIM) Writes(string) bool { return true }

// ManagedGroups are the mapped user groups (nil when none are mapped).
func (d *SCIM) ManagedGroups() []mapping.Named { return d.managed }

// scimUser is the SCIM create body of the desired account.
func scimUser(want account.Desired, plan account.Plan, password string) encompass.SCIMUser {
	f := want.Fields
	su := encompass.SCIMUser{
		UserName:           want.LoginID,
		Name:               &encompass.SCIMName{GivenName: f[account.FieldFirstName], MiddleName: f[account.FieldMiddleName], FamilyName: f[account.FieldLastName], HonorificSuffix: f[account.FieldSuffix]},
		Emails:             workEmail(f[account.FieldEmail]),
		PhoneNumbers:       phoneNumbers(f[account.FieldPhone], f[account.FieldCellPhone], f[account.FieldFax]),
		JobTitle:           f[account.FieldTitle],
		EmployeeID:         f[account.FieldEmployeeID],
		NMLSOriginatorID:   f[account.FieldNMLSOriginatorID],
		NMLSExpirationDate: f[account.FieldNMLSExpirationDate],
		WorkingFolder:      f[account.FieldWorkingFolder],
		Organization:       &encompass.SCIMEntity{EntityID: f[account.FieldOrganizationID]},
		Licenses:           scimLicenses(plan.Licenses, nil),
	}
	for _, id := range account.SplitList(f[account.FieldPersonas]) {
		su.Personas = append(su.Personas, encompass.SCIMEntity{EntityID: id})
	}
	// SCIM accepts isSsoOnly only without a password, and a password only
	// for users who are not SSO-only.
	if sso := f[account.FieldSSOOnly] == "true"; sso {
		su.IsSSOOnly = &sso
	} else {
		yes := true
		su.Password, su.RequirePasswordChange = password, &yes
	}
	return su
}
