package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
)

type reportOptions struct {
	out         string
	runner      runnerOptions
	skipGoBench bool
}

// goBenchmarks are the Go benchmarks the report reads; fixed iteration
// counts keep runs comparable.
var goBenchmarks = []benchSpec{
	{pkg: "./pkg/webhook", pattern: "^BenchmarkVerifyAndDecode", benchtime: "20000x"},
	{pkg: "./pkg/encompass", pattern: "^BenchmarkListAllUsers100k$", benchtime: "2x"},
	{pkg: "./pkg/poll", pattern: "^BenchmarkPoll.*100k$", benchtime: "2x"},
	{pkg: "./pkg/mapping", pattern: "^BenchmarkResolveColdStartAt50ms$", benchtime: "10x"},
	{pkg: "./pkg/provisioning", pattern: "^(BenchmarkHire500|BenchmarkThroughputAtTenantLimit)$", benchtime: "1x"},
	{pkg: "./pkg/provisioning", pattern: "^BenchmarkUnchangedUpdate$", benchtime: "200x"},
	{pkg: "./pkg/provisioning", pattern: "^(BenchmarkRoundTripsInSeries|BenchmarkLeavers)$", benchtime: "20x"},
	{pkg: "./pkg/state", pattern: "^(BenchmarkEventPath|BenchmarkTerminatedScan)$", benchtime: "100x"},
	{pkg: "./pkg/publish", pattern: "^BenchmarkPublish25$", benchtime: "100x"},
	{pkg: "./internal/lambdarun", pattern: "^Benchmark(InvokeWarm|ColdStart)$", benchtime: "200x"},
	{pkg: "./e2e", pattern: "^BenchmarkReconcile100k$", benchtime: "1x"},
}

func run(ctx context.Context, o reportOptions, stdout, progress io.Writer) error {
	root, err := lambdarun.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	o.runner.root = root
	o.runner.bins = filepath.Join(root, "dist", "local")
	started := time.Now()

	st, err := measureRunner(ctx, o.runner, progress)
	if err != nil {
		return err
	}
	var (
		results []benchResult
		errs    []string
	)
	if !o.skipGoBench {
		results, errs = runBenchmarks(ctx, root, goBenchmarks, progress)
	}
	var buf bytes.Buffer
	writeReport(&buf, st, results, errs, started)
	stdout.Write(buf.Bytes())
	if o.out != "" {
		path := o.out
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(progress, "wrote %s\n", path)
	}
	return nil
}

