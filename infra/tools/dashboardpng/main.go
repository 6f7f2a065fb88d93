// Command dashboardpng draws the stack's CloudWatch dashboard as a PNG for
// the README: it reads the DashboardBody of the synthesized template
// (`make synth`), lays out every widget where CloudWatch puts it (the
// 24-column grid), plots each widget's metrics with sample data (there is
// no account to read real data from), and screenshots the page with a
// headless Chromium from Debian's packages (`apt-get install chromium`).
//
//	make dashboard-png
//	go run ./tools/dashboardpng -template ../cdk.out/EncompassLifecycle.template.json -out ../docs/dashboard.png
//
// It is a documentation tool: no test or CI step needs Chromium.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/lenderops/encompass-lifecycle/infra/internal/cwdashboard"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dashboardpng:", err)
		os.Exit(1)
	}
}

func run() error {
	template := flag.String("template", "../cdk.out/EncompassLifecycle.template.json", "synthesized CloudFormation template")
	construct := flag.String("construct", "OperationsDashboard", "construct id of the dashboard")
	out := flag.String("out", "../docs/dashboard.png", "PNG to write")
	htmlOut := flag.String("html", "", "also keep the HTML page here")
	chromium := flag.String("chromium", "chromium", "Chromium binary")
	end := flag.String("end", "2026-11-23T12:00:00Z", "the sample data's last instant (fixed, so the picture is reproducible)")
	flag.Parse()

	endAt, err := time.Parse(time.RFC3339, *end)
	if err != nil {
		return fmt.Errorf("-end: %w", err)
	}
	raw, err := os.ReadFile(*template)
	if err != nil {
		return fmt.Errorf("%w (run make synth first)", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", *template, err)
	}
	d, err := cwdashboard.FromTemplate(doc, *construct)
	if err != nil {
		return err
	}
	page, width, height := Render(d, Options{End: endAt, Source: filepath.Base(*template), Construct: *construct})

	dir, err := os.MkdirTemp("", "dashboardpng-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	htmlPath := filepath.Join(dir, "dashboard.html")
	if err := os.WriteFile(htmlPath, page, 0o644); err != nil {
		return err
	}
	if *htmlOut != "" {
		if err := os.WriteFile(*htmlOut, page, 0o644); err != nil {
			return err
		}
	}
	if err := screenshot(*chromium, htmlPath, *out, filepath.Join(dir, "profile"), width, height); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dashboardpng: wrote %s (%dx%d, %d widgets)\n", *out, width, height, len(d.Widgets))
	return nil
}

// screenshot runs a headless Chromium, isolated (a fresh profile, no
// network services of its own), on the local page.
func screenshot(chromium, page, out, profile string, width, height int) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir="+profile,
		fmt.Sprintf("--window-size=%d,%d", width, height),
		"--screenshot="+abs,
		"file://"+page)
	if b, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: apt-get install -y chromium (or -chromium PATH)", chromium)
		}
		return fmt.Errorf("%s: %w\n%s", chromium, err, b)
	}
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		return fmt.Errorf("%s wrote no screenshot to %s", chromium, abs)
	}
	return nil
}
