// Package failure decides, once for the whole product, what an error means
// for the message or request that met it:
//
//   - Retryable: it may succeed later (throttling, 5xx, timeouts, network
//     errors, lost races, an outcome not yet visible). SQS delivers the
//     message again; the webhook answers 503 so that Encompass retries.
//   - Permanent: the input is at fault and never will succeed (validation,
//     wrong queue, a refusal by Encompass, an event EventBridge will never
//     accept). It carries a CONTRACTS reason code; the message is
//     acknowledged and its rejection published, so that nothing loops.
//   - Fault: our own fault (credentials, permissions, a missing table, a
//     malformed item, a bug). Retried like a retryable error, so that
//     nothing is lost while an operator fixes it, and logged as an error.
//
// Every caller classifies through Classify; nothing else decides. The
// Encompass client's own retry loop asks encompass.IsRetryable, which is the
// HTTP part of these rules and is consulted here.
package failure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Kind is the classification of an error.
type Kind int

// The kinds, in the package comment's order.
const (
	None Kind = iota
	Retryable
	Permanent
	Fault
)

func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Fault:
		return "fault"
	}
	return "none"
}

// Reason codes this package gives (CONTRACTS section 3 lists the reasons).
const (
	ReasonEncompassRejected = "encompass_rejected"
	// ReasonUnpublishable: EventBridge refused an event for good (its
	// content, not our permissions): retrying cannot help.
	ReasonUnpublishable = "unpublishable"
)

// Class is what Classify decided.
type Class struct {
	Kind Kind
	// Reason, Field and Message describe a Permanent error: the CONTRACTS
	// reason code, the field at fault when there is one, and what is wrong
	// for a person.
	Reason, Field, Message string
}

// Retry reports whether the work should be tried again (Retryable or Fault).
func (c Class) Retry() bool { return c.Kind == Retryable || c.Kind == Fault }

// Rejection is implemented by errors that refuse the input for good with a
// CONTRACTS reason code (hris.Error, provisioning's rejections).
type Rejection interface {
	error
	Rejection() (reason, field, message string)
}

// transient marks errors a package knows to be worth another try.
type transient struct{ msg string }

func (t *transient) Error() string { return t.msg }

// Transient returns an error that classifies as Retryable: a state that can
// change by itself (an account still enabled just after a disable).
func Transient(msg string) error { return &transient{msg: msg} }

// Classify decides what err means. A nil error has Kind None.
func Classify(err error) Class {
	if err == nil {
		return Class{}
	}
	var rj Rejection
	var tr *transient
	var api *encompass.APIError
	var pub *publish.Error
	switch {
	case errors.As(err, &rj):
		reason, field, msg := rj.Rejection()
		return Class{Kind: Permanent, Reason: reason, Field: field, Message: msg}
	case errors.As(err, &tr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, state.ErrConflict), errors.Is(err, state.ErrInProgress):
		// Our own deadline guard or a lost race: the next delivery, with a
		// fresh budget and a fresh read, can succeed.
		return Class{Kind: Retryable}
	case errors.Is(err, state.ErrMalformedItem):
		return Class{Kind: Fault}
	case errors.As(err, &api):
		return classifyEncompass(api)
	case errors.Is(err, encompass.ErrUnauthorized):
		// The token request was refused: our credentials, not the event.
		return Class{Kind: Fault}
	case encompass.IsRetryable(err):
		return Class{Kind: Retryable}
	case errors.As(err, &pub):
		return classifyPublish(pub)
	}
	return classifyAWS(err)
}

// classifyEncompass: 401 after the client's own refresh is our credentials;
// retryable statuses may pass; any other refusal is Encompass's answer to
// this input.
func classifyEncompass(api *encompass.APIError) Class {
	switch {
	case api.StatusCode == 401:
		return Class{Kind: Fault}
	case encompass.IsRetryable(api):
		return Class{Kind: Retryable}
	}
	msg := api.Summary
	if api.Details != "" {
		msg += ": " + api.Details
	}
	return Class{Kind: Permanent, Reason: ReasonEncompassRejected,
		Message: fmt.Sprintf("Encompass refused %s (HTTP %d): %s", api.Endpoint, api.StatusCode, msg)}
}

// publishFaults are PutEvents entry codes that say our permissions or bus
// are wrong: an operator can fix them, so the events are kept and retried.
var publishFaults = map[string]bool{
	"AccessDeniedException":               true,
	"NotAuthorizedForSourceException":     true,
	"NotAuthorizedForDetailTypeException": true,
	"NotAuthorizedForEventBusException":   true,
	"ResourceNotFoundException":           true,
}

// classifyPublish: a failed request is classified by its own error; entries
// EventBridge refused for their content can never be published.
func classifyPublish(e *publish.Error) Class {
	if e.Err != nil {
		return Classify(e.Err)
	}
	permanent, fault := 0, 0
	for code, n := range e.Codes {
		switch {
		case publishFaults[code]:
			fault += n
		case publish.IsPermanentCode(code):
			permanent += n
		}
	}
	switch {
	case fault > 0:
		return Class{Kind: Fault}
	case permanent > 0 && permanent == e.Failed:
		return Class{Kind: Permanent, Reason: ReasonUnpublishable, Message: e.Error()}
	}
	return Class{Kind: Retryable}
}

// classifyAWS classifies AWS SDK errors (DynamoDB, EventBridge, SQS,
// Scheduler, S3) by their code, then network errors; anything else is
// unknown: a Fault (retried, and logged as an error).
func classifyAWS(err error) Class {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case state.IsConditionFailed(err), retryableAWSCodes[code],
			strings.Contains(code, "Throttl"), strings.HasSuffix(code, "LimitExceeded"),
			strings.HasSuffix(code, "LimitExceededException"):
			return Class{Kind: Retryable}
		case ae.ErrorFault() == smithy.FaultServer:
			return Class{Kind: Retryable}
		}
		return Class{Kind: Fault}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Class{Kind: Retryable}
	}
	return Class{Kind: Fault}
}

// retryableAWSCodes are the AWS error codes that may pass on a later try.
var retryableAWSCodes = map[string]bool{
	"InternalServerError":                    true,
	"InternalFailure":                        true,
	"InternalServiceError":                   true,
	"ServiceUnavailable":                     true,
	"ServiceUnavailableException":            true,
	"RequestTimeout":                         true,
	"RequestTimeoutException":                true,
	"TransactionConflictException":           true,
	"TransactionInProgressException":         true,
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"ExpiredTokenException":                  true,
	"ConflictException":                      true,
	"SlowDown":                               true,
}
