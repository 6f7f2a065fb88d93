package provisioning

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Reason codes this package adds to those of pkg/hris (CONTRACTS section 3
// lists the first ones).
const (
	ReasonDuplicate        = "duplicate"
	ReasonStale            = "stale"
	ReasonUserNameConflict = "userName_conflict"
	// ReasonNotProvisioned: a terminate for an employee who has no account;
	// a tombstone was left instead.
	ReasonNotProvisioned = "not_provisioned"
	// ReasonSuperseded: a newer hire, rehire or terminate, due no later,
	// cancelled this one (CONTRACTS section 2a).
	ReasonSuperseded = "superseded"
	// ReasonCancelled: a held event whose record an operator removed
	// before it came due (docs/provisioning.md).
	ReasonCancelled = "cancelled"
)

// MaxMessageBytes is how much of the original body a rejection carries. A
// JSON-escaped string can grow up to six times, and an EventBridge entry may
// carry 256 KB, so longer bodies are cut (and marked messageTruncated); the
// whole body is then kept in the state table, and messageStoredAt says where.
const MaxMessageBytes = 32 << 10

// Detail is the `detail` of every encompass.provisioning event
// (CONTRACTS section 3). Fields are left out when unknown.
type Detail struct {
	EventID         string `json:"eventId"`
	Type            string `json:"type,omitempty"`
	EmployeeID      string `json:"employeeId,omitempty"`
	UserName        string `json:"userName,omitempty"`
	EncompassUserID string `json:"encompassUserId,omitempty"`
	GlobalUserID    string `json:"globalUserId,omitempty"`
	// Action says what happened to the account: created, adopted, updated,
	// reactivated, disabled or unchanged.
	Action  string           `json:"action,omitempty"`
	Changes []account.Change `json:"changes,omitzero"`
	// Products lists the products the employee has a profile in, on
	// outcomes that describe an account: encompass, and dda where the
	// employee has a DDA (AIQ) profile (CONTRACTS section 3).
	Products []string `json:"products,omitempty"`
	// Reason is the code of a skip or rejection; Error explains it to a
	// person, naming the Field at fault when there is one.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	Field  string `json:"field,omitempty"`
	// LastAppliedAt is the occurredAt already applied, on stale skips.
	LastAppliedAt string `json:"lastAppliedAt,omitempty"`
	// EffectiveAt is when a held event is applied (HRIS Event Scheduled,
	// and the skips of held events), ScheduleName its EventBridge Scheduler
	// schedule, and HeldBehind the held hire or rehire an update waits for
	// (the employee has not joined yet).
	EffectiveAt  string `json:"effectiveAt,omitempty"`
	ScheduleName string `json:"scheduleName,omitempty"`
	HeldBehind   string `json:"heldBehind,omitempty"`
	// SupersededBy is the event that superseded this one (reason
	// superseded).
	SupersededBy string `json:"supersededBy,omitempty"`
	// Message is the original SQS body on rejections, cut to
	// MaxMessageBytes (MessageTruncated) when longer.
	Message          *string `json:"message,omitempty"`
	MessageTruncated bool    `json:"messageTruncated,omitempty"`
	MessageBytes     int     `json:"messageBytes,omitempty"`
	// MessageStoredAt locates the whole original body in the state table
	// when Message was cut (never in a dry run, which writes nothing there).
	MessageStoredAt *state.ItemRef `json:"messageStoredAt,omitempty"`
	// The leaver's receipt, on User Deprovisioned: when the message reached
	// the function, when the account was read back disabled, and the
	// seconds from the event's due time to that read-back.
	ReceivedAt      string   `json:"receivedAt,omitempty"`
	DisabledAt      string   `json:"disabledAt,omitempty"`
	ExposureSeconds *float64 `json:"exposureSeconds,omitempty"`
	DryRun          bool     `json:"dryRun,omitempty"`
}

// withMessage attaches the original body, cut on a rune boundary when long.
func (d Detail) withMessage(body string) Detail {
	d.MessageBytes = len(body)
	if len(body) > MaxMessageBytes {
		cut := MaxMessageBytes
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut]
		d.MessageTruncated = true
	}
	d.Message = &body
	return d
}

// outcome is what one event produced: its name (the detail-type, or
// "unchanged") and the events to publish. It is what the event's claim
// records, so its JSON form is the idempotency record's.
type outcome struct {
	Name   string        `json:"outcome"`
	Events []storedEvent `json:"events,omitempty"`
	// Due is when a held event is due: its first claim keeps it, so that a
	// delivery after it is told from a redelivery before it (hold.go).
	Due *time.Time `json:"due,omitempty"`
	// Reason is the reason code of a skip or rejection (its detail's
	// reason; "" otherwise), kept in the claim once the events are
	// published: a cancelled event's due delivery says it, and metrics
	// count skips and rejections by it.
	Reason string `json:"reason,omitempty"`

	// acc and wrote are for a resumed attempt (record.go): the account the
	// event was applied to, and whether this attempt wrote to Encompass.
	acc   *account.Account
	wrote bool
}

