package provisioning

import (
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// The order of one employee's events (CONTRACTS sections 2 and 2a): each
// event has a key, (due time, occurredAt), and applies only after every
// event with a smaller key. The due time is the later of occurredAt and
// effectiveAt, unless an immediate terminationReason makes it occurredAt,
// or the employee has not joined yet and the update takes the due time of
// the hire it waits for. An event is given that due time once, when it
// arrives, as its effective form (effective): every step after reads
// ev.DueAt().

// orderKey is an event's place in its employee's order.
type orderKey struct{ due, occurred time.Time }

func (k orderKey) after(o orderKey) bool {
	if !k.due.Equal(o.due) {
		return k.due.After(o.due)
	}
	return k.occurred.After(o.occurred)
}

func keyOf(ev *hris.Event) orderKey { return orderKey{ev.DueAt(), ev.OccurredAt} }

func heldKeyOf(h state.Held) orderKey { return orderKey{h.DueAt, h.OccurredAt} }

func linkKeyOf(link state.Employee) orderKey {
	due, occurred := link.OrderingKey()
	return orderKey{due, occurred}
}

// stale reports whether ev comes too late for the employee's link: its key
// is not greater than the last applied event's. The last applied event
// itself, run again (a resumed attempt), is not stale.
func stale(ev *hris.Event, link state.Employee) bool {
	return ev.EventID != link.LastEventID && !keyOf(ev).after(linkKeyOf(link))
}

// lifecycle reports whether t starts or ends employment: the types that
// supersede one another (section 2a).
func lifecycle(t hris.Type) bool {
	return t == hris.TypeHire || t == hris.TypeRehire || t == hris.TypeTerminate
}

// withDue is ev as it applies at due: a copy whose effectiveAt is due, so
// that its DueAt (its key, the link's key once applied, a leaver's
// exposure) is due.
func withDue(ev *hris.Event, due time.Time) *hris.Event {
	c := *ev
	c.EffectiveAt = due
	return &c
}

// immediately is a terminate applied at once whatever its effectiveAt: a
// copy without it, due when it occurred.
func immediately(ev *hris.Event) *hris.Event {
	c := *ev
	c.EffectiveAt = time.Time{}
	return &c
}

// linked reports whether the employee has an Encompass account linked.
func linked(link state.Employee, found bool) bool { return found && link.UserID != "" }

// dueBy reports whether an event due at t is applied now rather than held:
// no more than hris.FutureTolerance ahead (a due delivery that arrives
// slightly early, by the Scheduler's clock or ours, is applied).
func (h *Handler) dueBy(t time.Time) bool {
	return !t.After(h.cfg.Now().Add(hris.FutureTolerance))
}
