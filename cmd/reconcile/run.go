package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
)

type options struct {
	roster, seed, binDir, out string
	apply                     bool
}

// run reconciles the roster against a fresh local product.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	body, err := readRoster(o.roster)
	if err != nil {
		return err
	}
	prefix := reconcile.DryRunPrefix
	if o.apply {
		prefix = reconcile.ApplyPrefix
	}
	key := prefix + filepath.Base(o.roster)
	fmt.Fprintln(stderr, "starting the local product (Encompass simulator, dynalite, EventBridge, S3 and SQS fakes); building for this machine ...")
	opts := localenv.Options{BinDir: o.binDir, Functions: []string{"reconcile", "provision", "deprovision"}}
	if o.seed != "" {
		opts.Sim = []encompasstest.Option{encompasstest.WithSeedFile(o.seed)}
	}
	env, err := localenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Close()

	note, err := env.PutRoster(ctx, key, body)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := env.Invoke(ctx, "reconcile", note)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "reconcile: %s (max memory %d MB)\n", outcome(res), res.MaxMemoryMB)
	if res.Error != nil {
		stderr.Write(res.Logs)
		return fmt.Errorf("the function failed: %s", res.Error.Error())
	}
	var resp reconcile.Response
	if err := json.Unmarshal(res.Payload, &resp); err != nil || len(resp.Results) != 1 {
		return fmt.Errorf("the function answered %q", res.Payload)
	}
	r := resp.Results[0]
	printSummary(stdout, r, time.Since(start))
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	for _, k := range []string{r.ReportKey, r.CSVReportKey} {
		b, err := env.RosterObject(ctx, k)
		if err != nil {
			return err
		}
		local := filepath.Join(o.out, path.Base(k))
		if err := os.WriteFile(local, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  report     s3://%s/%s -> %s\n", localenv.RosterBucket, k, local)
	}
	if !o.apply || r.Refused != "" {
		if !o.apply {
			fmt.Fprintln(stdout, "\ndry run: nothing sent (APPLY=true sends the HRIS events through the queues)")
		}
		return nil
	}
	deliveries, err := env.DrainQueues(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, d := range deliveries {
		if d.Result.Error != nil {
			failed++
			fmt.Fprintf(stderr, "%s failed: %s\n", d.Function, d.Result.Error.Error())
		}
	}
	fmt.Fprintf(stdout, "\napplied through the pipeline (%d SQS batch(es) delivered):\n", len(deliveries))
	for _, ev := range env.Bus.Events() {
		if ev.Source != catalog.SourceProvisioning {
			continue
		}
		d := ev.DetailMap()
		who, _ := d["userName"].(string)
		if who == "" {
			who, _ = d["employeeId"].(string)
		}
		line := fmt.Sprintf("  %-22s %s", ev.DetailType, who)
		if reason, _ := d["reason"].(string); reason != "" {
			line += " (" + reason + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	if failed > 0 {
		return fmt.Errorf("%d delivery(ies) failed", failed)
	}
	return nil
}

func readRoster(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, reconcile.MaxRosterBytes+1))
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	if len(b) > reconcile.MaxRosterBytes {
		return nil, errors.New("roster: over the function's limit")
	}
	return b, nil
}

func outcome(res *lambdarun.Result) string {
	s := res.Duration.Round(time.Millisecond).String()
	if res.Cold {
		s += fmt.Sprintf(", cold start %s", res.ColdStart.Round(time.Millisecond))
	}
	return s
}

func printSummary(w io.Writer, r reconcile.Result, took time.Duration) {
	fmt.Fprintf(w, "\nReconciliation %s of %s (%s)\n", r.RunID, r.RosterKey, took.Round(time.Millisecond))
	if r.Refused != "" {
		fmt.Fprintf(w, "  REFUSED    %s: %s; nothing was applied\n", r.Refused, r.Message)
	}
	for _, c := range reconcile.Classes {
		fmt.Fprintf(w, "  %-14s %d\n", c, r.Counts[c])
	}
	fmt.Fprintf(w, "  users from %s\n", r.UsersFrom)
	if len(r.IgnoredColumns) > 0 {
		fmt.Fprintf(w, "  ignored    columns the contract does not know: %s\n", strings.Join(r.IgnoredColumns, ", "))
	}
	fmt.Fprintf(w, "  sent       %d HRIS event(s)\n", r.Sent)
}
