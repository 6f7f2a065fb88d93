// Package telemetry is the product's logging and metrics: slog JSON lines
// that carry the event's context and the Lambda request id and never a
// secret, and CloudWatch embedded-metric-format (EMF) lines.
package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Redacted replaces the value of every attribute whose key looks secret.
const Redacted = "[REDACTED]"

// RequestIDKey is the attribute carrying the Lambda request id.
const RequestIDKey = "requestId"

// secretWords are the key fragments that mark an attribute as secret, matched
// case-insensitively after removing '-', '_' and '.'.
var secretWords = []string{"password", "passwd", "secret", "token", "authorization", "signingkey", "apikey", "privatekey", "cookie"}

// IsSecretKey reports whether an attribute or JSON key names a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	k = strings.NewReplacer("-", "", "_", "", ".", "", " ", "").Replace(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// ParseLevel parses LOG_LEVEL: debug, info, warn or error (case-insensitive;
// empty means info).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("must be one of debug, info, warn, error, got %q", s)
}

// NewLogger returns a JSON logger writing to w at level. Every record gets
// the attributes stored in its context by With and the Lambda request id, so
// log with the *Context methods (InfoContext, ...). Attributes whose key
// looks secret (IsSecretKey) are redacted at any depth: in groups, in maps
// and in structs.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	return slog.New(&contextHandler{Handler: h})
}

type ctxKey struct{}

// With returns a context carrying the attributes (key-value pairs or
// slog.Attr values, as for slog.Logger.With) in addition to those ctx
// already carries; loggers from NewLogger add them to every record.
func With(ctx context.Context, args ...any) context.Context {
	old, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	attrs := slog.Group("", args...).Value.Group()
	merged := make([]slog.Attr, 0, len(old)+len(attrs))
	merged = append(merged, old...)
	merged = append(merged, attrs...)
	return context.WithValue(ctx, ctxKey{}, merged)
}

// Attrs returns the attributes With stored in ctx.
func Attrs(ctx context.Context) []slog.Attr {
	a, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	return a
}

type contextHandler struct{ slog.Handler }

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			r.AddAttrs(slog.String(RequestIDKey, lc.AwsRequestID))
		}
		r.AddAttrs(Attrs(ctx)...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{h.Handler.WithGroup(name)}
}

// redactAttr is the JSON handler's ReplaceAttr: it sees every leaf attribute
// with the names of the groups around it.
func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if IsSecretKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if IsSecretKey(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	if a.Value.Kind() == slog.KindAny {
		if v, changed := redactValue(a.Value.Any()); changed {
			return slog.Any(a.Key, v)
		}
	}
	return a
}

// redactValue redacts secret keys inside maps, structs and slices by going
// through their JSON form, the form the handler would write anyway. Errors
// are left alone: the handler writes their message.
func redactValue(v any) (any, bool) {
	switch v.(type) {
	case nil, error:
		return v, false
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return v, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map, reflect.Struct, reflect.Slice, reflect.Array:
	default:
		return v, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v, false
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return v, false
	}
	return redactJSON(generic), true
}

func redactJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if IsSecretKey(k) {
				x[k] = Redacted
			} else {
				x[k] = redactJSON(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = redactJSON(x[i])
		}
	}
	return v
}
