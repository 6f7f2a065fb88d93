package state

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Held events (CONTRACTS section 2a) are kept twice:
//
//   - under the employee, pk HELD#EMP#<employeeId>, sk EVENT#<eventId>,
//     with the original body: supersession, "not yet joined" and the due
//     delivery read the employee's held events with one Query;
//   - in the index of all held events, pk HELD#ALL, sk
//     <due time>#<eventId>, without the body: `lifecyclectl pending`
//     lists who joins or leaves when, soonest first, with one Query a page.
//
// The employee's item is written first and deleted first: the index may
// briefly name an event that is gone (the lister says so), never miss one
// that is held. Both have a ttl long past the due time (HeldRetention), so
// that a delivery parked in a dead-letter queue can still be redriven and
// nothing stays forever when something went wrong.
const (
	heldPKPrefix = "HELD#EMP#"
	heldIndexPK  = "HELD#ALL"
	heldSKPrefix = "EVENT#"
)

// HeldRetention is how long after its due time a held event's items are
// kept (ttl): past SQS's longest retention of a failed delivery.
const HeldRetention = 30 * 24 * time.Hour

// Held is an HRIS event held until its due time.
type Held struct {
	EmployeeID string
	EventID    string
	// Type is the HRIS event type (hire, update, rehire, terminate).
	Type string
	// DueAt is when it is applied: its own due time, or the due time of the
	// hire it waits for (After).
	DueAt      time.Time
	OccurredAt time.Time
	// Queue is the queue it goes back to (provision or deprovision).
	Queue string
	// ScheduleName is its EventBridge Scheduler schedule.
	ScheduleName string
	// After is the event id of the held hire or rehire this update waits
	// for (the employee has not joined yet); empty otherwise.
	After string
	// Body is the original message body; empty on index entries.
	Body   string
	HeldAt time.Time
}

// HeldKey names a held event's items.
type HeldKey struct {
	EmployeeID, EventID string
	DueAt               time.Time
}

// Key returns h's key.
func (h Held) Key() HeldKey {
	return HeldKey{EmployeeID: h.EmployeeID, EventID: h.EventID, DueAt: h.DueAt}
}

func heldPK(employeeID string) string { return heldPKPrefix + employeeID }

func heldIndexSK(due time.Time, eventID string) string { return fmtTime(due) + "#" + eventID }

// PutHeld records a held event: the employee's item, then the index entry
// (two PutItems). Recording it again overwrites both.
func (s *Store) PutHeld(ctx context.Context, h Held) error {
	switch {
	case h.EmployeeID == "" || h.EventID == "":
		return fmt.Errorf("state: put held event: empty employee or event id")
	case h.DueAt.IsZero() || h.OccurredAt.IsZero():
		return fmt.Errorf("state: put held event %s: no due or occurred time", h.EventID)
	}
	if h.HeldAt.IsZero() {
		h.HeldAt = s.now()
	}
	ttl := num(h.DueAt.Add(HeldRetention).Unix())
	attrs := func(item map[string]types.AttributeValue) map[string]types.AttributeValue {
		item["employeeId"] = str(h.EmployeeID)
		item["eventId"] = str(h.EventID)
		item["type"] = str(h.Type)
		item["dueAt"] = str(fmtTime(h.DueAt))
		item["occurredAt"] = str(fmtTime(h.OccurredAt))
		item["heldAt"] = str(fmtTime(h.HeldAt))
		item[AttrTTL] = ttl
		for name, v := range map[string]string{"queue": h.Queue, "scheduleName": h.ScheduleName, "after": h.After} {
			if v != "" {
				item[name] = str(v)
			}
		}
		return item
	}
	own := attrs(key(heldPK(h.EmployeeID), heldSKPrefix+h.EventID))
	if h.Body != "" {
		own["body"] = str(h.Body)
	}
	if err := s.put(ctx, own); err != nil {
		return fmt.Errorf("state: put held event %s: %w", h.EventID, err)
	}
	if err := s.put(ctx, attrs(key(heldIndexPK, heldIndexSK(h.DueAt, h.EventID)))); err != nil {
		return fmt.Errorf("state: index held event %s: %w", h.EventID, err)
	}
	return nil
}

// HeldFor returns the employee's held events, soonest first (one strongly
// consistent Query; an employee has a handful at most). Items past their
// ttl not yet deleted by DynamoDB are left out.
func (s *Store) HeldFor(ctx context.Context, employeeID string) ([]Held, error) {
	if employeeID == "" {
		return nil, fmt.Errorf("state: held events: empty employee id")
	}
	var out []Held
	for h, err := range queryItems(ctx, s, s.pkQuery(heldPK(employeeID), true), s.liveHeld) {
		if err != nil {
			return nil, fmt.Errorf("state: held events of %s: %w", employeeID, err)
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, compareHeld)
	return out, nil
}

// DeleteHeld removes a held event: the employee's item, then the index
// entry (two DeleteItems). Deleting one that is gone is not an error.
func (s *Store) DeleteHeld(ctx context.Context, k HeldKey) error {
	if k.EmployeeID == "" || k.EventID == "" {
		return fmt.Errorf("state: delete held event: empty employee or event id")
	}
	if err := s.del(ctx, heldPK(k.EmployeeID), heldSKPrefix+k.EventID); err != nil {
		return fmt.Errorf("state: delete held event %s: %w", k.EventID, err)
	}
	if err := s.del(ctx, heldIndexPK, heldIndexSK(k.DueAt, k.EventID)); err != nil {
		return fmt.Errorf("state: delete held event %s from the index: %w", k.EventID, err)
	}
	return nil
}

// AllHeld yields the index of held events, soonest first, page by page
// (one Query a page; the entries carry no body). Expired entries are left
// out. It stops at the first error, which it yields.
func (s *Store) AllHeld(ctx context.Context) iter.Seq2[Held, error] {
	return partition(ctx, s, heldIndexPK, s.liveHeld)
}

// liveHeld decodes a held item and leaves out one past its ttl that
// DynamoDB has not deleted yet.
func (s *Store) liveHeld(item map[string]types.AttributeValue) (Held, bool, error) {
	h, ttl, err := decodeHeld(item)
	return h, err != nil || !expired(ttl, s.now()), err
}

func decodeHeld(item map[string]types.AttributeValue) (Held, int64, error) {
	r := &itemReader{item: item, what: "held item " + sortKeyOf(item)}
	h := Held{
		EmployeeID:   r.str("employeeId", true),
		EventID:      r.str("eventId", true),
		Type:         r.str("type", true),
		DueAt:        r.time("dueAt", true),
		OccurredAt:   r.time("occurredAt", true),
		HeldAt:       r.time("heldAt", false),
		Queue:        r.str("queue", false),
		ScheduleName: r.str("scheduleName", false),
		After:        r.str("after", false),
		Body:         r.str("body", false),
	}
	ttl := r.int(AttrTTL, false)
	return h, ttl, r.err
}

// compareHeld orders held events by due time, then by when they occurred,
// which is the order they apply in.
func compareHeld(a, b Held) int {
	if c := a.DueAt.Compare(b.DueAt); c != 0 {
		return c
	}
	return a.OccurredAt.Compare(b.OccurredAt)
}
