// Command deprovision is the deprovision Lambda: it consumes the HRIS deprovision queue (terminate)
// and disables each leaver's account (docs/provisioning.md).
package main

import (
	"context"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

const name = "deprovision"

func main() {
	handle, err := build(context.Background(), os.Getenv, os.Stdout, nil)
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
	lambda.Start(handle)
}

// build wires the function: configuration, clients, mapping, handler.
// httpClient is the Encompass HTTP client (nil: the client's own).
func build(ctx context.Context, getenv func(string) string, out io.Writer, httpClient *http.Client) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	cfg, err := config.Load(ctx, getenv, config.ForDeprovision)
	if err != nil {
		return nil, err
	}
	log := coldstart.Logger(cfg, out, name)
	metrics := coldstart.Metrics(name)
	client, err := coldstart.Encompass(cfg, log, metrics, httpClient)
	if err != nil {
		return nil, err
	}
	rules, err := coldstart.Mapping(ctx, cfg, client)
	if err != nil {
		return nil, err
	}
	dir, err := coldstart.Directory(cfg, client, rules)
	if err != nil {
		return nil, err
	}
	sched, err := coldstart.Scheduler(cfg, metrics)
	if err != nil {
		return nil, err
	}
	now, err := coldstart.Clock(cfg)
	if err != nil {
		return nil, err
	}
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueDeprovision, Directory: dir, Store: coldstart.State(cfg, state.WithClock(now)),
		Publisher: coldstart.Publisher(cfg, metrics), Mapping: rules,
		Scheduler: sched, QueueARN: cfg.DeprovisionQueueARN, ImmediateTermination: cfg.ImmediateTermination,
		DryRun: cfg.DryRun, Logger: log, Metrics: metrics, Now: now,
	})
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "cold start complete", "userApi", cfg.UserAPI, "dryRun", cfg.DryRun,
		"mapping", coldstart.MappingSource(cfg), "groupsManaged", rules.GroupsManaged, "schedulerGroup", cfg.SchedulerGroup)
	return coldstart.Flushing(metrics, out, log, h.HandleSQS, func(b events.SQSEvent, r events.SQSEventResponse) {
		metrics.Add("Messages", float64(len(b.Records)))
		metrics.Add("BatchItemFailures", float64(len(r.BatchItemFailures)))
	}), nil
}
