// Command encompass-sim runs the Encompass simulator as a standalone HTTP
// server, so that local runs, the demo and `sam local invoke` can point
// ENCOMPASS_API_URL at it. The credentials it prints are simulator
// credentials, not secrets. Control API: /_sim/ (see docs/simulator.md).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, stop); err != nil {
		fmt.Fprintln(os.Stderr, "encompass-sim:", err)
		os.Exit(1)
	}
}

// run parses the flags, starts the simulator, prints how to reach it and
// serves until stop receives.
func run(args []string, out io.Writer, stop <-chan os.Signal) error {
	fs := flag.NewFlagSet("encompass-sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	seed := fs.String("seed", "", "seed JSON file (personas, organizations, userGroups, users); built-in seed when empty")
	users := fs.Int("users", 0, "generate this many extra users (simuser000001 ...)")
	latency := fs.Duration("latency", 0, "added latency per API response")
	tokenTTL := fs.Duration("token-ttl", 30*time.Minute, "token inactivity timeout")
	concurrency := fs.Int("concurrency-limit", 30, "requests in flight before 429")
	style := fs.String("status-style", "both", "account state in v3 users: enabled, indicators or both")
	wrapper := fs.String("list-wrapper", "array", "v3 user list shape: array or items")
	ignoreLogin := fs.Bool("ignore-login-filter", false, "ignore the loginId filter of the v3 user list, like some tenants")
	expiresIn := fs.Bool("expires-in", false, "include expires_in in token responses")
	nonAdmin := fs.Bool("non-admin", false, "issue non-admin tokens (writes get 403)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := []encompasstest.Option{
		encompasstest.WithLatency(*latency),
		encompasstest.WithTokenTTL(*tokenTTL),
		encompasstest.WithConcurrencyLimit(*concurrency),
		encompasstest.WithUsers(*users),
	}
	switch *style {
	case "both":
		opts = append(opts, encompasstest.WithStatusStyle(encompasstest.StatusBoth))
	case "enabled":
		opts = append(opts, encompasstest.WithStatusStyle(encompasstest.StatusEnabled))
	case "indicators":
		opts = append(opts, encompasstest.WithStatusStyle(encompasstest.StatusIndicators))
	default:
		return fmt.Errorf("-status-style must be enabled, indicators or both, not %q", *style)
	}
	switch *wrapper {
	case "array":
	case "items":
		opts = append(opts, encompasstest.WithListWrapper(encompasstest.ListItemsObject))
	default:
		return fmt.Errorf("-list-wrapper must be array or items, not %q", *wrapper)
	}
	if *ignoreLogin {
		opts = append(opts, encompasstest.WithIgnoredLoginFilter())
	}
	if *expiresIn {
		opts = append(opts, encompasstest.WithExpiresIn())
	}
	if *nonAdmin {
		opts = append(opts, encompasstest.WithNonAdmin())
	}
	if *seed != "" {
		if _, err := encompasstest.LoadSeedFile(*seed); err != nil {
			return err
		}
		opts = append(opts, encompasstest.WithSeedFile(*seed))
	}
	srv := encompasstest.New(opts...)
	if err := srv.Start(*addr); err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, `Encompass simulator listening on %s (%d users)
  ENCOMPASS_API_URL=%s
  ENCOMPASS_INSTANCE_ID=%s
  ENCOMPASS_CLIENT_ID=%s
  ENCOMPASS_CLIENT_SECRET=%s
  ENCOMPASS_USERNAME=%s
  ENCOMPASS_PASSWORD=%s
Simulator credentials, not secrets. Control API: %s/_sim/ (local use only).
`, srv.URL, srv.UserCount(), srv.URL, srv.InstanceID, srv.ClientID, srv.ClientSecret, srv.Username, srv.Password, srv.URL)
	<-stop
	return nil
}
