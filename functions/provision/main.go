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

// build wires the function: its configuration, then everything a queue's
// function is built from (provisioning.Function). httpClient is
// the Encompass HTTP client (nil: the client's own).
func build(ctx context.Context, getenv func(string) string, out io.Writer, httpClient *http.Client) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	cfg, err := config.Load(ctx, getenv, config.ForProvision)
	if err != nil {
		return nil, err
	}
	return provisioning.Function(ctx, cfg, hris.QueueProvision, out, httpClient)
}
