package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

// decodeDelivery reads the fields the receiver acts on (eventId, eventType,
// meta.resourceType) from a body that is one JSON object without a
// duplicated key at any depth (CONTRACTS section 4).
//
// Both rules keep what the receiver acts on equal to what it forwards. With
// "eventId" given twice, encoding/json takes the last while a consumer of
// the forwarded body may take the first (issue 10, defect 7); and
// encoding/json matches struct fields without regard to case, so a body
// with "eventId" and "EventID" would be de-duplicated on a value that
// consumers, matching keys exactly as EventBridge rules do, never see. So
// keys are matched exactly here (maps, not structs).
func decodeDelivery(body []byte) (encompass.WebhookEvent, error) {
	var ev encompass.WebhookEvent
	if err := strictjson.CheckDuplicateKeys(body); err != nil {
		// The error names the key's path (ASCII-quoted and cut), never a value.
		return ev, fmt.Errorf("%w: %w", errMalformed, err)
	}
	var top map[string]member
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return ev, fmt.Errorf("%w: the body is not a JSON object", errMalformed)
	}
	meta := top["meta"]
	if meta.present && meta.members == nil {
		return ev, fmt.Errorf("%w: meta is not a JSON object", errMalformed)
	}
	var missing []string
	for _, f := range []struct {
		name string
		m    member
		dst  *string
	}{
		{"eventId", top["eventId"], &ev.EventID},
		{"eventType", top["eventType"], &ev.EventType},
		{"meta.resourceType", meta.members["resourceType"], &ev.Meta.ResourceType},
	} {
		switch {
		case f.m.present && !f.m.isString && !f.m.null:
			return ev, fmt.Errorf("%w: %s is not a string", errMalformed, f.name)
		case strings.TrimSpace(f.m.str) == "":
			missing = append(missing, f.name)
		}
		*f.dst = f.m.str
	}
	if len(missing) > 0 {
		return ev, fmt.Errorf("%w: missing %s", errMalformed, strings.Join(missing, ", "))
	}
	return ev, nil
}

// member is one member of the body's top-level object, decoded only as far
// as the receiver reads: a string is kept, an object's own members are
// decoded one level (as leaves, so meta.payload is skipped, not copied),
// anything else is only noted.
type member struct {
	present, isString, null bool
	str                     string
	members                 map[string]member
}

// UnmarshalJSON implements json.Unmarshaler for the top level's members.
func (m *member) UnmarshalJSON(b []byte) error {
	if err := m.leaf(b); err != nil || len(b) == 0 || b[0] != '{' {
		return err
	}
	var inner map[string]leaf
	if err := json.Unmarshal(b, &inner); err != nil {
		return err
	}
	m.members = make(map[string]member, len(inner))
	for k, v := range inner {
		m.members[k] = member(v)
	}
	return nil
}

// leaf is a member of a nested object: strings are kept, nothing else.
type leaf member

// UnmarshalJSON implements json.Unmarshaler for nested members.
func (l *leaf) UnmarshalJSON(b []byte) error { return (*member)(l).leaf(b) }

func (m *member) leaf(b []byte) error {
	m.present = true
	switch {
	case len(b) > 1 && b[0] == '"':
		m.isString = true
		if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			// Already validated by the decoder; no escape to resolve.
			m.str = string(b[1 : len(b)-1])
			return nil
		}
		return json.Unmarshal(b, &m.str)
	case string(b) == "null":
		m.null = true
	}
	return nil
}
