package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// terminate disables the employee's account, or leaves a tombstone for an
// employee who never had one. A linked leaver costs the disable and its
// read-back, and in a tenant whose mapping names DDA a look for a DDA
// profile the link does not record, made beside the disable: the account
// is not read first, because the disable is idempotent and the read-back
// proves the outcome.
func (h *Handler) terminate(ctx context.Context, ev *hris.Event, link state.Employee) (outcome, error) {
	acc, plan, err := h.disableLeaver(ctx, ev, link)
	if err != nil {
		return outcome{}, err
	}
	if acc == nil {
		link.UserID, link.GlobalUserID, link.UserName, link.DDA = "", "", "", account.DDANone
		if err := h.link(ctx, ev, link, nil, state.StatusTombstone, false); err != nil {
			return outcome{}, err
		}
		return h.skip(ev, ReasonNotProvisioned, ""), nil
	}
	disabledAt := h.cfg.Now()
	mark := func(ctx context.Context) error { return h.markTerminated(ctx, ev.Employee.EmployeeID, acc) }
	if err := h.linkWith(ctx, ev, link, acc, state.StatusTerminated, false, mark); err != nil {
		return outcome{}, err
	}
	d := h.accountDetail(ev, acc, plan)
	h.receipt(ctx, ev, &d, disabledAt)
	out := newOutcome(catalog.UserDeprovisioned, d)
	out.acc, out.wrote = acc, plan.Disable
	return out, nil
}

// disableLeaver disables the leaver's account and every product profile it
// has, and returns it as read back, with the plan that describes the
// change; nil when there is no account to disable (never provisioned, or
// deleted in Encompass by hand).
func (h *Handler) disableLeaver(ctx context.Context, ev *hris.Event, link state.Employee) (*account.Account, account.Plan, error) {
	switch {
	case link.UserID == "":
		return h.disableUnlinked(ctx, ev)
	case resumed(ctx):
		return h.disableResumed(ctx, ev, link)
	}
	return h.disableLinked(ctx, ev, link)
}

// disableLinked disables the linked account and the DDA profile the link
// records (two disables and two read-backs), without a read first. A DDA
// profile the link does not record (added by hand in DDA, or before the
// employee was linked) is looked for beside the disable when the mapping
// names DDA, so that the disable waits for nothing; one found enabled is
// then disabled and read back too. One found disabled needs no read-back:
// the read is the proof.
func (h *Handler) disableLinked(ctx context.Context, ev *hris.Event, link state.Employee) (*account.Account, account.Plan, error) {
	acc := linkedAccount(link)
	plan := PlanDisable(acc)
	var found *account.Account
	if link.DDA == account.DDANone && h.cfg.Mapping.NamesDDA() {
		found = &account.Account{ID: link.UserID, GUID: link.GlobalUserID, LoginID: link.UserName}
	}
	var back *account.Account
	var err, findErr error
	var wg sync.WaitGroup
	wg.Go(func() { back, err = h.disable(ctx, ev, acc, plan) })
	if found != nil {
		wg.Go(func() { findErr = h.dir.ReadDDA(ctx, found) })
	}
	wg.Wait()
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		h.log.WarnContext(ctx, "the linked Encompass user no longer exists", "userId", link.UserID)
		return nil, account.Plan{}, nil
	case err != nil:
		return nil, account.Plan{}, err
	case findErr != nil:
		return nil, account.Plan{}, fmt.Errorf("read linked user %s: %w", link.UserID, findErr)
	case found == nil || !found.HasDDA:
		return back, plan, nil
	}
	h.log.InfoContext(ctx, "the account has a DDA profile its link does not record", "ddaEnabled", found.DDAEnabled())
	acc.SetDDA(found.Fields)
	back.SetDDA(found.Fields)
	if found.DDAEnabled() {
		// The account is disabled: this plan is the DDA profile's alone.
		rest := PlanDisable(back)
		if err := h.write(ctx, ev, back, rest); err != nil {
			return nil, account.Plan{}, err
		}
		back.ApplyDDA(rest)
	}
	return back, PlanDisable(acc), nil
}

// linkedAccount is the linked account as the link knows it, without a read:
// enabled unless this system disabled it last (a terminated link), with the
// DDA profile the link records.
func linkedAccount(link state.Employee) *account.Account {
	enabled := link.Status != state.StatusTerminated
	acc := &account.Account{ID: link.UserID, GUID: link.GlobalUserID, LoginID: link.UserName, Enabled: enabled,
		Fields: map[string]string{account.FieldEnabled: strconv.FormatBool(enabled)}}
	acc.AssumeDDA(link.DDA)
	return acc
}

