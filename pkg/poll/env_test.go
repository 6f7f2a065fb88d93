package poll

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingDB passes every call to the real DynamoDB client and counts the
// items written: user delta items, base chunks and the header.
type countingDB struct {
	state.DynamoDBAPI
	userWrites atomic.Int64
	baseWrites atomic.Int64
	metaWrites atomic.Int64
	// stageWrites counts the items of staged listings (not the snapshot).
	stageWrites atomic.Int64
	reads       atomic.Int64
}

// The partition key prefixes of the poller's items (docs/poller.md).
const (
	deltaPKPrefix = "POLL#DELTA#"
	basePKPrefix  = "POLL#BASE#"
	stagePKPrefix = "POLL#STAGE"
)

func (c *countingDB) countKey(pk string, n int64) {
	switch {
	case strings.HasPrefix(pk, deltaPKPrefix):
		c.userWrites.Add(n)
	case strings.HasPrefix(pk, basePKPrefix):
		c.baseWrites.Add(n)
	case strings.HasPrefix(pk, stagePKPrefix):
		c.stageWrites.Add(n)
	default:
		c.metaWrites.Add(n)
	}
}

func pkOf(item map[string]types.AttributeValue) string {
	if s, ok := item["pk"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.countKey(pkOf(in.Item), 1)
	return c.DynamoDBAPI.PutItem(ctx, in, o...)
}

func (c *countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.countKey(pkOf(in.Key), 1)
	return c.DynamoDBAPI.DeleteItem(ctx, in, o...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.countKey(pkOf(in.Key), 1)
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				c.countKey(pkOf(r.PutRequest.Item), 1)
			}
			if r.DeleteRequest != nil {
				c.countKey(pkOf(r.DeleteRequest.Key), 1)
			}
		}
	}
	return c.DynamoDBAPI.BatchWriteItem(ctx, in, o...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.reads.Add(1)
	return c.DynamoDBAPI.Query(ctx, in, o...)
}

// writes returns the user delta items and the other items (header, base
// chunks) written so far.
func (c *countingDB) writes() (user, other int64) {
	return c.userWrites.Load(), c.metaWrites.Load() + c.baseWrites.Load()
}

// env is one poller test setup: the Encompass simulator behind an optional
// fault middleware, a dynalite table, the EventBridge fake.
type env struct {
	t      testing.TB
	sim    *encompasstest.Server
	front  *httptest.Server
	client *encompass.Client
	// listCalls and tokenCalls count the client's HTTP exchanges.
	listCalls, tokenCalls, getCalls atomic.Int64
	// throttled counts 429 answers the client saw.
	throttled atomic.Int64
	db        *countingDB
	table     string
	store     *state.Store
	eb        *testenv.EventBridgeFake
	// inFlight is the client's MaxInFlight and the poller's ListInFlight.
	inFlight int
	pub      *publish.Publisher
	logs     *testenv.Buffer

	// rewrite, when set, sees every user list page (numbered from 0) before
	// and after the simulator served it and may replace status and body.
	mu      sync.Mutex
	before  func(page int)
	rewrite func(page, status int, body []byte) (int, []byte)
	pages   int
}

func newEnv(t testing.TB, opts ...encompasstest.Option) *env {
	t.Helper()
	return newEnvInFlight(t, 2, opts...)
}

