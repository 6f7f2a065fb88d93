// Package function is the cold start shared by the provision and deprovision
// Lambdas: configuration, clients, mapping resolution and the per-invocation
// metrics line. Each function's main.go names its queue and calls Build.
package function

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/directory"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Function is a built provision or deprovision Lambda.
type Function struct {
	Handler *provisioning.Handler
	Logger  *slog.Logger
	metrics *telemetry.Metrics
	out     io.Writer
	mu      sync.Mutex
}

// Options adjust Build for tests and local runs.
type Options struct {
	// Output receives logs and metric lines; default os.Stdout.
	Output io.Writer
	// HTTPClient is the Encompass HTTP client (default: the client's own).
	HTTPClient *http.Client
	// Config are extra pkg/config options (e.g. WithAWSConfig).
	Config []config.Option
}

// Build reads the configuration, builds every client and resolves the
// mapping's names. Any failure is one error naming the variable or the
// unknown names, for the cold start to report.
func Build(ctx context.Context, getenv func(string) string, queue hris.Queue, name string, opts Options) (*Function, error) {
	if opts.Output == nil {
		opts.Output = os.Stdout
	}
	cfg, err := config.Load(ctx, getenv, config.ForProvision, opts.Config...)
	if err != nil {
		return nil, err
	}
	logger := telemetry.NewLogger(opts.Output, cfg.LogLevel).With("function", name)
	metrics := telemetry.NewMetrics(telemetry.Namespace, map[string]string{"Function": name})

	ec := cfg.EncompassConfig()
	client, err := encompass.New(encompass.Config{
		BaseURL: ec.BaseURL, InstanceID: ec.InstanceID,
		ClientID: ec.ClientID, ClientSecret: ec.ClientSecret.Reveal(),
		Username: ec.Username, Password: ec.Password.Reveal(),
		Grant: encompass.Grant(ec.Grant), MaxInFlight: ec.MaxInFlight,
		HTTPClient: opts.HTTPClient,
		Logger:     logger,
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

	rules := mapping.Default()
	if cfg.MappingFile != "" {
		if rules, err = mapping.LoadFile(cfg.MappingFile); err != nil {
			return nil, err
		}
	}
	api := provisioning.UserAPI(cfg.UserAPI)
	res := mapping.Resolvers{Personas: client.Personas.Resolve, Organizations: client.Organizations.Resolve}
	if api == provisioning.UserAPISCIM {
		res.Groups = client.SCIM.ResolveGroups
	}
	resolved, err := mapping.Resolve(ctx, rules, res)
	if err != nil {
		if cfg.MappingFile != "" {
			return nil, fmt.Errorf("MAPPING_FILE %s: %w", cfg.MappingFile, err)
		}
		return nil, fmt.Errorf("built-in mapping rules (set MAPPING_FILE to your own): %w", err)
	}

	store := state.New(dynamodb.NewFromConfig(cfg.AWS), cfg.StateTable)
	pub := publish.New(eventbridge.NewFromConfig(cfg.AWS), cfg.EventBusName, publish.WithCallHook(func() { metrics.Add("PutEventsCalls", 1) }))
	dir, err := directory.For(cfg.UserAPI, client.Users, client.SCIM, resolved)
	if err != nil {
		return nil, err
	}
	h, err := provisioning.New(provisioning.Config{
		Queue: queue, Directory: dir,
		Store: store, Publisher: pub, Mapping: resolved, DryRun: cfg.DryRun,
		Logger: logger, Metrics: metrics,
	})
	if err != nil {
		return nil, err
	}
	logger.InfoContext(ctx, "cold start complete", "userApi", cfg.UserAPI, "dryRun", cfg.DryRun,
		"mapping", mappingName(cfg.MappingFile), "groupsManaged", resolved.GroupsManaged)
	return &Function{Handler: h, Logger: logger, metrics: metrics, out: opts.Output}, nil
}

func mappingName(file string) string {
	if file == "" {
		return "built-in"
	}
	return file
}

// Handle processes one SQS batch and writes the invocation's metrics line.
func (f *Function) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	resp, err := f.Handler.HandleSQS(ctx, batch)
	f.metrics.Add("Messages", float64(len(batch.Records)))
	f.metrics.Add("BatchItemFailures", float64(len(resp.BatchItemFailures)))
	// One Lambda container runs one invocation at a time; the lock only
	// keeps a test's concurrent calls from interleaving lines.
	f.mu.Lock()
	defer f.mu.Unlock()
	if ferr := f.metrics.Flush(f.out); ferr != nil {
		f.Logger.WarnContext(ctx, "metrics flush failed", "error", ferr.Error())
	}
	return resp, err
}

// Fail reports a cold-start failure as one JSON log line, so that the
// operator reads one clear message in CloudWatch.
func Fail(w io.Writer, name string, err error) {
	telemetry.NewLogger(w, slog.LevelInfo).Error("cold start failed: "+err.Error(), "function", name)
}
