package provisioning_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is one product installation for a test: the Encompass simulator over
// HTTP, a dynalite table, the EventBridge fake, and both handlers.
type env struct {
	t      testing.TB
	sim    *encompasstest.Server
	client *encompass.Client
	store  *state.Store
	eb     *testenv.EventBridgeFake
	prov   *provisioning.Handler
	deprov *provisioning.Handler
	api    string
	calls  atomic.Int64
	logs   *testenv.Buffer
	// ruleSet is the mapping the env runs, rules it resolved by e.client.
	ruleSet *mapping.Rules
	rules   *mapping.Resolved
	// sched is the EventBridge Scheduler fake the handlers hold events in,
	// through scheduler (the real SDK client).
	sched     *testenv.SchedulerFake
	scheduler *schedule.Scheduler
}

// The resources held events use, as the stack names them.
const (
	schedulerGroup = "lifecycle-held"
	schedulerRole  = "arn:aws:iam::123456789012:role/lifecycle-scheduler"
	schedulerDLQ   = "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq"
	provisionARN   = "arn:aws:sqs:us-east-1:123456789012:lifecycle-provision.fifo"
	deprovisionARN = "arn:aws:sqs:us-east-1:123456789012:lifecycle-deprovision.fifo"
)

type envOptions struct {
	dryRun      bool
	mapping     *mapping.Rules
	simOpts     []encompasstest.Option
	concurrency int
	maxInFlight int
	httpTimeout time.Duration
	now         func() time.Time
	dynamoDelay time.Duration
	immediate   []string
}

type envOption func(*envOptions)

func dryRun() envOption { return func(o *envOptions) { o.dryRun = true } }
func withSim(opts ...encompasstest.Option) envOption {
	return func(o *envOptions) { o.simOpts = append(o.simOpts, opts...) }
}
func withConcurrency(n int) envOption { return func(o *envOptions) { o.concurrency = n } }

// withMaxInFlight sets the Encompass client's requests in flight.
func withMaxInFlight(n int) envOption { return func(o *envOptions) { o.maxInFlight = n } }

// withDynamoDelay puts latency on every state-table request (benchmarks of
// round trips in series).
func withDynamoDelay(d time.Duration) envOption { return func(o *envOptions) { o.dynamoDelay = d } }

// withNow gives the handlers a clock (receipts, the occurredAt bound).
func withNow(now func() time.Time) envOption { return func(o *envOptions) { o.now = now } }

// withImmediate sets IMMEDIATE_TERMINATION_REASONS.
func withImmediate(reasons ...string) envOption {
	return func(o *envOptions) { o.immediate = reasons }
}

func withHTTPTimeout(d time.Duration) envOption {
	return func(o *envOptions) { o.httpTimeout = d }
}

func newEnv(t testing.TB, api string, opts ...envOption) *env {
	t.Helper()
	var o envOptions
	for _, opt := range opts {
		opt(&o)
	}
	e := &env{t: t, api: api, logs: &testenv.Buffer{}}
	e.sim = encompasstest.NewServer(t, o.simOpts...)
	if o.maxInFlight == 0 {
		o.maxInFlight = 8
	}
	e.client = e.simClient(func(c *encompass.Config) {
		if o.httpTimeout > 0 {
			h := *c.HTTPClient
			h.Timeout = o.httpTimeout
			c.HTTPClient = &h
		}
		c.MaxInFlight, c.MaxAttempts, c.MaxDelay = o.maxInFlight, 3, 5*time.Millisecond
	})
	db := testenv.DynamoDB(t)
	client := db.Client
	if o.dynamoDelay > 0 {
		client = testenv.SlowDynamoDB(t, db, o.dynamoDelay)
	}
	var storeOpts []state.Option
	if o.now != nil {
		storeOpts = append(storeOpts, state.WithClock(o.now))
	}
	e.store = state.New(client, db.CreateTable(t), storeOpts...)
	e.eb = testenv.EventBridge(t)
	e.sched = testenv.Scheduler(t, schedulerGroup)
	var err error
	e.scheduler, err = schedule.New(e.sched.Client, schedule.Config{Group: schedulerGroup, RoleARN: schedulerRole, DeadLetterARN: schedulerDLQ})
	if err != nil {
		t.Fatal(err)
	}
	immediate := func(r string) bool {
		for _, x := range o.immediate {
			if strings.EqualFold(x, r) {
				return true
			}
		}
		return false
	}

	e.ruleSet = o.mapping
	if e.ruleSet == nil {
		e.ruleSet = mapping.Default()
	}
	e.rules = e.resolve(e.client)
	logger := telemetry.NewLogger(e.logs, slog.LevelDebug)
	pub := publish.New(e.eb.Client, "lifecycle-bus", publish.WithBackoff(time.Millisecond))
	for _, q := range []hris.Queue{hris.QueueProvision, hris.QueueDeprovision} {
		arn := provisionARN
		if q == hris.QueueDeprovision {
			arn = deprovisionARN
		}
		h, err := provisioning.New(provisioning.Config{
			Queue: q, Directory: mustDirectory(e.t, api, e.client, e.rules),
			Store: e.store, Publisher: pub, Mapping: e.rules, DryRun: o.dryRun,
			Scheduler: e.scheduler, QueueARN: arn, ImmediateTermination: immediate,
			Logger: logger, Concurrency: o.concurrency, Now: o.now,
		})
		if err != nil {
			t.Fatal(err)
		}
		if q == hris.QueueProvision {
			e.prov = h
		} else {
			e.deprov = h
		}
	}
	e.logs.Watch(t, e.sim.LeakedSecrets, 40)
	return e
}

