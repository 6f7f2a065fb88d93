// Command provision is the provision Lambda: it consumes the HRIS provision queue (hire, update,
// rehire) and applies each event to Encompass (docs/provisioning.md).
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
)

const name = "provision"

func main() {
	handle, err := build(context.Background(), os.Getenv, os.Stdout, nil)
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
	lambda.Start(handle)
}

// build wires the function: configuration, the parts every provisioning
// function is built from (logger, metrics, Encompass client, mapping,
// directory, clock, state table, bus, Scheduler), the handler of this
// queue. httpClient is
// the Encompass HTTP client (nil: the client's own).
func build(ctx context.Context, getenv func(string) string, out io.Writer, httpClient *http.Client) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	cfg, err := config.Load(ctx, getenv, config.ForProvision)
	if err != nil {
		return nil, err
	}
	p, err := coldstart.BuildProvisioning(ctx, cfg, name, out, httpClient)
	if err != nil {
		return nil, err
	}
	h, err := provisioning.New(provisioning.Config{
		Queue: hris.QueueProvision, Directory: p.Directory, Store: p.Store, Publisher: p.Publisher, Mapping: p.Rules,
		Scheduler: p.Scheduler, QueueARN: cfg.ProvisionQueueARN, ImmediateTermination: cfg.ImmediateTermination,
		DryRun: cfg.DryRun, Logger: p.Log, Metrics: p.Metrics, Now: p.Now,
	})
	if err != nil {
		return nil, err
	}
	p.Log.InfoContext(ctx, "cold start complete", "userApi", cfg.UserAPI, "dryRun", cfg.DryRun,
		"mapping", coldstart.MappingSource(cfg), "groupsManaged", p.Rules.GroupsManaged, "schedulerGroup", cfg.SchedulerGroup)
	return coldstart.Flushing(p.Metrics, out, p.Log, h.HandleSQS, func(b events.SQSEvent, r events.SQSEventResponse, _ error) {
		p.Metrics.Add("Messages", float64(len(b.Records)))
		p.Metrics.Add("BatchItemFailures", float64(len(r.BatchItemFailures)))
	}), nil
}
