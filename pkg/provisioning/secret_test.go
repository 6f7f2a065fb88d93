package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
)

// conflictingV3 answers a create with an account of another e-mail (the
// client's resolution of an unknown-outcome create finding someone else's
// account).
type conflictingV3 struct{ directory.V3Users }

func (conflictingV3) Create(context.Context, encompass.User) (*encompass.User, error) {
	return &encompass.User{ID: "jdoe", LoginID: "jdoe", Email: "someone.else@lender.example"}, nil
}

func (conflictingV3) Patch(context.Context, string, encompass.UserPatch) (*encompass.User, error) {
	return &encompass.User{}, nil
}

// takenDDA refuses every DDA add as a conflict, and its global user id
// holds no profile: another DDA user has the userName.
type takenDDA struct{ directory.SCIMUsers }

func (takenDDA) AddGroupMembers(context.Context, string, ...encompass.SCIMGroupMember) error {
	return nil
}

func (takenDDA) AddAIQUser(context.Context, string, encompass.AIQUser) error {
	return encompass.ErrConflict
}

func (takenDDA) GetAIQUser(context.Context, string) (*encompass.AIQUser, error) {
	return nil, encompass.ErrNotFound
}

// unlinkable is an Account Links API that refuses the login id for good.
type unlinkable struct{}

func (unlinkable) Create(context.Context, string, string) (string, error) {
	return "", fmt.Errorf("userName too long: %w", encompass.ErrInvalidArgument)
}

// TestScrubKeepsWhatClassifies: an error that quotes a generated password
// loses the password, and nothing else that decides its fate: the
// directory's markers (a login id or DDA userName held by someone else, an
// account that cannot get a global user id, a disable that did not hold)
// and failure.Classify's decision are those of the original.
func TestScrubKeepsWhatClassifies(t *testing.T) {
	t.Parallel()
	const secret = "Pw-9xQ!secret"
	ctx := context.Background()
	ddaAdd := account.Plan{DDA: account.DDAPlan{Add: true}, Changes: []account.Change{{Field: account.FieldDDAUserName, To: "jdoe"}}}
	want := account.Desired{LoginID: "jdoe", Fields: map[string]string{account.FieldEmail: "jane.doe@lender.example"}}

	_, userNameTaken := directory.NewV3(conflictingV3{}).Create(ctx, want, account.Plan{}, account.Secrets{})
	ddaTaken := directory.NewSCIM(conflictingV3{}, takenDDA{}, nil).
		Update(ctx, &account.Account{ID: "jdoe", GUID: "g1", LoginID: "jdoe", Fields: map[string]string{}}, ddaAdd, account.Secrets{})
	noGUID := directory.NewSCIM(conflictingV3{}, takenDDA{}, nil).WithAccountLinks(unlinkable{}).
		Update(ctx, &account.Account{ID: "jdoe", LoginID: "jdoe", Fields: map[string]string{}}, ddaAdd, account.Secrets{})
	refused := &encompass.APIError{StatusCode: 400, Method: "POST", Endpoint: "/scim2/v1/users", Summary: "password " + secret + " refused"}

	for _, c := range []struct {
		name   string
		err    error // what the directory answered
		marker func(error) bool
	}{
		{"login id held by another e-mail", userNameTaken, directory.IsUserNameConflict},
		{"DDA userName held by another user", ddaTaken, directory.IsDDAUserNameConflict},
		{"no global user id", noGUID, directory.IsNoGlobalUserID},
		{"still enabled", fmt.Errorf("disable DDA profile of jdoe: %w", directory.ErrStillEnabled), func(err error) bool { return errors.Is(err, directory.ErrStillEnabled) }},
		{"refused by Encompass", refused, func(err error) bool { return errors.Is(err, encompass.ErrBadRequest) }},
		{"throttled", fmt.Errorf("create: %w", &encompass.APIError{StatusCode: 429, Summary: "slow down " + secret}), func(err error) bool { return errors.Is(err, encompass.ErrThrottled) }},
		{"rejected", &rejection{Reason: ReasonUserNameConflict, Field: "employee.userName", Message: "quoting " + secret}, func(err error) bool {
			var rj failure.Rejection
			return errors.As(err, &rj) && failure.Classify(err).Reason == ReasonUserNameConflict
		}},
		{"timed out", fmt.Errorf("create: %w", context.DeadlineExceeded), func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil || !c.marker(c.err) {
				t.Fatalf("the directory answered %v, not the case under test", c.err)
			}
			// Encompass may quote the request it refused, password and all.
			quoting := fmt.Errorf("write with password %s: %w", secret, c.err)
			scrubbed := scrubSecrets(quoting, account.Secrets{Password: secret})
			for e := range chain(scrubbed) {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("the password is in %T: %s", e, e.Error())
				}
			}
			if !c.marker(scrubbed) {
				t.Errorf("the marker is lost: %v", scrubbed)
			}
			got, orig := failure.Classify(scrubbed), failure.Classify(quoting)
			if got.Kind != orig.Kind || got.Reason != orig.Reason {
				t.Errorf("classified %v %q, the original %v %q", got.Kind, got.Reason, orig.Kind, orig.Reason)
			}
		})
	}
}

// chain yields err and every error it wraps.
func chain(err error) func(yield func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					if !walk(x) {
						return false
					}
				}
			}
			return true
		}
		walk(err)
	}
}
