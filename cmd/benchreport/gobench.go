package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// benchSpec selects benchmarks of one package with a fixed iteration count,
// so that a report is comparable run to run.
type benchSpec struct {
	pkg       string
	pattern   string // -bench regexp
	benchtime string // e.g. "2000x"
}

// benchResult is one line of `go test -bench` output.
type benchResult struct {
	Pkg     string
	Name    string // without the -GOMAXPROCS suffix
	N       int64
	Metrics map[string]float64 // "ns/op", "B/op", "allocs/op", custom units
}

// runBenchmarks runs the specs one package at a time; a package that fails
// is reported in the error list and the others still run.
func runBenchmarks(ctx context.Context, root string, specs []benchSpec, progress io.Writer) ([]benchResult, []string) {
	var (
		out  []benchResult
		errs []string
	)
	for _, s := range specs {
		fmt.Fprintf(progress, "go test -run '^$' -bench '%s' -benchtime %s -benchmem %s\n", s.pattern, s.benchtime, s.pkg)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", s.pattern, "-benchtime", s.benchtime, "-benchmem", "-count", "1", s.pkg)
		cmd.Dir = root
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err := cmd.Run()
		res := parseBench(s.pkg, &buf)
		if err != nil {
			// One line: the error goes in a table cell.
			errs = append(errs, fmt.Sprintf("%s: %v: %s", s.pkg, err, strings.ReplaceAll(testenv.LastLines(buf.String(), 5), "\n", " | ")))
		}
		out = append(out, res...)
	}
	return out, errs
}

// parseBench reads benchmark lines such as
//
//	BenchmarkVerifyAndDecode-2   20000   5210 ns/op   786.2 MB/s   1234 B/op   12 allocs/op
func parseBench(pkg string, r io.Reader) []benchResult {
	var out []benchResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		res := benchResult{Pkg: pkg, Name: name, N: n, Metrics: map[string]float64{}}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			res.Metrics[f[i+1]] = v
		}
		if ok {
			out = append(out, res)
		}
	}
	return out
}

// find returns the result of pkg named exactly like a fragment, or else the
// first whose name contains one.
func find(results []benchResult, pkg string, fragments ...string) (benchResult, bool) {
	for _, frag := range fragments {
		for _, r := range results {
			if r.Pkg == pkg && r.Name == frag {
				return r, true
			}
		}
	}
	for _, frag := range fragments {
		for _, r := range results {
			if r.Pkg == pkg && strings.Contains(r.Name, frag) {
				return r, true
			}
		}
	}
	return benchResult{}, false
}
