package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const bucket = "lender-rosters"

// env is one installation: the Encompass simulator over HTTP, dynalite,
// S3 (gofakes3), SQS and EventBridge fakes, the reconciler, and the
// provisioning handlers that consume what it sends.
type env struct {
	t        testing.TB
	sim      *encompasstest.Server
	client   *encompass.Client
	store    *state.Store
	snapshot *state.Snapshot
	s3       *testenv.S3Fake
	sqs      *testenv.SQSFake
	eb       *testenv.EventBridgeFake
	rules    *mapping.Resolved
	rec      *reconcile.Reconciler
	prov     *provisioning.Handler
	deprov   *provisioning.Handler
	provQ    *testenv.SQSQueue
	deprovQ  *testenv.SQSQueue
	logs     *testenv.Buffer
	metrics  *telemetry.Metrics
	now      time.Time
	calls    atomic.Int64
	cfg      reconcile.Config
	// lastObject is the notification's object of the last put.
	lastObject events.S3Object
}

type envOption func(*env, *reconcile.Config)

func withConfig(fn func(*reconcile.Config)) envOption {
	return func(_ *env, c *reconcile.Config) { fn(c) }
}

func newEnv(t testing.TB, simOpts []encompasstest.Option, opts ...envOption) *env {
	t.Helper()
	return newEnvWithRules(t, simOpts, mapping.Default(), opts...)
}

