package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
)

type options struct {
	fn, event, envVars, bootstrap, binDir string
	timeout                               time.Duration
	memory, times                         int
}

// run invokes the function o.times and reports whether any invocation failed.
func run(ctx context.Context, o options, stdout, stderr io.Writer) (failed bool, err error) {
	payload, err := readEvent(o.event)
	if err != nil {
		return false, err
	}
	var (
		container *lambdarun.Container
		env       *localenv.Env
	)
	if o.bootstrap == "" && !slices.Contains(lambdarun.Functions, o.fn) {
		return false, fmt.Errorf("unknown function %q: want one of %s", o.fn, strings.Join(lambdarun.Functions, ", "))
	}
	if o.envVars == "" && o.bootstrap == "" {
		fmt.Fprintln(stderr, "starting the local product: Encompass simulator, dynalite, EventBridge fake; building for this machine ...")
		env, err = localenv.Start(ctx, localenv.Options{BinDir: o.binDir, Functions: []string{o.fn}})
		if err != nil {
			return false, err
		}
		defer env.Close()
		if o.timeout > 0 || o.memory > 0 {
			err = env.Reconfigure(o.fn, func(c *lambdarun.Config) {
				if o.timeout > 0 {
					c.Timeout = o.timeout
				}
				c.MemoryMB = o.memory
			})
			if err != nil {
				return false, err
			}
		}
		if container, err = env.Function(o.fn); err != nil {
			return false, err
		}
	} else {
		if container, err = standalone(ctx, o); err != nil {
			return false, err
		}
		defer container.Close()
	}

	for range o.times {
		res, err := container.Invoke(ctx, payload)
		if err != nil {
			return failed, err
		}
		report(stdout, stderr, container.Config(), res)
		failed = failed || res.Error != nil
	}
	if env != nil {
		printPublished(stderr, env)
	}
	return failed, nil
}

// standalone configures the function from an env-vars file only.
func standalone(ctx context.Context, o options) (*lambdarun.Container, error) {
	name := lambdarun.LogicalID(o.fn)
	path := o.bootstrap
	if path == "" {
		root, err := lambdarun.ModuleRoot(ctx)
		if err != nil {
			return nil, err
		}
		bins, err := lambdarun.Build(ctx, root, absUnder(root, o.binDir), o.fn)
		if err != nil {
			return nil, err
		}
		path = bins[o.fn]
	}
	if name == "" {
		name = filepath.Base(filepath.Dir(path))
	}
	vars := map[string]string{}
	if o.envVars != "" {
		var err error
		if vars, err = lambdarun.LoadEnvVars(o.envVars, name); err != nil {
			return nil, err
		}
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = localenv.DefaultTimeouts[o.fn]
	}
	return lambdarun.New(lambdarun.Config{Name: name, Bootstrap: path, Env: vars, Timeout: timeout, MemoryMB: o.memory})
}

func absUnder(root, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(root, dir)
}

func readEvent(path string) ([]byte, error) {
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, lambdarun.MaxPayloadBytes+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if len(data) > lambdarun.MaxPayloadBytes {
		return nil, fmt.Errorf("event %s is over the %d byte limit", path, lambdarun.MaxPayloadBytes)
	}
	if !json.Valid(data) {
		return nil, errors.New("event " + path + " is not valid JSON")
	}
	return data, nil
}

// report prints the logs framed as CloudWatch shows them, then the response.
func report(stdout, stderr io.Writer, cfg lambdarun.Config, res *lambdarun.Result) {
	fmt.Fprintf(stderr, "START RequestId: %s Version: $LATEST\n", res.RequestID)
	stderr.Write(res.Logs)
	if len(res.Logs) > 0 && !bytes.HasSuffix(res.Logs, []byte("\n")) {
		fmt.Fprintln(stderr)
	}
	fmt.Fprintf(stderr, "END RequestId: %s\n", res.RequestID)
	line := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		res.RequestID, ms(res.Duration), cfg.MemoryMB, res.MaxMemoryMB)
	if res.Cold {
		line += fmt.Sprintf("\tInit Duration: %.2f ms\tCold start: %.2f ms", ms(res.InitDuration), ms(res.ColdStart))
	}
	if res.TimedOut {
		line += "\tStatus: timeout"
	}
	fmt.Fprintln(stderr, line)
	if res.Error != nil {
		out, _ := json.MarshalIndent(res.Error, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
		return
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, res.Payload, "", "  ") == nil {
		fmt.Fprintln(stdout, pretty.String())
	} else {
		fmt.Fprintf(stdout, "%s\n", res.Payload)
	}
}

func printPublished(w io.Writer, env *localenv.Env) {
	evs := env.Bus.Events()
	fmt.Fprintf(w, "published %d event(s) to EventBridge bus %q\n", len(evs), localenv.BusName)
	for _, ev := range evs {
		fmt.Fprintf(w, "  %s  %s  %s\n", ev.Source, ev.DetailType, strings.TrimSpace(string(ev.Detail)))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
