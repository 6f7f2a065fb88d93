package hris

import (
	"errors"
	"fmt"
)

// Reason codes carried by rejected and skipped events (CONTRACTS section 3).
// The contract fixes the first ones; the others name the remaining ways an
// HRIS message can be unusable, so that an operator can tell them apart.
const (
	ReasonInvalidField       = "invalid_field"
	ReasonWrongQueue         = "wrong_queue"
	ReasonInvalidJSON        = "invalid_json"
	ReasonMissingField       = "missing_field"
	ReasonUnsupportedVersion = "unsupported_schema_version"
	ReasonUnknownType        = "unknown_type"
	ReasonTooLarge           = "too_large"
)

// Error is why an HRIS message was rejected. It is always permanent: the same
// body will never decode, so the caller acknowledges it and publishes
// `HRIS Event Rejected` instead of retrying.
type Error struct {
	// Reason is the CONTRACTS reason code, e.g. "invalid_field".
	Reason string
	// Field is the JSON path of the offending field ("employee.email"), when
	// one field is to blame.
	Field string
	// Message says what is wrong and what would be accepted, for a person.
	Message string
	// EventID, EmployeeID and Type are what could be read from the body
	// before it failed, so the rejection can still be correlated.
	EventID    string
	EmployeeID string
	Type       Type
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Reason, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func fieldError(reason, field, format string, args ...any) *Error {
	return &Error{Reason: reason, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Rejection reports the contract reason of a rejected message, so that
// failure.Classify sees it as permanent.
func (e *Error) Rejection() (reason, field, message string) { return e.Reason, e.Field, e.Message }
