package provisioning

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Every write to Encompass is recorded first, in the write log: the fields
// and values about to be written, the action and the values they replace.
// The poller reads it to tell this system's changes from external ones, and
// a resumed attempt reads it to publish what an attempt that crashed after
// its write set out to do (resume). Then the employee's link is stored.

// create records the write and creates the account.
func (h *Handler) create(ctx context.Context, ev *hris.Event, want account.Desired, plan account.Plan) (*account.Account, error) {
	if err := ddaProblem(nil, plan); err != nil {
		return nil, err
	}
	// The write log, and the login index entry of the link the create will
	// make, at once: the link then needs no index write before it.
	var g errgroup.Group
	g.Go(func() error { return h.recordWrite(ctx, ev, strings.ToLower(want.LoginID), want.LoginID, plan) })
	g.Go(func() error {
		return h.store.IndexLogin(ctx, want.LoginID, state.Employee{EmployeeID: ev.Employee.EmployeeID, UserID: strings.ToLower(want.LoginID)})
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	secrets, err := newSecrets(plan)
	if err != nil {
		return nil, err
	}
	acc, err := h.dir.Create(ctx, want, plan, secrets)
	err = scrubSecrets(err, secrets)
	switch {
	case directory.IsUserNameConflict(err):
		return acc, errUserNameConflict(want.LoginID)
	case err != nil:
		return acc, ddaRefusal(fmt.Errorf("create user %s: %w", want.LoginID, err), want.LoginID)
	}
	return acc, nil
}

// write records an update plan and writes it (nothing when nothing changes).
func (h *Handler) write(ctx context.Context, ev *hris.Event, acc *account.Account, plan account.Plan) error {
	if !plan.Writes() {
		return nil
	}
	if err := ddaProblem(acc, plan); err != nil {
		return err
	}
	if err := h.recordWrite(ctx, ev, acc.ID, acc.LoginID, plan); err != nil {
		return err
	}
	secrets, err := newSecrets(plan)
	if err != nil {
		return err
	}
	if err := scrubSecrets(h.dir.Update(ctx, acc, plan, secrets), secrets); err != nil {
		if errors.Is(err, encompass.ErrUnknownOutcome) && h.landed(ctx, acc, plan) {
			// The write was applied but its answer lost: done.
			h.log.InfoContext(ctx, "write outcome was unknown; read-back shows it applied")
			return nil
		}
		return ddaRefusal(fmt.Errorf("update user %s: %w", acc.ID, err), acc.LoginID)
	}
	return nil
}

// landed re-reads the account and reports whether every planned change is
// in place.
func (h *Handler) landed(ctx context.Context, acc *account.Account, plan account.Plan) bool {
	cur, err := h.dir.Read(ctx, acc.ID, acc.GUID)
	if err != nil {
		return false
	}
	if plan.WritesDDA() {
		if err := h.dir.ReadDDA(ctx, cur); err != nil {
			return false
		}
	}
	for _, c := range plan.Changes {
		if cur.Field(c.Field) != c.To {
			return false
		}
	}
	return true
}

// disable records the write, then disables the account and reads it back
// (keeping its global user id, which a v3 read-back does not carry).
func (h *Handler) disable(ctx context.Context, ev *hris.Event, acc *account.Account, plan account.Plan) (*account.Account, error) {
	if err := h.recordWrite(ctx, ev, acc.ID, acc.LoginID, plan); err != nil {
		return nil, err
	}
	back, err := h.dir.Disable(ctx, acc)
	if err != nil {
		return nil, err
	}
	if back.GUID == "" {
		back.GUID = acc.GUID
	}
	return back, nil
}

// recordWrite logs the change about to be written, before writing it.
func (h *Handler) recordWrite(ctx context.Context, ev *hris.Event, userID, loginID string, plan account.Plan) error {
	if len(plan.Changes) == 0 {
		return nil
	}
	fields := make(map[string]string, len(plan.Changes))
	from := make(map[string]string, len(plan.Changes))
	for _, c := range plan.Changes {
		fields[c.Field] = c.To
		from[c.Field] = c.From
	}
	if loginID == "" {
		loginID = userID
	}
	err := h.store.RecordWrite(ctx, state.Write{LoginID: loginID, UserID: userID, EmployeeID: ev.Employee.EmployeeID,
		EventID: ev.EventID, At: h.cfg.Now(), Fields: fields, From: from, Action: string(plan.Action)})
	if err != nil {
		return fmt.Errorf("record write: %w", err)
	}
	return nil
}

// link stores the employee link with the event's ordering key,
// pointing to acc (nil: to no account). The version check makes a
// concurrent delivery for the same employee fail here, so that it is
// retried and re-evaluated against the newer link; a link never stored has
// version 0 (apply), which asks that none exists yet. indexed says acc's
// login index entry was written already (created beside the write log):
// the link is then written alone.
func (h *Handler) link(ctx context.Context, ev *hris.Event, link state.Employee, acc *account.Account, status state.Status, indexed bool) error {
	next := link
	next.EmployeeID = ev.Employee.EmployeeID
	if acc != nil {
		next = withAccount(next, acc)
		if indexed {
			next.IndexedLogin = strings.ToLower(acc.LoginID)
		}
	}
	next.LastOccurredAt, next.LastEventID, next.Status = ev.OccurredAt, ev.EventID, status
	next.LastDueAt = ev.DueAt()
	if lifecycle(ev.Type) && !next.LifecycleOccurredAt.After(ev.OccurredAt) {
		// The latest hire, rehire or terminate supersedes older ones that
		// arrive after it (supersede.go).
		next.LifecycleOccurredAt, next.LifecycleDueAt = ev.OccurredAt, ev.DueAt()
	}
	if err := h.store.PutEmployee(ctx, next, link.Version); err != nil {
		return fmt.Errorf("store employee link: %w", err)
	}
	return nil
}

// withAccount is link pointing to acc: its ids and login, its global user
// id when known (a v3 read-back does not carry it), and its DDA profile when
// it was read or written.
func withAccount(link state.Employee, acc *account.Account) state.Employee {
	link.UserID, link.UserName = acc.ID, acc.LoginID
	if acc.GUID != "" {
		link.GlobalUserID = acc.GUID
	}
	if acc.DDAKnown {
		link.DDA = acc.DDAState()
	}
	return link
}

// markTerminated adds the employee to the terminated index (the poller's
// drift check reads it) with the account they were disabled in.
func (h *Handler) markTerminated(ctx context.Context, employeeID string, acc *account.Account) error {
	if err := h.store.MarkTerminated(ctx, employeeID, acc.ID, acc.LoginID); err != nil {
		return fmt.Errorf("mark terminated: %w", err)
	}
	return nil
}

// linkWith stores the link and, at the same time, the terminated-index
// change that goes with it (index may be nil): one round trip instead of
// two. They are not one transaction (the state table's local emulator,
// dynalite, has none), and need not be: if either fails, the message is
// retried, and the retry writes both again.
func (h *Handler) linkWith(ctx context.Context, ev *hris.Event, link state.Employee, acc *account.Account, status state.Status, indexed bool, index func(context.Context) error) error {
	if index == nil {
		return h.link(ctx, ev, link, acc, status, indexed)
	}
	var g errgroup.Group
	g.Go(func() error { return h.link(ctx, ev, link, acc, status, indexed) })
	g.Go(func() error { return index(ctx) })
	return g.Wait()
}

// resume completes an attempt that found nothing left to write although an
// attempt before it may have written (it crashed, or failed after its
// write): the write log says what that attempt set out to do, and that is
// the outcome to publish. Without it the change would be applied and never
// published (issue 10, defect 2).
func (h *Handler) resume(ctx context.Context, ev *hris.Event, out outcome) (outcome, error) {
	if out.Name == catalog.HRISEventSkipped {
		// Stale, not provisioned, or a compensation: nothing was intended
		// that this outcome does not say better.
		return out, nil
	}
	login := ev.Employee.UserName
	if out.acc != nil {
		login = out.acc.LoginID
	}
	if login == "" {
		return out, nil
	}
	w, found, err := h.intentOf(ctx, login, ev.EventID)
	if err != nil {
		return outcome{}, fmt.Errorf("read the write log of a resumed event: %w", err)
	}
	if !found || w.Action == "" {
		return out, nil
	}
	h.log.InfoContext(ctx, "an earlier attempt of this event wrote to Encompass; publishing what it did", "action", w.Action)
	plan := account.Plan{Action: account.Action(w.Action)}
	for f, to := range w.Fields {
		plan.Changes = append(plan.Changes, account.Change{Field: f, From: w.From[f], To: to})
	}
	account.SortChanges(plan.Changes)
	// This attempt's account knows the ids (a create's first attempt did
	// not know them when it recorded its write).
	acc := out.acc
	if acc == nil {
		acc = &account.Account{ID: w.UserID, LoginID: w.LoginID}
	}
	detailType := detailTypeOf(plan.Action)
	d := h.accountDetail(ev, acc, plan)
	if detailType == catalog.UserDeprovisioned {
		h.receipt(ctx, ev, &d, h.cfg.Now())
	}
	resumed := newOutcome(detailType, d)
	resumed.acc, resumed.wrote = acc, true
	return resumed, nil
}

// intentOf is what the attempts of an event set out to write to loginID:
// the latest write that names an Encompass field (the write of the attempt
// that wrote the account), with the DDA fields of every write of the event
// merged in, oldest first, so that a retry that wrote only the DDA profile
// (its Encompass part found done) adds to the intent instead of hiding it.
// Without DDA writes this is WriteOf's answer.
func (h *Handler) intentOf(ctx context.Context, loginID, eventID string) (state.Write, bool, error) {
	w, found, err := h.store.WriteOf(ctx, loginID, eventID)
	if err != nil || !found || !ddaOnly(w) {
		return w, found, err
	}
	all, err := h.store.WritesSince(ctx, loginID, time.Time{})
	if err != nil {
		return state.Write{}, false, err
	}
	var mine []state.Write
	for _, x := range all {
		if x.EventID == eventID {
			mine = append(mine, x)
		}
	}
	intent := w
	for _, x := range mine {
		if !ddaOnly(x) {
			intent = x
		}
	}
	merged := intent
	merged.Fields, merged.From = maps.Clone(intent.Fields), maps.Clone(intent.From)
	if merged.From == nil {
		merged.From = map[string]string{}
	}
	for _, x := range mine {
		for f, to := range x.Fields {
			if !account.IsDDAField(f) {
				continue
			}
			if _, seen := merged.Fields[f]; !seen {
				merged.From[f] = x.From[f]
			}
			merged.Fields[f] = to
		}
	}
	return merged, true, nil
}

// ddaOnly reports whether a write changed the DDA profile alone.
func ddaOnly(w state.Write) bool {
	for f := range w.Fields {
		if !account.IsDDAField(f) {
			return false
		}
	}
	return len(w.Fields) > 0
}

// rejected builds the HRIS Event Rejected outcome of m with its original
// body. A body too long for an EventBridge event is cut in the event and
// first stored whole in the state table (messageStoredAt says where), so
// that nothing is lost; when that write fails, the error is returned and the
// message must be retried. A dry run's store keeps nothing.
func (h *Handler) rejected(ctx context.Context, m Message, d Detail) (outcome, error) {
	d = d.withMessage(m.Body)
	if d.MessageTruncated {
		ref, err := h.store.PutRejectedBody(ctx, d.EventID, m.ID, []byte(m.Body), state.DefaultRejectedTTL)
		switch {
		case errors.Is(err, state.ErrBodyTooLarge):
			// Over SQS's 1 MiB, so hand-made: retrying cannot store it, and
			// looping helps nobody. Acknowledge it, saying so in the event.
			d.Error += fmt.Sprintf("; the whole body (%d bytes) was not kept: over the %d bytes the state table keeps", len(m.Body), state.MaxRejectedBodyBytes)
		case err != nil:
			return outcome{}, fmt.Errorf("keep the rejected message body: %w", err)
		case ref.PK != "":
			d.MessageStoredAt = &ref
		}
	}
	return newOutcome(catalog.HRISEventRejected, d), nil
}
