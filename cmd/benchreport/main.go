// Command benchreport runs the project's benchmarks and prints one markdown
// table: per function the deployed binary size and the cold start under the
// local Lambda runner, Encompass calls per provisioned user, events per
// second under the simulated tenant limit, the poller's time and memory for
// 100,000 users against a bare listing, and webhook verification cost.
// `make bench` runs it; -o also writes the table to a file (docs/benchmarks.md).
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

// stackContainers is the provision function's reserved concurrency in the
// stack's default plan (infra/budget.go).
const stackContainers = 3

func main() {
	var o reportOptions
	flag.StringVar(&o.out, "o", "", "also write the report to this file (e.g. docs/benchmarks.md)")
	flag.IntVar(&o.runner.coldRuns, "cold", 5, "cold starts measured per function")
	flag.IntVar(&o.runner.containers, "containers", stackContainers, "provision containers at once for the throughput measurement (the stack's default reserved concurrency)")
	flag.IntVar(&o.runner.batches, "batches", 30, "provision batches for the throughput measurement")
	flag.IntVar(&o.runner.batchSize, "batch", 10, "messages per SQS batch (the stack's batch size)")
	flag.DurationVar(&o.runner.latency, "latency", 50*time.Millisecond, "simulated Encompass latency per call for the throughput measurement")
	flag.StringVar(&o.runner.jobCode, "job-code", "LO1", "jobCode of the hires in the throughput measurement (LO1 joins a mapped group; AE1 none)")
	flag.IntVar(&o.runner.pollUsers, "poll-users", 100_000, "users in the simulator for the poller measurement (0 to skip)")
	flag.BoolVar(&o.skipGoBench, "skip-go-bench", false, "only measure the binaries")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}
