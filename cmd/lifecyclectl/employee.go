package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// heldEvent is an HRIS event held until its due time (CONTRACTS section 2a).
type heldEvent struct {
	EventID    string    `json:"eventId"`
	Type       string    `json:"type"`
	DueAt      time.Time `json:"dueAt"`
	OccurredAt time.Time `json:"occurredAt"`
	Schedule   string    `json:"scheduleName,omitempty"`
	// HeldBehind is the held hire an update waits for (not yet joined).
	HeldBehind string `json:"heldBehind,omitempty"`
}

// storeHeld reads the employee's held events from the state table, soonest
// first (one Query of HELD#EMP#<employeeId>).
func storeHeld(ctx context.Context, store *state.Store, employeeID string) ([]heldEvent, error) {
	hs, err := store.HeldFor(ctx, employeeID)
	if err != nil {
		return nil, err
	}
	out := make([]heldEvent, len(hs))
	for i, h := range hs {
		out[i] = heldView(h)
	}
	return out, nil
}

func heldView(h state.Held) heldEvent {
	return heldEvent{EventID: h.EventID, Type: h.Type, DueAt: h.DueAt, OccurredAt: h.OccurredAt, Schedule: h.ScheduleName, HeldBehind: h.After}
}

// linkView is the employee link (pk EMP#<employeeId>).
type linkView struct {
	UserID         string    `json:"userId,omitempty"`
	GlobalUserID   string    `json:"globalUserId,omitempty"`
	UserName       string    `json:"userName,omitempty"`
	Status         string    `json:"status"`
	LastEventID    string    `json:"lastEventId,omitempty"`
	LastOccurredAt time.Time `json:"lastOccurredAt"`
	UpdatedAt      time.Time `json:"updatedAt,omitzero"`
	Version        int64     `json:"version"`
}

