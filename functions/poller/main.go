// Command poller is the scheduled Lambda that detects Encompass user changes
// made outside this system and publishes them as encompass.poller events
// (CONTRACTS §3). The work is in pkg/poll; this file only wires it.
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

const name = "poller"

func main() {
	h, err := build(context.Background(), os.Getenv, os.Stdout, os.Stdout)
	if err != nil {
		coldstart.Fail(os.Stdout, name, err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build wires the function: configuration, the Encompass client, the state
// table and its snapshot, the bus, the handler. Logs go to out, the metrics
// line of each poll to metricsOut (both stdout in Lambda).
func build(ctx context.Context, getenv func(string) string, out, metricsOut io.Writer) (*Handler, error) {
	cfg, err := config.Load(ctx, getenv, config.ForPoller)
	if err != nil {
		return nil, err
	}
	log := coldstart.Logger(cfg, out, name)
	metrics := coldstart.Metrics(name)
	// The poller shares the tenant's request budget with the other
	// functions: it lists pages and reads back removed users with at most
	// this many requests in flight.
	client, err := coldstart.Encompass(cfg, log, metrics, nil)
	if err != nil {
		return nil, err
	}
	store := coldstart.State(cfg)
	// In scim mode each user's DDA (AIQ) profile is part of the user: one
	// more list of ceil(profiles/100) SCIM calls per poll. The v3 user API
	// has no DDA profiles.
	var dda poll.DDAProfiles
	if cfg.UserAPI == config.UserAPISCIM {
		dda = client.SCIM
	}
	return NewHandler(poll.Config{
		Users:           client.Users,
		DDA:             dda,
		State:           store,
		Snapshot:        state.NewSnapshot(store, dynamoConcurrency),
		Publisher:       coldstart.Publisher(cfg, metrics),
		MaxRemovalRatio: cfg.MaxRemovalRatio,
		// The listing keeps the client's whole budget busy: pages are
		// requested ahead, as many at once as the client lets through.
		ListInFlight: cfg.MaxInFlight,
		// Write-log look-ups go to DynamoDB; the removal read-backs that
		// share this limit are held to MaxInFlight by the client itself.
		Concurrency: dynamoConcurrency,
	}, metrics, metricsOut, log), nil
}

// dynamoConcurrency bounds the poller's parallel DynamoDB requests (snapshot
// chunks and shards, delta writes, write-log look-ups). DynamoDB is not the
// tenant's shared Encompass budget, so it can be higher than MaxInFlight.
const dynamoConcurrency = 16
