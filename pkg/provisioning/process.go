package provisioning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Message is one SQS message.
type Message struct {
	ID   string
	Body string
}

// Result is what became of one message.
type Result struct {
	// Outcome is the detail-type published ("User Updated", ...) or
	// "unchanged"; empty when the message is to be retried.
	Outcome string
	// Retry reports the message as a batch item failure, so SQS delivers it
	// again (and, after the receive limit, moves it to the DLQ).
	Retry bool
	Err   error
}

// outcome is what applying an event produced: the events to publish and the
// name of the outcome for metrics.
type outcome struct {
	name   string
	events []publish.Event
}

// storedOutcome is kept in the idempotency record: "published" with the
// outcome's name, or "pending" with the events a failed publish still owes.
type storedOutcome struct {
	State   string        `json:"state"` // "pending" or "published"
	Outcome string        `json:"outcome"`
	Events  []storedEvent `json:"events,omitempty"`
}

type storedEvent struct {
	DetailType string          `json:"detailType"`
	Detail     json.RawMessage `json:"detail"`
}

// Process handles one message: decode, claim, plan, apply, record, publish.
func (h *Handler) Process(ctx context.Context, m Message) Result {
	ev, err := hris.Decode([]byte(m.Body), h.cfg.Queue, h.cfg.Now())
	if err != nil {
		he, _ := hris.AsError(err)
		id := he.EventID
		if id == "" {
			id = m.ID
		}
		if id == "" {
			// No message id either (a hand-made local event): a digest of
			// the body still names the rejection, and its stored body.
			sum := sha256.Sum256([]byte(m.Body))
			id = "body-sha256-" + hex.EncodeToString(sum[:8])
		}
		ctx = telemetry.With(ctx, "eventId", id, "employeeId", he.EmployeeID, "messageId", m.ID)
		d := Detail{EventID: id, Type: string(he.Type), EmployeeID: he.EmployeeID, Reason: he.Reason, Field: he.Field, Error: he.Message, DryRun: h.cfg.DryRun}
		out, err := h.rejected(ctx, m, d)
		if err != nil {
			return h.retry(ctx, err)
		}
		return h.publishOnly(ctx, out)
	}
	ctx = telemetry.With(ctx, "eventId", ev.EventID, "employeeId", ev.Employee.EmployeeID, "messageId", m.ID, "type", string(ev.Type))

	if h.cfg.DryRun {
		claim, found, err := h.cfg.Store.GetEventClaim(ctx, ev.EventID)
		if err != nil {
			return h.retry(ctx, err)
		}
		if found && claim.Done {
			return h.publishOnly(ctx, h.skip(ev, ReasonDuplicate, ""))
		}
	} else {
		// The message id owns the claim: the SDK's resend of a claim whose
		// answer was lost, and the redelivery of this message, find it ours.
		claimed, err := h.cfg.Store.ClaimEvent(ctx, ev.EventID, ev.Employee.EmployeeID, m.ID, h.cfg.EventTTL)
		if err != nil {
			return h.retry(ctx, err)
		}
		if !claimed {
			return h.duplicate(ctx, ev)
		}
	}

	out, err := h.apply(ctx, ev)
	if err != nil {
		retryable, reason, field, msg := classify(err)
		if !retryable {
			d := h.base(ev)
			d.Reason, d.Field, d.Error = reason, field, msg
			h.log.WarnContext(ctx, "event rejected", "reason", reason, "field", field, "error", msg)
			// A failure to keep the body turns the rejection into a retry:
			// the message is never acknowledged with its body lost.
			out, err = h.rejected(ctx, m, d)
		}
		if err != nil {
			if !h.cfg.DryRun {
				if rerr := h.cfg.Store.ReleaseEvent(context.WithoutCancel(ctx), ev.EventID); rerr != nil {
					h.log.WarnContext(ctx, "release of event claim failed; the redelivery waits for the claim lease", "error", rerr.Error())
				}
			}
			return h.retry(ctx, err)
		}
	}
	return h.finish(ctx, ev, out)
}

