package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	{pkg: "./functions/webhook", pattern: "^BenchmarkVerifyAndDecode", benchtime: "20000x"},
	{pkg: "./pkg/encompass", pattern: "^BenchmarkListAllUsers100k$", benchtime: "2x"},
	{pkg: "./pkg/poll", pattern: ".", benchtime: "2x"},
	{pkg: "./pkg/provisioning", pattern: ".", benchtime: "200x"},
	{pkg: "./pkg/state", pattern: ".", benchtime: "200x"},
	{pkg: "./pkg/publish", pattern: ".", benchtime: "200x"},
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
		"provision":   "one hire",
		"deprovision": "one terminate",
		"poller":      "one poll of the seed users",
		"webhook":     "one signed delivery",
	}
	for _, fn := range lambdarun.Functions {
		ds := st.ColdStarts[fn]
		worst := time.Duration(0)
		for _, d := range ds {
			worst = max(worst, d)
		}
		row("cold start, "+fn, fmt.Sprintf("%s median, %s max, %d MB", ms(median(ds)), ms(worst), st.ColdMemory[fn]),
			fmt.Sprintf("local runner on %s/%s: process start to first response, %s, including init (config, mapping resolved against the simulator); %d runs; peak RSS", runtime.GOOS, runtime.GOARCH, coldHow[fn], len(ds)))
	}
	row("Encompass calls per provisioned user", fmt.Sprintf("%.1f", st.CallsPerUser),
		fmt.Sprintf("real provision binary, warm, one batch of %d new hires; by endpoint: %s", st.UsersMeasured, routeSummary(st.CallsByRoute, st.UsersMeasured)))
	if st.Events > 0 {
		row("provisioning throughput", fmt.Sprintf("%.1f events/s", float64(st.Events)/st.EventsElapsed.Seconds()),
			fmt.Sprintf("one warm provision container, %d hires in batches of %d, simulator latency %s per call, tenant limit 30 requests in flight; %d answers were 429", st.Events, st.ThroughputBatch, st.SimLatency, st.Throttled))
	}
	switch {
	case st.PollErr != "":
		row(fmt.Sprintf("poller, %d users", st.PollUsers), "failed", st.PollErr)
	case st.SteadyPoll != nil:
		row(fmt.Sprintf("poller, %d users, baseline poll", st.PollUsers), fmt.Sprintf("%s, %d MB", ms(st.BaselinePoll.Duration), st.BaselinePoll.MaxMemoryMB), "real poller binary (warm after init), first poll: lists every user and records the snapshot; peak RSS of the process")
		row(fmt.Sprintf("poller, %d users, steady-state poll", st.PollUsers), fmt.Sprintf("%s, %d MB", ms(st.SteadyPoll.Duration), st.SteadyPoll.MaxMemoryMB), "second poll, nothing changed")
		row(fmt.Sprintf("bare listing, %d users", st.PollUsers), ms(st.BareList), "`encompass.Client.Users.All` in process against the same simulator")
		row("steady-state poll / bare listing", fmt.Sprintf("%.2fx", st.SteadyPoll.Duration.Seconds()/st.BareList.Seconds()), "the poller's cost over just reading the users")
	}
	if r, ok := find(results, "./functions/webhook", "BenchmarkVerifyAndDecode"); ok {
		row("webhook verification", fmt.Sprintf("%s/op, %.0f B/op, %.0f allocs/op", ns(r.Metrics["ns/op"]), r.Metrics["B/op"], r.Metrics["allocs/op"]),
			"`BenchmarkVerifyAndDecode`: HMAC-SHA256 of a 4 KiB delivery, decode and validate")
	}
	for _, r := range results {
		if r.Pkg == "./functions/webhook" && r.Name == "BenchmarkVerifyAndDecode" {
			continue
		}
		row(fmt.Sprintf("`%s` (%s)", r.Name, strings.TrimPrefix(r.Pkg, "./")), goMetrics(r), fmt.Sprintf("go test -bench, %d iterations", r.N))
	}
	for _, e := range errs {
		row("benchmark run failed", "n/a", strings.ReplaceAll(e, "|", "/"))
	}
}

func goMetrics(r benchResult) string {
	parts := []string{ns(r.Metrics["ns/op"]) + "/op"}
	if v, ok := r.Metrics["B/op"]; ok {
		parts = append(parts, fmt.Sprintf("%.0f B/op", v))
	}
	if v, ok := r.Metrics["allocs/op"]; ok {
		parts = append(parts, fmt.Sprintf("%.0f allocs/op", v))
	}
	for unit, v := range r.Metrics {
		switch unit {
		case "ns/op", "B/op", "allocs/op", "MB/s":
			continue
		}
		parts = append(parts, fmt.Sprintf("%.4g %s", v, unit))
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
