package failure_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("create user jdoe: %w", err) }
	cases := []struct {
		name       string
		err        error
		kind       failure.Kind
		wantReason string
	}{
		{"nil", nil, failure.None, ""},
		{"hris rejection", wrap(&hris.Error{Reason: hris.ReasonInvalidField, Field: "employee.email", Message: "bad"}), failure.Permanent, hris.ReasonInvalidField},
		{"transient", wrap(failure.Transient("still enabled")), failure.Retryable, ""},
		{"deadline", wrap(context.DeadlineExceeded), failure.Retryable, ""},
		{"canceled", wrap(context.Canceled), failure.Retryable, ""},
		{"lost race", wrap(state.ErrConflict), failure.Retryable, ""},
		{"claim in progress", wrap(state.ErrInProgress), failure.Retryable, ""},
		{"malformed item", wrap(state.ErrMalformedItem), failure.Fault, ""},
		{"encompass 429", wrap(&encompass.APIError{StatusCode: 429}), failure.Retryable, ""},
		{"encompass 503", wrap(&encompass.APIError{StatusCode: 503}), failure.Retryable, ""},
		{"encompass 400", wrap(&encompass.APIError{StatusCode: 400, Summary: "Bad Request", Endpoint: "POST /scim2/v1/users"}), failure.Permanent, failure.ReasonEncompassRejected},
		{"encompass 403", wrap(&encompass.APIError{StatusCode: 403}), failure.Permanent, failure.ReasonEncompassRejected},
		{"encompass 401", wrap(&encompass.APIError{StatusCode: 401}), failure.Fault, ""},
		{"token refused", wrap(encompass.ErrUnauthorized), failure.Fault, ""},
		{"unknown outcome", wrap(encompass.ErrUnknownOutcome), failure.Retryable, ""},
		{"network", wrap(&net.OpError{Op: "dial", Err: errors.New("refused")}), failure.Retryable, ""},
		{"dynamodb condition", wrap(&types.ConditionalCheckFailedException{}), failure.Retryable, ""},
		{"dynamodb throttled", wrap(&types.ProvisionedThroughputExceededException{}), failure.Retryable, ""},
		{"aws throttling", wrap(&smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}), failure.Retryable, ""},
		{"aws server fault", wrap(&smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}), failure.Retryable, ""},
		{"aws access denied", wrap(&smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}), failure.Fault, ""},
		{"table missing", wrap(&types.ResourceNotFoundException{}), failure.Fault, ""},
		{"publish: transient entries", &publish.Error{Failed: 1, Total: 1, Codes: map[string]int{"ThrottlingException": 1}}, failure.Retryable, ""},
		{"publish: entry refused for its content", &publish.Error{Failed: 1, Total: 1, Codes: map[string]int{"ValidationException": 1}}, failure.Permanent, failure.ReasonUnpublishable},
		{"publish: content and transient", &publish.Error{Failed: 2, Total: 2, Codes: map[string]int{"ValidationException": 1, "InternalFailure": 1}}, failure.Retryable, ""},
		{"publish: not authorized for the source", &publish.Error{Failed: 1, Total: 1, Codes: map[string]int{"NotAuthorizedForSourceException": 1}}, failure.Fault, ""},
		{"publish: request timed out", &publish.Error{Failed: 1, Total: 1, Codes: map[string]int{"request": 1}, Err: context.DeadlineExceeded}, failure.Retryable, ""},
		{"unknown", errors.New("something odd"), failure.Fault, ""},
	}
	for _, c := range cases {
		got := failure.Classify(c.err)
		if got.Kind != c.kind || got.Reason != c.wantReason {
			t.Errorf("%s: %v %q, want %v %q", c.name, got.Kind, got.Reason, c.kind, c.wantReason)
		}
		if got.Retry() != (c.kind == failure.Retryable || c.kind == failure.Fault) {
			t.Errorf("%s: Retry() = %v", c.name, got.Retry())
		}
	}
}

func TestClassifyEncompassRefusalMessage(t *testing.T) {
	t.Parallel()
	c := failure.Classify(&encompass.APIError{StatusCode: 422, Summary: "Unprocessable", Details: "persona unknown", Endpoint: "PATCH /encompass/v3/users/{id}"})
	want := "Encompass refused PATCH /encompass/v3/users/{id} (HTTP 422): Unprocessable: persona unknown"
	if c.Message != want {
		t.Fatalf("message %q, want %q", c.Message, want)
	}
}