// rejected builds the HRIS Event Rejected outcome of m with its original
// body. A body too long for an EventBridge event is cut in the event and
// first stored whole in the state table (messageStoredAt says where), so
// that nothing is lost; when that write fails, the error is returned and
// the message must be retried. A dry run stores nothing.
func (h *Handler) rejected(ctx context.Context, m Message, d Detail) (outcome, error) {
	d = d.withMessage(m.Body)
	if d.MessageTruncated && !h.cfg.DryRun {
		ref, err := h.cfg.Store.PutRejectedBody(ctx, d.EventID, m.ID, []byte(m.Body), state.DefaultRejectedTTL)
		switch {
		case errors.Is(err, state.ErrBodyTooLarge):
			// Over SQS's 1 MiB, so hand-made: retrying cannot store it, and
			// looping helps nobody. Acknowledge it, saying so in the event.
			d.Error += fmt.Sprintf("; the whole body (%d bytes) was not kept: over the %d bytes the state table keeps", len(m.Body), state.MaxRejectedBodyBytes)
		case err != nil:
			return outcome{}, fmt.Errorf("keep the rejected message body: %w", err)
		default:
			d.MessageStoredAt = &ref
		}
	}
	return outcome{name: publish.HRISEventRejected, events: []publish.Event{event(publish.HRISEventRejected, d)}}, nil
}

func (h *Handler) retry(ctx context.Context, err error) Result {
	h.log.WarnContext(ctx, "event will be retried", "error", err.Error())
	h.cfg.Metrics.Add("Retried", 1)
	return Result{Retry: true, Err: err}
}

// publishOnly publishes events that need no state record (decoding
// rejections and dry runs).
func (h *Handler) publishOnly(ctx context.Context, out outcome) Result {
	if len(out.events) == 0 {
		h.count(ctx, out.name)
		return Result{Outcome: out.name}
	}
	if err := h.cfg.Publisher.Publish(ctx, out.events...); err != nil {
		return h.retry(ctx, fmt.Errorf("publish %s: %w", out.name, err))
	}
	h.count(ctx, out.name)
	return Result{Outcome: out.name}
}

// finish publishes the outcome and marks the event done with it. When
// publishing fails, the events are stored in the idempotency record as
// pending and the message is retried; the redelivery publishes them (see
// duplicate) instead of finding nothing left to change. The common path costs
// one state-table write.
func (h *Handler) finish(ctx context.Context, ev *hris.Event, out outcome) Result {
	if h.cfg.DryRun {
		return h.publishOnly(ctx, out)
	}
	if len(out.events) > 0 {
		if err := h.cfg.Publisher.Publish(ctx, out.events...); err != nil {
			pending, eerr := encodeOutcome("pending", out)
			if eerr == nil {
				eerr = h.cfg.Store.CompleteEvent(context.WithoutCancel(ctx), ev.EventID, pending)
			}
			if eerr != nil {
				// The claim stays in progress until its lease ends; the
				// redelivery then re-runs the event.
				h.log.ErrorContext(ctx, "could not keep the unpublished outcome", "error", eerr.Error())
			}
			return h.retry(ctx, fmt.Errorf("publish %s: %w", out.name, err))
		}
	}
	done, _ := encodeOutcome("published", outcome{name: out.name})
	if err := h.cfg.Store.CompleteEvent(context.WithoutCancel(ctx), ev.EventID, done); err != nil {
		// The claim stays in progress until its lease ends; a redelivery
		// then finds the change applied and publishes nothing twice.
		h.log.WarnContext(ctx, "could not mark the event done", "error", err.Error())
	}
	h.count(ctx, out.name)
	return Result{Outcome: out.name}
}

// duplicate handles an event completed before: either its outcome is still
// pending (the publish failed) and is published now, or it is a duplicate.
func (h *Handler) duplicate(ctx context.Context, ev *hris.Event) Result {
	claim, found, err := h.cfg.Store.GetEventClaim(ctx, ev.EventID)
	if err != nil {
		return h.retry(ctx, err)
	}
	if found {
		var so storedOutcome
		if json.Unmarshal([]byte(claim.Outcome), &so) == nil && so.State == "pending" {
			out := outcome{name: so.Outcome}
			for _, e := range so.Events {
				out.events = append(out.events, publish.Event{Source: publish.SourceProvisioning, DetailType: e.DetailType, Detail: e.Detail})
			}
			h.log.InfoContext(ctx, "publishing the pending outcome of an event applied before")
			return h.finish(ctx, ev, out)
		}
	}
	return h.publishOnly(ctx, h.skip(ev, ReasonDuplicate, ""))
}

