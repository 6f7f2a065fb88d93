// Package coldstart holds the constructors every function's main.go wires
// with, in the order a main reads: configuration, logger and metrics, the
// Encompass client, the mapping and the directory, the state table, the
// bus, the scheduler of held events, the clock; and the one way a cold
// start reports that it failed.
//
// Nothing here decides anything about HRIS events, polls or webhooks: the
// handler a main builds from these parts does (for the two queue
// functions, provisioning.Function builds it: they differ only in their
// queue).
package coldstart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Fail reports a cold-start failure as one JSON log line, so that the
// operator reads one clear message in CloudWatch. A configuration error
// names each variable at fault once (config.Error's Variables).
func Fail(w io.Writer, function string, err error) {
	args := []any{"function", function}
	var ce *config.Error
	if errors.As(err, &ce) {
		args = append(args, "variables", ce.Variables)
	}
	telemetry.NewLogger(w, slog.LevelInfo).Error("cold start failed: "+err.Error(), args...)
}

// Logger is the function's JSON logger at the configured level.
func Logger(cfg *config.Config, w io.Writer, function string) *slog.Logger {
	return telemetry.NewLogger(w, cfg.LogLevel).With("function", function)
}

// Metrics are the function's EMF metrics (dimension Function).
func Metrics(function string) *telemetry.Metrics {
	return telemetry.NewMetrics(telemetry.Namespace, map[string]string{"Function": function})
}

