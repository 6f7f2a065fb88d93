// Command provision is the provision Lambda: it consumes the HRIS provision queue
// (see docs/provisioning.md) and applies each event to Encompass.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning/function"
)

func main() {
	fn, err := function.Build(context.Background(), os.Getenv, hris.QueueProvision, "provision", function.Options{Output: os.Stdout})
	if err != nil {
		function.Fail(os.Stdout, "provision", err)
		os.Exit(1)
	}
	lambda.Start(fn.Handle)
}
