package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// subscriptionAPI is the part of the Encompass client webhookctl uses;
// (*encompass.Client).Webhooks implements it.
type subscriptionAPI interface {
	ListSubscriptions(ctx context.Context) ([]encompass.Subscription, error)
	CreateSubscription(ctx context.Context, sub encompass.Subscription) (string, error)
	DeleteSubscription(ctx context.Context, id string) error
	GetSubscription(ctx context.Context, id string) (*encompass.Subscription, error)
	UpdateSubscription(ctx context.Context, id string, sub encompass.Subscription) error
}

// Defaults of register: loan events, the main case of the receiver.
const (
	defaultResource = "Loan"
	defaultEvents   = "create,update,delete"
)

// maxSubscriptions is Encompass's limit per lender and application.
const maxSubscriptions = 25

const usage = `webhookctl manages the Encompass webhook subscription of the receiver.

usage:
  webhookctl register -url https://<api>/webhooks/encompass [-resource Loan] [-events create,update,delete]
                      (-key-file PATH | -print-key) [-allow-duplicate]
  webhookctl list [-json]
  webhookctl delete -id SUBSCRIPTION_ID
  webhookctl rotate -id SUBSCRIPTION_ID (-key-file PATH | -print-key)
                      first: a new key, nothing sent to Encompass
  webhookctl rotate -id SUBSCRIPTION_ID -key-file PATH -apply [-probe=false]
                      once the secret holds old and new key: PUT the key of PATH

Credentials come from the same environment variables as the functions
(ENCOMPASS_API_URL, ENCOMPASS_INSTANCE_ID, ENCOMPASS_SECRET_ARN or
ENCOMPASS_CLIENT_ID/ENCOMPASS_CLIENT_SECRET/ENCOMPASS_USERNAME/ENCOMPASS_PASSWORD).
`

// errUsage marks mistakes in the command line (exit status 2).
var errUsage = errors.New("usage")

// run executes one command. The generated signing key goes to stdout only
// with -print-key, or to -key-file; never to stderr, where logs go.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, connect func(context.Context) (subscriptionAPI, error)) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "register":
		err = register(ctx, rest, stdout, stderr, connect)
	case "list":
		err = list(ctx, rest, stdout, stderr, connect)
	case "delete":
		err = deleteSub(ctx, rest, stdout, stderr, connect)
	case "rotate":
		err = rotate(ctx, rest, stdout, stderr, connect)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "webhookctl: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "webhookctl %s: %v\n", cmd, err)
		return 1
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func register(ctx context.Context, args []string, stdout, stderr io.Writer, connect func(context.Context) (subscriptionAPI, error)) error {
	fs := newFlags("register", stderr)
	endpoint := fs.String("url", "", "the deployed receiver, https://<api>/webhooks/encompass")
	resource := fs.String("resource", defaultResource, "Encompass webhook resource (Loan, InternalUsers, ...)")
	eventList := fs.String("events", defaultEvents, "comma-separated event types")
	keyFile := fs.String("key-file", "", "write the generated signing key to this new file (mode 0600)")
	printKey := fs.Bool("print-key", false, "print the generated signing key once to stdout")
	allowDup := fs.Bool("allow-duplicate", false, "register even if the endpoint already has a subscription for the resource")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkEndpoint(*endpoint); err != nil {
		return err
	}
	events, err := splitEvents(*eventList)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*resource) == "" {
		return fmt.Errorf("%w: -resource is empty", errUsage)
	}
	// Without one of the two the key would be lost and every delivery answered 401.
	if *keyFile == "" && !*printKey {
		return fmt.Errorf("%w: say where the signing key goes: -key-file PATH or -print-key", errUsage)
	}
	sub := encompass.Subscription{Endpoint: *endpoint, Resource: *resource, Events: events}

	// Create the key file before any API call, so that a file that cannot be
	// written never leaves a subscription behind whose key nobody has; remove
	// it again unless the subscription was created.
	var keyOut io.Writer
	if *keyFile != "" {
		f, err := os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("key file: %w", err)
		}
		defer f.Close()
		keyOut = f
	}
	id, entry, err := createSubscription(ctx, connect, sub, *allowDup, keyOut)
	if err != nil {
		if *keyFile != "" && id == "" {
			_ = os.Remove(*keyFile)
		}
		return err
	}
	fmt.Fprintf(stdout, "subscription %s: %s %s -> %s\n", id, sub.Resource, strings.Join(sub.Events, ","), sub.Endpoint)
	if *printKey {
		fmt.Fprintf(stdout, "signing key entry (shown once): %s\n", entry)
	}
	if *keyFile != "" {
		fmt.Fprintf(stdout, "signing key entry written to %s\n", *keyFile)
	}
	fmt.Fprintf(stdout, "next: merge the entry {%q: <key>} into the JSON of the WEBHOOK_SECRET_ARN secret "+
		"(during a rotation keep the old key too: {%q: [<old>, <new>]}) now: until the receiver has the key, deliveries are answered 401, "+
		"which Encompass treats as final, so those events are not retried\n", id, id)
	return nil
}

