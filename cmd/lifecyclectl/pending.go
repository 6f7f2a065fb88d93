package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// pendingEvent is one held event of the index (pk HELD#ALL).
type pendingEvent struct {
	EmployeeID string `json:"employeeId"`
	heldEvent
	Queue string `json:"queue,omitempty"`
	// Overdue: its due time passed more than the -overdue margin ago and it
	// is still held. Its delivery failed: look in the Scheduler's
	// dead-letter queue (docs/operations.md).
	Overdue bool `json:"overdue,omitempty"`
}

// pendingReport is what `pending` prints (-json gives it as is).
type pendingReport struct {
	Table   string         `json:"table"`
	At      time.Time      `json:"at"`
	Held    []pendingEvent `json:"held"`
	Overdue int            `json:"overdue"`
}

// runPending lists every held event, soonest first, from the index of held
// events: one Query a page of the partition HELD#ALL (a few hundred bytes
// an event, so a 1 MB page holds thousands).
func runPending(ctx context.Context, d *deps, args []string) error {
	fs := newFlags("pending", d)
	tableName := tableFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	overdue := fs.Duration("overdue", 15*time.Minute, "how long after its due time a held event still held is reported overdue")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	if *overdue < 0 || *overdue > 30*24*time.Hour {
		return fmt.Errorf("%w: -overdue %s: want 0 to 720h", errUsage, *overdue)
	}
	store, table, err := openStore(ctx, d, *tableName)
	if err != nil {
		return err
	}
	now := d.now()
	rep := pendingReport{Table: table, At: now.UTC(), Held: []pendingEvent{}}
	for h, err := range store.AllHeld(ctx) {
		if err != nil {
			return fmt.Errorf("read the held events of table %s: %w", table, err)
		}
		p := pendingEvent{EmployeeID: h.EmployeeID, heldEvent: heldView(h), Queue: h.Queue, Overdue: now.Sub(h.DueAt) > *overdue}
		if p.Overdue {
			rep.Overdue++
		}
		rep.Held = append(rep.Held, p)
	}
	if *asJSON {
		return printJSON(d.stdout, rep)
	}
	printPending(d.stdout, rep)
	return nil
}

func printPending(w io.Writer, rep pendingReport) {
	if len(rep.Held) == 0 {
		fmt.Fprintf(w, "no held events in table %s\n", rep.Table)
		return
	}
	fmt.Fprintf(w, "%d held event(s) in table %s, soonest first (at %s)\n\n", len(rep.Held), rep.Table, rep.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DUE\tEMPLOYEE\tTYPE\tEVENT\tOCCURRED\tSCHEDULE\tNOTE")
	for _, p := range rep.Held {
		note := ""
		if p.HeldBehind != "" {
			note = "waits for " + p.HeldBehind
		}
		if p.Overdue {
			note = "OVERDUE: still held after its due time"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.DueAt.UTC().Format(time.RFC3339), p.EmployeeID, p.Type, p.EventID,
			p.OccurredAt.UTC().Format(time.RFC3339), dash(p.Schedule), note)
	}
	tw.Flush()
	if rep.Overdue > 0 {
		fmt.Fprintf(w, "\n%d held event(s) are overdue: their delivery failed. Look in the Scheduler's dead-letter queue (docs/operations.md, \"Held events\").\n", rep.Overdue)
	}
	fmt.Fprintf(w, "\nTo cancel one by hand, see docs/provisioning.md, \"Cancelling a held event\".\n")
}
