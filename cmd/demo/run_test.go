package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// watchWriter collects the demo's output and says when marker appeared.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestDemo runs the demo as `make demo KEEP=true` does and checks the
// timeline and the summary a newcomer reads, then that the product kept
// running answers at the address it printed for lifecyclectl, until the
// demo is stopped.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watchWriter{marker: "keeps running", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out, t.TempDir(), true, true) }()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("demo ended without keeping the product running: %v\n%s", err, out)
	}
	text := out.String()
	m := regexp.MustCompile(`export STATE_TABLE=(\S+) AWS_ENDPOINT_URL_DYNAMODB=(\S+) `).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no instructions for lifecyclectl:\n%s", text)
	}
	emp, found, err := state.New(testenv.NewDynamoDBClient(m[2]), m[1]).GetEmployee(ctx, "E1001")
	if err != nil || !found || emp.UserName != "alice.nguyen" {
		t.Errorf("the kept product's state table at %s: %+v found=%v err=%v", m[2], emp, found, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stopping the kept demo: %v", err)
	}
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
		"reconcile rosters/apply/hr-export.csv",
		"reconciliation      in_sync 2, drift 1, adoptable 3, leaver_enabled 1, orphan 1; 5 HRIS event(s) sent",
		"applied         User Deprovisioned x1, User Provisioned x3, User Updated x1",
		"User Deprovisioned dan.okafor",
		"orphan bwilliams",
		`personas "Loan Officer"->"Loan Processor"`,
		"User Provisioned uma.reyes [encompass+dda]",
		`User Updated uma.reyes [encompass+dda]: dda.enabled "true"->"false"`,
		"User Deprovisioned uma.reyes [encompass+dda]",
		"Encompass disabled, DDA disabled (role Underwriter)",
		// Effective dates: a hire held until the start date and applied
		// when it comes, and a rescinded offer.
		"HRIS Event Scheduled erin.park until",
		"hris-0101 is due: sent back to the provision queue",
		"User Provisioned erin.park (applied",
		"HRIS Event Skipped hris-0102 of E1006 (superseded by hris-0109)",
		"events held         5",
		"superseded          2",
		`"msg":"cold start complete"`, // -v prints the functions' logs
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for label, want := range map[string]string{"users created": "4", "users updated": "2", "users disabled": "3", "users reactivated": "1", "events not applied": "3"} {
		re := regexp.MustCompile(`(?m)^  ` + label + ` +(\d+)$`)
		if m := re.FindStringSubmatch(text); m == nil || m[1] != want {
			t.Errorf("summary %q = %v, want %s", label, m, want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