func encodeOutcome(st string, out outcome) (string, error) {
	so := storedOutcome{State: st, Outcome: out.name}
	for _, e := range out.events {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return "", err
		}
		so.Events = append(so.Events, storedEvent{DetailType: e.DetailType, Detail: b})
	}
	b, err := json.Marshal(so)
	return string(b), err
}

func (h *Handler) count(ctx context.Context, name string) {
	h.cfg.Metrics.Add("Outcome."+strings.ReplaceAll(name, " ", ""), 1)
	h.log.InfoContext(ctx, "event processed", "outcome", name, "dryRun", h.cfg.DryRun)
}

func (h *Handler) base(ev *hris.Event) Detail {
	return Detail{EventID: ev.EventID, Type: string(ev.Type), EmployeeID: ev.Employee.EmployeeID, UserName: ev.Employee.UserName, DryRun: h.cfg.DryRun}
}

func (h *Handler) skip(ev *hris.Event, reason, lastApplied string) outcome {
	d := h.base(ev)
	d.Reason, d.LastAppliedAt = reason, lastApplied
	switch reason {
	case ReasonDuplicate:
		d.Error = "this eventId was processed before; nothing was changed"
	case ReasonStale:
		d.Error = "a newer event for this employee was applied already; this older one was not applied"
	case ReasonNotProvisioned:
		d.Error = "the employee has no Encompass account; a tombstone keeps a late, older hire from creating one"
	}
	return outcome{name: publish.HRISEventSkipped, events: []publish.Event{event(publish.HRISEventSkipped, d)}}
}

// apply plans and applies one event against the employee's link.
func (h *Handler) apply(ctx context.Context, ev *hris.Event) (outcome, error) {
	link, found, err := h.cfg.Store.GetEmployee(ctx, ev.Employee.EmployeeID)
	if err != nil {
		return outcome{}, fmt.Errorf("read employee link: %w", err)
	}
	if found && ev.OccurredAt.Before(link.LastOccurredAt) {
		return h.skip(ev, ReasonStale, link.LastOccurredAt.UTC().Format(time.RFC3339Nano)), nil
	}
	if !found {
		link = state.Employee{EmployeeID: ev.Employee.EmployeeID}
	}
	if ev.Type == hris.TypeTerminate {
		return h.terminate(ctx, ev, link, found)
	}
	return h.provision(ctx, ev, link, found)
}

// target is Target without what the configured API cannot write: the v3
// API does not document the shape of stateLicenses, so in v3 mode licenses
// are left as they are (and the log says so).
func (h *Handler) target(ctx context.Context, ev *hris.Event, decideAccess bool) Desired {
	want := Target(ev, h.cfg.Mapping, decideAccess)
	if _, ok := want.Fields[FieldStateLicenses]; ok && !h.dir.scimMode() {
		delete(want.Fields, FieldStateLicenses)
		want.Licenses = nil
		h.log.InfoContext(ctx, "employee.stateLicenses not written: the v3 user API does not take them; use ENCOMPASS_USER_API=scim to sync licenses")
	}
	return want
}

func canCreate(e hris.Employee) bool {
	return e.UserName != "" && e.GivenName.IsSet() && e.FamilyName.IsSet() && e.Email.IsSet()
}

