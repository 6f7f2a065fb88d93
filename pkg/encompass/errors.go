package encompass

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors matched with errors.Is against any error this package
// returns. An *APIError matches the sentinel of its status code.
var (
	// ErrNotFound: 404, or a look-up that found nothing.
	ErrNotFound = errors.New("encompass: not found")
	// ErrConflict: 409 (e.g. the login id exists already).
	ErrConflict = errors.New("encompass: conflict")
	// ErrThrottled: 429 (concurrency limit or daily quota).
	ErrThrottled = errors.New("encompass: throttled")
	// ErrUnauthorized: 401 after the one token refresh, or a token request
	// the server refused (bad credentials).
	ErrUnauthorized = errors.New("encompass: unauthorized")
	// ErrForbidden: 403.
	ErrForbidden = errors.New("encompass: forbidden")
	// ErrBadRequest: 400 and 422, answers that will not change on retry.
	ErrBadRequest = errors.New("encompass: bad request")
	// ErrServer: 5xx.
	ErrServer = errors.New("encompass: server error")
	// ErrUnknownOutcome: a write was sent but no answer arrived (timeout,
	// dropped connection), so it may or may not have been applied. The
	// create methods resolve this themselves by looking the user up.
	ErrUnknownOutcome = errors.New("encompass: outcome unknown")
)

// APIError is an error answer from the Encompass API. Details never contain
// request bodies or credentials.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's error code (errorCode, error, or the 429 body's code).
	Code string
	// Summary is the short message (summary, message, or error_description).
	Summary string
	// Details is the longer explanation, including errors[] entries.
	Details string
	// CorrelationID is X-Correlation-ID, to quote to ICE support.
	CorrelationID string
	// Method and Endpoint name the call, Endpoint templated (no ids).
	Method, Endpoint string
	// RateLimitReset is X-Rate-Limit-Reset when the answer said the quota
	// is used up (X-Rate-Limit-Remaining: 0).
	RateLimitReset time.Time
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "encompass: %s %s: %d", e.Method, e.Endpoint, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Summary != "" {
		fmt.Fprintf(&b, " %s", e.Summary)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, ": %s", e.Details)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlation id %s)", e.CorrelationID)
	}
	return b.String()
}

// Is lets errors.Is match the sentinel for the status code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// IsRetryable is THE classification of errors as retryable (may succeed
// later: throttling, 5xx, timeouts, network errors, unknown outcomes) or
// permanent (every other 4xx, validation, decoding, cancellation by the
// caller). Every consumer of this package uses it; nothing else decides.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return retryableStatus(ae.StatusCode)
	}
	if errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrThrottled) || errors.Is(err, ErrServer) {
		return true
	}
	// A deadline means the call took too long; a later attempt (with a fresh
	// budget, e.g. an SQS redelivery) can succeed. A plain cancellation is
	// the caller giving up, not a property of the call.
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	if errors.Is(err, errTransport) {
		return true
	}
	return false
}

// retryableStatus lists the statuses worth another attempt. 500 is included
// because live tenants answer transient faults with it as well.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// errTransport marks network-level failures (connection refused, reset,
// EOF before an answer) that net.Error does not always cover.
var errTransport = errors.New("encompass: transport error")

// errorBody is every error field seen on live tenants.
type errorBody struct {
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	ErrorCode        string          `json:"errorCode"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Code             json.RawMessage `json:"code"`
	Message          string          `json:"message"`
	Detail           string          `json:"detail"`
	Description      string          `json:"description"`
	Errors           []struct {
		Summary   string `json:"summary"`
		Details   string `json:"details"`
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	} `json:"errors"`
}

// maxErrorText bounds what an error message quotes from a body, so a huge
// HTML error page does not end up in every log line.
const maxErrorText = 512

// decodeAPIError builds an APIError from a non-2xx answer. It never fails:
// an unreadable body leaves the fields empty (or quotes a short text body).
func decodeAPIError(method, endpoint string, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		StatusCode:    resp.StatusCode,
		Method:        method,
		Endpoint:      endpoint,
		CorrelationID: resp.Header.Get("X-Correlation-ID"),
	}
	// X-Rate-Limit-Reset is the end of the quota window (often midnight);
	// it only says when to come back if the quota is used up. A 429 from
	// the concurrency limit carries it too and must not wait for it.
	if resp.Header.Get("X-Rate-Limit-Remaining") == "0" {
		if reset, ok := parseReset(resp.Header.Get("X-Rate-Limit-Reset")); ok {
			e.RateLimitReset = reset
		}
	}
	var eb errorBody
	if len(body) > 0 && json.Unmarshal(body, &eb) == nil {
		e.Code = firstNonEmpty(eb.ErrorCode, rawString(eb.Code), eb.Error)
		e.Summary = firstNonEmpty(eb.Summary, eb.Message, eb.ErrorDescription, eb.Description)
		e.Details = firstNonEmpty(eb.Details, eb.Detail)
		if eb.Summary != "" && eb.ErrorDescription != "" && e.Details == "" {
			e.Details = eb.ErrorDescription
		}
		for _, sub := range eb.Errors {
			part := strings.TrimSpace(strings.Join(nonEmpty(sub.ErrorCode, sub.Summary, sub.Details, sub.Message), " "))
			if part == "" {
				continue
			}
			if e.Details != "" {
				e.Details += "; "
			}
			e.Details += part
		}
	} else if len(body) > 0 {
		e.Details = strings.TrimSpace(string(body))
	}
	if e.Summary == "" {
		e.Summary = http.StatusText(resp.StatusCode)
	}
	e.Summary = truncate(e.Summary, maxErrorText)
	e.Details = truncate(e.Details, maxErrorText)
	return e
}

func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(vals ...string) []string {
	out := vals[:0:0]
	for _, v := range vals {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
