package provisioning

import (
	"context"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
)

// Function wires the Lambda function of one HRIS queue, provision or
// deprovision (named after the queue): the parts of
// coldstart.BuildProvisioning, the
// handler of that queue with its held events sent back to it, the
// cold-start log line, and the metrics flushed after every batch.
// httpClient is the Encompass HTTP client (nil: the client's own).
func Function(ctx context.Context, cfg *config.Config, queue hris.Queue, out io.Writer, httpClient *http.Client) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	p, err := coldstart.BuildProvisioning(ctx, cfg, string(queue), out, httpClient)
	if err != nil {
		return nil, err
	}
	queueARN := cfg.ProvisionQueueARN
	if queue == hris.QueueDeprovision {
		queueARN = cfg.DeprovisionQueueARN
	}
	h, err := New(Config{
		Queue: queue, Directory: p.Directory, Store: p.Store, Publisher: p.Publisher, Mapping: p.Rules,
		Scheduler: p.Scheduler, QueueARN: queueARN, ImmediateTermination: cfg.ImmediateTermination,
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