// provision applies hire, update and rehire.
func (h *Handler) provision(ctx context.Context, ev *hris.Event, link state.Employee, found bool) (outcome, error) {
	e := ev.Employee
	linked := link.UserID != ""
	enable := ev.Type == hris.TypeRehire
	var (
		acc  *Account
		plan Plan
		err  error
	)
	if linked {
		acc, err = h.dir.read(ctx, link.UserID, link.GlobalUserID)
		switch {
		case errors.Is(err, encompass.ErrNotFound):
			// Deleted in Encompass by hand: match (or create) again.
			h.log.WarnContext(ctx, "the linked Encompass user no longer exists; matching again", "userId", link.UserID)
			linked, acc = false, nil
		case err != nil:
			return outcome{}, fmt.Errorf("read linked user %s: %w", link.UserID, err)
		default:
			plan = PlanUpdate(acc, h.target(ctx, ev, false), enable, h.dir.managed)
			if err := h.write(ctx, ev, acc, plan); err != nil {
				return outcome{}, err
			}
		}
	}
	if !linked {
		if e.UserName == "" {
			return outcome{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee.email", Message: "the employee is not linked to an Encompass user yet; employee.userName or employee.email is needed to find or create the account"}
		}
		want := h.target(ctx, ev, true)
		// A hire or rehire creates first and matches on conflict: one call
		// when the login id is new (the common case), and the same outcome
		// as matching first. Updates and dry runs match first.
		createFirst := !h.cfg.DryRun && canCreate(e) && ev.Type != hris.TypeUpdate
		if createFirst {
			plan = PlanCreate(want)
			acc, err = h.create(ctx, ev, want, plan)
			if err != nil && !errors.Is(err, encompass.ErrConflict) {
				return outcome{}, err
			}
		}
		if acc == nil {
			acc, err = h.dir.find(ctx, e.UserName)
			switch {
			case errors.Is(err, encompass.ErrNotFound):
				if !canCreate(e) {
					return outcome{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee", Message: fmt.Sprintf(
						"no Encompass user %q exists to adopt, and creating one needs givenName, familyName and email", e.UserName)}
				}
				plan = PlanCreate(want)
				if acc, err = h.create(ctx, ev, want, plan); err != nil {
					return outcome{}, err
				}
			case err != nil:
				return outcome{}, fmt.Errorf("match login id %s: %w", e.UserName, err)
			default:
				if !e.Email.IsSet() {
					return outcome{}, &rejection{Reason: hris.ReasonMissingField, Field: "employee.email", Message: fmt.Sprintf(
						"an Encompass user %q exists; employee.email is needed to confirm it is this employee before adopting it", e.UserName)}
				}
				if !emailMatches(acc.field(FieldEmail), e.Email.Value) {
					return outcome{}, errUserNameConflict(e.UserName, acc.field(FieldEmail))
				}
				// A joiner needs a working account: hire and rehire enable
				// an adopted account; an update never does.
				plan = PlanUpdate(acc, want, ev.Type != hris.TypeUpdate, h.dir.managed)
				plan.Action = ActionAdopt
				if err := h.write(ctx, ev, acc, plan); err != nil {
					return outcome{}, err
				}
			}
		}
	}

	// A new link, an adoption or a rehire makes the employee active; an
	// update keeps the status (it never re-enables).
	status := link.Status
	if !linked || ev.Type == hris.TypeRehire || status == "" {
		status = state.StatusActive
	}
	if err := h.link(ctx, ev, link, found, acc, status); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return h.undoIfTerminated(ctx, ev, acc, err)
		}
		return outcome{}, err
	}
	if link.Status == state.StatusTerminated && status == state.StatusActive && !h.cfg.DryRun {
		if err := h.cfg.Store.ClearTerminated(ctx, e.EmployeeID); err != nil {
			return outcome{}, fmt.Errorf("clear terminated index: %w", err)
		}
	}

	d := h.base(ev)
	d.UserName, d.EncompassUserID, d.GlobalUserID = acc.LoginID, acc.ID, acc.GUID
	if d.UserName == "" {
		d.UserName = e.UserName
	}
	d.Action, d.Changes = string(plan.Action), plan.Changes
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	var detailType string
	switch {
	case plan.Action == ActionCreate || plan.Action == ActionAdopt:
		detailType = publish.UserProvisioned
	case plan.Enable:
		detailType = publish.UserReactivated
	case len(plan.Changes) > 0:
		detailType = publish.UserUpdated
	default:
		return outcome{name: string(ActionNone)}, nil
	}
	return outcome{name: detailType, events: []publish.Event{event(detailType, d)}}, nil
}

