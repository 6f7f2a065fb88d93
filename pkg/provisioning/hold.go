package provisioning

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Effective dates (CONTRACTS section 2a). An event is processed under two
// claims:
//
//   - its eventId, when it first arrives: it is applied now, or held
//     (recorded in the state table and handed to a one-time schedule) and
//     the claim keeps its due time, so that a redelivery of the message
//     before then is a duplicate;
//   - eventId + dueSuffix, when a held event comes due: its due delivery,
//     a redelivery of the original after the due time, the event pulled
//     ahead of a later one of its employee, or its cancellation by a newer
//     event, whichever comes first; the others find it done.
//
// The held record is removed only once the second claim is done, so that
// a due delivery that finds no record was cancelled by an operator.

// dueSuffix makes the claim key of a held event's application.
const dueSuffix = "@due"

func dueKey(eventID string) string { return eventID + dueSuffix }

// situation is what the state table says about an employee: the link and
// the held events (one GetItem and one Query).
type situation struct {
	link  state.Employee
	found bool
	held  []state.Held
}

// situation reads the link and the held events, at once.
func (h *Handler) situation(ctx context.Context, employeeID string) (situation, error) {
	var s situation
	var g errgroup.Group
	g.Go(func() (err error) {
		if s.link, s.found, err = h.store.GetEmployee(ctx, employeeID); err != nil {
			return fmt.Errorf("read employee link: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if s.held, err = h.store.HeldFor(ctx, employeeID); err != nil {
			return fmt.Errorf("read held events: %w", err)
		}
		return nil
	})
	return s, g.Wait()
}

// situationRead waits for the situation read begun beside the claim.
type situationRead func() (situation, error)

// readSituation starts reading the employee's situation and returns the
// wait for it.
func (h *Handler) readSituation(ctx context.Context, employeeID string) situationRead {
	type answer struct {
		s   situation
		err error
	}
	c := make(chan answer, 1)
	go func() {
		s, err := h.situation(ctx, employeeID)
		c <- answer{s, err}
	}()
	return func() (situation, error) {
		a := <-c
		c <- a // a second wait reads it again
		return a.s, a.err
	}
}

// place puts ev in its employee's order: stale, superseded, held until it
// is due, or applied, after the employee's held events that come before
// it and are due. held says ev is a held event coming due: it applies at
// the due time it was held with, and when its record is gone an operator
// cancelled it. Otherwise ev has just arrived (a terminate with an
// immediate reason is then due when it occurred).
func (h *Handler) place(ctx context.Context, m Message, ev *hris.Event, a idempotency.Attempt, held bool, first situationRead) (outcome, error) {
	if !held && ev.Type == hris.TypeTerminate && !ev.EffectiveAt.IsZero() && h.cfg.ImmediateTermination(ev.TerminationReason) {
		// The reason's value is the HRIS's, possibly sensitive: not logged.
		h.log.InfoContext(ctx, "the terminationReason is one of IMMEDIATE_TERMINATION_REASONS: the terminate applies now, whatever its effectiveAt")
		ev = immediately(ev)
	}
	// Every event pulled ahead changes the link: read again, decide again.
	// Each round applies one held event for good, so this ends.
	read := first
	for {
		if read == nil {
			read = func() (situation, error) { return h.situation(ctx, ev.Employee.EmployeeID) }
		}
		s, err := read()
		read = nil
		if err != nil {
			return outcome{}, err
		}
		after := ""
		own := s.find(ev.EventID)
		switch {
		case held && own == nil:
			return h.cancelledByHand(ctx, ev), nil
		case held:
			ev, after = withDue(ev, own.DueAt), own.After
		case own != nil && h.dueBy(own.DueAt):
			return h.dueFromArrival(ctx, m, ev, *own)
		default:
			if w := waitsFor(ev, s); w != nil {
				ev, after = withDue(ev, w.DueAt), w.EventID
			}
		}
		if s.found && stale(ev, s.link) {
			_, last := s.link.OrderingKey()
			return h.skip(ev, ReasonStale, last.UTC().Format(time.RFC3339Nano)), nil
		}
		if by := supersededBy(ev, s); by != "" {
			h.log.InfoContext(ctx, "a newer hire, rehire or terminate of this employee supersedes this event", "supersededBy", by)
			return h.superseded(ev, by), nil
		}
		if err := h.supersede(ctx, m, ev, s); err != nil {
			return outcome{}, err
		}
		if !h.dueBy(ev.DueAt()) {
			return h.hold(ctx, m, ev, after)
		}
		pulled, err := h.pullAhead(ctx, m, ev, s)
		if err != nil {
			return outcome{}, err
		}
		if !pulled {
			return h.apply(ctx, ev, a, s.link, s.found)
		}
	}
}

// find returns the held record of eventID, or nil.
func (s situation) find(eventID string) *state.Held {
	for i := range s.held {
		if s.held[i].EventID == eventID {
			return &s.held[i]
		}
	}
	return nil
}

// waitsFor is the held hire or rehire an update waits for (CONTRACTS
// section 2a, "not yet joined"): the employee has no account yet, and the
// update would come due before the start date. It is then held until that
// date and applied after the hire, so that no account exists before the
// start date and the newer profile still wins.
func waitsFor(ev *hris.Event, s situation) *state.Held {
	if ev.Type != hris.TypeUpdate || linked(s.link, s.found) {
		return nil
	}
	for i, held := range s.held {
		if (held.Type == string(hris.TypeHire) || held.Type == string(hris.TypeRehire)) && held.DueAt.After(ev.DueAt()) {
			return &s.held[i]
		}
	}
	return nil
}

// hold records ev as held and hands it to a one-time schedule that sends
// its original body back to its queue at its due time. The record is
// written first: a schedule never exists without one. Both are idempotent
// (a retry rewrites the record and finds the schedule there).
func (h *Handler) hold(ctx context.Context, m Message, ev *hris.Event, after string) (outcome, error) {
	due := ev.DueAt()
	name := schedule.Name(ev.EventID)
	rec := state.Held{
		EmployeeID: ev.Employee.EmployeeID, EventID: ev.EventID, Type: string(ev.Type),
		DueAt: due, OccurredAt: ev.OccurredAt, Queue: string(h.cfg.Queue),
		ScheduleName: name, After: after, Body: m.Body, HeldAt: h.cfg.Now(),
	}
	if err := h.store.PutHeld(ctx, rec); err != nil {
		return outcome{}, fmt.Errorf("record the held event: %w", err)
	}
	err := h.sched.Create(ctx, schedule.Hold{
		Name: name, At: due, QueueARN: h.cfg.QueueARN, GroupID: ev.Employee.EmployeeID, Body: m.Body,
		Description: fmt.Sprintf("HRIS %s %s of employee %s", ev.Type, ev.EventID, ev.Employee.EmployeeID),
	})
	if err != nil {
		return outcome{}, fmt.Errorf("hold until %s: %w", due.UTC().Format(time.RFC3339), err)
	}
	h.log.InfoContext(ctx, "event held until it is due", "dueAt", due.UTC().Format(time.RFC3339), "scheduleName", name, "heldBehind", after)
	d := h.base(ev)
	d.EffectiveAt, d.ScheduleName, d.HeldBehind = due.UTC().Format(time.RFC3339Nano), name, after
	out := newOutcome(catalog.HRISEventScheduled, d)
	out.Due = &due
	return out, nil
}

// processDue handles a held event whose due time has come (by the due
// delivery, or a redelivery of the original after it), under its second
// claim, then removes its held record.
func (h *Handler) processDue(ctx context.Context, m Message, ev *hris.Event, due time.Time, first situationRead) Result {
	run, err := h.runDue(ctx, m, ev, state.HeldKey{EmployeeID: ev.Employee.EmployeeID, EventID: ev.EventID, DueAt: due}, first)
	if err != nil {
		return h.failed(ctx, err)
	}
	if run.Status == idempotency.Duplicate {
		return h.publishOnly(ctx, h.skip(ev, dueSkipReason(run), ""))
	}
	h.count(ctx, run.Result)
	return Result{Outcome: run.Result.Name}
}

// dueFromArrival applies a held event that is due although its first
// claim did not say it was held: the claim expired (the event was held
// longer than claims are kept, state.DefaultEventTTL) or the attempt that
// held it stopped before completing it. Its held record says it is, so it
// is applied as its due delivery would be, under its due claim (so that a
// cancellation and it never both happen), and the record is removed. The
// due claim published the outcome; the one returned names it and carries
// no events, unless the due claim was done before (a duplicate, or the
// reason it was cancelled).
func (h *Handler) dueFromArrival(ctx context.Context, m Message, ev *hris.Event, own state.Held) (outcome, error) {
	run, err := h.runDue(ctx, m, ev, own.Key(), nil)
	if err != nil {
		return outcome{}, err
	}
	if run.Status == idempotency.Duplicate {
		return h.skip(ev, dueSkipReason(run), ""), nil
	}
	return outcome{Name: run.Result.Name}, nil
}

// runDue applies the held event ev (its record's key k) as its due
// delivery would: under its due claim, owned by m, then removes the
// record. first is the employee's situation read beside the first claim
// (nil: read it under the due claim).
func (h *Handler) runDue(ctx context.Context, m Message, ev *hris.Event, k state.HeldKey, first situationRead) (idempotency.Outcome[outcome], error) {
	run, err := h.once.Run(ctx, dueKey(k.EventID), m.ID, k.EmployeeID, func(ctx context.Context, a idempotency.Attempt) (outcome, error) {
		return h.handle(ctx, m, ev, a, true, first)
	})
	if err != nil {
		return run, err
	}
	h.unhold(ctx, k)
	return run, nil
}

// dueSkipReason is why a held event's delivery whose due claim was done
// before changed nothing: a duplicate, unless it was superseded or
// cancelled.
func dueSkipReason(run idempotency.Outcome[outcome]) string {
	if r := run.Result.Reason; r == ReasonSuperseded || r == ReasonCancelled {
		return r
	}
	return ReasonDuplicate
}

// cancelledByHand is the outcome of a held event coming due whose record
// is gone although no newer event cancelled it (its due claim would say
// so): an operator cancelled it (docs/provisioning.md).
func (h *Handler) cancelledByHand(ctx context.Context, ev *hris.Event) outcome {
	h.log.WarnContext(ctx, "the held event's record is gone: it was cancelled by hand; not applied")
	d := h.base(ev)
	d.Reason, d.Error = ReasonCancelled, "the held event was cancelled (its record removed from the state table) before it came due; nothing was changed"
	return newOutcome(catalog.HRISEventSkipped, d)
}

// pullAhead applies, before ev, the employee's held events that come
// before it and are due (within hris.FutureTolerance) but whose delivery
// has not been processed yet: the Scheduler delivers a little after the
// due time, and an event arriving meanwhile must not overtake them (a
// leaver's terminate would become stale), nor an update create the account
// of a hire not applied yet. Each is applied under its own due claim, as
// its due delivery would; that delivery then finds it done. It reports
// whether any was applied.
func (h *Handler) pullAhead(ctx context.Context, m Message, ev *hris.Event, s situation) (bool, error) {
	for _, e := range s.held {
		if e.EventID == ev.EventID || !h.dueBy(e.DueAt) || !keyOf(ev).after(heldKeyOf(e)) {
			continue
		}
		if err := h.applyHeld(ctx, m.ID, e); err != nil {
			return false, fmt.Errorf("apply held event %s first: %w", e.EventID, err)
		}
		return true, nil
	}
	return false, nil
}

// applyHeld applies a held event from its record, as its due delivery
// would, publishing its outcome; owner is the message that pulled it.
func (h *Handler) applyHeld(ctx context.Context, owner string, e state.Held) error {
	ctx = telemetry.With(ctx, "heldEventId", e.EventID)
	h.log.InfoContext(ctx, "a held event that is due comes before this one: applying it first", "dueAt", e.DueAt.UTC().Format(time.RFC3339))
	ev, err := hris.Decode([]byte(e.Body), hris.Queue(e.Queue), h.cfg.Now())
	if err != nil {
		// It decoded when it was held; only an edit by hand breaks it.
		return fmt.Errorf("%w: the held event's body no longer decodes: %v", state.ErrMalformedItem, err)
	}
	run, err := h.runDue(ctx, Message{ID: owner, Body: e.Body}, ev, e.Key(), nil)
	if err != nil {
		return err
	}
	if run.Status != idempotency.Duplicate {
		h.count(ctx, run.Result)
	}
	return nil
}

// unhold removes a held record whose due claim is done. A failure is
// logged, not retried: the record is only a leftover now (the next event of
// the employee finds its claim done and removes it; its ttl ends it).
func (h *Handler) unhold(ctx context.Context, k state.HeldKey) {
	if err := h.store.DeleteHeld(ctx, k); err != nil {
		h.log.WarnContext(ctx, "the held event's record was not removed; it is removed later", "heldEventId", k.EventID, "error", err.Error())
	}
}
