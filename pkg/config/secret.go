package config

import (
	"log/slog"
	"strconv"
)

// Secret is a string that never prints: String, GoString, LogValue and
// MarshalJSON all redact it, so that a Config logged or marshalled by
// mistake leaks nothing. Reveal returns the value for the one place that
// needs it (the HTTP client).
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String redacts.
func (s Secret) String() string { return redacted }

// GoString redacts (%#v).
func (s Secret) GoString() string { return strconv.Quote(redacted) }

// LogValue redacts for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON redacts.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(redacted)), nil }

// MarshalText redacts (encoding.TextMarshaler users, e.g. map keys, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