// undoIfTerminated handles a lost race: while this event created or enabled
// the account, a newer terminate of the same employee was recorded (on the
// other queue). The account must not stay enabled for someone who has left,
// so it is disabled again and linked to the terminated employee. Any other
// conflict is returned for SQS to retry.
func (h *Handler) undoIfTerminated(ctx context.Context, ev *hris.Event, acc *Account, conflict error) (outcome, error) {
	cur, found, err := h.cfg.Store.GetEmployee(ctx, ev.Employee.EmployeeID)
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
	if err := h.cfg.Store.PutEmployee(ctx, next, cur.Version); err != nil {
		return outcome{}, fmt.Errorf("store employee link: %w", err)
	}
	if err := h.cfg.Store.MarkTerminated(ctx, ev.Employee.EmployeeID, acc.ID, acc.LoginID); err != nil {
		return outcome{}, fmt.Errorf("mark terminated: %w", err)
	}
	out := h.skip(ev, ReasonStale, cur.LastOccurredAt.UTC().Format(time.RFC3339Nano))
	d := out.events[0].Detail.(Detail)
	d.EncompassUserID, d.GlobalUserID, d.Action, d.Changes = acc.ID, acc.GUID, string(ActionDisable), plan.Changes
	d.Error = "a newer terminate of this employee was applied while this event ran; the account it created or enabled was disabled again"
	out.events[0].Detail = d
	return out, nil
}

// create creates the account (never in a dry run, where the account is
// described from the plan).
func (h *Handler) create(ctx context.Context, ev *hris.Event, want Desired, plan Plan) (*Account, error) {
	if h.cfg.DryRun {
		return &Account{ID: strings.ToLower(want.LoginID), LoginID: want.LoginID, Enabled: true, Fields: want.Fields}, nil
	}
	if err := h.recordWrite(ctx, ev, strings.ToLower(want.LoginID), want.LoginID, plan); err != nil {
		return nil, err
	}
	password := ""
	if plan.SetPassword {
		p, err := mapping.GeneratePassword()
		if err != nil {
			return nil, fmt.Errorf("generate password: %w", err)
		}
		password = p
	}
	acc, err := h.dir.create(ctx, want, plan, password)
	err = scrubSecret(err, password)
	if err != nil {
		return acc, fmt.Errorf("create user %s: %w", want.LoginID, err)
	}
	return acc, nil
}

// write applies an update plan (nothing in a dry run, or when nothing
// changed).
func (h *Handler) write(ctx context.Context, ev *hris.Event, acc *Account, plan Plan) error {
	if h.cfg.DryRun || !plan.Writes() && len(plan.GroupsAdd)+len(plan.GroupsRemove) == 0 {
		return nil
	}
	if err := h.recordWrite(ctx, ev, acc.ID, acc.LoginID, plan); err != nil {
		return err
	}
	password := ""
	if plan.SetPassword {
		p, err := mapping.GeneratePassword()
		if err != nil {
			return fmt.Errorf("generate password: %w", err)
		}
		password = p
	}
	if err := scrubSecret(h.dir.update(ctx, acc, plan, password), password); err != nil {
		if errors.Is(err, encompass.ErrUnknownOutcome) && h.landed(ctx, acc, plan) {
			// The write was applied but its answer lost: done. Without
			// this check the redelivery would find nothing left to change
			// and the outcome event would never be published.
			h.log.InfoContext(ctx, "write outcome was unknown; read-back shows it applied")
			return nil
		}
		return fmt.Errorf("update user %s: %w", acc.ID, err)
	}
	return nil
}

// landed re-reads the account and reports whether every planned change is
// in place.
func (h *Handler) landed(ctx context.Context, acc *Account, plan Plan) bool {
	cur, err := h.dir.read(ctx, acc.ID, acc.GUID)
	if err != nil {
		return false
	}
	for _, c := range plan.Changes {
		if cur.field(c.Field) != c.To {
			return false
		}
	}
	return true
}

// disable applies a disable plan: the write is logged first, then the
// account is disabled and read back (keeping its global user id, which a v3
// read-back does not carry).
func (h *Handler) disable(ctx context.Context, ev *hris.Event, acc *Account, plan Plan) (*Account, error) {
	if err := h.recordWrite(ctx, ev, acc.ID, acc.LoginID, plan); err != nil {
		return nil, err
	}
	back, err := h.dir.disable(ctx, acc)
	if err != nil {
		return nil, err
	}
	back.GUID = firstNonEmpty(back.GUID, acc.GUID)
	return back, nil
}