// msg is an HRIS event under construction.
type msg map[string]any

var seq atomic.Int64

// hrisEvent builds an event body; occurredAt offsets keep a story ordered.
func hrisEvent(typ, employeeID string, at time.Time, emp map[string]any) msg {
	e := map[string]any{"employeeId": employeeID}
	for k, v := range emp {
		e[k] = v
	}
	return msg{
		"schemaVersion": "1",
		"eventId":       fmt.Sprintf("evt-%s-%s-%d", typ, employeeID, seq.Add(1)),
		"type":          typ,
		"occurredAt":    at.UTC().Format(time.RFC3339Nano),
		"source":        "workday",
		"employee":      e,
	}
}

func (m msg) body() string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (m msg) id() string { return m["eventId"].(string) }

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func joiner(employeeID, userName string) map[string]any {
	return map[string]any{
		"userName": userName, "givenName": "Jane", "familyName": "Doe",
		"email": userName + "@lender.example", "workPhone": "(555) 555-1234 x12",
		"jobTitle": "Loan Officer", "jobCode": "LO1", "department": "Retail Lending",
	}
}

// record builds the SQS record of a body.
func record(body string, i int) events.SQSMessage {
	group := ""
	var v struct {
		Employee struct {
			EmployeeID string `json:"employeeId"`
		} `json:"employee"`
	}
	if json.Unmarshal([]byte(body), &v) == nil {
		group = v.Employee.EmployeeID
	}
	r := events.SQSMessage{MessageId: fmt.Sprintf("m-%d-%d", seq.Add(1), i), Body: body, Attributes: map[string]string{}}
	if group != "" {
		r.Attributes["MessageGroupId"] = group
	}
	return r
}

// send delivers bodies as one batch and returns the ids of failed messages'
// bodies.
func (e *env) send(h *provisioning.Handler, bodies ...string) []string {
	e.t.Helper()
	batch := events.SQSEvent{}
	byID := map[string]string{}
	for i, b := range bodies {
		r := record(b, i)
		byID[r.MessageId] = b
		batch.Records = append(batch.Records, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := h.HandleSQS(ctx, batch)
	if err != nil {
		e.t.Fatalf("HandleSQS error: %v", err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, byID[f.ItemIdentifier])
	}
	return failed
}

// drain delivers bodies and redelivers the failed ones, as SQS would, until
// every message succeeded.
func (e *env) drain(h *provisioning.Handler, bodies ...string) (rounds int) {
	e.t.Helper()
	for rounds = 1; len(bodies) > 0; rounds++ {
		if rounds > 30 {
			e.t.Fatalf("messages still failing after 30 deliveries: %d", len(bodies))
		}
		bodies = e.send(h, bodies...)
	}
	return rounds - 1
}

// sendRecords delivers records as they are (message ids, attributes) as
// one batch and returns how many failed.
func (e *env) sendRecords(h *provisioning.Handler, rs ...events.SQSMessage) int {
	e.t.Helper()
	resp, err := h.HandleSQS(context.Background(), events.SQSEvent{Records: rs})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(resp.BatchItemFailures)
}

func (e *env) mustSend(h *provisioning.Handler, bodies ...string) {
	e.t.Helper()
	if failed := e.send(h, bodies...); len(failed) > 0 {
		e.t.Fatalf("%d messages failed:\n%s", len(failed), e.logs.Tail(20))
	}
}

// published returns the published provisioning events of detailType.
func (e *env) published(detailType string) []map[string]any {
	var out []map[string]any
	for _, ev := range e.eb.Events() {
		if ev.DetailType == detailType && ev.Source == catalog.SourceProvisioning {
			out = append(out, ev.DetailMap())
		}
	}
	return out
}

// lastEvent returns the one event published for an HRIS event id.
func (e *env) eventFor(eventID string) (string, map[string]any) {
	e.t.Helper()
	var dt string
	var detail map[string]any
	n := 0
	for _, ev := range e.eb.Events() {
		d := ev.DetailMap()
		if d["eventId"] == eventID {
			dt, detail = ev.DetailType, d
			n++
		}
	}
	if n == 0 {
		e.t.Fatalf("no event published for %s", eventID)
	}
	return dt, detail
}

func (e *env) user(login string) encompasstest.SimUser {
	e.t.Helper()
	for _, u := range e.sim.Users() {
		if strings.EqualFold(u.LoginID, login) {
			return u
		}
	}
	e.t.Fatalf("no Encompass user %q", login)
	return encompasstest.SimUser{}
}

func (e *env) usersNamed(login string) int {
	n := 0
	for _, u := range e.sim.Users() {
		if strings.EqualFold(u.LoginID, login) {
			n++
		}
	}
	return n
}

// writes counts the requests that change Encompass state.
func (e *env) writes() int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method != "GET" && !strings.HasPrefix(r.Endpoint, "POST /oauth2") {
			n++
		}
	}
	return n
}

