// Command reconcile is the reconcile Lambda: an HRIS roster put under
// rosters/ in ROSTER_BUCKET is compared with Encompass, reported under
// reports/, and, under rosters/apply/, brought in line by HRIS events sent
// to the provisioning queues (CONTRACTS section 7, docs/reconcile.md).
package main

import (
	"context"
	"io"
	"iter"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

const name = "reconcile"

func main() {
	handle, err := build(context.Background(), os.Getenv, os.Stdout, nil)
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
	lambda.Start(handle)
}

// snapshotConcurrency bounds the parallel reads of the poller's snapshot.
const snapshotConcurrency = 16

// build wires the function: configuration, clients, mapping, reconciler.
// httpClient is the Encompass HTTP client (nil: the client's own).
func build(ctx context.Context, getenv func(string) string, out io.Writer, httpClient *http.Client) (func(context.Context, events.S3Event) (reconcile.Response, error), error) {
	cfg, err := config.Load(ctx, getenv, config.ForReconcile)
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
	store := coldstart.State(cfg)
	rc := reconcile.Config{
		Bucket: cfg.RosterBucket, Objects: coldstart.S3(cfg, getenv),
		Queues:            coldstart.SQS(cfg),
		ProvisionQueueURL: config.QueueURL(cfg.ProvisionQueueARN), DeprovisionQueueURL: config.QueueURL(cfg.DeprovisionQueueARN),
		Store: store, Snapshot: state.NewSnapshot(store, snapshotConcurrency),
		ListUsers: func(ctx context.Context) iter.Seq2[encompass.User, error] {
			// Pages are requested ahead, as many as the client lets through.
			return client.Users.Paginator(encompass.ListUsersOptions{}, func(o *encompass.PaginatorOptions) { o.InFlight = cfg.MaxInFlight }).All(ctx)
		},
		FindUser:      client.Users.FindByLoginID,
		ManagedGroups: dir.ManagedGroups(),
		Mapping:       rules, Publisher: coldstart.Publisher(cfg, metrics),
		IgnoreLogins: cfg.IgnoreLogins, MinRosterRatio: cfg.MinRosterRatio, DryRun: cfg.DryRun,
		Logger: log, Metrics: metrics,
	}
	if cfg.UserAPI == config.UserAPISCIM {
		// Only SCIM knows groups and API users; and in scim mode the poller
		// lists DDA profiles, so its snapshot carries each user's.
		rc.Group, rc.IsAPIUser = client.SCIM.GetGroup, reconcile.SCIMAPIUser(client.SCIM)
		rc.SnapshotDDA = true
	}
	r, err := reconcile.New(rc)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "cold start complete", "userApi", cfg.UserAPI, "dryRun", cfg.DryRun,
		"mapping", coldstart.MappingSource(cfg), "groupsManaged", rules.GroupsManaged, "bucket", cfg.RosterBucket)
	return coldstart.Flushing(metrics, out, log, r.HandleS3, nil), nil
}
