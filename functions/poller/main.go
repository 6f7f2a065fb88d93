// Command poller is the scheduled Lambda that detects Encompass user changes
// made outside this system and publishes them as encompass.poller events
// (CONTRACTS §3). The work is in pkg/poll; this file only wires it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

func main() {
	ctx := context.Background()
	cfg, err := config.FromEnv(ctx, config.ForPoller)
	if err != nil {
		fmt.Fprintln(os.Stderr, "poller:", err)
		os.Exit(1)
	}
	log := telemetry.NewLogger(os.Stdout, cfg.LogLevel)
	h, err := newHandler(cfg, log, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "poller:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// newHandler wires configuration to the handler: Encompass client, state
// table, snapshot, bus, metrics.
func newHandler(cfg *config.Config, log *slog.Logger, metrics io.Writer) (*Handler, error) {
	calls := new(atomic.Int64)
	ec := cfg.EncompassConfig()
	client, err := encompass.New(encompass.Config{
		BaseURL:    ec.BaseURL,
		InstanceID: ec.InstanceID,
		ClientID:   ec.ClientID, ClientSecret: ec.ClientSecret.Reveal(),
		Username: ec.Username, Password: ec.Password.Reveal(),
		Grant: encompass.Grant(ec.Grant),
		// The poller shares the tenant's request budget with the other
		// functions: it lists pages and reads back removed users with at
		// most this many requests in flight.
		MaxInFlight: ec.MaxInFlight,
		OnCall:      func(encompass.CallInfo) { calls.Add(1) },
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	store := state.New(dynamodb.NewFromConfig(cfg.AWS), cfg.StateTable)
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
		Publisher:       publish.New(eventbridge.NewFromConfig(cfg.AWS), cfg.EventBusName),
		MaxRemovalRatio: cfg.MaxRemovalRatio,
		// The listing keeps the client's whole budget busy: pages are
		// requested ahead, as many at once as the client lets through.
		ListInFlight: listInFlight(ec.MaxInFlight),
		// Write-log look-ups go to DynamoDB; the removal read-backs that
		// share this limit are held to MaxInFlight by the client itself.
		Concurrency: dynamoConcurrency,
	}, calls, metrics, log), nil
}

// listInFlight is the Encompass client's request limit, which is the
// client's default when the configuration leaves it unset.
func listInFlight(maxInFlight int) int {
	if maxInFlight <= 0 {
		return encompass.DefaultMaxInFlight
	}
	return maxInFlight
}

// dynamoConcurrency bounds the poller's parallel DynamoDB requests (snapshot
// chunks and shards, delta writes, write-log look-ups). DynamoDB is not the
// tenant's shared Encompass budget, so it can be higher than MaxInFlight.
const dynamoConcurrency = 16
