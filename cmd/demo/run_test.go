package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestDemo runs the demo as `make demo` does and checks the timeline and the
// summary a newcomer reads.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, t.TempDir(), true); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"User Provisioned alice.nguyen",
		"HRIS Event Rejected E1002 (invalid_field",
		`organizationId "Administration"->"Processing"`,
		"User Reactivated carol.diaz",
		"(duplicate",
		"(stale",
		"Baseline Established",
		"User Changed alice.nguyen [external]",
		"User Drift Detected dan.okafor",
		"HTTP 200; Loan update",
		"HTTP 401; nothing published",
		"invocations         8 (4 cold starts), 0 failure(s)",
		`"msg":"cold start complete"`, // -v prints the functions' logs
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for label, want := range map[string]string{"users created": "3", "users updated": "1", "users disabled": "2", "users reactivated": "1", "events not applied": "3"} {
		re := regexp.MustCompile(`(?m)^  ` + label + ` +(\d+)$`)
		if m := re.FindStringSubmatch(text); m == nil || m[1] != want {
			t.Errorf("summary %q = %v, want %s", label, m, want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
