// Package localenv runs the whole product on this machine: the Encompass
// simulator, dynalite with the state table, an EventBridge fake that records
// what is published, an EventBridge Scheduler fake that holds future-dated
// events and fires them by a clock the caller moves, a local S3 (gofakes3)
// with the roster bucket, a local SQS holding what is sent to the HRIS
// queues until DrainQueues hands it to the provisioning functions, and the
// real bootstraps in the Docker-free Lambda runner, each configured as the
// CDK stack configures it in AWS. The demo, `make invoke`, `make
// reconcile`, the end-to-end tests and `make bench` all start it.
package localenv

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	sample "github.com/lenderops/encompass-lifecycle/events"
	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// localMapping is the local product's mapping: the built-in rules and a
// DDA rule for underwriters (mapping.yaml).
//
//go:embed mapping.yaml
var localMapping []byte

// Names of the local resources, as the stack would name them.
const (
	TableName      = "encompass-lifecycle-state"
	BusName        = "encompass-lifecycle"
	SubscriptionID = "local-subscription"
	RosterBucket   = "encompass-lifecycle-rosters"
)

// DefaultTimeouts are the functions' timeouts in the CDK stack.
var DefaultTimeouts = map[string]time.Duration{
	"provision":   60 * time.Second,
	"deprovision": 60 * time.Second,
	"poller":      900 * time.Second, // min(900 s, the 15-minute schedule)
	"webhook":     10 * time.Second,
	"reconcile":   900 * time.Second,
}

// Options configure Start.
type Options struct {
	// BinDir is where the host builds of the bootstraps go
	// (<BinDir>/<fn>/bootstrap). Empty means a temporary directory.
	BinDir string
	// SkipBuild uses the bootstraps already in BinDir.
	SkipBuild bool
	// Functions limits the build to these functions (default: all).
	Functions []string
	// Sim are options for the Encompass simulator.
	Sim []encompasstest.Option
	// SimAddr is where the simulator listens (default: a free loopback port).
	SimAddr string
	// Env adds or overrides variables per function ("provision" ...), or for
	// every function under "*".
	Env map[string]map[string]string
	// Timeouts override DefaultTimeouts per function.
	Timeouts map[string]time.Duration
	// DynamoURL uses a running DynamoDB-protocol server instead of starting
	// dynalite (tests share one); Table is then created there (default TableName).
	DynamoURL string
	Table     string
	// Runner starts a function's execution environment; nil means
	// lambdarun.New (a Container). The cross-check with AWS's runtime
	// interface emulator passes one that starts internal/rie's Invoker.
	Runner func(lambdarun.Config) (Invoker, error)
}

// Invoker is one warm execution environment of a function: lambdarun's
// Container, or another runner with the same contract.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (*lambdarun.Result, error)
	Close() error
}

// Env is a running local product.
type Env struct {
	// Sim is the Encompass simulator the functions call.
	Sim *encompasstest.Server
	// DynamoURL is the dynalite endpoint and DynamoDB a client for it.
	DynamoURL string
	DynamoDB  *dynamodb.Client
	// Table is the state table's name.
	Table string
	// Bus records every event the functions publish.
	Bus *testenv.EventBridgeFake
	// Scheduler holds the provisioning functions' future-dated events;
	// FireDue delivers those due by Clock.
	Scheduler *testenv.SchedulerFake
	// Clock is the local product's time, shared with the provisioning
	// functions (LOCAL_CLOCK_FILE): move it to an effective date instead
	// of waiting for it.
	Clock *Clock
	// S3 is the local S3 with RosterBucket (versioned, as in the stack).
	S3 *testenv.S3Fake
	// SQS holds the messages sent to the two HRIS queues (by reconcile)
	// until DrainQueues delivers them.
	SQS *testenv.SQSFake
	// WebhookKey is the signing key of SubscriptionID.
	WebhookKey string
	// Bootstraps are the host builds by function name.
	Bootstraps map[string]string

	opts       Options
	ownBinDir  string
	clockDir   string
	stopDynamo func()
	// mappingFile is the local mapping (mapping.yaml), written to a
	// temporary directory for the functions to read.
	mappingFile string

	mu       sync.Mutex
	invokers map[string]Invoker // each function's warm environment, started by Options.Runner
	drained  int                // SQS messages DrainQueues has delivered
}

