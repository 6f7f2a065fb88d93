package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// runRejected prints the stored original body of a rejected HRIS event,
// verbatim: to stdout, or to -o. What it says about the body goes to
// stderr, so that stdout is the body and nothing else.
func runRejected(ctx context.Context, d *deps, args []string) error {
	fs := newFlags("rejected", d)
	tableName := tableFlag(fs)
	message := fs.String("message", "", "the SQS message id, when several messages carried the event id")
	out := fs.String("o", "", "write the body to this new file instead of stdout (several bodies: FILE.1, FILE.2, ...)")
	pos, err := parse(fs, args, 1, "EVENT_ID")
	if err != nil {
		return err
	}
	id := pos[0]
	if err := checkID("event id", id); err != nil {
		return err
	}
	if *message != "" {
		if err := checkID("message id", *message); err != nil {
			return err
		}
	}
	store, table, err := openStore(ctx, d, *tableName)
	if err != nil {
		return err
	}
	bodies, err := store.RejectedBodies(ctx, id)
	if err != nil {
		return err
	}
	if *message != "" {
		var mine []state.RejectedBody
		for _, b := range bodies {
			if b.MessageID == *message {
				mine = append(mine, b)
			}
		}
		bodies = mine
	}
	if len(bodies) == 0 {
		return fmt.Errorf("%w: no stored body for event %s in table %s: a rejection of up to 32 KiB carries the whole body in the "+
			"HRIS Event Rejected event (detail.message) and is not stored; stored bodies are kept 30 days", errNotFound, id, table)
	}
	if *out == "" && len(bodies) > 1 {
		for _, b := range bodies {
			fmt.Fprintf(d.stderr, "  message %s: %s\n", dash(b.MessageID), describeBody(b))
		}
		return fmt.Errorf("%w: %d bodies are stored for event %s; choose one with -message, or write them all with -o", errUsage, len(bodies), id)
	}
	var bad []string
	for i, b := range bodies {
		if b.Err != nil {
			bad = append(bad, b.Err.Error())
			fmt.Fprintf(d.stderr, "body %d of %d (%s): cannot be read whole: %v\n", i+1, len(bodies), b.Ref.SK, b.Err)
			continue
		}
		fmt.Fprintf(d.stderr, "body %d of %d: event %s, message %s, %s\n", i+1, len(bodies), b.EventID, dash(b.MessageID), describeBody(b))
		if *out == "" {
			if _, err := d.stdout.Write(b.Body); err != nil {
				return err
			}
			continue
		}
		path := *out
		if len(bodies) > 1 {
			path = fmt.Sprintf("%s.%d", *out, i+1)
		}
		// A new file only: an operator's earlier copy is never overwritten.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, werr := f.Write(b.Body)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
		fmt.Fprintf(d.stderr, "  written to %s\n", path)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d stored bodies cannot be read whole: %s", len(bad), strings.Join(bad, "; "))
	}
	return nil
}

func describeBody(b state.RejectedBody) string {
	if b.Err != nil {
		return "unreadable: " + b.Err.Error()
	}
	s := fmt.Sprintf("%d bytes", b.Bytes)
	if b.Parts > 0 {
		s += fmt.Sprintf(" in %d parts", b.Parts)
	}
	if b.SHA256 != "" {
		s += ", sha256 " + b.SHA256
	}
	if !b.StoredAt.IsZero() {
		s += ", stored " + b.StoredAt.UTC().Format(time.RFC3339)
	}
	if !b.Expires.IsZero() {
		s += ", kept until " + b.Expires.UTC().Format(time.RFC3339)
	}
	return s + fmt.Sprintf(" (%s / %s)", b.Ref.PK, b.Ref.SK)
}
