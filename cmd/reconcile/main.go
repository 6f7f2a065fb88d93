// Command reconcile runs the real reconcile function (`make reconcile`)
// against the local product: the roster is put in the local roster bucket
// under rosters/dry-run/ (or rosters/apply/ with -apply), the function's
// bootstrap is invoked with S3's notification, and the summary is printed
// and the reports copied to -out. With -apply, the HRIS events it sent are
// then delivered to provision and deprovision, and their outcomes printed.
//
//	make reconcile ROSTER=events/roster-sample.csv [APPLY=true]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var o options
	flag.StringVar(&o.roster, "roster", "", "roster file: .csv or .jsonl (CONTRACTS section 7)")
	flag.BoolVar(&o.apply, "apply", false, "put it under rosters/apply/: send the HRIS events and deliver them")
	flag.StringVar(&o.seed, "seed", "", "Encompass simulator seed file (default: the built-in seed)")
	flag.StringVar(&o.binDir, "bin", "dist/local", "where host builds of the bootstraps go")
	flag.StringVar(&o.out, "out", "dist/reports", "where the reports are copied")
	flag.Parse()
	if o.roster == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: reconcile -roster path.csv [-apply] [-seed file]   (make reconcile ROSTER=path [APPLY=true])")
		flag.PrintDefaults()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}
