package reconcile_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
)

// dayOne is the tenant of the main scenario: the simulator's seed (an API
// user, mjohnson E10001, asmith E10002, bwilliams E10003 without a global
// id, a disabled former employee) and hand-made accounts.
func dayOne(t testing.TB, opts ...envOption) *env {
	e := newEnv(t, nil, append([]envOption{withConfig(func(c *reconcile.Config) { c.IgnoreLogins = []string{"svc-*"} })}, opts...)...)
	for _, u := range []encompasstest.SimUser{
		{LoginID: "jkim", FirstName: "Jane", LastName: "Kim", Email: "jane.kim@lender.example", OrganizationID: "1", Personas: []string{"10"}, Enabled: true},
		{LoginID: "sharedA", FirstName: "Front", LastName: "Desk", Email: "frontdesk@lender.example", OrganizationID: "1", Enabled: true},
		{LoginID: "sharedB", FirstName: "Front", LastName: "Desk", Email: "FrontDesk@lender.example", OrganizationID: "1", Enabled: true},
		{LoginID: "temp.contractor", FirstName: "Temp", LastName: "Contractor", Email: "temp@agency.example", OrganizationID: "1", Enabled: true},
		{LoginID: "svc-backup", FirstName: "Backup", LastName: "Service", Email: "backup@lender.example", OrganizationID: "0", Enabled: true},
	} {
		if err := e.sim.UpsertUser(u); err != nil {
			t.Fatal(err)
		}
	}
	// Maria was provisioned before: her link exists.
	e.link("E10001", "mjohnson")
	return e
}

const dayOneHeader = "employeeId,givenName,familyName,email,jobCode,department,status,favouriteColour"

var dayOneRows = []string{
	"E10001,Maria,Johnson,maria.johnson@lender.example,LO1,Retail Lending,active,blue", // linked: drift (mapping's org and group)
	"E10002,Alex,Smith,alex.smith@lender.example,LP1,Processing,active,",               // not linked, Encompass employeeId: adoptable
	"E20001,Pat,Lee,pat.lee@lender.example,LO2,Retail Lending,active,",                 // no account: missing
	"E10003,Bea,Williams,bea.williams@lender.example,,,terminated,",                    // leaver the events missed: leaver_enabled
	"E20002,Jane,Kim,jane.kim@lender.example,LO1,Retail Lending,Active,",               // e-mail only: suggested
	"E20003,Front,Desk,frontdesk@lender.example,,,active,",                             // two accounts with the e-mail: ambiguous
	"E20004,Old,Timer,former.employee@lender.example,,,terminated,",                    // e-mail of a disabled account: suggested, nothing to do
	"E20005,Gone,Before,gone.before@lender.example,,,terminated,",                      // terminated, no account: in_sync
}

func TestDayOneDryRun(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	res := e.run("rosters/dry-run/2026-11-20.csv", csvRoster(dayOneHeader, dayOneRows...))
	r := e.report(res)
	want := map[string]string{
		"E10001": reconcile.ClassDrift, "E10002": reconcile.ClassAdoptable, "E20001": reconcile.ClassMissing,
		"E10003": reconcile.ClassLeaverEnabled, "E20002": reconcile.ClassSuggested, "E20003": reconcile.ClassAmbiguous,
		"E20004": reconcile.ClassSuggested, "E20005": reconcile.ClassInSync,
	}
	for id, class := range want {
		if f := r.byEmployee(t, id); f.Class != class {
			t.Errorf("%s: %s (%s), want %s", id, f.Class, f.Reason, class)
		}
	}
	// API users and ignored logins are never orphans; accounts matched by
	// e-mail alone are not orphans either.
	if got := r.orphans(); !slices.Equal(got, []string{"temp.contractor"}) {
		t.Errorf("orphans = %v, want [temp.contractor]\n%s", got, fmtFindings(r.Findings))
	}
	drift := r.byEmployee(t, "E10001")
	// Maria is in Retail Loan Officers already (the seed): only the
	// mapping's organization differs.
	if len(drift.Differences) != 1 || drift.Differences[0] != (diffRow{"organizationId", "1", "0"}) {
		t.Errorf("drift differences = %+v", drift.Differences)
	}
	if f := r.byEmployee(t, "E10002"); ptr(f.Login) != "asmith" || !strings.Contains(f.Reason, "by employeeId") {
		t.Errorf("adoptable: %+v", f)
	}
	if f := r.byEmployee(t, "E20003"); !strings.Contains(f.Reason, "sharedA, sharedB") {
		t.Errorf("ambiguous: %+v", f)
	}
	counts := map[string]int{"in_sync": 1, "drift": 1, "adoptable": 1, "suggested": 2, "ambiguous": 1, "missing": 1, "leaver_enabled": 1, "orphan": 1, "invalid": 0}
	for c, n := range counts {
		if res.Counts[c] != n || r.Counts[c] != n {
			t.Errorf("count %s = %d (report %d), want %d", c, res.Counts[c], r.Counts[c], n)
		}
	}
	if len(r.Counts) != len(reconcile.Classes) {
		t.Errorf("counts %v: every class must be present", r.Counts)
	}
	if !r.DryRun || !res.DryRun || res.Sent != 0 || len(e.sqs.Ops()) != 0 {
		t.Fatalf("a dry run sent: %+v, SQS calls %v", res, e.sqs.Ops())
	}
	if !slices.Equal(r.IgnoredColumns, []string{"favouriteColour"}) {
		t.Errorf("ignored columns = %v", r.IgnoredColumns)
	}
	// The CSV report has the same findings.
	csv, err := e.s3.Get(context.Background(), bucket, res.CSVReportKey)
	if err != nil || strings.Count(string(csv), "\n") != len(r.Findings)+1 || !strings.HasPrefix(string(csv), "class,employeeId,encompassLogin,reason,differences,row\n") {
		t.Errorf("CSV report (%v):\n%s", err, csv)
	}
	evs := e.reconcileEvents()
	if len(evs) != 1 || evs[0].DetailType != catalog.ReconciliationCompleted {
		t.Fatalf("published %+v", evs)
	}
	d := evs[0].DetailMap()
	if d["runId"] != res.RunID || d["reportKey"] != res.ReportKey || d["dryRun"] != true || d["sent"] != float64(0) || d["rosterKey"] != "rosters/dry-run/2026-11-20.csv" {
		t.Errorf("detail = %v", d)
	}
	if c, _ := d["counts"].(map[string]any); len(c) != len(reconcile.Classes) || c["leaver_enabled"] != float64(1) {
		t.Errorf("detail counts = %v", d["counts"])
	}
	if e.metrics.Value("EventsSent") != 0 {
		t.Error("EventsSent counted in a dry run")
	}
	if !strings.HasPrefix(res.ReportKey, "reports/2026-11-20-"+res.RunID) || !strings.HasSuffix(res.ReportKey, ".json") {
		t.Errorf("report key %s", res.ReportKey)
	}
}