// createSubscription refuses a second subscription for the same endpoint and
// resource (every event would arrive twice), generates the key, creates the
// subscription and writes the {"<id>": "<key>"} entry to keyOut. It returns the
// id whenever the subscription exists, even with an error.
func createSubscription(ctx context.Context, connect func(context.Context) (subscriptionAPI, error), sub encompass.Subscription, allowDup bool, keyOut io.Writer) (id string, entry []byte, err error) {
	api, err := connect(ctx)
	if err != nil {
		return "", nil, err
	}
	existing, err := api.ListSubscriptions(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, s := range existing {
		if !allowDup && strings.EqualFold(s.Resource, sub.Resource) && sameEndpoint(s.Endpoint, sub.Endpoint) {
			return "", nil, fmt.Errorf("subscription %s already sends %s events to %s (delete it first, or -allow-duplicate)", s.ID, s.Resource, s.Endpoint)
		}
	}
	if len(existing) >= maxSubscriptions {
		return "", nil, fmt.Errorf("the application already has %d subscriptions, Encompass's limit; delete one first", len(existing))
	}
	if sub.SigningKey, err = encompass.GenerateSigningKey(); err != nil {
		return "", nil, err
	}
	if id, err = api.CreateSubscription(ctx, sub); err != nil {
		return "", nil, err
	}
	entry = secretEntry(id, sub.SigningKey)
	if keyOut != nil {
		if _, err := keyOut.Write(append(entry, '\n')); err != nil {
			return id, nil, fmt.Errorf("subscription %s was created but its key could not be written (%v): delete it and register again", id, err)
		}
	}
	return id, entry, nil
}

func list(ctx context.Context, args []string, stdout, stderr io.Writer, connect func(context.Context) (subscriptionAPI, error)) error {
	fs := newFlags("list", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	api, err := connect(ctx)
	if err != nil {
		return err
	}
	subs, err := api.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID       string   `json:"subscriptionId"`
		Resource string   `json:"resource"`
		Events   []string `json:"events"`
		Endpoint string   `json:"endpoint"`
	}
	// Copy field by field: never print a signing key an API might return.
	rows := make([]row, 0, len(subs))
	for _, s := range subs {
		rows = append(rows, row{ID: s.ID, Resource: s.Resource, Events: s.Events, Endpoint: s.Endpoint})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRESOURCE\tEVENTS\tENDPOINT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Resource, strings.Join(r.Events, ","), r.Endpoint)
	}
	return tw.Flush()
}

func deleteSub(ctx context.Context, args []string, stdout, stderr io.Writer, connect func(context.Context) (subscriptionAPI, error)) error {
	fs := newFlags("delete", stderr)
	id := fs.String("id", "", "subscription id (see list)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*id) == "" {
		return fmt.Errorf("%w: -id is required", errUsage)
	}
	api, err := connect(ctx)
	if err != nil {
		return err
	}
	if err := api.DeleteSubscription(ctx, *id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "subscription %s deleted; remove its entry from the WEBHOOK_SECRET_ARN secret\n", *id)
	return nil
}

// checkEndpoint accepts https URLs, and http only for loopback hosts (local runs
// against the simulator). Encompass delivers to https endpoints only.
func checkEndpoint(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: -url is required", errUsage)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: -url %q is not an absolute URL", errUsage, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: -url must not carry credentials", errUsage)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return fmt.Errorf("%w: -url must be https (http only for localhost)", errUsage)
		}
	default:
		return fmt.Errorf("%w: -url must be https", errUsage)
	}
	// Exactly the receiver's route: a trailing slash, query or fragment would be
	// answered 404, which Encompass takes as final and drops the event.
	if !strings.HasSuffix(u.Path, "/webhooks/encompass") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: -url must end in /webhooks/encompass exactly, the receiver's route", errUsage)
	}
	return nil
}

func splitEvents(s string) ([]string, error) {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -events is empty", errUsage)
	}
	return out, nil
}

// secretEntry is the {"<id>": "<key>"} entry for the WEBHOOK_SECRET_ARN secret,
// without HTML escaping so that a key with '&' reads as it is.
func secretEntry(id, key string) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{id: key}) // a map of strings always encodes
	return []byte(strings.TrimSpace(b.String()))
}

func sameEndpoint(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
