package lambdarun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Functions are the product's Lambda functions, by directory name.
var Functions = []string{"provision", "deprovision", "poller", "webhook", "reconcile"}

// ModuleRoot returns the directory of the enclosing Go module's go.mod,
// so that commands work from any directory of the repository.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the named functions of the module at root for THIS machine
// (GOOS and GOARCH of the runner, so that they can run here) with the same
// flags as `make build`, and returns the path of each bootstrap:
// out/<fn>/bootstrap. The deployable linux/arm64 builds in dist/ are left alone.
func Build(ctx context.Context, root, out string, fns ...string) (map[string]string, error) {
	return BuildFor(ctx, runtime.GOOS, runtime.GOARCH, root, out, fns...)
}

// BuildFor is Build for another platform, e.g. linux/arm64 to measure the
// size of what is deployed.
func BuildFor(ctx context.Context, goos, goarch, root, out string, fns ...string) (map[string]string, error) {
	if len(fns) == 0 {
		fns = Functions
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	// Build next to the destination so that the final rename stays on one
	// file system, and a failed build leaves the previous binaries in place.
	tmp, err := os.MkdirTemp(out, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", tmp + string(filepath.Separator)}
	for _, fn := range fns {
		if fn == "" || strings.ContainsAny(fn, `/\.`) {
			return nil, fmt.Errorf("build: invalid function name %q", fn)
		}
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(fns, " "), err, stderr.String())
	}
	paths := make(map[string]string, len(fns))
	for _, fn := range fns {
		dst := filepath.Join(out, fn, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(tmp, fn), dst); err != nil {
			return nil, fmt.Errorf("build %s: %w", fn, err)
		}
		paths[fn] = dst
	}
	return paths, nil
}