// lastEventView is the idempotency record of the last applied event.
type lastEventView struct {
	State   string `json:"state,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Done    bool   `json:"done"`
}

// terminatedView is the employee's entry of the terminated index.
type terminatedView struct {
	UserID       string    `json:"userId,omitempty"`
	LoginID      string    `json:"loginId,omitempty"`
	TerminatedAt time.Time `json:"terminatedAt,omitzero"`
}

// writeView is one entry of the write log.
type writeView struct {
	At      time.Time         `json:"at"`
	EventID string            `json:"eventId,omitempty"`
	UserID  string            `json:"userId,omitempty"`
	Fields  map[string]string `json:"fields"`
}

// employeeReport is what `employee` prints (-json gives it as is).
type employeeReport struct {
	EmployeeID string    `json:"employeeId"`
	Table      string    `json:"table"`
	Link       *linkView `json:"link"`
	// LastEvent is the idempotency record of the last applied event.
	LastEvent  *lastEventView  `json:"lastEvent,omitempty"`
	Terminated *terminatedView `json:"terminated"`
	Held       []heldEvent     `json:"held"`
	Writes     []writeView     `json:"writes"`
	// Errors are the sections that could not be read (malformed items,
	// access denied); the others are still shown.
	Errors []string `json:"errors,omitempty"`
}

func runEmployee(ctx context.Context, d *deps, args []string) error {
	fs := newFlags("employee", d)
	tableName := tableFlag(fs)
	maxWrites := fs.Int("writes", 10, "how many of the last writes to show (the write log keeps 7 days)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, "EMPLOYEE_ID")
	if err != nil {
		return err
	}
	id := pos[0]
	if err := checkID("employee id", id); err != nil {
		return err
	}
	if *maxWrites < 0 || *maxWrites > 1000 {
		return fmt.Errorf("%w: -writes %d: want 0 to 1000", errUsage, *maxWrites)
	}
	store, table, err := openStore(ctx, d, *tableName)
	if err != nil {
		return err
	}
	rep := employeeReport{EmployeeID: id, Table: table, Held: []heldEvent{}, Writes: []writeView{}}
	fail := func(section string, err error) { rep.Errors = append(rep.Errors, section+": "+err.Error()) }

	emp, found, err := store.GetEmployee(ctx, id)
	switch {
	case err != nil:
		fail("link", err)
	case found:
		rep.Link = &linkView{emp.UserID, emp.GlobalUserID, emp.UserName, string(emp.Status), emp.LastEventID, emp.LastOccurredAt, emp.UpdatedAt, emp.Version}
		if emp.LastEventID != "" {
			claim, ok, err := store.GetClaim(ctx, state.EventKey(emp.LastEventID))
			switch {
			case err != nil:
				fail("last event", err)
			case ok:
				rep.LastEvent = &lastEventView{Done: claim.Status == state.ClaimDone}
				rep.LastEvent.State, rep.LastEvent.Outcome = readOutcome(claim.Outcome)
			}
		}
	}

	if u, found, err := store.TerminatedOf(ctx, id); err != nil {
		fail("terminated index", err)
	} else if found {
		rep.Terminated = &terminatedView{UserID: u.UserID, LoginID: u.LoginID, TerminatedAt: u.TerminatedAt}
	}

	held, err := storeHeld(ctx, store, id)
	if err != nil {
		fail("held events", err)
	} else if held != nil {
		rep.Held = held
	}

	login := ""
	if rep.Link != nil {
		login = rep.Link.UserName
	}
	if login == "" && rep.Terminated != nil {
		login = rep.Terminated.LoginID
	}
	if login != "" && *maxWrites > 0 {
		ws, err := store.WritesSince(ctx, login, d.now().Add(-state.DefaultWriteTTL))
		if err != nil {
			fail("last writes", err)
		}
		slices.Reverse(ws) // newest first
		if len(ws) > *maxWrites {
			ws = ws[:*maxWrites]
		}
		for _, w := range ws {
			rep.Writes = append(rep.Writes, writeView{At: w.At, EventID: w.EventID, UserID: w.UserID, Fields: redact(w.Fields)})
		}
	}

	if *asJSON {
		if err := printJSON(d.stdout, rep); err != nil {
			return err
		}
	} else {
		printEmployee(d.stdout, rep, login)
	}
	switch {
	case len(rep.Errors) > 0:
		return fmt.Errorf("%d section(s) could not be read: %s", len(rep.Errors), strings.Join(rep.Errors, "; "))
	case rep.Link == nil && rep.Terminated == nil && len(rep.Held) == 0:
		return fmt.Errorf("%w: employee %s is not in table %s (never provisioned, or the id is mistyped)", errNotFound, id, table)
	}
	return nil
}

// readOutcome reads the outcome the provisioning handler keeps in the
// idempotency record ({"state": "published", "outcome": "User Updated"});
// anything else is shown as it is.
func readOutcome(s string) (state, outcome string) {
	var v struct {
		State   string `json:"state"`
		Outcome string `json:"outcome"`
	}
	if json.Unmarshal([]byte(s), &v) == nil && (v.State != "" || v.Outcome != "") {
		return v.State, v.Outcome
	}
	return "", s
}

// redact hides the value of any field whose name says it is a secret (the
// write log never holds one; this makes sure it is never printed).
func redact(fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		if telemetry.IsSecretKey(k) {
			v = "[REDACTED]"
		}
		out[k] = v
	}
	return out
}

func printEmployee(w io.Writer, rep employeeReport, login string) {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "employee %s (table %s)\n", rep.EmployeeID, rep.Table)
	if l := rep.Link; l != nil {
		fmt.Fprintf(w, "  status       %s (link version %d, updated %s)\n", l.Status, l.Version, ts(l.UpdatedAt))
		if l.UserName != "" || l.UserID != "" {
			fmt.Fprintf(w, "  Encompass    login %s, userId %s, globalUserId %s\n", dash(l.UserName), dash(l.UserID), dash(l.GlobalUserID))
		} else {
			fmt.Fprintf(w, "  Encompass    no account (a tombstone keeps older hires from creating one)\n")
		}
		last := dash(l.LastEventID)
		if e := rep.LastEvent; e != nil {
			last += fmt.Sprintf(" (%s)", strings.TrimSpace(e.State+" "+e.Outcome))
		}
		fmt.Fprintf(w, "  last event   %s, occurred %s\n", last, ts(l.LastOccurredAt))
	} else {
		fmt.Fprintf(w, "  link         none\n")
	}
	if t := rep.Terminated; t != nil {
		fmt.Fprintf(w, "  terminated   yes, since %s (login %s): the poller reports drift if it is enabled again\n", ts(t.TerminatedAt), dash(t.LoginID))
	} else {
		fmt.Fprintf(w, "  terminated   no (not in the terminated index)\n")
	}
	switch {
	case len(rep.Held) == 0:
		fmt.Fprintf(w, "  held events  none\n")
	default:
		fmt.Fprintf(w, "  held events  %d, soonest first (docs/provisioning.md says how to cancel one)\n", len(rep.Held))
		for _, h := range rep.Held {
			behind := ""
			if h.HeldBehind != "" {
				behind = ", waits for " + h.HeldBehind
			}
			fmt.Fprintf(w, "    due %s  %s %s (occurred %s%s) schedule %s\n", ts(h.DueAt), h.Type, h.EventID, ts(h.OccurredAt), behind, dash(h.Schedule))
		}
	}
	switch {
	case login == "":
		fmt.Fprintf(w, "  last writes  - (no Encompass login to look up)\n")
	case len(rep.Writes) == 0:
		fmt.Fprintf(w, "  last writes  none in the last 7 days (write log USER#%s)\n", strings.ToLower(login))
	default:
		fmt.Fprintf(w, "  last writes  newest first (write log USER#%s, kept 7 days)\n", strings.ToLower(login))
		for _, wr := range rep.Writes {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(wr.Fields)) {
				kv = append(kv, fmt.Sprintf("%s=%q", k, wr.Fields[k]))
			}
			fmt.Fprintf(w, "    %s  %s  %s\n", wr.At.UTC().Format(time.RFC3339Nano), dash(wr.EventID), strings.Join(kv, " "))
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "  ERROR        %s\n", e)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
