package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// command is one subcommand; a new one is one more entry in commands.
type command struct {
	name    string
	usage   string // arguments, after the name
	summary string
	run     func(ctx context.Context, d *deps, args []string) error
}

var commands = []command{
	{"employee", "[-table T] [-writes N] [-json] EMPLOYEE_ID",
		"the employee's link to Encompass, status, last applied event, terminated index, held events and last writes", runEmployee},
	{"pending", "[-table T] [-json] [-overdue D]",
		"every held event, soonest first: who joins or leaves when, each event's schedule, and those whose due time passed without them being applied", runPending},
	{"rejected", "[-table T] [-message MESSAGE_ID] [-o FILE] EVENT_ID",
		"the original body of a rejected HRIS event, verbatim, as kept in the state table (30 days)", runRejected},
	{"redrive", "(-queue provision|deprovision|ARN|URL | -dlq ARN|URL) [-apply [-max-per-second N] | -status]",
		"count a dead-letter queue's messages; with -apply move them back through SQS's StartMessageMoveTask", runRedrive},
}

func usage() string {
	var b strings.Builder
	b.WriteString("lifecyclectl answers operators' questions about the Encompass user lifecycle.\n\nusage:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  lifecyclectl %s %s\n\t  %s\n", c.name, c.usage, c.summary)
	}
	tw.Flush()
	b.WriteString(`
It reads the deployed resources with the AWS SDK's default credential chain
and region (AWS_PROFILE, AWS_REGION, ...): the state table from -table or
STATE_TABLE (the stack's StateTableName output), the queues from -queue/-dlq
(provision and deprovision name PROVISION_QUEUE_ARN and DEPROVISION_QUEUE_ARN).
AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS point it at local servers,
e.g. the local product of ` + "`make demo KEEP=true`" + `. It never prints a secret.
docs/operations.md is the runbook.
`)
	return b.String()
}

// errUsage marks mistakes in the command line (exit status 2).
var errUsage = errors.New("usage")

// errNotFound marks an answer of "there is nothing" (exit status 1, but no
// usage text): an unknown employee, an event with no stored body.
var errNotFound = errors.New("not found")

// deps is what the commands reach the world through; tests give dynalite
// and an SQS fake.
type deps struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// store opens the state table (the name from -table or STATE_TABLE).
	store func(ctx context.Context, table string) (*state.Store, error)
	// sqs returns the SQS client.
	sqs func(ctx context.Context) (sqsAPI, error)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, d *deps) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(d.stderr, usage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name, rest := args[0], args[1:]
	err := fmt.Errorf("%w: unknown command %q", errUsage, name)
	for _, c := range commands {
		if c.name == name {
			err = c.run(ctx, d, rest)
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(d.stderr, "lifecyclectl: %v\n\n%s", err, usage())
		return 2
	default:
		fmt.Fprintf(d.stderr, "lifecyclectl %s: %v\n", name, err)
		return 1
	}
}

func newFlags(name string, d *deps) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(d.stderr)
	return fs
}

// parse parses flags and returns the positional arguments, which must be
// exactly want (flags may come after them too).
func parse(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		if want == 0 {
			return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
		}
		return nil, fmt.Errorf("%w: %s: want %s", errUsage, fs.Name(), what)
	}
	return pos, nil
}

// tableFlag declares -table, the state table of the commands that read it.
func tableFlag(fs *flag.FlagSet) *string {
	return fs.String("table", "", "state table (default $STATE_TABLE)")
}

// openStore opens the state table named by -table (flagValue), else by
// STATE_TABLE, and returns it with its name.
func openStore(ctx context.Context, d *deps, flagValue string) (*state.Store, string, error) {
	table := flagValue
	if table == "" {
		table = d.getenv("STATE_TABLE")
	}
	if table == "" {
		return nil, "", fmt.Errorf("%w: no state table: set STATE_TABLE or -table (the stack's StateTableName output)", errUsage)
	}
	store, err := d.store(ctx, table)
	if err != nil {
		return nil, "", err
	}
	return store, table, nil
}

// printJSON writes v to w as indented JSON (the commands' -json).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkID refuses an identifier that cannot name an item: empty, longer
// than a key allows, or holding control or invisible characters (a
// terminal escape in an id must not reach the operator's terminal).
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", errUsage, what)
	case len(id) > 512:
		return fmt.Errorf("%w: %s of %d bytes; ids are at most 512", errUsage, what, len(id))
	}
	for _, r := range id {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%w: %s %q holds a control or invisible character", errUsage, what, id)
		}
	}
	return nil
}