// newEnvWithRules is newEnv with other mapping rules, which the reconciler
// and the provisioning handlers share.
func newEnvWithRules(t testing.TB, simOpts []encompasstest.Option, rules *mapping.Rules, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, logs: &testenv.Buffer{}, now: time.Now().UTC().Truncate(time.Second)}
	e.sim = encompasstest.NewServer(t, simOpts...)
	var err error
	e.client, err = encompass.New(encompass.Config{
		BaseURL: e.sim.URL, InstanceID: e.sim.InstanceID, ClientID: e.sim.ClientID, ClientSecret: e.sim.ClientSecret,
		Username: e.sim.Username, Password: e.sim.Password, HTTPClient: e.sim.Client(), MaxInFlight: 8,
		BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
		OnCall: func(encompass.CallInfo) { e.calls.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoDB(t)
	e.store = state.New(db.Client, db.CreateTable(t))
	e.snapshot = state.NewSnapshot(e.store, 4)
	e.s3 = testenv.S3(t)
	if err := e.s3.CreateBucket(context.Background(), bucket, true); err != nil {
		t.Fatal(err)
	}
	e.sqs = testenv.SQS(t)
	e.provQ = e.sqs.AddQueue("lifecycle-provision.fifo", 0, nil)
	e.deprovQ = e.sqs.AddQueue("lifecycle-deprovision.fifo", 0, nil)
	e.eb = testenv.EventBridge(t)
	e.rules, err = mapping.Resolve(context.Background(), rules, mapping.Resolvers{
		Personas: e.client.Personas.Resolve, Organizations: e.client.Organizations.Resolve, Groups: e.client.SCIM.ResolveGroups,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.For("scim", e.client.Users, e.client.SCIM, e.client.AccountLinks, e.rules)
	if err != nil {
		t.Fatal(err)
	}
	pub := publish.New(e.eb.Client, "lifecycle-bus", publish.WithBackoff(time.Millisecond))
	e.metrics = telemetry.NewMetrics(telemetry.Namespace, map[string]string{"Function": "reconcile"})
	log := telemetry.NewLogger(e.logs, slog.LevelDebug)
	e.cfg = reconcile.Config{
		Bucket: bucket, Objects: e.s3.Client, Queues: e.sqs.Client,
		ProvisionQueueURL: e.provQ.URL, DeprovisionQueueURL: e.deprovQ.URL,
		Store: e.store, Snapshot: e.snapshot,
		ListUsers: func(ctx context.Context) iter.Seq2[encompass.User, error] { return e.client.Users.All(ctx, nil) },
		FindUser:  e.client.Users.FindByLoginID,
		Group:     e.client.SCIM.GetGroup, ManagedGroups: dir.ManagedGroups(),
		IsAPIUser: reconcile.SCIMAPIUser(e.client.SCIM),
		Mapping:   e.rules, Publisher: pub, Logger: log, Metrics: e.metrics,
		MinRosterRatio: reconcile.DefaultMinRosterRatio,
		Now:            func() time.Time { return e.now }, TempDir: t.TempDir(),
	}
	for _, o := range opts {
		o(e, &e.cfg)
	}
	e.rec, err = reconcile.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The provisioning functions the applied events go through; events
	// that are not future-dated never reach their Scheduler.
	sched, err := schedule.New(testenv.Scheduler(t, "lifecycle-held").Client, schedule.Config{Group: "lifecycle-held",
		RoleARN: "arn:aws:iam::123456789012:role/lifecycle-scheduler", DeadLetterARN: "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []hris.Queue{hris.QueueProvision, hris.QueueDeprovision} {
		h, err := provisioning.New(provisioning.Config{Queue: q, Directory: dir, Store: e.store, Publisher: pub, Mapping: e.rules, Logger: log,
			Scheduler: sched, QueueARN: "arn:aws:sqs:us-east-1:123456789012:lifecycle-" + string(q) + ".fifo",
			Now: func() time.Time { return e.now }})
		if err != nil {
			t.Fatal(err)
		}
		if q == hris.QueueProvision {
			e.prov = h
		} else {
			e.deprov = h
		}
	}
	e.logs.Watch(t, e.sim.LeakedSecrets, 30)
	return e
}

// put stores a roster and returns the S3 notification Lambda receives for
// it (the key URL-encoded, as S3 sends it).
func (e *env) put(key string, body string) events.S3Event {
	e.t.Helper()
	version, etag, err := e.s3.Put(context.Background(), bucket, key, []byte(body))
	if err != nil {
		e.t.Fatal(err)
	}
	ev := s3Event(key, version, etag)
	e.lastObject = ev.Records[0].S3.Object
	return ev
}

func s3Event(key, version, etag string) events.S3Event {
	return events.S3Event{Records: []events.S3EventRecord{{
		EventSource: "aws:s3", EventName: "ObjectCreated:Put", AWSRegion: "us-east-1",
		S3: events.S3Entity{
			Bucket: events.S3Bucket{Name: bucket, Arn: "arn:aws:s3:::" + bucket},
			Object: events.S3Object{Key: url.QueryEscape(key), VersionID: version, ETag: etag},
		},
	}}}
}

// run reconciles the roster put under key and returns its one result.
func (e *env) run(key, body string) reconcile.Result {
	e.t.Helper()
	resp, err := e.rec.HandleS3(context.Background(), e.put(key, body))
	if err != nil {
		e.t.Fatalf("HandleS3: %v", err)
	}
	if len(resp.Results) != 1 {
		e.t.Fatalf("%d results", len(resp.Results))
	}
	return resp.Results[0]
}

// report reads a run's JSON report.
type report struct {
	RunID          string         `json:"runId"`
	RosterKey      string         `json:"rosterKey"`
	DryRun         bool           `json:"dryRun"`
	Counts         map[string]int `json:"counts"`
	Refused        string         `json:"refused"`
	IgnoredColumns []string       `json:"ignoredColumns"`
	Findings       []finding      `json:"findings"`
}

type finding struct {
	Class       string    `json:"class"`
	EmployeeID  *string   `json:"employeeId"`
	Login       *string   `json:"encompassLogin"`
	Reason      string    `json:"reason"`
	Differences []diffRow `json:"differences"`
	Row         int       `json:"row"`
}

type diffRow struct{ Field, From, To string }

func (e *env) report(res reconcile.Result) report {
	e.t.Helper()
	b, err := e.s3.Get(context.Background(), bucket, res.ReportKey)
	if err != nil {
		e.t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	return r
}

// byEmployee returns the finding of an employee (exactly one).
func (r report) byEmployee(t testing.TB, id string) finding {
	t.Helper()
	var out []finding
	for _, f := range r.Findings {
		if f.EmployeeID != nil && *f.EmployeeID == id && f.Class != reconcile.ClassOrphan {
			out = append(out, f)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d findings for %s:\n%s", len(out), id, fmtFindings(r.Findings))
	}
	return out[0]
}

// orphans returns the logins reported as orphans.
func (r report) orphans() []string {
	var out []string
	for _, f := range r.Findings {
		if f.Class == reconcile.ClassOrphan {
			out = append(out, *f.Login)
		}
	}
	return out
}

// deliver hands every message the queues accepted since the last call to
// the provisioning function its queue feeds, as SQS would.
func (e *env) deliver(from int) int {
	e.t.Helper()
	sent := e.sqs.Sent()
	for _, m := range sent[from:] {
		if m.Duplicate {
			continue
		}
		h := e.prov
		if m.QueueURL == e.deprovQ.URL {
			h = e.deprov
		}
		r := events.SQSMessage{MessageId: m.MessageID, Body: m.Body, Attributes: map[string]string{"MessageGroupId": m.GroupID}}
		resp, err := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{r}})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			e.t.Fatalf("delivery of %s failed: %v %+v\n%s", m.DedupID, err, resp, e.logs.Tail(20))
		}
	}
	return len(sent)
}

// outcome returns the provisioning outcome published for an event id.
func (e *env) outcome(eventID string) (string, map[string]any) {
	e.t.Helper()
	for _, ev := range e.eb.Events() {
		if d := ev.DetailMap(); ev.Source == catalog.SourceProvisioning && d["eventId"] == eventID {
			return ev.DetailType, d
		}
	}
	e.t.Fatalf("no outcome for %s", eventID)
	return "", nil
}

// reconcileEvents returns the encompass.reconcile events.
func (e *env) reconcileEvents() []testenv.Event {
	var out []testenv.Event
	for _, ev := range e.eb.Events() {
		if ev.Source == catalog.SourceReconcile {
			out = append(out, ev)
		}
	}
	return out
}

// link stores an employee link as provisioning would.
func (e *env) link(employeeID, login string) {
	e.t.Helper()
	if err := e.store.PutEmployee(context.Background(), state.Employee{EmployeeID: employeeID, UserID: strings.ToLower(login), UserName: login,
		Status: state.StatusActive, LastOccurredAt: e.now.Add(-48 * time.Hour), LastEventID: "hris-" + employeeID}, 0); err != nil {
		e.t.Fatal(err)
	}
}

// csvRoster joins a header and rows into a CSV roster with CRLF line ends.
func csvRoster(header string, rows ...string) string {
	return header + "\r\n" + strings.Join(rows, "\r\n") + "\r\n"
}

func ptr(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func fmtFindings(fs []finding) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 30 {
			fmt.Fprintf(&b, "  ... %d more\n", len(fs)-i)
			break
		}
		fmt.Fprintf(&b, "  %s %s %s: %s\n", f.Class, ptr(f.EmployeeID), ptr(f.Login), f.Reason)
	}
	return b.String()
}

// simUser is an enabled account in Retail Lending.
func simUser(login string) encompasstest.SimUser {
	return encompasstest.SimUser{LoginID: login, FirstName: "Staff", LastName: login, Email: login + "@lender.example", OrganizationID: "1", Personas: []string{"10"}, Enabled: true}
}
