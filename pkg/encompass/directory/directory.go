// Package directory is provisioning's Encompass boundary: it reads and
// writes Encompass accounts in the domain's terms (pkg/account) through one
// of two adapters, chosen once at cold start by ENCOMPASS_USER_API:
//
//   - SCIM (NewSCIM): users are created, patched and disabled through SCIM
//     and addressed by their global user id. An account that has no global
//     user id (created through v3 before this system existed, so SCIM
//     cannot see it) is managed through the v3 API instead, and only its
//     group memberships go through SCIM. Organization changes always use v3,
//     because SCIM PATCH treats the organization as read-only. The group
//     joins of concurrent events share PATCHes (groupJoiner). The DDA (AIQ)
//     profile lives on the same global user id (dda.go); an account that
//     has none gets one through the Account Links API before a DDA profile
//     is added.
//   - V3 (NewV3): everything through the v3 user API, which has no user
//     groups and no documented shape for state licenses.
//
// DryRun wraps either so that nothing is written and the log says what
// would have been.
package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// Directory reads and writes Encompass accounts. Both adapters and DryRun
// implement it; pkg/provisioning declares the same methods as its port.
type Directory interface {
	// Read returns the linked account by its ids (a not-found error when
	// it no longer exists).
	Read(ctx context.Context, userID, guid string) (*account.Account, error)
	// Find looks an account up by login id (a not-found error when none).
	Find(ctx context.Context, loginID string) (*account.Account, error)
	// ReadDDA fills in the account's DDA (AIQ) profile (account.SetDDA, or
	// SetNoDDA when its global user id holds none): one read, none for an
	// account without a global user id.
	ReadDDA(ctx context.Context, acc *account.Account) error
	// Create makes the account the plan describes, and its DDA profile
	// when the plan adds one; the secrets are empty for SSO-only profiles.
	// A login id that exists already is a conflict error.
	Create(ctx context.Context, want account.Desired, plan account.Plan, secrets account.Secrets) (*account.Account, error)
	// Update writes the plan's changes to an existing account, Encompass
	// profile first, then the DDA profile. It records on acc a global user
	// id it had to create for the DDA profile.
	Update(ctx context.Context, acc *account.Account, plan account.Plan, secrets account.Secrets) error
	// Disable disables the account and every product profile it has (the
	// DDA profile when acc.HasDDA), reading each back; a profile still
	// enabled afterwards is a retryable error (CONTRACTS section 2).
	Disable(ctx context.Context, acc *account.Account) (*account.Account, error)
	// Writes reports whether this API can write the canonical field (the
	// v3 API cannot write state licenses).
	Writes(field string) bool
	// ManagedGroups are the mapped user groups this directory reconciles;
	// nil when groups are not managed (v3, or a mapping without groups).
	ManagedGroups() []mapping.Named
}

// V3Users is the part of the v3 user API the adapters use
// (*encompass.UsersService).
type V3Users interface {
	Get(ctx context.Context, id string) (*encompass.User, error)
	FindByLoginID(ctx context.Context, loginID string) (*encompass.User, error)
	Create(ctx context.Context, u encompass.User) (*encompass.User, error)
	Patch(ctx context.Context, id string, patch encompass.UserPatch) (*encompass.User, error)
}

// SCIMUsers is the part of the SCIM API the SCIM adapter uses
// (*encompass.SCIMService).
type SCIMUsers interface {
	CreateUser(ctx context.Context, u encompass.SCIMUser) (*encompass.SCIMUser, error)
	GetUser(ctx context.Context, guid string) (*encompass.SCIMUser, error)
	FindUserByUserName(ctx context.Context, userName string) (*encompass.SCIMUser, error)
	PatchUser(ctx context.Context, guid string, ops []encompass.PatchOp) error
	DisableUser(ctx context.Context, guid string) error
	AddAIQUser(ctx context.Context, guid string, p encompass.AIQUser) error
	GetAIQUser(ctx context.Context, guid string) (*encompass.AIQUser, error)
	PatchAIQUser(ctx context.Context, guid string, ops []encompass.PatchOp) error
	DisableAIQUser(ctx context.Context, guid string) error
	GetGroup(ctx context.Context, id string) (*encompass.SCIMGroup, error)
	AddGroupMembers(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error
	RemoveGroupMember(ctx context.Context, groupID string, member encompass.SCIMGroupMember) error
}

// AccountLinks is the part of the SCIM Account Links API the SCIM adapter
// uses (*encompass.AccountLinksService).
type AccountLinks interface {
	Create(ctx context.Context, userName, productSchema string) (string, error)
}

// ErrStillEnabled: a disable was acknowledged but the read-back shows the
// account enabled. It is retryable: SQS delivers the message again.
var ErrStillEnabled = failure.Transient("account still enabled after disable")

// errUserNameConflict is the refusal of a create whose login id belongs to an
// account with another e-mail: the client resolved an unknown-outcome create
// by finding that account.
var errUserNameConflict = errors.New("an Encompass user with this login id exists with another e-mail")

// IsUserNameConflict reports whether a Create failed because the login id
// belongs to an account with another e-mail.
func IsUserNameConflict(err error) bool { return errors.Is(err, errUserNameConflict) }

// For returns the adapter of the configured user API ("scim" or "v3";
// ENCOMPASS_USER_API). In scim mode the mapping's user groups are
// reconciled when the mapping names any, and links gives accounts created
// outside SCIM a global user id when a DDA profile is added to them.
func For(api string, users V3Users, scim SCIMUsers, links AccountLinks, rules *mapping.Resolved) (Directory, error) {
	switch api {
	case "v3":
		return NewV3(users), nil
	case "scim":
		if scim == nil {
			return nil, errors.New("directory: scim mode needs the SCIM client")
		}
		var managed []mapping.Named
		if rules != nil && rules.GroupsManaged {
			if managed = rules.ManagedGroups(); managed == nil {
				managed = []mapping.Named{}
			}
		}
		return NewSCIM(users, scim, managed).WithAccountLinks(links), nil
	}
	return nil, fmt.Errorf(`directory: user API must be "scim" or "v3", got %q`, api)
}
