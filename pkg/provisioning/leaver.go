package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// terminate disables the employee's account, or leaves a tombstone for an
// employee who never had one.
func (h *Handler) terminate(ctx context.Context, ev *hris.Event, link state.Employee, found bool) (outcome, error) {
	acc, err := h.leaverAccount(ctx, ev, link)
	if err != nil {
		return outcome{}, err
	}
	if acc == nil {
		link.UserID, link.GlobalUserID, link.UserName = "", "", ""
		if err := h.link(ctx, ev, link, found, nil, state.StatusTombstone); err != nil {
			return outcome{}, err
		}
		return h.skip(ev, ReasonNotProvisioned, ""), nil
	}
	plan := PlanDisable(acc)
	// An account already disabled was read back disabled just now.
	disabledAt := h.cfg.Now()
	if plan.Disable {
		back, err := h.disable(ctx, ev, acc, plan)
		if err != nil {
			return outcome{}, err
		}
		acc, disabledAt = back, h.cfg.Now()
	}
	if err := h.link(ctx, ev, link, found, acc, state.StatusTerminated); err != nil {
		return outcome{}, err
	}
	if err := h.store.MarkTerminated(ctx, ev.Employee.EmployeeID, acc.ID, acc.LoginID); err != nil {
		return outcome{}, fmt.Errorf("mark terminated: %w", err)
	}
	d := h.accountDetail(ev, acc, plan)
	h.receipt(ctx, ev, &d, disabledAt)
	out := newOutcome(publish.UserDeprovisioned, d)
	out.acc, out.wrote = acc, plan.Disable
	return out, nil
}

// receipt completes a leaver's outcome with when the message arrived, when
// the account read back disabled and how long the leaver kept access after
// the termination was due: the exposure an auditor asks about.
func (h *Handler) receipt(ctx context.Context, ev *hris.Event, d *Detail, disabledAt time.Time) {
	exposure := max(disabledAt.Sub(ev.DueAt()), 0).Seconds()
	d.ReceivedAt = h.receivedAt(ctx).UTC().Format(time.RFC3339Nano)
	d.DisabledAt = disabledAt.UTC().Format(time.RFC3339Nano)
	d.ExposureSeconds = &exposure
	if !h.cfg.DryRun {
		h.cfg.Metrics.Observe("ExposureSeconds", exposure, telemetry.Seconds)
	}
}

// leaverAccount is the account to disable: the linked one, or, for
// existing staff never linked, the account an explicit link names, or the
// account with the employee's login id when it is provably theirs (same
// e-mail). nil when there is none.
func (h *Handler) leaverAccount(ctx context.Context, ev *hris.Event, link state.Employee) (*account.Account, error) {
	e := ev.Employee
	if link.UserID != "" {
		acc, err := h.dir.Read(ctx, link.UserID, link.GlobalUserID)
		switch {
		case errors.Is(err, encompass.ErrNotFound):
			h.log.WarnContext(ctx, "the linked Encompass user no longer exists", "userId", link.UserID)
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("read linked user %s: %w", link.UserID, err)
		}
		return acc, nil
	}
	if e.EncompassUserName != "" {
		return h.explicitAccount(ctx, ev)
	}
	if e.UserName == "" || !e.Email.IsSet() {
		return nil, nil
	}
	acc, err := h.dir.Find(ctx, e.UserName)
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("match login id %s: %w", e.UserName, err)
	case !account.EmailMatches(acc.Field(account.FieldEmail), e.Email.Value):
		return nil, nil
	}
	return acc, nil
}

// undoIfTerminated handles a lost race: while this event created or enabled
// the account, a newer terminate of the same employee was recorded (on the
// other queue). The account must not stay enabled for someone who has left,
// so it is disabled again and linked to the terminated employee. Any other
// conflict is returned for SQS to retry.
func (h *Handler) undoIfTerminated(ctx context.Context, ev *hris.Event, acc *account.Account, conflict error) (outcome, error) {
	cur, found, err := h.store.GetEmployee(ctx, ev.Employee.EmployeeID)
	if err != nil {
		return outcome{}, fmt.Errorf("re-read employee link: %w", err)
	}
	if !found || cur.Status == state.StatusActive || !cur.LastOccurredAt.After(ev.OccurredAt) {
		return outcome{}, conflict
	}
	h.log.WarnContext(ctx, "a newer terminate won the race; disabling the account again", "userId", acc.ID)
	plan := PlanDisable(acc)
	if plan.Disable {
		back, err := h.disable(ctx, ev, acc, plan)
		if err != nil {
			return outcome{}, err
		}
		acc = back
	}
	next := cur
	next.UserID, next.UserName, next.Status = acc.ID, acc.LoginID, state.StatusTerminated
	if acc.GUID != "" {
		next.GlobalUserID = acc.GUID
	}
	if err := h.store.PutEmployee(ctx, next, cur.Version); err != nil {
		return outcome{}, fmt.Errorf("store employee link: %w", err)
	}
	if err := h.store.MarkTerminated(ctx, ev.Employee.EmployeeID, acc.ID, acc.LoginID); err != nil {
		return outcome{}, fmt.Errorf("mark terminated: %w", err)
	}
	d := h.base(ev)
	d.Reason, d.LastAppliedAt = ReasonStale, cur.LastOccurredAt.UTC().Format(time.RFC3339Nano)
	d.EncompassUserID, d.GlobalUserID, d.Action, d.Changes = acc.ID, acc.GUID, string(account.ActionDisable), plan.Changes
	d.Error = "a newer terminate of this employee was applied while this event ran; the account it created or enabled was disabled again"
	out := newOutcome(publish.HRISEventSkipped, d)
	out.acc, out.wrote = acc, true
	return out, nil
}
