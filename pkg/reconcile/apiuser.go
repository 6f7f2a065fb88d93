package reconcile

import (
	"context"
	"errors"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// SCIMUsers is the part of the SCIM API that tells an API user
// (*encompass.SCIMService).
type SCIMUsers interface {
	FindUserByUserName(ctx context.Context, userName string) (*encompass.SCIMUser, error)
	GetUser(ctx context.Context, guid string) (*encompass.SCIMUser, error)
}

// SCIMAPIUser is Config.IsAPIUser through SCIM: the user is found by login
// (the list answers a summary) and read whole, where apiUser is. A user
// SCIM cannot see (created through v3, no global user id) is not an API
// user: those are created in the admin UI, where the flag is SCIM's.
func SCIMAPIUser(scim SCIMUsers) func(ctx context.Context, login string) (bool, error) {
	return func(ctx context.Context, login string) (bool, error) {
		found, err := scim.FindUserByUserName(ctx, login)
		if errors.Is(err, encompass.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if found.APIUser != nil || found.ID == "" {
			return found.APIUser != nil && *found.APIUser, nil
		}
		u, err := scim.GetUser(ctx, found.ID)
		if errors.Is(err, encompass.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return u.APIUser != nil && *u.APIUser, nil
	}
}