// disableResumed is the leaver of a resumed attempt: an attempt before it
// may have disabled some profiles already (the Encompass account, and then
// failed on the DDA profile), so it reads first and writes only what is
// still enabled. A profile read as disabled needs no read-back: the read
// is the proof.
func (h *Handler) disableResumed(ctx context.Context, ev *hris.Event, link state.Employee) (*account.Account, account.Plan, error) {
	acc, err := h.dir.Read(ctx, link.UserID, link.GlobalUserID)
	switch {
	case errors.Is(err, encompass.ErrNotFound):
		h.log.WarnContext(ctx, "the linked Encompass user no longer exists", "userId", link.UserID)
		return nil, account.Plan{}, nil
	case err != nil:
		return nil, account.Plan{}, fmt.Errorf("read linked user %s: %w", link.UserID, err)
	}
	if acc.GUID == "" {
		acc.GUID = link.GlobalUserID
	}
	acc.SetNoDDA()
	// The DDA profile is read when the link records one or the mapping
	// names DDA (the first attempt looked for one the link does not record).
	if link.DDA != account.DDANone || h.cfg.Mapping.NamesDDA() {
		if err := h.dir.ReadDDA(ctx, acc); err != nil {
			return nil, account.Plan{}, fmt.Errorf("read linked user %s: %w", link.UserID, err)
		}
	}
	plan := PlanDisable(acc)
	switch {
	case plan.Disable:
		back, err := h.disable(ctx, ev, acc, plan)
		return back, plan, err
	case acc.DDAEnabled():
		// Only the DDA profile is left: disabled and read back.
		if err := h.write(ctx, ev, acc, plan); err != nil {
			return nil, account.Plan{}, err
		}
		acc.ApplyDDA(plan)
	}
	return acc, plan, nil
}

// disableUnlinked disables the account of existing staff never linked, only
// when it is provably theirs (the employee's login id and e-mail).
func (h *Handler) disableUnlinked(ctx context.Context, ev *hris.Event) (*account.Account, account.Plan, error) {
	acc, err := h.unlinkedLeaverAccount(ctx, ev)
	if acc == nil || err != nil {
		return nil, account.Plan{}, err
	}
	// Existing staff may have a DDA profile on the same global user id
	// (looked for when the mapping speaks of DDA at all).
	if h.cfg.Mapping.NamesDDA() {
		if err := h.dir.ReadDDA(ctx, acc); err != nil {
			return nil, account.Plan{}, fmt.Errorf("read user %s: %w", acc.LoginID, err)
		}
	}
	plan := PlanDisable(acc)
	if !plan.Disable && !acc.DDAEnabled() {
		return acc, plan, nil
	}
	back, err := h.disable(ctx, ev, acc, plan)
	return back, plan, err
}

// unlinkedLeaverAccount is the account of existing staff never linked: the
// one an explicit link names, or the one with the employee's login id when
// it is provably theirs (same e-mail); nil when there is none.
func (h *Handler) unlinkedLeaverAccount(ctx context.Context, ev *hris.Event) (*account.Account, error) {
	e := ev.Employee
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
	if !found || cur.Status == state.StatusActive || !linkKeyOf(cur).after(keyOf(ev)) {
		return outcome{}, conflict
	}
	h.log.WarnContext(ctx, "a newer terminate won the race; disabling the account again", "userId", acc.ID)
	plan := PlanDisable(acc)
	if plan.Disable || acc.DDAEnabled() {
		back, err := h.disable(ctx, ev, acc, plan)
		if err != nil {
			return outcome{}, err
		}
		acc = back
	}
	next := withAccount(cur, acc)
	next.Status = state.StatusTerminated
	if err := h.store.PutEmployee(ctx, next, cur.Version); err != nil {
		return outcome{}, fmt.Errorf("store employee link: %w", err)
	}
	if err := h.markTerminated(ctx, ev.Employee.EmployeeID, acc); err != nil {
		return outcome{}, err
	}
	d := h.base(ev)
	d.Reason, d.LastAppliedAt = ReasonStale, cur.LastOccurredAt.UTC().Format(time.RFC3339Nano)
	d.EncompassUserID, d.GlobalUserID, d.Action, d.Changes = acc.ID, acc.GUID, string(account.ActionDisable), plan.Changes
	d.Products = plan.Products(acc)
	d.Error = "a newer terminate of this employee was applied while this event ran; the account it created or enabled was disabled again"
	out := newOutcome(catalog.HRISEventSkipped, d)
	out.acc, out.wrote = acc, true
	return out, nil
}
