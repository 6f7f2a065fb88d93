package provisioning

import (
	"context"
	"errors"
	"fmt"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// provision applies hire, update and rehire: a linked employee's account is
// brought to the event's profile; an employee not linked yet is matched (or
// created) first. Then the link is recorded and the outcome described.
func (h *Handler) provision(ctx context.Context, ev *hris.Event, link state.Employee) (outcome, error) {
	acc, plan, linked, err := h.provisionLinked(ctx, ev, link)
	if err != nil {
		return outcome{}, err
	}
	if !linked {
		if acc, plan, err = h.provisionUnlinked(ctx, ev); err != nil {
			return outcome{}, err
		}
	}
	// The DDA profile is now as the plan left it: the link records it.
	acc.ApplyDDA(plan)
	compensated, err := h.recordProvisioned(ctx, ev, link, linked, acc, plan.Action == account.ActionCreate)
	switch {
	case err != nil:
		return outcome{}, err
	case compensated != nil:
		return *compensated, nil
	}
	return h.provisioned(ev, acc, plan), nil
}

// provisionLinked updates the account the employee is linked to. linked is
// false when there is no link, or the linked account was deleted in
// Encompass by hand (it is then matched or created again).
func (h *Handler) provisionLinked(ctx context.Context, ev *hris.Event, link state.Employee) (*account.Account, account.Plan, bool, error) {
	if link.UserID == "" {
		return nil, account.Plan{}, false, nil
	}
	acc, err := h.dir.Read(ctx, link.UserID, link.GlobalUserID)
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		h.log.WarnContext(ctx, "the linked Encompass user no longer exists; matching again", "userId", link.UserID)
		return nil, account.Plan{}, false, nil
	case err != nil:
		return nil, account.Plan{}, false, fmt.Errorf("read linked user %s: %w", link.UserID, err)
	}
	want := h.target(ctx, ev, false)
	// The DDA profile is read only for an employee who has one or is
	// granted one: one more call then, none otherwise.
	if link.DDA != account.DDANone || grantsDDA(want) {
		if err := h.dir.ReadDDA(ctx, acc); err != nil {
			return nil, account.Plan{}, false, fmt.Errorf("read linked user %s: %w", link.UserID, err)
		}
	}
	plan := PlanUpdate(acc, want, ev.Type == hris.TypeRehire, h.dir.ManagedGroups())
	if err := h.write(ctx, ev, acc, plan); err != nil {
		return nil, account.Plan{}, false, err
	}
	return acc, plan, true, nil
}

// provisionUnlinked finds the employee's account or creates it. An explicit
// link (employee.encompassUserName) names the account to adopt. Otherwise a
// hire or rehire creates first and matches on conflict: one call when the
// login id is new (the common case), and the same outcome as matching
// first. An update matches first: it creates only when nothing matches.
func (h *Handler) provisionUnlinked(ctx context.Context, ev *hris.Event) (*account.Account, account.Plan, error) {
	e := ev.Employee
	want := h.target(ctx, ev, true)
	if e.EncompassUserName != "" {
		// An explicit link names the account: adopt it, never create.
		acc, err := h.explicitAccount(ctx, ev)
		if err != nil {
			return nil, account.Plan{}, err
		}
		return h.adoptAccount(ctx, ev, acc, want)
	}
	if e.UserName == "" {
		return nil, account.Plan{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee.email", Message: "the employee is not linked to an Encompass user yet; employee.userName or employee.email is needed to find or create the account"}
	}
	// A resumed attempt matches first: an earlier attempt may have created
	// the account, and its plan then finds that part done.
	if CanCreate(e) && ev.Type != hris.TypeUpdate && !resumed(ctx) {
		plan := PlanCreate(want)
		acc, err := h.create(ctx, ev, want, plan)
		if !errors.Is(err, encompass.ErrConflict) {
			return acc, plan, err
		}
	}
	acc, err := h.dir.Find(ctx, e.UserName)
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		if !CanCreate(e) {
			return nil, account.Plan{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee", Message: fmt.Sprintf(
				"no Encompass user %q exists to adopt, and creating one needs givenName, familyName and email", e.UserName)}
		}
		plan := PlanCreate(want)
		acc, err := h.create(ctx, ev, want, plan)
		return acc, plan, err
	case err != nil:
		return nil, account.Plan{}, fmt.Errorf("match login id %s: %w", e.UserName, err)
	}
	return h.adopt(ctx, ev, acc, want)
}