// Encompass is the Encompass client, counting every exchange in metrics
// (EncompassCalls, EncompassThrottles, EncompassErrors). httpClient may be
// nil (the client's own).
func Encompass(cfg *config.Config, log *slog.Logger, metrics *telemetry.Metrics, httpClient *http.Client) (*encompass.Client, error) {
	ec := cfg.EncompassConfig()
	client, err := encompass.New(encompass.Config{
		BaseURL: ec.BaseURL, InstanceID: ec.InstanceID,
		ClientID: ec.ClientID, ClientSecret: ec.ClientSecret.Reveal(),
		Username: ec.Username, Password: ec.Password.Reveal(),
		Grant: encompass.Grant(ec.Grant), MaxInFlight: ec.MaxInFlight,
		HTTPClient: httpClient,
		Logger:     log,
		OnCall: func(c encompass.CallInfo) {
			metrics.Add("EncompassCalls", 1)
			if c.Status == http.StatusTooManyRequests {
				metrics.Add("EncompassThrottles", 1)
			}
			if c.Err != nil && (c.Status == 0 || c.Status >= 500) {
				metrics.Add("EncompassErrors", 1)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encompass client: %w", err)
	}
	return client, nil
}

// Mapping reads MAPPING_FILE (or the built-in rules) and resolves its names
// against the instance; an unknown name stops the cold start, naming the
// unknown and the known ones.
func Mapping(ctx context.Context, cfg *config.Config, client *encompass.Client) (*mapping.Resolved, error) {
	rules := mapping.Default()
	if cfg.MappingFile != "" {
		var err error
		if rules, err = mapping.LoadFile(cfg.MappingFile); err != nil {
			return nil, err
		}
	}
	if keys := rules.DDAKeys(); len(keys) > 0 && cfg.UserAPI != config.UserAPISCIM {
		// Only SCIM can add a DDA profile to the employee's global user id:
		// in v3 mode the profile could never be given, nor taken away.
		// (The built-in rules never name dda, so the file is at fault.)
		return nil, fmt.Errorf("MAPPING_FILE %s: %s: DDA (AIQ) profiles need ENCOMPASS_USER_API=scim; the %s user API has no DDA profiles",
			cfg.MappingFile, strings.Join(keys, ", "), cfg.UserAPI)
	}
	res := mapping.Resolvers{Personas: client.Personas.Resolve, Organizations: client.Organizations.Resolve}
	if cfg.UserAPI == config.UserAPISCIM {
		res.Groups = client.SCIM.ResolveGroups
	}
	resolved, err := mapping.Resolve(ctx, rules, res)
	switch {
	case err != nil && cfg.MappingFile != "":
		return nil, fmt.Errorf("MAPPING_FILE %s: %w", cfg.MappingFile, err)
	case err != nil:
		return nil, fmt.Errorf("built-in mapping rules (set MAPPING_FILE to your own): %w", err)
	}
	return resolved, nil
}

// MappingSource names the mapping in use, for the cold-start log line.
func MappingSource(cfg *config.Config) string {
	if cfg.MappingFile == "" {
		return "built-in"
	}
	return cfg.MappingFile
}

// Directory is the Encompass boundary of ENCOMPASS_USER_API.
func Directory(cfg *config.Config, client *encompass.Client, rules *mapping.Resolved) (directory.Directory, error) {
	return directory.For(cfg.UserAPI, client.Users, client.SCIM, client.AccountLinks, rules)
}

// State is the state table.
func State(cfg *config.Config, opts ...state.Option) *state.Store {
	return state.New(dynamodb.NewFromConfig(cfg.AWS), cfg.StateTable, opts...)
}

// S3 is the S3 client. With a local endpoint (AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL) buckets are addressed path-style, as local S3 servers
// need (CONTRACTS section 5).
func S3(cfg *config.Config, getenv func(string) string) *s3.Client {
	local := getenv("AWS_ENDPOINT_URL_S3") != "" || getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg.AWS, func(o *s3.Options) {
		o.UsePathStyle = local
		// Checksums are validated when asked for: otherwise the SDK writes
		// a plain-text line to stderr for every object stored without one
		// (a roster uploaded by an older tool), which breaks the JSON logs.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// SQS is the SQS client of the HRIS queues.
func SQS(cfg *config.Config) *sqs.Client {
	return sqs.NewFromConfig(cfg.AWS)
}

// Publisher puts events on EVENT_BUS_NAME, counting PutEventsCalls in
// metrics (when not nil).
func Publisher(cfg *config.Config, metrics *telemetry.Metrics) *publish.Publisher {
	var opts []publish.Option
	if metrics != nil {
		opts = append(opts, publish.WithCallHook(func() { metrics.Add("PutEventsCalls", 1) }))
	}
	return publish.New(eventbridge.NewFromConfig(cfg.AWS), cfg.EventBusName, opts...)
}

// Flushing wraps a Lambda handler so that each invocation ends with its
// metrics line; after is called with the event, the answer and the error
// (to add the invocation's own counts).
func Flushing[E, R any](metrics *telemetry.Metrics, w io.Writer, log *slog.Logger, handle func(context.Context, E) (R, error), after func(E, R, error)) func(context.Context, E) (R, error) {
	var mu sync.Mutex
	return func(ctx context.Context, ev E) (R, error) {
		r, err := handle(ctx, ev)
		if after != nil {
			after(ev, r, err)
		}
		// One Lambda container runs one invocation at a time; the lock only
		// keeps a test's concurrent calls from interleaving lines.
		mu.Lock()
		defer mu.Unlock()
		if ferr := metrics.Flush(w); ferr != nil {
			log.WarnContext(ctx, "metrics flush failed", "error", ferr.Error())
		}
		return r, err
	}
}

// Provisioning are the parts the provision and deprovision functions are
// built from: the same for both, whose handlers differ by their queue.
type Provisioning struct {
	Log       *slog.Logger
	Metrics   *telemetry.Metrics
	Client    *encompass.Client
	Rules     *mapping.Resolved
	Directory directory.Directory
	Store     *state.Store
	Publisher *publish.Publisher
	// Scheduler holds future-dated events; Now is the function's clock
	// (the machine's, or LOCAL_CLOCK_FILE's in local runs).
	Scheduler *schedule.Scheduler
	Now       func() time.Time
}

// BuildProvisioning builds the parts of a provisioning function in their
// order: logger and metrics, the Encompass client, the mapping resolved
// against the instance, the directory of ENCOMPASS_USER_API, the clock,
// the state table, the bus and the Scheduler.
func BuildProvisioning(ctx context.Context, cfg *config.Config, function string, out io.Writer, httpClient *http.Client) (*Provisioning, error) {
	p := &Provisioning{Log: Logger(cfg, out, function), Metrics: Metrics(function)}
	var err error
	if p.Client, err = Encompass(cfg, p.Log, p.Metrics, httpClient); err != nil {
		return nil, err
	}
	if p.Rules, err = Mapping(ctx, cfg, p.Client); err != nil {
		return nil, err
	}
	if p.Directory, err = Directory(cfg, p.Client, p.Rules); err != nil {
		return nil, err
	}
	if p.Now, err = Clock(cfg); err != nil {
		return nil, err
	}
	p.Store, p.Publisher = State(cfg, state.WithClock(p.Now)), Publisher(cfg, p.Metrics)
	if p.Scheduler, err = Scheduler(cfg, p.Log, p.Metrics); err != nil {
		return nil, err
	}
	return p, nil
}

// Scheduler holds future-dated events in SCHEDULER_GROUP, counting
// SchedulerCalls. Without SCHEDULER_DLQ_ARN its schedules have no
// dead-letter queue, which it logs once, at warn.
func Scheduler(cfg *config.Config, log *slog.Logger, metrics *telemetry.Metrics) (*schedule.Scheduler, error) {
	s, err := schedule.New(scheduler.NewFromConfig(cfg.AWS), schedule.Config{
		Group: cfg.SchedulerGroup, RoleARN: cfg.SchedulerRoleARN, DeadLetterARN: cfg.SchedulerDLQARN,
		OnCall: func(string) { metrics.Add("SchedulerCalls", 1) },
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if cfg.SchedulerDLQARN == "" {
		log.Warn("SCHEDULER_DLQ_ARN is not set: a held event the Scheduler cannot deliver to its queue (after its retries, for up to 24 hours) is not kept anywhere",
			"schedulerGroup", cfg.SchedulerGroup)
	}
	return s, nil
}
