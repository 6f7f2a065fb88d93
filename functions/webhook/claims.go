package main

import (
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClaimRetries configures the DynamoDB client of the de-duplication claims to
// retry only failures that certainly wrote nothing: throttling and connections
// that were never made. The SDK's default also retries a dropped answer, and
// the retry of a claim that was in fact written fails its condition, so the
// delivery would be answered "duplicate" and never published. Without the
// retry the handler sees the error, releases the claim and answers 503, and
// Encompass retries instead.
func ClaimRetries(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{
			retry.NoRetryCanceledError{},
			retry.RetryableErrorCode{Codes: retry.DefaultThrottleErrorCodes},
			dialFailed{},
		}
	})
}

// dialFailed retries errors of a connection that was never established.
type dialFailed struct{}

func (dialFailed) IsErrorRetryable(err error) aws.Ternary {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}