// Applying sends one HRIS event per adoptable, missing, drift and
// leaver_enabled finding, ten to a SendMessageBatch call, and the pipeline
// turns them into the normal outcome events; a second roster then finds
// those employees in sync.
func TestDayOneApplyThroughThePipeline(t *testing.T) {
	t.Parallel()
	e := dayOne(t)
	writesBefore := encompassWrites(e)
	res := e.run("rosters/apply/2026-11-20.csv", csvRoster(dayOneHeader, dayOneRows...))
	if res.DryRun || res.Sent != 4 {
		t.Fatalf("result %+v", res)
	}
	if w := encompassWrites(e); w != writesBefore {
		t.Fatalf("reconciliation wrote to Encompass itself (%d writes)", w-writesBefore)
	}
	sent := e.sqs.Sent()
	byID := map[string]string{}
	for _, m := range sent {
		byID[m.GroupID] = m.Body
		if m.DedupID != reconcile.EventID(res.RunID, m.GroupID) {
			t.Errorf("dedup id %s for %s", m.DedupID, m.GroupID)
		}
		if strings.Contains(m.Body, "terminate") != (m.QueueURL == e.deprovQ.URL) {
			t.Errorf("%s went to %s", m.GroupID, m.QueueURL)
		}
	}
	if len(byID) != 4 || !strings.Contains(byID["E10002"], `"encompassUserName":"asmith"`) || !strings.Contains(byID["E10003"], `"encompassUserName":"bwilliams"`) ||
		!strings.Contains(byID["E10001"], `"source":"reconcile"`) || strings.Contains(byID["E10001"], "favouriteColour") {
		t.Fatalf("sent %v", byID)
	}
	if calls := len(e.sqs.CallsOf("SendMessageBatch")); calls != 2 {
		t.Errorf("%d SendMessageBatch calls for 3 updates and 1 terminate, want one per queue", calls)
	}

	// The same object again (S3 delivers a notification twice now and
	// then), before the queue was read: the same run, the same event ids;
	// the queue drops them.
	ev := s3Event("rosters/apply/2026-11-20.csv", "", "")
	ev.Records[0].S3.Object = e.lastObject
	resp, err := e.rec.HandleS3(context.Background(), ev)
	if err != nil || resp.Results[0].RunID != res.RunID {
		t.Fatalf("re-run: %+v %v", resp, err)
	}
	again := e.sqs.Sent()[len(sent):]
	if len(again) != 4 {
		t.Fatalf("re-run sent %d", len(again))
	}
	for _, m := range again {
		if !m.Duplicate || m.DedupID != reconcile.EventID(res.RunID, m.GroupID) {
			t.Errorf("a re-run sent %s as %s (duplicate %v)", m.GroupID, m.DedupID, m.Duplicate)
		}
	}

	e.deliver(0)
	for id, want := range map[string]string{
		"E10001": catalog.UserUpdated, "E10002": catalog.UserProvisioned, "E20001": catalog.UserProvisioned, "E10003": catalog.UserDeprovisioned,
	} {
		if dt, d := e.outcome(reconcile.EventID(res.RunID, id)); dt != want {
			t.Errorf("%s: %s %v, want %s", id, dt, d, want)
		}
	}
	if u, _ := e.sim.User("bwilliams"); u.Enabled {
		t.Error("the missed leaver is still enabled")
	}
	if _, d := e.outcome(reconcile.EventID(res.RunID, "E10002")); d["action"] != "adopted" || d["userName"] != "asmith" {
		t.Errorf("adoption: %v", d)
	}

	// Tomorrow's roster: those four are in sync now.
	e.now = e.now.Add(24 * time.Hour)
	res2 := e.run("rosters/dry-run/2026-11-21.csv", csvRoster(dayOneHeader, dayOneRows...))
	r2 := e.report(res2)
	for _, id := range []string{"E10001", "E10002", "E20001", "E10003"} {
		if f := r2.byEmployee(t, id); f.Class != reconcile.ClassInSync {
			t.Errorf("%s after apply: %s %s %+v", id, f.Class, f.Reason, f.Differences)
		}
	}
}

