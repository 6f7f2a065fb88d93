package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// `make reconcile` runs the real function on the sample roster: the
// summary, the reports copied out, and with -apply the outcomes of the
// events the pipeline applied.
func TestReconcileSampleRoster(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	o := options{roster: filepath.Join("..", "..", "events", "roster-sample.csv"), binDir: t.TempDir(), out: out, apply: true}
	if err := run(context.Background(), o, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"rosters/apply/roster-sample.csv", "adoptable      2", "missing        2", "leaver_enabled 1", "sent       5 HRIS event(s)",
		"User Deprovisioned     bwilliams", "User Provisioned       pat.lee"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "roster-sample-*"))
	if len(files) != 2 {
		t.Fatalf("reports copied: %v", files)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := run(context.Background(), options{roster: "no-such.csv", binDir: t.TempDir(), out: out}, &stdout, &stderr); err == nil {
		t.Error("a missing roster file is not an error")
	}
}
