package state_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func heldEvent(emp, id string, due, occurred time.Time) state.Held {
	return state.Held{EmployeeID: emp, EventID: id, Type: "hire", DueAt: due, OccurredAt: occurred, Queue: "provision",
		ScheduleName: "held-" + id, Body: `{"eventId":"` + id + `"}`}
}

// A held event is two items (the employee's, the index entry); the
// employee's are read with one Query, soonest first, and removed with two
// deletes.
func TestHeldEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	d1, d2 := now.Add(10*24*time.Hour), now.Add(40*24*time.Hour)
	late := heldEvent("E1", "ev-late", d2, now.Add(-time.Hour))
	late.Type, late.After = "update", "ev-soon"
	soon := heldEvent("E1", "ev-soon", d1, now.Add(-2*time.Hour))
	sameDueLater := heldEvent("E1", "ev-same", d2, now.Add(-time.Minute))
	other := heldEvent("E2", "ev-other", d1, now)

	before := f.store.OpsByName()
	if err := f.store.PutHeld(ctx, late); err != nil {
		t.Fatal(err)
	}
	if got := diff(before, f.store.OpsByName()); !maps.Equal(got, map[string]int64{"PutItem": 2}) {
		t.Fatalf("PutHeld made %v, want 2 PutItems", got)
	}
	for _, h := range []state.Held{soon, sameDueLater, other} {
		if err := f.store.PutHeld(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	before = f.store.OpsByName()
	got, err := f.store.HeldFor(ctx, "E1")
	if err != nil {
		t.Fatal(err)
	}
	if ops := diff(before, f.store.OpsByName()); !maps.Equal(ops, map[string]int64{"Query": 1}) {
		t.Fatalf("HeldFor made %v, want one Query", ops)
	}
	ids := func(hs []state.Held) string {
		var s []string
		for _, h := range hs {
			s = append(s, h.EventID)
		}
		return strings.Join(s, ",")
	}
	// Due time first, then occurredAt: the order they apply in.
	if ids(got) != "ev-soon,ev-late,ev-same" {
		t.Fatalf("held = %s", ids(got))
	}
	g := got[1]
	if g.Type != "update" || g.After != "ev-soon" || !g.DueAt.Equal(d2) || !g.OccurredAt.Equal(late.OccurredAt) ||
		g.Body != late.Body || g.ScheduleName != "held-ev-late" || g.Queue != "provision" || !g.HeldAt.Equal(now) {
		t.Fatalf("round trip: %+v", g)
	}

	// The index holds everyone's, soonest first, without bodies.
	var all []state.Held
	for h, err := range f.store.AllHeld(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, h)
	}
	if ids(all) != "ev-other,ev-soon,ev-late,ev-same" && ids(all) != "ev-soon,ev-other,ev-late,ev-same" {
		t.Fatalf("index = %s", ids(all))
	}
	for _, h := range all {
		if h.Body != "" || h.ScheduleName == "" || h.EmployeeID == "" {
			t.Fatalf("index entry %+v", h)
		}
	}

	before = f.store.OpsByName()
	if err := f.store.DeleteHeld(ctx, soon.Key()); err != nil {
		t.Fatal(err)
	}
	if ops := diff(before, f.store.OpsByName()); !maps.Equal(ops, map[string]int64{"DeleteItem": 2}) {
		t.Fatalf("DeleteHeld made %v", ops)
	}
	// Deleting what is gone is fine.
	if err := f.store.DeleteHeld(ctx, soon.Key()); err != nil {
		t.Fatal(err)
	}
	got, _ = f.store.HeldFor(ctx, "E1")
	all = nil
	for h, err := range f.store.AllHeld(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, h)
	}
	if ids(got) != "ev-late,ev-same" || strings.Contains(ids(all), "ev-soon") {
		t.Fatalf("after delete: %s / %s", ids(got), ids(all))
	}
	if got, _ := f.store.HeldFor(ctx, "E3"); len(got) != 0 {
		t.Fatalf("nobody's: %v", got)
	}
}

func diff(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Items kept long past their due time (HeldRetention) count as gone even
// before DynamoDB deletes them.
func TestHeldExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	h := heldEvent("E1", "ev-1", f.clock.Now().Add(time.Hour), f.clock.Now())
	if err := f.store.PutHeld(ctx, h); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour + state.HeldRetention - time.Minute)
	if got, _ := f.store.HeldFor(ctx, "E1"); len(got) != 1 {
		t.Fatalf("within retention: %d", len(got))
	}
	f.clock.Advance(2 * time.Minute)
	if got, _ := f.store.HeldFor(ctx, "E1"); len(got) != 0 {
		t.Fatalf("past retention: %d", len(got))
	}
	for h, err := range f.store.AllHeld(ctx) {
		t.Fatalf("past retention, the index yields %+v %v", h, err)
	}
}