// recordWrite logs the fields about to be written, before writing them, so
// that the poller never mistakes this system's change for an external one.
func (h *Handler) recordWrite(ctx context.Context, ev *hris.Event, userID, loginID string, plan Plan) error {
	if len(plan.Changes) == 0 {
		return nil
	}
	fields := make(map[string]string, len(plan.Changes))
	for _, c := range plan.Changes {
		fields[c.Field] = c.To
	}
	if loginID == "" {
		loginID = userID
	}
	err := h.cfg.Store.RecordWrite(ctx, state.Write{LoginID: loginID, UserID: userID, EmployeeID: ev.Employee.EmployeeID, EventID: ev.EventID, At: h.cfg.Now(), Fields: fields})
	if err != nil {
		return fmt.Errorf("record write: %w", err)
	}
	return nil
}

// link stores the employee link with the event's occurredAt. The version
// check makes a concurrent delivery for the same employee fail here, so that
// it is retried and re-evaluated against the newer link.
func (h *Handler) link(ctx context.Context, ev *hris.Event, link state.Employee, found bool, acc *Account, status state.Status) error {
	if h.cfg.DryRun {
		return nil
	}
	next := link
	next.EmployeeID = ev.Employee.EmployeeID
	if acc != nil {
		next.UserID, next.UserName = acc.ID, acc.LoginID
		if acc.GUID != "" {
			next.GlobalUserID = acc.GUID
		}
	}
	next.LastOccurredAt, next.LastEventID, next.Status = ev.OccurredAt, ev.EventID, status
	var version int64
	if found {
		version = link.Version
	}
	if err := h.cfg.Store.PutEmployee(ctx, next, version); err != nil {
		return fmt.Errorf("store employee link: %w", err)
	}
	return nil
}

// terminate disables the employee's account, or leaves a tombstone for an
// employee who never had one.
func (h *Handler) terminate(ctx context.Context, ev *hris.Event, link state.Employee, found bool) (outcome, error) {
	e := ev.Employee
	var acc *Account
	var err error
	if link.UserID != "" {
		acc, err = h.dir.read(ctx, link.UserID, link.GlobalUserID)
		switch {
		case errors.Is(err, encompass.ErrNotFound):
			// Deleted in Encompass by hand: nothing is left to disable.
			h.log.WarnContext(ctx, "the linked Encompass user no longer exists", "userId", link.UserID)
			acc = nil
		case err != nil:
			return outcome{}, fmt.Errorf("read linked user %s: %w", link.UserID, err)
		}
	} else if e.UserName != "" && e.Email.IsSet() {
		// Existing staff never linked: disable the account only when it is
		// provably theirs (same login id and e-mail).
		acc, err = h.dir.find(ctx, e.UserName)
		switch {
		case errors.Is(err, encompass.ErrNotFound):
			acc = nil
		case err != nil:
			return outcome{}, fmt.Errorf("match login id %s: %w", e.UserName, err)
		case !emailMatches(acc.field(FieldEmail), e.Email.Value):
			acc = nil
		}
	}
	if acc == nil {
		link.UserID, link.GlobalUserID, link.UserName = "", "", ""
		if err := h.link(ctx, ev, link, found, nil, state.StatusTombstone); err != nil {
			return outcome{}, err
		}
		return h.skip(ev, ReasonNotProvisioned, ""), nil
	}
	plan := PlanDisable(acc)
	if plan.Disable && !h.cfg.DryRun {
		back, err := h.disable(ctx, ev, acc, plan)
		if err != nil {
			return outcome{}, err
		}
		acc = back
	}
	if err := h.link(ctx, ev, link, found, acc, state.StatusTerminated); err != nil {
		return outcome{}, err
	}
	if !h.cfg.DryRun {
		if err := h.cfg.Store.MarkTerminated(ctx, e.EmployeeID, acc.ID, acc.LoginID); err != nil {
			return outcome{}, fmt.Errorf("mark terminated: %w", err)
		}
	}
	d := h.base(ev)
	d.UserName, d.EncompassUserID, d.GlobalUserID = acc.LoginID, acc.ID, acc.GUID
	d.Action = string(plan.Action)
	d.Changes = plan.Changes
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	return outcome{name: publish.UserDeprovisioned, events: []publish.Event{event(publish.UserDeprovisioned, d)}}, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