// adopt takes over an existing account with the employee's login id, only
// when its e-mail is the employee's (CONTRACTS section 2).
func (h *Handler) adopt(ctx context.Context, ev *hris.Event, acc *account.Account, want account.Desired) (*account.Account, account.Plan, error) {
	e := ev.Employee
	if !e.Email.IsSet() {
		return nil, account.Plan{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee.email", Message: fmt.Sprintf(
			"an Encompass user %q exists; employee.email is needed to confirm it is this employee before adopting it", e.UserName)}
	}
	if !account.EmailMatches(acc.Field(account.FieldEmail), e.Email.Value) {
		return nil, account.Plan{}, errUserNameConflict(e.UserName)
	}
	return h.adoptAccount(ctx, ev, acc, want)
}

// adoptAccount brings an existing account the employee owns to the
// profile. A joiner needs a working account: hire and rehire enable an
// adopted account; an update never does.
func (h *Handler) adoptAccount(ctx context.Context, ev *hris.Event, acc *account.Account, want account.Desired) (*account.Account, account.Plan, error) {
	// The account may hold a DDA profile already (existing staff): the
	// mapping decides it as it decides the rest, so it is read whenever
	// the mapping speaks of DDA at all.
	if grantsDDA(want) || h.cfg.Mapping.NamesDDA() {
		if err := h.dir.ReadDDA(ctx, acc); err != nil {
			return nil, account.Plan{}, fmt.Errorf("read user %s: %w", acc.LoginID, err)
		}
	}
	plan := PlanUpdate(acc, want, ev.Type != hris.TypeUpdate, h.dir.ManagedGroups())
	plan.Action = account.ActionAdopt
	return acc, plan, h.write(ctx, ev, acc, plan)
}

// CanCreate reports whether the event carries what creating the
// employee's Encompass account needs: a userName (given or derived from
// the e-mail), givenName, familyName and email. Without them an employee
// who has no account is matched, never created.
func CanCreate(e hris.Employee) bool {
	return e.UserName != "" && e.GivenName.IsSet() && e.FamilyName.IsSet() && e.Email.IsSet()
}

// recordProvisioned stores the link. A new link, an adoption or a rehire
// makes the employee active; an update keeps the status (it never
// re-enables). When a newer terminate won the race, the account is disabled
// again and the compensation's outcome is returned instead.
func (h *Handler) recordProvisioned(ctx context.Context, ev *hris.Event, link state.Employee, linked bool, acc *account.Account, indexed bool) (*outcome, error) {
	status := link.Status
	if !linked || ev.Type == hris.TypeRehire || status == "" {
		status = state.StatusActive
	}
	var clear func(context.Context) error
	if link.Status == state.StatusTerminated && status == state.StatusActive {
		clear = func(ctx context.Context) error {
			if err := h.store.ClearTerminated(ctx, ev.Employee.EmployeeID); err != nil {
				return fmt.Errorf("clear terminated index: %w", err)
			}
			return nil
		}
	}
	err := h.linkWith(ctx, ev, link, acc, status, indexed, clear)
	if err == nil || !errors.Is(err, state.ErrConflict) {
		return nil, err
	}
	out, err := h.undoIfTerminated(ctx, ev, acc, err)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// provisioned describes what the plan did: a new or adopted account, a
// reactivation, an update, or nothing to publish.
func (h *Handler) provisioned(ev *hris.Event, acc *account.Account, plan account.Plan) outcome {
	if plan.Action == account.ActionNone {
		return outcome{Name: string(account.ActionNone), acc: acc}
	}
	out := newOutcome(detailTypeOf(plan.Action), h.accountDetail(ev, acc, plan))
	// wrote is the Encompass profile's write: a resumed attempt that wrote
	// only the DDA profile publishes what the attempt before it set out to
	// do (record.go, resume).
	out.acc, out.wrote = acc, plan.WritesAccount()
	return out
}

// detailTypeOf is the detail-type that publishes a plan's action (a
// created or adopted account is provisioned; a plan that only updates, or
// whose action the write log does not name, is an update).
func detailTypeOf(a account.Action) string {
	switch a {
	case account.ActionCreate, account.ActionAdopt:
		return catalog.UserProvisioned
	case account.ActionReactivate:
		return catalog.UserReactivated
	case account.ActionDisable:
		return catalog.UserDeprovisioned
	}
	return catalog.UserUpdated
}