// simClient is a container's Encompass client of the simulator, its calls
// counted in e.calls; tune sets what differs between containers.
func (e *env) simClient(tune func(*encompass.Config)) *encompass.Client {
	e.t.Helper()
	cfg := encompass.Config{
		BaseURL: e.sim.URL, InstanceID: e.sim.InstanceID,
		ClientID: e.sim.ClientID, ClientSecret: e.sim.ClientSecret,
		Username: e.sim.Username, Password: e.sim.Password,
		HTTPClient: e.sim.Client(), BaseDelay: time.Millisecond,
		OnCall: func(encompass.CallInfo) { e.calls.Add(1) },
	}
	tune(&cfg)
	client, err := encompass.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return client
}

// resolve resolves the env's mapping through client, as a cold start does:
// user groups only in scim mode.
func (e *env) resolve(client *encompass.Client) *mapping.Resolved {
	e.t.Helper()
	res := mapping.Resolvers{Personas: client.Personas.Resolve, Organizations: client.Organizations.Resolve}
	if e.api == config.UserAPISCIM {
		res.Groups = client.SCIM.ResolveGroups
	}
	rules, err := mapping.Resolve(context.Background(), e.ruleSet, res)
	if err != nil {
		e.t.Fatal(err)
	}
	return rules
}

// container starts another Lambda container of the provision function
// against the same tenant, table and bus: its own Encompass client (token,
// in-flight limit, look-up caches) and handler.
func (e *env) container(maxInFlight, concurrency int) *provisioning.Handler {
	e.t.Helper()
	client := e.simClient(func(c *encompass.Config) { c.MaxInFlight, c.MaxDelay = maxInFlight, 20*time.Millisecond })
	rules := e.resolve(client)
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueProvision, Scheduler: e.scheduler, QueueARN: provisionARN, Directory: mustDirectory(e.t, e.api, client, rules),
		Store: e.store, Publisher: publish.New(e.eb.Client, "lifecycle-bus"), Mapping: rules,
		Concurrency: concurrency,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// mustDirectory is the Encompass boundary of the user API, as the functions
// wire it.
func mustDirectory(t testing.TB, api string, client *encompass.Client, rules *mapping.Resolved) provisioning.Directory {
	t.Helper()
	d, err := directory.For(api, client.Users, client.SCIM, client.AccountLinks, rules)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fire delivers the schedules due by now to their queues' handlers, as the
// Scheduler and SQS would: each one's input as a message of its own
// (fresh message id, the schedule's message group), redelivered until it
// succeeds. It returns what was delivered.
func (e *env) fire(now time.Time) []testenv.Fired {
	e.t.Helper()
	fired := e.sched.Fire(now)
	for _, f := range fired {
		e.deliver(f)
	}
	return fired
}

// deliver delivers one fired schedule until it succeeds.
func (e *env) deliver(f testenv.Fired) {
	e.t.Helper()
	h := e.prov
	if f.TargetARN == deprovisionARN {
		h = e.deprov
	}
	r := events.SQSMessage{MessageId: f.MessageID, Body: f.Input, Attributes: map[string]string{"MessageGroupId": f.MessageGroupID}}
	for try := 0; ; try++ {
		if try == 30 {
			e.t.Fatalf("the due delivery of %s still fails after 30 deliveries:\n%s", f.Name, e.logs.Tail(20))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		resp, err := h.HandleSQS(ctx, events.SQSEvent{Records: []events.SQSMessage{r}})
		cancel()
		if err != nil {
			e.t.Fatal(err)
		}
		if len(resp.BatchItemFailures) == 0 {
			return
		}
	}
}