// Start builds the bootstraps for this machine and starts every server. Close
// stops them all, also after a failed Start.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	e := &Env{opts: opts, invokers: map[string]Invoker{}}
	if e.opts.Runner == nil {
		e.opts.Runner = func(cfg lambdarun.Config) (Invoker, error) { return lambdarun.New(cfg) }
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	if opts.BinDir == "" {
		dir, err := os.MkdirTemp("", "localenv-bin-")
		if err != nil {
			return nil, err
		}
		e.ownBinDir, e.opts.BinDir = dir, dir
	}
	root, err := lambdarun.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(e.opts.BinDir) {
		e.opts.BinDir = filepath.Join(root, e.opts.BinDir)
	}
	fns := e.opts.Functions
	if len(fns) == 0 {
		fns = lambdarun.Functions
	}
	if e.opts.SkipBuild {
		e.Bootstraps = map[string]string{}
		for _, fn := range fns {
			e.Bootstraps[fn] = filepath.Join(e.opts.BinDir, fn, "bootstrap")
		}
	} else {
		if e.Bootstraps, err = lambdarun.Build(ctx, root, e.opts.BinDir, fns...); err != nil {
			return nil, err
		}
	}

	// dynalite starts (node) while the rest is set up.
	type dyn struct {
		url  string
		stop func()
		err  error
	}
	dynCh := make(chan dyn, 1)
	go func() {
		if opts.DynamoURL != "" {
			dynCh <- dyn{url: opts.DynamoURL}
			return
		}
		url, stop, err := testenv.StartDynalite(ctx)
		dynCh <- dyn{url, stop, err}
	}()

	mdir, err := os.MkdirTemp("", "localenv-mapping-")
	if err != nil {
		return nil, err
	}
	e.mappingFile = filepath.Join(mdir, "mapping.yaml")
	if err := os.WriteFile(e.mappingFile, localMapping, 0o600); err != nil {
		return nil, fmt.Errorf("write the local mapping: %w", err)
	}

	e.Sim = encompasstest.New(opts.Sim...)
	addr := opts.SimAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	simErr := e.Sim.Start(addr)
	e.Bus = testenv.NewEventBridgeFake()
	e.Scheduler = testenv.NewSchedulerFake(testenv.SchedulerGroup)
	if e.clockDir, err = os.MkdirTemp("", "localenv-clock-"); err != nil {
		return nil, err
	}
	if e.Clock, err = newClock(e.clockDir); err != nil {
		return nil, err
	}
	if e.WebhookKey, err = encompass.GenerateSigningKey(); err != nil {
		return nil, err
	}
	if e.S3, err = testenv.NewS3Fake(""); err != nil {
		return nil, err
	}
	if err := e.S3.CreateBucket(ctx, RosterBucket, true); err != nil {
		return nil, err
	}
	e.SQS = testenv.NewSQSFake()
	e.SQS.AddQueue(queueName(ProvisionQueueARN), 0, nil)
	e.SQS.AddQueue(queueName(DeprovisionQueueARN), 0, nil)

	d := <-dynCh
	e.stopDynamo = d.stop
	if simErr != nil {
		return nil, fmt.Errorf("start simulator: %w", simErr)
	}
	if d.err != nil {
		return nil, fmt.Errorf("start dynalite: %w", d.err)
	}
	e.DynamoURL = d.url
	e.DynamoDB = testenv.NewDynamoDBClient(d.url)
	e.Table = opts.Table
	if e.Table == "" {
		e.Table = TableName
	}
	if err := state.CreateTable(ctx, e.DynamoDB, e.Table); err != nil {
		return nil, fmt.Errorf("create state table: %w", err)
	}
	return e, nil
}

// Vars returns the environment variables of function fn: the simulator's
// URL and credentials, the local table and bus, the webhook signing key, and
// the overrides of Options.Env.
func (e *Env) Vars(fn string) map[string]string {
	keys, _ := json.Marshal(map[string]string{
		SubscriptionID: e.WebhookKey,
		// The samples in events/ are signed with the documented test key, so
		// that `make invoke FN=webhook EVENT=events/webhook-loan-update.json` verifies.
		sample.WebhookTestSubscriptionID: sample.WebhookTestSigningKey,
	})
	// The same variables as the CDK stack sets (infra/functions.go), with
	// the local-run forms of the secrets and endpoints of the local servers.
	vars := map[string]string{
		"STATE_TABLE":                  e.Table,
		"EVENT_BUS_NAME":               BusName,
		"AWS_ENDPOINT_URL_DYNAMODB":    e.DynamoURL,
		"AWS_ENDPOINT_URL_EVENTBRIDGE": e.Bus.URL,
		"LOG_LEVEL":                    "info",
	}
	if fn == "webhook" {
		vars["WEBHOOK_SIGNING_KEYS"] = string(keys)
	} else {
		maps.Copy(vars, map[string]string{
			"ENCOMPASS_API_URL":       e.Sim.URL,
			"ENCOMPASS_INSTANCE_ID":   e.Sim.InstanceID,
			"ENCOMPASS_CLIENT_ID":     e.Sim.ClientID,
			"ENCOMPASS_CLIENT_SECRET": e.Sim.ClientSecret,
			"ENCOMPASS_USERNAME":      e.Sim.Username,
			"ENCOMPASS_PASSWORD":      e.Sim.Password,
			"ENCOMPASS_USER_API":      "scim",
			"ENCOMPASS_MAX_IN_FLIGHT": "3", // the stack's default plan (infra/budget.go)
			"DRY_RUN":                 "false",
		})
	}
	if fn == "poller" {
		vars["POLLER_MAX_REMOVAL_RATIO"] = "0.2"
	}
	if fn == "provision" || fn == "deprovision" {
		if e.mappingFile != "" {
			vars["MAPPING_FILE"] = e.mappingFile
		}
		// Held events: the Scheduler fake, the queues they go back to, and
		// the local product's clock.
		maps.Copy(vars, map[string]string{
			"SCHEDULER_GROUP":            testenv.SchedulerGroup,
			"SCHEDULER_ROLE_ARN":         testenv.SchedulerRoleARN,
			"SCHEDULER_DLQ_ARN":          testenv.SchedulerDLQARN,
			"PROVISION_QUEUE_ARN":        ProvisionQueueARN,
			"DEPROVISION_QUEUE_ARN":      DeprovisionQueueARN,
			"AWS_ENDPOINT_URL_SCHEDULER": e.Scheduler.URL,
			"LOCAL_CLOCK_FILE":           e.Clock.path,
		})
	}
	if fn == "reconcile" {
		maps.Copy(vars, map[string]string{
			"ROSTER_BUCKET":         RosterBucket,
			"PROVISION_QUEUE_ARN":   ProvisionQueueARN,
			"DEPROVISION_QUEUE_ARN": DeprovisionQueueARN,
			"AWS_ENDPOINT_URL_S3":   e.S3.URL,
			"AWS_ENDPOINT_URL_SQS":  e.SQS.URL,
			// As the stack sets it (infra/reconcile.go).
			"GOMEMLIMIT": "200MiB",
		})
	}
	maps.Copy(vars, e.opts.Env["*"])
	maps.Copy(vars, e.opts.Env[fn])
	return vars
}

