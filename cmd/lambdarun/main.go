// Command lambdarun invokes one of the product's real Lambda bootstraps on
// this machine without Docker: the twin of `sam local invoke`.
//
//	lambdarun -fn provision -event events/provision-hire.json
//
// By default the function runs against the local product (the Encompass
// simulator, dynalite with the state table, an EventBridge fake), and the
// events it publishes are printed after its logs. With -env-vars it gets only
// the variables of that file (`sam local invoke --env-vars` format), for
// example to point it at `make sim` or at real AWS.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.fn, "fn", "", "function to run: provision, deprovision, poller or webhook")
	flag.StringVar(&o.event, "event", "", "event JSON file (- for stdin)")
	flag.StringVar(&o.envVars, "env-vars", "", "SAM-style env vars JSON file; the function then gets only these variables")
	flag.StringVar(&o.bootstrap, "bootstrap", "", "bootstrap to run instead of building -fn for this machine")
	flag.StringVar(&o.binDir, "bin", "dist/local", "where host builds of the bootstraps go")
	flag.DurationVar(&o.timeout, "timeout", 0, "function timeout (default: the stack's)")
	flag.IntVar(&o.memory, "memory", 256, "memory size reported to the function, MB")
	flag.IntVar(&o.times, "n", 1, "invoke this many times in the same warm container")
	flag.Parse()
	if o.fn == "" && o.bootstrap == "" || o.event == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: lambdarun -fn provision -event events/provision-hire.json [-env-vars env.json] [-n 2]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	failed, err := run(ctx, o, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdarun:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))
	if failed {
		os.Exit(1)
	}
}