// newEnvInFlight is newEnv with a client that lets inFlight requests through
// at once, and a poller that lists that many pages at once.
func newEnvInFlight(t testing.TB, inFlight int, opts ...encompasstest.Option) *env {
	t.Helper()
	e := &env{t: t, logs: &testenv.Buffer{}, inFlight: inFlight}
	e.sim = encompasstest.New(opts...)
	e.front = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.front.Close)
	e.sim.URL = e.front.URL
	c, err := encompass.New(encompass.Config{
		BaseURL: e.front.URL, InstanceID: e.sim.InstanceID,
		ClientID: e.sim.ClientID, ClientSecret: e.sim.ClientSecret,
		Username: e.sim.Username, Password: e.sim.Password,
		HTTPClient:  e.front.Client(),
		MaxInFlight: inFlight,
		BaseDelay:   time.Millisecond, MaxDelay: 10 * time.Millisecond,
		OnCall: func(ci encompass.CallInfo) {
			if ci.Status == http.StatusTooManyRequests {
				e.throttled.Add(1)
			}
			switch {
			case strings.Contains(ci.Endpoint, "oauth2"):
				e.tokenCalls.Add(1)
			case ci.Endpoint == "GET /encompass/v3/users":
				e.listCalls.Add(1)
			case ci.Endpoint == "GET /encompass/v3/users/{id}":
				e.getCalls.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	dyn := testenv.DynamoDB(t)
	e.table = dyn.CreateTable(t)
	e.db = &countingDB{DynamoDBAPI: dyn.Client}
	e.store = state.New(dyn.Client, e.table)
	e.eb = testenv.EventBridge(t)
	e.pub = publish.New(e.eb.Client, "test-bus", publish.WithBackoff(time.Millisecond))
	e.logs.Watch(t, e.sim.LeakedSecrets, 30)
	return e
}

// serve fronts the simulator so that tests can corrupt list pages.
func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/encompass/v3/users" {
		e.sim.ServeHTTP(w, r)
		return
	}
	e.mu.Lock()
	rw, before := e.rewrite, e.before
	page := e.pages
	e.pages++
	e.mu.Unlock()
	if before != nil {
		before(page)
	}
	if rw == nil {
		e.sim.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	e.sim.ServeHTTP(rec, r)
	body, _ := io.ReadAll(rec.Result().Body)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	status, body := rw(page, rec.Code, body)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// onPages installs the list page hooks (nil removes them) and restarts the
// page count.
func (e *env) onPages(before func(page int), rewrite func(page, status int, body []byte) (int, []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.before, e.rewrite, e.pages = before, rewrite, 0
}

// poller returns a new Poller (a new process, as far as state goes).
func (e *env) poller(mutate func(*Config)) *Poller {
	e.t.Helper()
	cfg := Config{
		Users:     e.client.Users,
		State:     e.store,
		Snapshot:  e.snapshot(),
		Publisher: e.pub,
		// The client's MaxInFlight: every test lists pages in parallel
		// unless it needs them one by one.
		ListInFlight: e.inFlight,
		Logger:       slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// snapshot is the poller's items in the test table, written through the
// counting client.
func (e *env) snapshot() *state.Snapshot {
	return state.NewSnapshot(state.New(e.db, e.table), 4)
}

// sv and nv build item attributes for tests that write items by hand.
func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func (e *env) run(mutate func(*Config)) Summary {
	e.t.Helper()
	sum, err := e.poller(mutate).Run(context.Background())
	if err != nil {
		e.t.Fatalf("poll: %v", err)
	}
	return sum
}

// published is one recorded event, decoded.
type published struct {
	DetailType string
	Detail     UserDetail
	Raw        map[string]any
}

// take returns the events published since the last take and forgets them.
func (e *env) take() []published {
	e.t.Helper()
	var out []published
	for _, ev := range e.eb.Events() {
		var p published
		p.DetailType = ev.DetailType
		if err := ev.Decode(&p.Detail); err != nil {
			e.t.Fatalf("decode %s: %v", ev.DetailType, err)
		}
		p.Raw = ev.DetailMap()
		if ev.Source != catalog.SourcePoller {
			e.t.Errorf("source %q, want %q", ev.Source, catalog.SourcePoller)
		}
		if id, _ := p.Raw["eventId"].(string); id == "" {
			e.t.Errorf("%s without eventId", ev.DetailType)
		}
		out = append(out, p)
	}
	e.eb.Reset()
	return out
}

// kinds summarises events as "type userId" strings, sorted.
func kinds(evs []published) []string {
	var out []string
	for _, ev := range evs {
		s := ev.DetailType
		if ev.Detail.UserID != "" {
			s += " " + ev.Detail.UserID
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// baseline runs the first poll and checks it published only the baseline.
func (e *env) baseline() Summary {
	e.t.Helper()
	sum := e.run(nil)
	if sum.Outcome != OutcomeBaseline {
		e.t.Fatalf("first poll outcome %q, want baseline", sum.Outcome)
	}
	evs := e.take()
	if len(evs) != 1 || evs[0].DetailType != TypeBaseline {
		e.t.Fatalf("first poll published %v, want only %s", kinds(evs), TypeBaseline)
	}
	return sum
}

func (e *env) modify(id string, fn func(*encompasstest.SimUser)) {
	e.t.Helper()
	if err := e.sim.ModifyUser(id, fn); err != nil {
		e.t.Fatalf("modify %s: %v", id, err)
	}
}
