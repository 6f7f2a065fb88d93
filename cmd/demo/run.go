package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
)

var errInterrupted = errors.New("interrupted; every process was stopped")

// run plays the story. With keep, the local product keeps running
// afterwards, until ctx ends, so that lifecyclectl (`make ops`) can read
// what the story left in the state table.
func run(ctx context.Context, w io.Writer, binDir string, verbose, keep bool) error {
	start := time.Now()
	fmt.Fprintf(w, "Encompass user lifecycle: local demo\n\n")
	fmt.Fprintf(w, "building provision, deprovision, poller, webhook, reconcile for %s/%s and starting the Encompass simulator, dynalite, an EventBridge fake, a local S3 and SQS ...\n", runtime.GOOS, runtime.GOARCH)
	env, err := localenv.Start(ctx, localenv.Options{BinDir: binDir})
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	// Every server and function process stops here, also on Ctrl-C (the
	// context is cancelled and Play returns).
	defer env.Close()
	fmt.Fprintf(w, "ready in %s: simulator %s (instance %s), dynalite %s (table %s), EventBridge fake %s\n\n",
		time.Since(start).Round(time.Millisecond), env.Sim.URL, env.Sim.InstanceID, env.DynamoURL, localenv.TableName, env.Bus.URL)

	p, err := story.New(env)
	if err != nil {
		return err
	}
	p.Emit = func(s story.Step) { printStep(w, s, verbose) }
	rep, err := p.Play(ctx)
	if err == nil {
		// Issue 14's chapter: an underwriter in Encompass and DDA.
		err = p.DDA(ctx)
	}
	if err == nil {
		// The HRIS feed's story ends with last night's HR roster.
		err = p.Reconcile(ctx)
		rep = p.Report()
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	printSummary(w, rep.Summary)
	fmt.Fprintf(w, "\nEffective dates: the HRIS sends each event as soon as it is known; the local product's clock moves from date to date, and the Scheduler sends each held event back to its queue when it is due\n\n")
	first := len(rep.Steps)
	err = p.EffectiveDates(ctx)
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	rep = p.Report()
	printDatesSummary(w, rep.Steps[first:], len(env.Scheduler.Schedules()))
	fmt.Fprintf(w, "\nfinished in %s\n", time.Since(start).Round(time.Millisecond))
	if n := len(rep.Summary.Failures); n > 0 {
		return fmt.Errorf("%d invocation(s) failed", n)
	}
	if keep {
		// The credentials are dummies: dynalite accepts any, and the SDK
		// signs nothing without some.
		fmt.Fprintf(w, "\nthe local product keeps running; Ctrl-C stops it. In another terminal:\n\n"+
			"  export STATE_TABLE=%s AWS_ENDPOINT_URL_DYNAMODB=%s AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"+
			"  make ops ARGS=\"employee E1001\"\n"+
			"  make ops ARGS=pending        # who joins or leaves when (held events)\n", env.Table, env.DynamoURL)
		<-ctx.Done()
	}
	return nil
}

func printStep(w io.Writer, s story.Step, verbose bool) {
	fmt.Fprintf(w, "[%6.2fs] %-11s %s\n", s.Elapsed.Seconds(), s.Actor, s.Action)
	if s.Outcome != "" {
		fmt.Fprintf(w, "%22s %s\n", "->", s.Outcome)
	}
	if verbose && s.Result != nil && len(s.Result.Logs) > 0 {
		for _, line := range strings.Split(strings.TrimRight(string(s.Result.Logs), "\n"), "\n") {
			fmt.Fprintf(w, "%22s %s\n", "|", line)
		}
	}
}

func printSummary(w io.Writer, s story.Summary) {
	fmt.Fprintf(w, "\nSummary\n")
	fmt.Fprintf(w, "  users created       %d\n", s.Created)
	fmt.Fprintf(w, "  users updated       %d\n", s.Updated)
	fmt.Fprintf(w, "  users disabled      %d\n", s.Disabled)
	fmt.Fprintf(w, "  users reactivated   %d\n", s.Reactivated)
	fmt.Fprintf(w, "  events not applied  %d\n", len(s.Rejected))
	for _, r := range s.Rejected {
		fmt.Fprintf(w, "      %-10s %-20s reason %s\n", r.EventID, r.DetailType, r.Reason)
	}
	var synth []string
	for _, t := range s.SyntheticTypes() {
		synth = append(synth, fmt.Sprintf("%s x%d", t, s.Synthetic[t]))
	}
	fmt.Fprintf(w, "  synthetic events    %s\n", strings.Join(synth, ", "))
	fmt.Fprintf(w, "  webhooks            %d forwarded, %d refused\n", s.WebhooksForwarded, s.WebhooksRefused)
	if r := s.Reconciliation; r != nil {
		fmt.Fprintf(w, "  reconciliation      %s; %d HRIS event(s) sent\n", story.CountsLine(r.Counts), r.Sent)
		if r.Refused != "" {
			fmt.Fprintf(w, "      REFUSED         %s: nothing was applied\n", r.Refused)
		}
		fmt.Fprintf(w, "      report          s3://%s/%s (and .csv)\n", localenv.RosterBucket, r.ReportKey)
		var applied []string
		for _, t := range slices.Sorted(maps.Keys(s.Reconciled)) {
			applied = append(applied, fmt.Sprintf("%s x%d", t, s.Reconciled[t]))
		}
		fmt.Fprintf(w, "      applied         %s\n", strings.Join(applied, ", "))
	}
	fmt.Fprintf(w, "  invocations         %d (%d cold starts), %d failure(s)\n", s.Invocations, s.ColdStarts, len(s.Failures))
	for _, f := range s.Failures {
		fmt.Fprintf(w, "      %s\n", f)
	}
}

// printDatesSummary counts what the effective-date chapter held, applied
// when due and cancelled.
func printDatesSummary(w io.Writer, steps []story.Step, left int) {
	held, superseded := 0, 0
	var late []string
	for _, s := range steps {
		for _, ev := range s.Events {
			switch d := ev.DetailMap(); {
			case ev.DetailType == "HRIS Event Scheduled":
				held++
			case d["reason"] == "superseded":
				superseded++
			}
		}
		if s.Actor == "scheduler" && s.Result != nil {
			late = append(late, s.Late.Round(time.Millisecond).String())
		}
	}
	fmt.Fprintf(w, "\nEffective dates\n")
	fmt.Fprintf(w, "  events held         %d\n", held)
	fmt.Fprintf(w, "  applied when due    %d (after the due time by %s)\n", len(late), strings.Join(late, ", "))
	fmt.Fprintf(w, "  superseded          %d\n", superseded)
	fmt.Fprintf(w, "  schedules left      %d\n", left)
}
