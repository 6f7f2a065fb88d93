// Command webhookctl registers, lists and deletes the Encompass webhook
// subscription that sends loan events to the deployed receiver
// (functions/webhook). It reads the Encompass credentials from the same
// environment variables as the functions (pkg/config).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, connectFromEnv)
	stop()
	os.Exit(code)
}

// connectFromEnv builds the Encompass client from the environment. It is called
// only once the command line is valid, so that -h works without credentials.
func connectFromEnv(ctx context.Context) (subscriptionAPI, error) {
	cfg, err := config.FromEnv(ctx, config.NeedEncompass)
	if err != nil {
		return nil, err
	}
	e := cfg.EncompassConfig()
	client, err := encompass.New(encompass.Config{
		BaseURL:      e.BaseURL,
		InstanceID:   e.InstanceID,
		ClientID:     e.ClientID,
		ClientSecret: e.ClientSecret.Reveal(),
		Username:     e.Username,
		Password:     e.Password.Reveal(),
		Grant:        encompass.Grant(e.Grant),
		MaxInFlight:  e.MaxInFlight,
	})
	if err != nil {
		return nil, err
	}
	return client.Webhooks, nil
}
