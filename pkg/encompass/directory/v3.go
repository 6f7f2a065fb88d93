package directory

import (
	"context"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// V3 manages accounts through the v3 user API.
type V3 struct{ users V3Users }

// NewV3 returns the v3 adapter.
func NewV3(users V3Users) *V3 { return &V3{users: users} }

// Read returns the account by its user id.
func (d *V3) Read(ctx context.Context, userID, _ string) (*account.Account, error) {
	u, err := d.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	return withoutGroups(fromV3(u)), nil
}

// Find looks the account up by login id.
func (d *V3) Find(ctx context.Context, loginID string) (*account.Account, error) {
	u, err := d.users.FindByLoginID(ctx, loginID)
	if err != nil {
		return nil, err
	}
	return withoutGroups(fromV3(u)), nil
}

// ReadDDA: the v3 user API has no DDA profiles (a mapping that names dda
// does not start in v3 mode), so an account has none.
func (d *V3) ReadDDA(_ context.Context, acc *account.Account) error {
	acc.SetNoDDA()
	return nil
}

// Create makes the account through POST /encompass/v3/users.
func (d *V3) Create(ctx context.Context, want account.Desired, _ account.Plan, secrets account.Secrets) (*account.Account, error) {
	created, err := d.users.Create(ctx, v3User(want, secrets.Password))
	if err != nil {
		return nil, err
	}
	acc := withoutGroups(fromV3(created))
	return acc, checkCreated(acc, want)
}

// Update writes the plan as one v3 PATCH of the changed fields.
func (d *V3) Update(ctx context.Context, acc *account.Account, plan account.Plan, secrets account.Secrets) error {
	return patchV3(ctx, d.users, acc, plan, secrets.Password)
}

// Disable sets enabled false and reads the account back.
func (d *V3) Disable(ctx context.Context, acc *account.Account) (*account.Account, error) {
	return disableV3(ctx, d.users, acc)
}

// Writes: every field but user groups and state licenses (the v3 API has
// no groups and does not document the shape of stateLicenses).
func (d *V3) Writes(field string) bool {
	return field != account.FieldStateLicenses && field != account.FieldUserGroups
}

// ManagedGroups is nil: the v3 API has no user groups.
func (d *V3) ManagedGroups() []mapping.Named { return nil }

// withoutGroups marks an account whose groups are not managed.
func withoutGroups(acc *account.Account) *account.Account {
	acc.Fields[account.FieldUserGroups] = ""
	return acc
}

// checkCreated refuses an account the client found for an unknown-outcome
// create that is not the one sent (another e-mail).
func checkCreated(acc *account.Account, want account.Desired) error {
	if got := acc.Field(account.FieldEmail); got != "" && !account.EmailMatches(got, want.Fields[account.FieldEmail]) {
		return errUserNameConflict
	}
	return nil
}

func v3User(want account.Desired, password string) encompass.User {
	f := want.Fields
	sso := f[account.FieldSSOOnly] == "true"
	u := encompass.User{
		LoginID: want.LoginID, FirstName: f[account.FieldFirstName], MiddleName: f[account.FieldMiddleName], LastName: f[account.FieldLastName],
		Suffix: f[account.FieldSuffix], Email: f[account.FieldEmail], Phone: f[account.FieldPhone], CellPhone: f[account.FieldCellPhone], Fax: f[account.FieldFax],
		Title: f[account.FieldTitle], EmployeeID: f[account.FieldEmployeeID], OrganizationID: f[account.FieldOrganizationID],
		NMLSOriginatorID: f[account.FieldNMLSOriginatorID], NMLSExpirationDate: f[account.FieldNMLSExpirationDate],
		WorkingFolder: f[account.FieldWorkingFolder], SSOOnly: sso,
	}
	for _, id := range account.SplitList(f[account.FieldPersonas]) {
		u.Personas = append(u.Personas, encompass.PersonaRef{ID: id})
	}
	if !sso {
		u.Password, u.RequirePasswordChange = password, true
	}
	return u
}

func patchV3(ctx context.Context, users V3Users, acc *account.Account, plan account.Plan, password string) error {
	if patch := v3Patch(plan, password); len(patch) > 0 {
		if _, err := users.Patch(ctx, acc.ID, patch); err != nil {
			return err
		}
	}
	return nil
}

func disableV3(ctx context.Context, users V3Users, acc *account.Account) (*account.Account, error) {
	if _, err := users.Patch(ctx, acc.ID, encompass.UserPatch{account.FieldEnabled: false}); err != nil {
		return nil, err
	}
	u, err := users.Get(ctx, acc.ID)
	if err != nil {
		return nil, fmt.Errorf("read back after disable: %w", err)
	}
	return stillEnabled(acc, fromV3(u))
}

// stillEnabled fails a disable whose read-back shows the account enabled.
func stillEnabled(acc, back *account.Account) (*account.Account, error) {
	if back.Enabled {
		return back, fmt.Errorf("disable %s: %w", acc.ID, ErrStillEnabled)
	}
	return back, nil
}

// v3Patch turns the plan into a v3 PATCH body: only changed fields, nil to
// clear.
func v3Patch(plan account.Plan, password string) encompass.UserPatch {
	patch := encompass.UserPatch{}
	for _, c := range plan.Changes {
		if account.IsDDAField(c.Field) {
			continue // the DDA profile is SCIM's (dda.go)
		}
		switch c.Field {
		case account.FieldUserGroups, account.FieldLoginID, account.FieldStateLicenses:
			// Groups go through SCIM groups, licenses through SCIM only.
		case account.FieldEnabled, account.FieldSSOOnly:
			patch[c.Field] = c.To == "true"
		case account.FieldPersonas:
			var refs []map[string]string
			for _, id := range account.SplitList(c.To) {
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
