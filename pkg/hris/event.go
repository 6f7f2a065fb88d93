// Package hris decodes and validates the HRIS joiner/mover/leaver events of
// CONTRACTS section 1. Decode is the only way in: it returns either a fully
// validated Event, with every phone number normalised and the userName
// resolved, or an *Error that carries a CONTRACTS reason code and a message a
// person can act on.
package hris

import (
	"encoding/json"
	"time"
)

// Type is the kind of HRIS event.
type Type string

// Event types (CONTRACTS section 1).
const (
	TypeHire      Type = "hire"
	TypeUpdate    Type = "update"
	TypeRehire    Type = "rehire"
	TypeTerminate Type = "terminate"
)

// Queue names the SQS queue a message arrived on; each carries its own types.
type Queue string

// The two HRIS queues.
const (
	QueueProvision   Queue = "provision"
	QueueDeprovision Queue = "deprovision"
)

// Accepts reports whether events of type t belong on queue q.
func (q Queue) Accepts(t Type) bool {
	switch q {
	case QueueProvision:
		return t == TypeHire || t == TypeUpdate || t == TypeRehire
	case QueueDeprovision:
		return t == TypeTerminate
	}
	return false
}

// SchemaVersion is the only schema version this code understands.
const SchemaVersion = "1"

// MaxBodyBytes is the largest message body Decode accepts. A real HRIS event
// is a few KiB; anything near SQS's 256 KiB ceiling is not an HRIS event and is
// rejected before parsing so that hostile bodies cost nothing.
const MaxBodyBytes = 64 << 10

// FutureTolerance is how far in the future occurredAt may lie (clock skew
// between the HRIS and AWS; an event cannot have happened yet), and how far
// ahead an event may be due and still be applied now rather than held
// (CONTRACTS sections 1 and 2a: five minutes).
const FutureTolerance = 5 * time.Minute

// MaxEffectiveAhead is how far in the future effectiveAt may lie at all: more
// is a typing error, not a plan (CONTRACTS section 1: 400 days).
const MaxEffectiveAhead = 400 * 24 * time.Hour

// Field is a tri-state value: absent from the JSON ("leave it as it is"),
// explicitly null ("clear it"), or set.
type Field[T any] struct {
	// Present is true when the key appeared in the JSON.
	Present bool
	// Null is true when the key appeared with the value null (or, for
	// optional strings, "").
	Null bool
	// Value is the decoded value when Present && !Null.
	Value T
}

// Set returns a Field holding v.
func Set[T any](v T) Field[T] { return Field[T]{Present: true, Value: v} }

// Null returns a Field that clears the value.
func Null[T any]() Field[T] { return Field[T]{Present: true, Null: true} }

// IsSet reports whether the field carries a value.
func (f Field[T]) IsSet() bool { return f.Present && !f.Null }

// MarshalJSON writes null for absent and cleared fields; it exists for logs
// and golden files, never for the round trip (absent cannot be represented).
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if !f.IsSet() {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

// Event is a decoded, validated HRIS event.
type Event struct {
	SchemaVersion string
	EventID       string
	Type          Type
	// OccurredAt is when the HRIS recorded the event; never more than
	// FutureTolerance after the time it was decoded.
	OccurredAt time.Time
	// EffectiveAt is zero when the event carried none (meaning "now"); never
	// more than MaxEffectiveAhead after the time it was decoded.
	EffectiveAt time.Time
	// TerminationReason is the HRIS's reason code of a terminate (CONTRACTS
	// section 1), empty when it gave none; always empty on other types.
	TerminationReason string
	Source            string
	Employee          Employee
}

// DueAt is when the event takes effect (CONTRACTS section 2a): the later of
// OccurredAt and EffectiveAt, since an event cannot take effect before it
// was known. A termination entered today with last week's date is due today.
func (e *Event) DueAt() time.Time {
	if e.EffectiveAt.After(e.OccurredAt) {
		return e.EffectiveAt
	}
	return e.OccurredAt
}

// Employee is the employee's current profile as the event states it. Every
// optional field is a Field so that "absent" and "clear" stay distinct.
type Employee struct {
	EmployeeID string
	// UserName is the login id to use: the supplied one, or the one derived
	// from the e-mail's local part; printable ASCII that meets Encompass's
	// rules (encompass.CheckUserName). It is empty only for update and
	// terminate events that carry neither.
	UserName string
	// UserNameDerived is true when UserName came from the e-mail.
	UserNameDerived bool

	GivenName  Field[string]
	MiddleName Field[string]
	FamilyName Field[string]
	Suffix     Field[string]
	Email      Field[string]
	// WorkPhone, MobilePhone and Fax are normalised to ###-###-#### with an
	// optional " ####" extension.
	WorkPhone   Field[string]
	MobilePhone Field[string]
	Fax         Field[string]
	JobTitle    Field[string]
	JobCode     Field[string]
	Department  Field[string]
	Location    Field[string]
	NMLSID      Field[string]
	// NMLSExpirationDate is yyyy-mm-dd.
	NMLSExpirationDate Field[string]
	StateLicenses      Field[[]StateLicense]
	SSOOnly            Field[bool]

	// EncompassUserName is an explicit link (CONTRACTS section 1): the
	// Encompass login that belongs to this not-yet-linked employee, to be
	// adopted without the e-mail check. Empty when the event names none (an
	// absent key and null both mean none). It meets the same rules as
	// UserName.
	EncompassUserName string
	// DDAAuthID is the SSO subject of the employee's DDA (AIQ) profile, its
	// authId: printable ASCII of at most 256 bytes.
	DDAAuthID Field[string]
}

// StateLicense is one state license of a loan officer.
type StateLicense struct {
	State         string `json:"state"`
	LicenseNumber string `json:"licenseNumber,omitempty"`
	// ExpirationDate is yyyy-mm-dd or empty.
	ExpirationDate string `json:"expirationDate,omitempty"`
	Status         string `json:"status,omitempty"`
}