func writeReport(w io.Writer, st *runnerStats, results []benchResult, errs []string, started time.Time) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Measured %s on %s (`make bench`, %s).\n\n", started.UTC().Format("2006-01-02 15:04 MST"), machine(), time.Since(started).Round(time.Second))
	fmt.Fprintf(w, "| measure | result | how |\n| --- | --- | --- |\n")
	row := func(measure, result, how string) { fmt.Fprintf(w, "| %s | %s | %s |\n", measure, result, how) }

	for _, fn := range lambdarun.Functions {
		row("binary size, "+fn, fmt.Sprintf("%.1f MB", float64(st.DeploySizes[fn])/1e6), "linux/arm64 as deployed (`-trimpath -ldflags=-s -w -tags lambda.norpc`)")
	}
	coldHow := map[string]string{
		"provision":   "one hire; init reads the config and resolves the mapping's personas, organizations and groups against the simulator",
		"deprovision": "one terminate; same init as provision",
		"poller":      "one poll of the seed users; init reads the config",
		"webhook":     "one signed delivery; init reads the config and the signing keys",
		"reconcile":   "one two-row dry-run roster; init reads the config and resolves the mapping, the run lists the seed users and writes the reports",
	}
	for _, fn := range lambdarun.Functions {
		ds := st.ColdStarts[fn]
		worst := time.Duration(0)
		for _, d := range ds {
			worst = max(worst, d)
		}
		row("cold start, "+fn, fmt.Sprintf("%s median, %s max; %d MB peak RSS", ms(median(ds)), ms(worst), st.ColdMemory[fn]),
			fmt.Sprintf("local runner on %s/%s, process start to first response, %d runs: %s", runtime.GOOS, runtime.GOARCH, len(ds), coldHow[fn]))
	}

	used := map[string]bool{}
	use := func(pkg string, names ...string) (benchResult, bool) {
		r, ok := find(results, pkg, names...)
		if ok {
			used[r.Pkg+r.Name] = true
		}
		return r, ok
	}

	row("Encompass calls per provisioned user", fmt.Sprintf("%.1f", st.CallsPerUser),
		fmt.Sprintf("real provision binary, warm, one batch of %d new hires; by endpoint: %s", st.UsersMeasured, routeSummary(st.CallsByRoute, st.UsersMeasured)))
	// The SCIM variant with a mapped group is what the local product and
	// the stack's default run.
	if r, ok := use("./pkg/provisioning", "BenchmarkHire500/scim/jobCode=LO1", "BenchmarkHire500/scim", "BenchmarkHire500"); ok {
		row("Encompass calls per provisioned user, from cold", fmt.Sprintf("%.2f", r.Metrics["encompass-calls/event"]),
			fmt.Sprintf("`%s`: 500 hires in batches of 10 from a cold container (token and look-ups included); %.2f state-table ops and %.2f PutEvents calls per event", r.Name, r.Metrics["state-ops/event"], r.Metrics["putevents/event"]))
	}
	if st.Events > 0 {
		b := realBound(st)
		row("provisioning throughput", fmt.Sprintf("%.0f events/s; %.2f of the Encompass bound", float64(st.Events)/st.EventsElapsed.Seconds(), b.share),
			fmt.Sprintf("real provision binaries: %d warm containers at once (%s), %d requests in flight each, %d hires into a mapped group in batches of %d, simulator latency %s per call, tenant limit 30 in flight; %.2f calls per hire; %.0f requests/s against the plan's bound of %.0f (%d slots / %s); bounded by %s; %d answers were 429",
				st.Containers, containersHow(st.Containers), st.InFlight, st.Events, st.ThroughputBatch, st.SimLatency, float64(st.Requests)/float64(st.Events), b.rate, b.bound, b.slots, st.SimLatency, b.by, st.Throttled))
	}
	if r, ok := use("./pkg/provisioning", "BenchmarkThroughputAtTenantLimit"); ok {
		by := tenantLimitBound(r.Metrics)
		row("provisioning throughput at the tenant limit", fmt.Sprintf("%.0f events/s; %.2f of the tenant's ceiling", r.Metrics["events/s"], r.Metrics["requests/s"]/r.Metrics["limit-requests/s"]),
			fmt.Sprintf("`BenchmarkThroughputAtTenantLimit`: 3 in-process handlers, 10 requests in flight each, 50 ms latency, limit 30 in flight (%.0f requests/s ceiling); %.0f requests/s reached, %.0f throttled; bounded by %s", r.Metrics["limit-requests/s"], r.Metrics["requests/s"], r.Metrics["throttled"], by))
	}
	if r, ok := use("./pkg/provisioning", "BenchmarkRoundTripsInSeries"); ok {
		row("DynamoDB round trips in series", fmt.Sprintf("hire %.1f, leaver %.1f", r.Metrics["hire-dynamodb-serial"], r.Metrics["leaver-dynamodb-serial"]),
			fmt.Sprintf("`BenchmarkRoundTripsInSeries`: the time from a warm message to its event on the bus with 25 ms added to every state-table request, less the same path without it, over 25 ms; the batch answers after %.1f (the claim's completion runs beside the rest of the batch)", r.Metrics["hire-batch-answered"]))
	}
	if r, ok := use("./pkg/provisioning", "BenchmarkLeavers"); ok {
		row("leavers", fmt.Sprintf("%.0f calls each; disabled after %.2f call latencies; 10 take %.2fx one", r.Metrics["calls/leaver"], r.Metrics["disable/latency"], r.Metrics["ten/one"]),
			fmt.Sprintf("`BenchmarkLeavers`: 50 ms per Encompass call, 10 in flight; one warm linked leaver took %.0f ms to its outcome (the disable, then the read-back the contract requires)", r.Metrics["one-leaver-ms"]))
	}
	switch {
	case st.PollErr != "":
		row(fmt.Sprintf("poller, %s users", thousands(st.PollUsers)), "failed", st.PollErr)
	case st.SteadyPoll != nil:
		row(fmt.Sprintf("poller, %s users, first poll (baseline)", thousands(st.PollUsers)), fmt.Sprintf("%s; %d MB peak RSS", ms(st.BaselinePoll.Duration), st.BaselinePoll.MaxMemoryMB), "real poller binary, warm: lists every user and records the snapshot in dynalite; peak RSS of the process so far")
		row(fmt.Sprintf("poller, %s users, unchanged poll", thousands(st.PollUsers)), fmt.Sprintf("%s; %d MB peak RSS", ms(st.SteadyPoll.Duration), st.SteadyPoll.MaxMemoryMB), "second poll, nothing changed")
		row(fmt.Sprintf("bare listing, %s users", thousands(st.PollUsers)), ms(st.BareList), "`encompass.Client.Users.All` in process against the same simulator")
		row("unchanged poll / bare listing", fmt.Sprintf("%.2fx", st.SteadyPoll.Duration.Seconds()/st.BareList.Seconds()), "what the poller adds to reading the users")
	}
	if r, ok := use("./pkg/poll", "BenchmarkPollUnchanged100k"); ok {
		row("poller, 100,000 users, in process", fmt.Sprintf("%.0f ms/poll, %.0f MB peak heap, %.2fx the bare listing (%.0f ms)", r.Metrics["poll-ms/op"], r.Metrics["peak-heap-MB"], r.Metrics["poll/list"], r.Metrics["list-ms/op"]),
			"`BenchmarkPollUnchanged100k`: the poll and the bare listing in the same run, against the simulator and dynalite")
	}
	if r, ok := use("./pkg/poll", "BenchmarkPollAt50msLatency100k"); ok {
		row("poller, 100,000 users, 50 ms per Encompass call", fmt.Sprintf("%.2fx its bound (%.0f ms/poll, bound %.0f ms); %.0f list calls", r.Metrics["poll/bound"], r.Metrics["poll-ms/op"], r.Metrics["bound-ms"], r.Metrics["list-calls/op"]),
			fmt.Sprintf("`BenchmarkPollAt50msLatency100k`: an unchanged poll with the stack's default %.0f requests in flight, against the time the budget needs for the pages (pages / in flight x 50 ms); goal at most 1.2", r.Metrics["in-flight"]))
	}
	for _, mode := range []string{"listing", "snapshot"} {
		if r, ok := use("./e2e", "BenchmarkReconcile100k/"+mode); ok {
			row("reconciliation, 100,000 rows x 100,000 users, "+map[string]string{"listing": "listing Encompass", "snapshot": "fresh poller snapshot"}[mode],
				fmt.Sprintf("%.0f ms, %.0f MB peak RSS; Encompass: %.0f list, %.0f group, %.0f orphan-check calls; %.2f SQS calls per applied finding",
					r.Metrics["ms/run"], r.Metrics["peak-RSS-MB"], r.Metrics["list-calls/run"], r.Metrics["group-calls/run"], r.Metrics["orphan-check-calls/run"], r.Metrics["sqs-calls/applied"]),
				"`BenchmarkReconcile100k`: the real reconcile binary (256 MB, GOMEMLIMIT as deployed), a 100,000-row roster applied (every row adoptable), users from "+mode)
		}
	}
	if r, ok := use("./pkg/webhook", "BenchmarkVerifyAndDecode"); ok {
		row("webhook verification", fmt.Sprintf("%s ns/op (%s)", thousands(int(r.Metrics["ns/op"])), goMetrics(r)),
			"`BenchmarkVerifyAndDecode`: HMAC-SHA256 of a 4 KiB delivery, decode and validate")
	}
	for _, r := range results {
		if used[r.Pkg+r.Name] {
			continue
		}
		row(fmt.Sprintf("`%s` (%s)", r.Name, strings.TrimPrefix(r.Pkg, "./")), goMetrics(r), fmt.Sprintf("go test -bench, %d iterations", r.N))
	}
	for _, e := range errs {
		row("benchmark run failed", "n/a", strings.ReplaceAll(e, "|", "/"))
	}
	fmt.Fprintf(w, `
Cold starts and the poller are measured on the real binaries in the local
runner (internal/lambdarun); the simulator and dynalite answer in well under a
millisecond, so the numbers show the product's own cost, not Encompass's or
DynamoDB's latency. The two throughput rows differ by design: the binaries run
with the stack's default budget (24 requests in flight for the whole stack,
3 per instance, leaving the tenant's other callers headroom), the in-process
benchmark with 10 per handler to find the tenant's ceiling.
`)
}

