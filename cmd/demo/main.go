// Command demo plays the product's story on this machine with nothing but
// the repository: it builds the four functions, starts the Encompass
// simulator, dynalite with the state table and an EventBridge fake, runs the
// real bootstraps in the Docker-free Lambda runner and prints a timeline and
// a summary. `make demo` runs it.
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
	verbose := flag.Bool("v", false, "also print each invocation's logs")
	binDir := flag.String("bin", "dist/local", "where the host builds of the bootstraps go")
	keep := flag.Bool("keep", false, "keep the local product running after the story, for lifecyclectl (make ops)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, *binDir, *verbose, *keep)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