type storedEvent struct {
	DetailType string          `json:"detailType"`
	Detail     json.RawMessage `json:"detail"`
}

// newOutcome is the outcome of one event published as detailType.
func newOutcome(detailType string, d Detail) outcome {
	b, err := json.Marshal(d)
	if err != nil {
		// A Detail is strings, bools and a reference: it always marshals.
		panic(fmt.Sprintf("provisioning: marshal detail: %v", err))
	}
	out := outcome{Name: detailType, Events: []storedEvent{{DetailType: detailType, Detail: b}}}
	if skipOrRejection(detailType) {
		out.Reason = d.Reason
	}
	return out
}

func skipOrRejection(detailType string) bool {
	return detailType == catalog.HRISEventSkipped || detailType == catalog.HRISEventRejected
}

// UnmarshalJSON reads an outcome the event's claim recorded. A skip or
// rejection recorded as pending by a version that kept no reason beside
// its event takes the reason from the event's detail, so that its replay
// is counted, and kept, as it was built.
func (o *outcome) UnmarshalJSON(b []byte) error {
	type recorded outcome // without this method
	if err := json.Unmarshal(b, (*recorded)(o)); err != nil {
		return err
	}
	if o.Reason == "" && len(o.Events) == 1 && skipOrRejection(o.Name) {
		var d struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(o.Events[0].Detail, &d)
		o.Reason = d.Reason
	}
	return nil
}

// events are the outcome's EventBridge events.
func (o outcome) events() []publish.Event {
	out := make([]publish.Event, len(o.Events))
	for i, e := range o.Events {
		out[i] = publish.Event{Source: catalog.SourceProvisioning, DetailType: e.DetailType, Detail: e.Detail}
	}
	return out
}

func (h *Handler) base(ev *hris.Event) Detail {
	return Detail{EventID: ev.EventID, Type: string(ev.Type), EmployeeID: ev.Employee.EmployeeID, UserName: ev.Employee.UserName, DryRun: h.cfg.DryRun}
}

// accountDetail is the detail of a change made to acc.
func (h *Handler) accountDetail(ev *hris.Event, acc *account.Account, plan account.Plan) Detail {
	d := h.base(ev)
	d.UserName, d.EncompassUserID, d.GlobalUserID = acc.LoginID, acc.ID, acc.GUID
	if d.UserName == "" {
		d.UserName = ev.Employee.UserName
	}
	d.Action, d.Changes = string(plan.Action), plan.Changes
	if d.Changes == nil {
		d.Changes = []account.Change{}
	}
	d.Products = plan.Products(acc)
	return d
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
	case ReasonSuperseded:
		d.Error = "a newer hire, rehire or terminate of this employee, due no later, cancelled this held event; nothing was changed"
	}
	return newOutcome(catalog.HRISEventSkipped, d)
}

// rejection is a permanent failure with a CONTRACTS reason code.
type rejection struct {
	Reason  string
	Field   string
	Message string
}

func (r *rejection) Error() string { return r.Reason + ": " + r.Message }

// Rejection reports the reason to pkg/failure: a rejection is permanent.
func (r *rejection) Rejection() (reason, field, message string) { return r.Reason, r.Field, r.Message }

// ddaRefusal turns the directory's refusals of a DDA profile into
// rejections: its userName belongs to another DDA user, or the account
// cannot be given a global user id (a login id longer than the Account
// Links API's 16 characters). Any other error is returned as it is.
func ddaRefusal(err error, loginID string) error {
	switch {
	case directory.IsDDAUserNameConflict(err):
		return &rejection{Reason: ReasonUserNameConflict, Field: "employee.userName", Message: fmt.Sprintf(
			"the DDA (AIQ) userName %q belongs to another DDA user; free it in DDA or supply another employee.userName. "+
				"The Encompass profile was written; the event applied again completes the DDA profile", loginID)}
	case directory.IsNoGlobalUserID(err):
		return &rejection{Reason: failure.ReasonEncompassRejected, Field: "employee.userName", Message: fmt.Sprintf(
			"the Encompass user %q has no global user id and the SCIM Account Links API cannot give it one (%s), so no DDA profile can be added to it",
			loginID, err.Error())}
	}
	return err
}

func errUserNameConflict(loginID string) error {
	// The other account's e-mail is not ours to publish.
	return &rejection{Reason: ReasonUserNameConflict, Field: "employee.userName", Message: fmt.Sprintf(
		"an Encompass user with login id %q already exists with a different e-mail; correct the e-mail or supply another employee.userName", loginID)}
}
