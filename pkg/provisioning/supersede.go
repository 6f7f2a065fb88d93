package provisioning

import (
	"context"
	"fmt"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Supersession (CONTRACTS section 2a): a hire, rehire or terminate cancels
// the employee's held hire, rehire and terminate events that occurred
// before it and are due no earlier. A rescinded offer (a terminate today
// for a hire held until next month) never creates an account; a withdrawn
// resignation (a rehire today for a terminate held until next month) never
// disables one. An update held only because it waits for a cancelled hire
// (not yet joined) goes with it when it occurred before the cancelling
// event: it described a start that will not happen, and the cancelling
// event carries the employee's current profile.

// supersedes reports whether y supersedes x: both start or end
// employment, y occurred after x and is due no later.
func supersedes(y, x orderKey) bool { return y.occurred.After(x.occurred) && !y.due.After(x.due) }

// supersededBy returns the id of the event that supersedes ev, if any: a
// held one, or the last hire, rehire or terminate applied (so that one
// that arrives after its successor was applied is not applied either).
func supersededBy(ev *hris.Event, s situation) string {
	if !lifecycle(ev.Type) {
		return ""
	}
	k := keyOf(ev)
	for _, y := range s.held {
		if y.EventID != ev.EventID && lifecycle(hris.Type(y.Type)) && supersedes(heldKeyOf(y), k) {
			return y.EventID
		}
	}
	l := s.link
	if s.found && !l.LifecycleOccurredAt.IsZero() &&
		supersedes(orderKey{l.LifecycleDueAt, l.LifecycleOccurredAt}, k) {
		return "an applied event that occurred at " + l.LifecycleOccurredAt.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// superseded is the outcome of ev when a newer event supersedes it.
func (h *Handler) superseded(ev *hris.Event, by string) outcome {
	d := h.base(ev)
	d.EffectiveAt = ev.DueAt().UTC().Format(time.RFC3339Nano)
	d.Reason, d.SupersededBy = ReasonSuperseded, by
	d.Error = "a newer hire, rehire or terminate of this employee, due no later, supersedes this one; it was not applied"
	return newOutcome(catalog.HRISEventSkipped, d)
}

// supersede cancels the held events ev supersedes, each under its due
// claim (so that its due delivery, or its delivery being processed right
// now, and the cancellation never both happen): its schedule is deleted,
// its HRIS Event Skipped (superseded) published, then its record removed.
func (h *Handler) supersede(ctx context.Context, m Message, ev *hris.Event, s situation) error {
	if !lifecycle(ev.Type) {
		return nil
	}
	k := keyOf(ev)
	cancelled := map[string]bool{}
	for _, y := range s.held {
		if y.EventID != ev.EventID && lifecycle(hris.Type(y.Type)) && supersedes(k, heldKeyOf(y)) {
			if err := h.cancel(ctx, m.ID, y, ev); err != nil {
				return err
			}
			cancelled[y.EventID] = true
		}
	}
	for _, u := range s.held {
		if u.After != "" && cancelled[u.After] && u.OccurredAt.Before(ev.OccurredAt) {
			if err := h.cancel(ctx, m.ID, u, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// cancel cancels one held event for by; owner is the message of by.
func (h *Handler) cancel(ctx context.Context, owner string, y state.Held, by *hris.Event) error {
	ctx = telemetry.With(ctx, "heldEventId", y.EventID)
	run, err := h.once.Run(ctx, dueKey(y.EventID), owner, y.EmployeeID, func(ctx context.Context, _ idempotency.Attempt) (outcome, error) {
		if err := h.sched.Delete(ctx, y.ScheduleName); err != nil {
			return outcome{}, fmt.Errorf("cancel held event %s: %w", y.EventID, err)
		}
		h.log.InfoContext(ctx, "held event superseded: its schedule is deleted", "scheduleName", y.ScheduleName, "supersededBy", by.EventID)
		d := Detail{EventID: y.EventID, Type: y.Type, EmployeeID: y.EmployeeID, DryRun: h.cfg.DryRun,
			EffectiveAt: y.DueAt.UTC().Format(time.RFC3339Nano), ScheduleName: y.ScheduleName, HeldBehind: y.After,
			Reason: ReasonSuperseded, SupersededBy: by.EventID,
			Error: fmt.Sprintf("the %s %s of this employee, which occurred later and is due no later, cancelled this held event; it will not be applied", by.Type, by.EventID)}
		if y.Type == string(hris.TypeUpdate) {
			d.Error = fmt.Sprintf("this update waited for the held %s, which the %s %s cancelled; it will not be applied", y.After, by.Type, by.EventID)
		}
		return newOutcome(catalog.HRISEventSkipped, d), nil
	})
	if err != nil {
		return err
	}
	if run.Status != idempotency.Duplicate {
		h.count(ctx, run.Result)
	}
	// Done before (applied, or cancelled by an attempt that stopped short
	// of this): either way the record is a leftover now.
	if err := h.store.DeleteHeld(ctx, y.Key()); err != nil {
		return fmt.Errorf("remove cancelled held event %s: %w", y.EventID, err)
	}
	return nil
}