func goMetrics(r benchResult) string {
	parts := []string{ns(r.Metrics["ns/op"]) + "/op"}
	if v, ok := r.Metrics["B/op"]; ok {
		parts = append(parts, bytesPerOp(v))
	}
	if v, ok := r.Metrics["allocs/op"]; ok {
		parts = append(parts, fmt.Sprintf("%.0f allocs/op", v))
	}
	for _, unit := range slices.Sorted(maps.Keys(r.Metrics)) {
		switch unit {
		case "ns/op", "B/op", "allocs/op", "MB/s":
			continue
		}
		v := r.Metrics[unit]
		if v == math.Trunc(v) && math.Abs(v) < 1e12 {
			parts = append(parts, fmt.Sprintf("%.0f %s", v, unit))
		} else {
			parts = append(parts, fmt.Sprintf("%.4g %s", v, unit))
		}
	}
	return strings.Join(parts, ", ")
}

func ns(v float64) string {
	d := time.Duration(v)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func bytesPerOp(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MB/op", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KB/op", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B/op", v)
}

// thousands writes 100000 as 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func ms(d time.Duration) string { return ns(float64(d)) }

// machine describes where the numbers come from.
func machine() string {
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	s := fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if cpu != "" {
		s += " (" + cpu + ")"
	}
	return s + ", " + goVersion
}

// containersHow says how the throughput's containers compare with the
// stack's default plan (-containers changes them).
func containersHow(n int) string {
	if n == stackContainers {
		return "the stack's default plan"
	}
	return fmt.Sprintf("-containers %d; the stack's default plan runs %d", n, stackContainers)
}

// throughputBound is what bounded the real binaries' throughput.
type throughputBound struct {
	rate, bound, share float64
	slots              int
	by                 string
}

// realBound compares the requests the real binaries made with what the
// plan's slots allow at the simulator's latency, and says which of the
// Encompass slots and the DynamoDB emulator was nearer its limit.
func realBound(st *runnerStats) throughputBound {
	secs := st.EventsElapsed.Seconds()
	b := throughputBound{slots: st.Containers * st.InFlight, rate: float64(st.Requests) / secs}
	b.bound = float64(b.slots) / st.SimLatency.Seconds()
	b.share = b.rate / b.bound
	busy := st.BusySlots.Seconds() / secs / float64(b.slots)
	cpu := st.DynaliteCPU.Seconds() / secs
	b.by = fmt.Sprintf("the Encompass slots (%.0f%% busy; dynalite %.0f%% of a core)", 100*busy, 100*cpu)
	if st.DynaliteSeen && cpu > busy { // the busier of the two named the bound
		b.by = fmt.Sprintf("the DynamoDB emulator (dynalite %.0f%% of a core; Encompass slots %.0f%% busy)", 100*cpu, 100*busy)
	}
	return b
}

// tenantLimitBound names what bounded BenchmarkThroughputAtTenantLimit from
// its metrics: of dynalite (one Node process: its share of a core), this
// machine's cores (dynalite and the benchmark's process together) and the
// tenant's Encompass slots, the one nearest its capacity.
func tenantLimitBound(m map[string]float64) string {
	dyn, self, cores, slots := m["dynalite-cores"], m["process-cores"], m["machine-cores"], m["encompass-slots-busy"]
	machine := (dyn + self) / max(cores, 1)
	switch {
	case dyn >= machine && dyn >= slots:
		return fmt.Sprintf("the DynamoDB emulator (dynalite, one Node process, %.0f%% of a core; the tenant's slots %.0f%% busy): this row measures dynalite on this machine, not the tenant", 100*dyn, 100*slots)
	case cores > 0 && machine >= slots:
		return fmt.Sprintf("this machine's %.0f cores (%.0f%% used: dynalite %.2f cores, handlers and simulator %.2f; the tenant's slots %.0f%% busy): this row measures the machine, not the tenant", cores, 100*machine, dyn, self, 100*slots)
	}
	return fmt.Sprintf("the Encompass slots (%.0f%% busy; dynalite %.0f%% of a core, this machine's cores %.0f%% used)", 100*slots, 100*dyn, 100*machine)
}
