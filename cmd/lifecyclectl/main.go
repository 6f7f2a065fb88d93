// Command lifecyclectl answers the questions operators ask at 2 a.m. about
// the Encompass user lifecycle: what the state table knows about an
// employee, which events are held until their effective date, what the
// original body of a rejected event was, and how to move a dead-letter
// queue's messages back (docs/operations.md). It reads the
// deployed resources with the AWS SDK's default credential chain, or the
// local product through the AWS_ENDPOINT_URL_* variables. `make ops
// ARGS="..."` runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], awsDeps())
	stop()
	os.Exit(code)
}

// awsDeps reaches the real AWS resources. The SDK configuration is loaded
// only when a command needs it, so that -h and usage errors work without
// credentials.
func awsDeps() *deps {
	load := sync.OnceValues(func() (aws.Config, error) {
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		if err != nil {
			return cfg, fmt.Errorf("AWS configuration: %w", err)
		}
		return cfg, nil
	})
	return &deps{
		stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now,
		store: func(_ context.Context, table string) (*state.Store, error) {
			cfg, err := load()
			if err != nil {
				return nil, err
			}
			return state.New(dynamodb.NewFromConfig(cfg), table), nil
		},
		sqs: func(context.Context) (sqsAPI, error) {
			cfg, err := load()
			if err != nil {
				return nil, err
			}
			return sqs.NewFromConfig(cfg), nil
		},
	}
}
