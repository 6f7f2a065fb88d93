// Command infra is the CDK app of the Encompass user lifecycle: it
// synthesizes the EncompassLifecycle stack into cdk.out/ at the repository
// root (`make synth`), with asset and path metadata so that
// `sam local invoke -t cdk.out/EncompassLifecycle.template.json` finds the
// functions' code. Configuration is the "context" of infra/cdk.json,
// overridable through CDK_CONTEXT_JSON or the CDK CLI's `-c key=value`.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

// run synthesizes the app as `make synth` does.
func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	ctx, err := readContext(filepath.Join(root, "infra", "cdk.json"))
	if err != nil {
		return err
	}
	outdir := os.Getenv("CDK_OUTDIR") // set by the CDK CLI when it runs the app
	if outdir == "" {
		outdir = filepath.Join(root, "cdk.out")
	}
	app := NewApp(outdir, ctx)
	stack, err := Build(app, root, DistDir(root))
	if err != nil {
		return err
	}
	defer stack.Cleanup()
	app.Synth(nil)
	fmt.Fprintf(os.Stderr, "infra: wrote %s\n", filepath.Join(outdir, StackName+".template.json"))
	return nil
}

// NewApp returns a CDK app writing to outdir with the given context
// defaults (CDK_CONTEXT_JSON, which the CLI sets, overrides them). Asset and
// path metadata are always on: SAM resolves code through aws:asset:path.
func NewApp(outdir string, ctx map[string]any) awscdk.App {
	c := make(map[string]any, len(ctx)+2)
	for k, v := range ctx {
		c[k] = v
	}
	c["aws:cdk:enable-path-metadata"] = true
	c["aws:cdk:enable-asset-metadata"] = true
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &c})
}

// Build validates the app's context and defines the EncompassLifecycle
// stack, checked by cdk-nag's AwsSolutions pack, in app. root is the
// repository root (relative paths in the context are under it); the caller
// calls Cleanup on the stack after synthesis.
func Build(app awscdk.App, root, distDir string) (*LifecycleStack, error) {
	if unknown := unknownContextKeys(envContext()); len(unknown) > 0 {
		return nil, fmt.Errorf("unknown context keys %v; known keys are %v", unknown, contextKeys)
	}
	cfg, err := LoadConfig(func(key string) (any, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	})
	if err != nil {
		return nil, err
	}
	stack, err := NewLifecycleStack(app, StackName, LifecycleStackProps{
		Config:     cfg,
		DistDir:    distDir,
		RepoRoot:   root,
		StackProps: awscdk.StackProps{StackName: jsii.String(StackName)},
	})
	if err != nil {
		return nil, err
	}
	if cfg.InstanceID == simulatorInstanceID {
		awscdk.Annotations_Of(stack.Stack).AddWarningV2(jsii.String("encompass:simulator-instance"), jsii.String(
			"instanceId is the simulator's "+simulatorInstanceID+": set your lender's instance id in infra/cdk.json before deploying"))
	}
	if cfg.SAMLocal {
		awscdk.Annotations_Of(stack.Stack).AddWarningV2(jsii.String("encompass:sam-local"), jsii.String(
			"samLocal declares empty local-only variables for sam local invoke: do not deploy this template"))
	}
	ApplyNag(app)
	return stack, nil
}

// DistDir is where `make build` writes dist/<fn>/bootstrap: DIST_DIR, or
// dist/ at the repository root.
func DistDir(root string) string {
	if d := os.Getenv("DIST_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "dist")
}

// simulatorInstanceID is the instance id of the local Encompass simulator
// (encompasstest.DefaultInstanceID), the placeholder in cdk.json.
const simulatorInstanceID = "BE11200922"

// readContext returns the "context" object of cdk.json.
func readContext(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CDK context: %w", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	if unknown := unknownContextKeys(doc.Context); len(unknown) > 0 {
		return nil, fmt.Errorf("%s: unknown context keys %v; known keys are %v", path, unknown, contextKeys)
	}
	return doc.Context, nil
}

// envContext is the context the CDK CLI (or a caller) passes in
// CDK_CONTEXT_JSON; unreadable content is left for the CDK to report.
func envContext() map[string]any {
	var m map[string]any
	if s := os.Getenv("CDK_CONTEXT_JSON"); strings.HasPrefix(strings.TrimSpace(s), "{") {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

// repoRoot finds the repository root (the directory holding infra/go.mod)
// from the working directory, so the app runs from infra/ or the root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "infra", "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (a directory with infra/go.mod) above the working directory")
		}
		dir = parent
	}
}