// The index is read page by page.
func TestAllHeldPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithQueryLimit(3))
	for i := range 10 {
		h := heldEvent(fmt.Sprintf("E%d", i), fmt.Sprintf("ev-%02d", i), f.clock.Now().Add(time.Duration(10-i)*time.Hour), f.clock.Now())
		if err := f.store.PutHeld(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	before := f.store.Ops()
	var ids []string
	for h, err := range f.store.AllHeld(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.EventID)
	}
	if len(ids) != 10 || ids[0] != "ev-09" || ids[9] != "ev-00" {
		t.Fatalf("ids %v", ids)
	}
	if q := f.store.Ops() - before; q != 4 {
		t.Fatalf("%d queries for 10 entries in pages of 3", q)
	}
}

// Bad input is refused before anything is written; a malformed item (an
// edit by hand) is an ErrMalformedItem naming the attribute.
func TestHeldBadInputAndMalformedItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	for name, h := range map[string]state.Held{
		"no employee": {EventID: "e", DueAt: now, OccurredAt: now},
		"no event":    {EmployeeID: "E1", DueAt: now, OccurredAt: now},
		"no due":      {EmployeeID: "E1", EventID: "e", OccurredAt: now},
		"no occurred": {EmployeeID: "E1", EventID: "e", DueAt: now},
	} {
		if err := f.store.PutHeld(ctx, h); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
	if f.store.Ops() != 0 {
		t.Fatalf("%d requests for refused input", f.store.Ops())
	}
	if _, err := f.store.HeldFor(ctx, ""); err == nil {
		t.Error("empty employee id accepted")
	}
	if err := f.store.DeleteHeld(ctx, state.HeldKey{}); err == nil {
		t.Error("empty key accepted")
	}
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("HELD#EMP#E9"), "sk": s("EVENT#x"), "employeeId": s("E9"), "eventId": s("x"),
		"type": s("hire"), "dueAt": s("next tuesday"), "occurredAt": s("2026-11-20T15:00:00Z")})
	_, err := f.store.HeldFor(ctx, "E9")
	if !errors.Is(err, state.ErrMalformedItem) || !strings.Contains(err.Error(), `"dueAt"`) {
		t.Fatalf("malformed: %v", err)
	}
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("HELD#ALL"), "sk": s("x"), "eventId": s("x")})
	for _, err := range f.store.AllHeld(ctx) {
		if !errors.Is(err, state.ErrMalformedItem) {
			t.Fatalf("malformed index entry: %v", err)
		}
	}
}

// The link keeps its ordering key (due time, occurredAt) and the last
// hire, rehire or terminate; links written before effective dates read
// with their occurredAt as the due time.
func TestEmployeeOrderingKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	occ := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	due := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	e := state.Employee{EmployeeID: "E1", Status: state.StatusActive, LastOccurredAt: occ, LastDueAt: due, LastEventID: "ev",
		LifecycleOccurredAt: occ, LifecycleDueAt: due}
	if err := f.store.PutEmployee(ctx, e, 0); err != nil {
		t.Fatal(err)
	}
	got, _, err := f.store.GetEmployee(ctx, "E1")
	if err != nil {
		t.Fatal(err)
	}
	if d, o := got.OrderingKey(); !d.Equal(due) || !o.Equal(occ) || !got.LifecycleOccurredAt.Equal(occ) || !got.LifecycleDueAt.Equal(due) {
		t.Fatalf("key (%v, %v), lifecycle (%v, %v)", d, o, got.LifecycleOccurredAt, got.LifecycleDueAt)
	}
	// An item of the version before effective dates.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("EMP#E2"), "sk": s("PROFILE"), "employeeId": s("E2"), "status": s("active"),
		"version": n("3"), "lastOccurredAt": s("2026-11-20T09:00:00Z")})
	old, found, err := f.store.GetEmployee(ctx, "E2")
	if err != nil || !found {
		t.Fatal(err)
	}
	if d, o := old.OrderingKey(); !d.Equal(occ) || !o.Equal(occ) || !old.LifecycleOccurredAt.IsZero() {
		t.Fatalf("old item: key (%v, %v) %+v", d, o, old)
	}
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("EMP#E3"), "sk": s("PROFILE"), "employeeId": s("E3"), "status": s("active"),
		"version": n("3"), "lastOccurredAt": s("2026-11-20T09:00:00Z"), "lastDueAt": n("7")})
	if _, _, err := f.store.GetEmployee(ctx, "E3"); !errors.Is(err, state.ErrMalformedItem) || !strings.Contains(err.Error(), "lastDueAt") {
		t.Fatalf("malformed lastDueAt: %v", err)
	}
}
