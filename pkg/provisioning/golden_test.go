package provisioning_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var guidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestOutcomeEventsGolden pins the detail of every outcome event other
// systems read (CONTRACTS section 3) in testdata/golden.
func TestOutcomeEventsGolden(t *testing.T) {
	t.Parallel()
	// A fixed clock: the leaver's receipt says when the event arrived and
	// when the account read back disabled, 1 h 30 m after the terminate.
	e := newEnv(t, config.UserAPISCIM, withNow(testenv.NewClock(t0.Add(3*time.Hour+30*time.Minute)).Now))
	named := func(m msg, id string) msg { m["eventId"] = id; return m }
	steps := []struct {
		golden, detailType string
		h                  *provisioning.Handler
		m                  msg
	}{
		{"user_provisioned_created", catalog.UserProvisioned, e.prov, named(hrisEvent("hire", "E42", t0, joiner("E42", "gold")), "hris-1")},
		{"hris_event_skipped_duplicate", catalog.HRISEventSkipped, e.prov, named(hrisEvent("hire", "E42", t0, joiner("E42", "gold")), "hris-1")},
		{"user_updated", catalog.UserUpdated, e.prov, named(hrisEvent("update", "E42", t0.Add(time.Hour), map[string]any{
			"department": "Processing", "jobCode": "P1", "middleName": "Q", "fax": "555.555.9999",
		}), "hris-2")},
		{"hris_event_skipped_stale", catalog.HRISEventSkipped, e.prov, named(hrisEvent("update", "E42", t0.Add(30*time.Minute), map[string]any{"jobTitle": "x"}), "hris-3")},
		{"user_deprovisioned", catalog.UserDeprovisioned, e.deprov, named(hrisEvent("terminate", "E42", t0.Add(2*time.Hour), nil), "hris-4")},
		{"user_reactivated", catalog.UserReactivated, e.prov, named(hrisEvent("rehire", "E42", t0.Add(3*time.Hour), joiner("E42", "gold")), "hris-5")},
		{"user_provisioned_adopted", catalog.UserProvisioned, e.prov, named(hrisEvent("update", "E10001", t0, map[string]any{
			"userName": "mjohnson", "email": "maria.johnson@lender.example", "jobTitle": "Branch Manager",
		}), "hris-6")},
		{"hris_event_skipped_not_provisioned", catalog.HRISEventSkipped, e.deprov, named(hrisEvent("terminate", "E43", t0, nil), "hris-7")},
		{"hris_event_rejected_invalid_field", catalog.HRISEventRejected, e.prov, named(hrisEvent("hire", "E44", t0, map[string]any{
			"userName": "bad", "givenName": "B", "familyName": "C", "email": "not-an-address",
		}), "hris-8")},
		{"hris_event_rejected_username_conflict", catalog.HRISEventRejected, e.prov, named(hrisEvent("hire", "E45", t0, map[string]any{
			"userName": "asmith", "givenName": "Ann", "familyName": "Smith", "email": "ann.smith@lender.example",
		}), "hris-9")},
	}
	for _, s := range steps {
		e.eb.Reset()
		e.mustSend(s.h, s.m.body())
		evs := e.eb.Events()
		if len(evs) != 1 || evs[0].DetailType != s.detailType || evs[0].Source != catalog.SourceProvisioning || evs[0].EventBusName != "lifecycle-bus" {
			t.Fatalf("%s: published %+v", s.golden, evs)
		}
		compareGolden(t, s.golden, evs[0].Detail)
	}
}

func TestDryRunGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM, dryRun())
	m := hrisEvent("hire", "E46", t0, joiner("E46", "dry"))
	m["eventId"] = "hris-dry-1"
	e.mustSend(e.prov, m.body())
	evs := e.eb.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	compareGolden(t, "dry_run_user_provisioned", evs[0].Detail)
}

func compareGolden(t *testing.T, name string, detail []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(detail, &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = guidPattern.ReplaceAll(got, []byte("<globalUserId>"))
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, strings.TrimSpace(string(got)))
	}
}

// TestHeldEventsGolden pins the details of effective dates (CONTRACTS
// section 2a): a hire held until its start date, an update held behind it
// (not yet joined), both cancelled by a rescinding terminate, and a dry
// run's hold.
func TestHeldEventsGolden(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0.Add(time.Minute))
	e := newEnv(t, config.UserAPISCIM, withNow(clock.Now))
	due := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	hire := hrisEvent("hire", "E47", t0, joiner("E47", "heldgold"))
	hire["eventId"], hire["effectiveAt"] = "hris-held-1", due.Format(time.RFC3339)
	upd := hrisEvent("update", "E47", t0.Add(time.Minute), map[string]any{"jobTitle": "Senior Loan Officer"})
	upd["eventId"] = "hris-held-2"
	rescind := hrisEvent("terminate", "E47", t0.Add(2*time.Minute), nil)
	rescind["eventId"] = "hris-held-3"
	steps := []struct {
		h      *provisioning.Handler
		m      msg
		golden []string
	}{
		{e.prov, hire, []string{"hris_event_scheduled"}},
		{e.prov, upd, []string{"hris_event_scheduled_held_behind"}},
		{e.deprov, rescind, []string{"hris_event_skipped_superseded", "hris_event_skipped_superseded_update", "hris_event_skipped_not_provisioned_rescission"}},
	}
	for _, s := range steps {
		clock.Advance(time.Minute)
		e.eb.Reset()
		e.mustSend(s.h, s.m.body())
		evs := e.eb.Events()
		if len(evs) != len(s.golden) {
			t.Fatalf("%s: published %d events, want %d", s.m.id(), len(evs), len(s.golden))
		}
		for i, g := range s.golden {
			compareGolden(t, g, evs[i].Detail)
		}
	}

	dry := newEnv(t, config.UserAPISCIM, withNow(clock.Now), dryRun())
	m := hrisEvent("hire", "E48", t0, joiner("E48", "dryheld"))
	m["eventId"], m["effectiveAt"] = "hris-held-dry", due.Format(time.RFC3339)
	dry.mustSend(dry.prov, m.body())
	evs := dry.eb.Events()
	if len(evs) != 1 {
		t.Fatalf("dry run: %d events", len(evs))
	}
	compareGolden(t, "dry_run_hris_event_scheduled", evs[0].Detail)
}