// Config returns the runner configuration of function fn.
func (e *Env) Config(fn string) (lambdarun.Config, error) {
	path, ok := e.Bootstraps[fn]
	if !ok {
		return lambdarun.Config{}, fmt.Errorf("unknown function %q (want one of %v)", fn, lambdarun.Functions)
	}
	timeout := DefaultTimeouts[fn]
	if t, ok := e.opts.Timeouts[fn]; ok {
		timeout = t
	}
	return lambdarun.Config{
		Name:      lambdarun.LogicalID(fn),
		Bootstrap: path,
		Env:       e.Vars(fn),
		Timeout:   timeout,
		MemoryMB:  256,
	}, nil
}

// Function returns the warm container of fn, creating it on first use. It
// fails when Options.Runner starts another kind of environment: a second,
// lambdarun one beside it would run the function twice over.
func (e *Env) Function(fn string) (*lambdarun.Container, error) {
	inv, err := e.invoker(fn)
	if err != nil {
		return nil, err
	}
	c, ok := inv.(*lambdarun.Container)
	if !ok {
		return nil, fmt.Errorf("%s runs in a %T (Options.Runner), not in lambdarun's Container", fn, inv)
	}
	return c, nil
}

// invoker returns fn's warm environment, starting it with Options.Runner on
// first use.
func (e *Env) invoker(fn string) (Invoker, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if inv, ok := e.invokers[fn]; ok {
		return inv, nil
	}
	cfg, err := e.Config(fn)
	if err != nil {
		return nil, err
	}
	inv, err := e.opts.Runner(cfg)
	if err != nil {
		return nil, err
	}
	e.invokers[fn] = inv
	return inv, nil
}

// Reconfigure replaces fn's environment with one whose configuration mutate
// changed (a shorter timeout, another variable); the next invocation is cold.
func (e *Env) Reconfigure(fn string, mutate func(*lambdarun.Config)) error {
	cfg, err := e.Config(fn)
	if err != nil {
		return err
	}
	mutate(&cfg)
	inv, err := e.opts.Runner(cfg)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.invokers[fn]
	e.invokers[fn] = inv
	e.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Invoke runs fn with payload (any value is marshalled to JSON; []byte and
// json.RawMessage are sent as they are).
func (e *Env) Invoke(ctx context.Context, fn string, payload any) (*lambdarun.Result, error) {
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("invoke %s: %w", fn, err)
		}
		body = b
	}
	c, err := e.invoker(fn)
	if err != nil {
		return nil, err
	}
	return c.Invoke(ctx, body)
}

// Close stops every process and server and removes temporary files.
func (e *Env) Close() {
	e.mu.Lock()
	invokers := e.invokers
	e.invokers = map[string]Invoker{}
	e.mu.Unlock()
	for _, inv := range invokers {
		inv.Close()
	}
	if e.Bus != nil {
		e.Bus.Close()
	}
	if e.Scheduler != nil {
		e.Scheduler.Close()
	}
	if e.clockDir != "" {
		os.RemoveAll(e.clockDir)
	}
	if e.S3 != nil {
		e.S3.Close()
	}
	if e.SQS != nil {
		e.SQS.Close()
	}
	if e.Sim != nil {
		e.Sim.Close()
	}
	if e.stopDynamo != nil {
		e.stopDynamo()
	}
	if e.ownBinDir != "" {
		os.RemoveAll(e.ownBinDir)
	}
	if e.mappingFile != "" {
		os.RemoveAll(filepath.Dir(e.mappingFile))
	}
}