// encompassWrites counts the requests that change Encompass.
func encompassWrites(e *env) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method != "GET" && !strings.HasPrefix(r.Endpoint, "POST /oauth2") {
			n++
		}
	}
	return n
}

// With the poller's snapshot younger than an hour, no Encompass user is
// listed; an older one is not used.
func TestUsersFromAFreshSnapshot(t *testing.T) {
	t.Parallel()
	e := dayOne(t, withConfig(func(c *reconcile.Config) { c.IsAPIUser = nil; c.Group = nil; c.ManagedGroups = nil }))
	p, err := poll.New(poll.Config{Users: e.client.Users, State: e.store, Snapshot: e.snapshot, Publisher: publishNothing{}, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(59 * time.Minute)
	before := e.calls.Load()
	res := e.run("rosters/dry-run/fresh.csv", csvRoster(dayOneHeader, dayOneRows...))
	if calls := e.calls.Load() - before; calls != 0 || res.UsersFrom != reconcile.UsersFromSnapshot {
		t.Fatalf("%d Encompass calls with a fresh snapshot (users from %s)", calls, res.UsersFrom)
	}
	if f := e.report(res).byEmployee(t, "E10003"); f.Class != reconcile.ClassLeaverEnabled {
		t.Fatalf("from the snapshot: %+v", f)
	}
	// An explicit link to an account made since the poll: one look-up,
	// rather than calling it a link to nothing.
	if err := e.sim.UpsertUser(simUser("made.today")); err != nil {
		t.Fatal(err)
	}
	before = e.calls.Load()
	res = e.run("rosters/dry-run/fresh-link.csv", csvRoster(dayOneHeader+",encompassUserName",
		"E10001,Maria,Johnson,maria.johnson@lender.example,LO1,Retail Lending,active,,",
		"E30001,Made,Today,made.today@lender.example,LO1,Retail Lending,active,,made.today"))
	if calls := e.calls.Load() - before; calls != 1 || e.report(res).byEmployee(t, "E30001").Class != reconcile.ClassAdoptable {
		t.Fatalf("explicit link newer than the snapshot: %d calls, %+v", calls, e.report(res).byEmployee(t, "E30001"))
	}

	e.now = e.now.Add(2 * time.Minute)
	before = e.calls.Load()
	res = e.run("rosters/dry-run/stale.csv", csvRoster(dayOneHeader, dayOneRows...))
	// 13 users: one page of the listing (the token is held already).
	if calls := e.calls.Load() - before; res.UsersFrom != reconcile.UsersFromListing || calls != 1 {
		t.Fatalf("an hour-old snapshot: users from %s, %d calls", res.UsersFrom, calls)
	}
}

type publishNothing struct{}

func (publishNothing) Publish(context.Context, ...publish.Event) error { return nil }

// DRY_RUN=true reports a roster under rosters/apply/ but sends nothing:
// the function needs no queues then.
func TestDryRunVariableNeverApplies(t *testing.T) {
	t.Parallel()
	e := dayOne(t, withConfig(func(c *reconcile.Config) {
		c.DryRun, c.Queues, c.ProvisionQueueURL, c.DeprovisionQueueURL = true, nil, "", ""
	}))
	res := e.run("rosters/apply/2026-11-20.csv", csvRoster(dayOneHeader, dayOneRows...))
	if !res.DryRun || res.Sent != 0 || len(e.sqs.Ops()) != 0 || res.Counts[reconcile.ClassLeaverEnabled] != 1 {
		t.Fatalf("%+v, SQS %v", res, e.sqs.Ops())
	}
	if d := e.reconcileEvents()[0].DetailMap(); d["dryRun"] != true {
		t.Fatalf("detail %v", d)
	}
	// Without DRY_RUN, the queues are required.
	cfg := e.cfg
	cfg.DryRun = false
	if _, err := reconcile.New(cfg); err == nil || !strings.Contains(err.Error(), "Queues") {
		t.Fatalf("New without queues: %v", err)
	}
}
