package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Reason codes this package adds to those of pkg/hris (CONTRACTS section 3
// lists the first ones).
const (
	ReasonDuplicate         = "duplicate"
	ReasonStale             = "stale"
	ReasonUserNameConflict  = "userName_conflict"
	ReasonEncompassRejected = "encompass_rejected"
	// ReasonNotProvisioned: a terminate for an employee who has no account;
	// a tombstone was left instead.
	ReasonNotProvisioned = "not_provisioned"
)

// MaxMessageBytes is how much of the original body a rejection carries. A
// JSON-escaped string can grow up to six times, and an EventBridge entry may
// carry 256 KB, so longer bodies are cut (and marked messageTruncated); the
// whole body is then kept in the state table, and messageStoredAt says where.
const MaxMessageBytes = 32 << 10

// Detail is the `detail` of every encompass.provisioning event
// (CONTRACTS section 3). Fields are left out when unknown.
type Detail struct {
	EventID         string `json:"eventId"`
	Type            string `json:"type,omitempty"`
	EmployeeID      string `json:"employeeId,omitempty"`
	UserName        string `json:"userName,omitempty"`
	EncompassUserID string `json:"encompassUserId,omitempty"`
	GlobalUserID    string `json:"globalUserId,omitempty"`
	// Action says what happened to the account: created, adopted, updated,
	// reactivated, disabled or unchanged.
	Action  string   `json:"action,omitempty"`
	Changes []Change `json:"changes,omitzero"`
	// Reason is the code of a skip or rejection; Error explains it to a
	// person, naming the Field at fault when there is one.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	Field  string `json:"field,omitempty"`
	// LastAppliedAt is the occurredAt already applied, on stale skips.
	LastAppliedAt string `json:"lastAppliedAt,omitempty"`
	// Message is the original SQS body on rejections, cut to
	// MaxMessageBytes (MessageTruncated) when longer.
	Message          *string `json:"message,omitempty"`
	MessageTruncated bool    `json:"messageTruncated,omitempty"`
	MessageBytes     int     `json:"messageBytes,omitempty"`
	// MessageStoredAt locates the whole original body in the state table
	// when Message was cut (never in a dry run, which writes nothing there).
	MessageStoredAt *state.ItemRef `json:"messageStoredAt,omitempty"`
	DryRun          bool           `json:"dryRun,omitempty"`
}

func event(detailType string, d Detail) publish.Event {
	return publish.Event{Source: publish.SourceProvisioning, DetailType: detailType, Detail: d}
}

// withMessage attaches the original body, cut on a rune boundary when long.
func (d Detail) withMessage(body string) Detail {
	d.MessageBytes = len(body)
	if len(body) > MaxMessageBytes {
		cut := MaxMessageBytes
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut]
		d.MessageTruncated = true
	}
	d.Message = &body
	return d
}

// rejection is a permanent failure with a CONTRACTS reason code.
type rejection struct {
	Reason  string
	Field   string
	Message string
}

func (r *rejection) Error() string { return r.Reason + ": " + r.Message }

func errUserNameConflict(loginID, _ string) error {
	// The other account's e-mail is not ours to publish.
	return &rejection{Reason: ReasonUserNameConflict, Field: "employee.userName", Message: fmt.Sprintf(
		"an Encompass user with login id %q already exists with a different e-mail; correct the e-mail or supply another employee.userName", loginID)}
}

// classify decides, once, whether err may succeed later. Throttling, 5xx,
// timeouts, network and infrastructure errors (state table, EventBridge) are
// retried through SQS; validation errors, other 4xx answers and the
// contract's rejections are permanent.
func classify(err error) (retryable bool, reason, field, message string) {
	var he *hris.Error
	var rj *rejection
	var api *encompass.APIError
	switch {
	case errors.As(err, &he):
		return false, he.Reason, he.Field, he.Message
	case errors.As(err, &rj):
		return false, rj.Reason, rj.Field, rj.Message
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Our own deadline guard or the Lambda's: the work may succeed on
		// the next delivery.
		return true, "", "", ""
	case errors.Is(err, state.ErrConflict), errors.Is(err, state.ErrInProgress), errors.Is(err, errStillEnabled):
		return true, "", "", ""
	case errors.Is(err, encompass.ErrUnauthorized):
		// Our own credentials, not the event: retry (and reach the DLQ)
		// rather than reject every event until someone fixes the secret.
		return true, "", "", ""
	case errors.As(err, &api) && !encompass.IsRetryable(err):
		msg := api.Summary
		if api.Details != "" {
			msg += ": " + api.Details
		}
		return false, ReasonEncompassRejected, "", fmt.Sprintf("Encompass refused %s (HTTP %d): %s", api.Endpoint, api.StatusCode, msg)
	}
	return true, "", "", ""
}

// scrubSecret keeps a generated password out of an error: Encompass may quote
// the request it refuses ("password ... does not meet the policy"), and the
// error becomes a log line and a rejection event. The classification is kept:
// an *encompass.APIError is copied with the password redacted.
func scrubSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	out := &scrubbedError{msg: redact(err.Error()), inner: err}
	var api *encompass.APIError
	if errors.As(err, &api) {
		c := *api
		c.Code, c.Summary, c.Details = redact(c.Code), redact(c.Summary), redact(c.Details)
		out.inner = &c
	} else {
		// Nothing below may print the secret, so nothing below is exposed;
		// sentinel errors stay visible to errors.Is through a copy of their
		// identity only.
		out.inner = sentinelOf(err)
	}
	return out
}

// scrubbedError is an error whose message had a secret removed.
type scrubbedError struct {
	msg   string
	inner error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.inner }

// sentinelOf returns the first of the sentinels classify looks at that err
// matches, so that a scrubbed error is classified as the original was.
func sentinelOf(err error) error {
	for _, s := range []error{context.DeadlineExceeded, context.Canceled, encompass.ErrUnknownOutcome, encompass.ErrUnauthorized, encompass.ErrConflict, encompass.ErrNotFound} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
