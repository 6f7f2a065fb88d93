package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
)

// Reason codes of an explicit link (CONTRACTS section 1,
// employee.encompassUserName).
const (
	// ReasonLinkConflict: the named login is linked to another employee.
	ReasonLinkConflict = "link_conflict"
	// ReasonLinkNotFound: no Encompass user has the named login.
	ReasonLinkNotFound = "link_not_found"
)

// explicitAccount is the account an explicit link names, for an employee not
// linked yet: the HRIS (or a reconciliation roster) says this login is
// theirs, so no e-mail check is made. A login already linked to another
// employee is a link_conflict; one that does not exist, link_not_found.
func (h *Handler) explicitAccount(ctx context.Context, ev *hris.Event) (*account.Account, error) {
	login, me := ev.Employee.EncompassUserName, ev.Employee.EmployeeID
	owner, found, err := h.store.LoginOwner(ctx, login)
	if err != nil {
		return nil, fmt.Errorf("read the owner of login %s: %w", login, err)
	}
	if found && owner.EmployeeID != me {
		// The index entry points to a link; the link is the truth (the
		// entry may be left over from an account re-created under another
		// login).
		other, linked, err := h.store.GetEmployee(ctx, owner.EmployeeID)
		if err != nil {
			return nil, fmt.Errorf("read the link of employee %s: %w", owner.EmployeeID, err)
		}
		if linked && strings.EqualFold(other.UserName, login) {
			return nil, &rejection{Reason: ReasonLinkConflict, Field: "employee.encompassUserName", Message: fmt.Sprintf(
				"the Encompass login %q is already linked to employee %s; an account belongs to one employee", login, owner.EmployeeID)}
		}
	}
	acc, err := h.dir.Find(ctx, login)
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		return nil, &rejection{Reason: ReasonLinkNotFound, Field: "employee.encompassUserName", Message: fmt.Sprintf(
			"no Encompass user has the login %q; correct employee.encompassUserName or leave it out to match by userName and e-mail", login)}
	case err != nil:
		return nil, fmt.Errorf("find the explicitly linked login %s: %w", login, err)
	}
	return acc, nil
}
