package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// `pending` lists every held event, soonest first: who joins or leaves
// when, the schedule of each, what an update waits for, and which are
// overdue (still held after their due time: their delivery failed).
func TestPending(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if code, out, stderr := h.run("pending"); code != 0 || !strings.Contains(out, "no held events in table "+h.table) {
		t.Fatalf("empty: exit %d\n%s%s", code, out, stderr)
	}
	now := h.now.Truncate(time.Second)
	for _, e := range []state.Held{
		{EmployeeID: "E1007", EventID: "hris-0106", Type: "terminate", DueAt: now.Add(30 * 24 * time.Hour), OccurredAt: now, Queue: "deprovision", ScheduleName: "held-hris-0106-aaaa"},
		{EmployeeID: "E1005", EventID: "hris-0101", Type: "hire", DueAt: now.Add(14 * 24 * time.Hour), OccurredAt: now, Queue: "provision", ScheduleName: "held-hris-0101-bbbb"},
		{EmployeeID: "E1005", EventID: "hris-0120", Type: "update", DueAt: now.Add(14 * 24 * time.Hour), OccurredAt: now.Add(time.Hour), Queue: "provision", ScheduleName: "held-hris-0120-cccc", After: "hris-0101"},
		{EmployeeID: "E1011", EventID: "hris-0099", Type: "hire", DueAt: now.Add(-time.Hour), OccurredAt: now.Add(-48 * time.Hour), Queue: "provision", ScheduleName: "held-hris-0099-dddd"},
	} {
		e.Body = `{"eventId":"` + e.EventID + `"}`
		if err := h.store.PutHeld(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := h.run("pending")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	order := []string{"hris-0099", "hris-0101", "hris-0120", "hris-0106"}
	last := -1
	for _, id := range order {
		i := strings.Index(out, id)
		if i < 0 || i < last {
			t.Fatalf("%s missing or out of order:\n%s", id, out)
		}
		last = i
	}
	for _, want := range []string{"4 held event(s) in table " + h.table, "OVERDUE", "waits for hris-0101", "held-hris-0106-aaaa",
		"1 held event(s) are overdue", "Cancelling a held event", now.Add(14*24*time.Hour).UTC().Format(time.RFC3339) + "  E1005"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `{"eventId"`) {
		t.Error("a held event's body was printed")
	}

	// -json, and -overdue moving the margin.
	code, out, _ = h.run("pending", "-json", "-overdue", "2h")
	var rep pendingReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if len(rep.Held) != 4 || rep.Overdue != 0 || rep.Held[0].EventID != "hris-0099" || rep.Held[0].Queue != "provision" || rep.Held[2].HeldBehind != "hris-0101" {
		t.Errorf("json %+v", rep)
	}

	// The employee's own view has the same.
	if code, out, _ := h.run("employee", "E1005"); code != 0 || !strings.Contains(out, "held events  2") || !strings.Contains(out, "waits for hris-0101") {
		t.Errorf("employee E1005: exit %d\n%s", code, out)
	}
}

func TestPendingBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pending", "E1"}, 2, "unexpected argument"},
		{[]string{"pending", "-overdue", "soon"}, 2, "invalid value"},
		{[]string{"pending", "-overdue", "-1h"}, 2, "want 0 to 720h"},
		{[]string{"pending", "-overdue", "9000h"}, 2, "want 0 to 720h"},
	} {
		if code, _, stderr := h.run(tc.args...); code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	delete(h.env, "STATE_TABLE")
	if code, _, stderr := h.run("pending"); code != 2 || !strings.Contains(stderr, "no state table") {
		t.Errorf("no table: exit %d %q", code, stderr)
	}
	h.env["STATE_TABLE"] = h.table
	// A malformed index entry (an edit by hand) is an error naming it.
	h.rawPut(map[string]ddbtypes.AttributeValue{"pk": sv("HELD#ALL"), "sk": sv("x"), "eventId": sv("x"), "employeeId": sv("E1"), "type": sv("hire"),
		"dueAt": sv("tomorrow"), "occurredAt": sv("2026-11-20T00:00:00Z")})
	if code, _, stderr := h.run("pending"); code != 1 || !strings.Contains(stderr, "malformed") || !strings.Contains(stderr, "dueAt") {
		t.Errorf("malformed: exit %d %q", code, stderr)
	}
}
