package hris

import (
	"strings"
	"testing"
)

// Defect 7 of issue 10: with a key given twice the last one won silently, so
// `"type":"hire","type":"terminate"` was handled as a terminate. A body with
// a duplicated key, at any depth, is invalid_json naming the key; the
// identifiers that are not themselves duplicated still correlate it.
func TestDecodeRejectsDuplicateKeys(t *testing.T) {
	t.Parallel()
	const (
		head = `{"schemaVersion":"1","eventId":"dup-1","occurredAt":"2026-11-20T15:04:05Z",`
		emp  = `"employee":{"employeeId":"E1","givenName":"Jane","familyName":"Doe","email":"jane.doe@example.com"}`
	)
	cases := []struct {
		name, body string
		queue      Queue
		field      string
		eventID    string
		employeeID string
		typ        Type
	}{
		{"type twice, terminate last, on provision", head + `"type":"hire","type":"terminate",` + emp + `}`, QueueProvision, "type", "dup-1", "E1", ""},
		{"type twice, terminate last, on deprovision", head + `"type":"hire","type":"terminate",` + emp + `}`, QueueDeprovision, "type", "dup-1", "E1", ""},
		{"type twice, same value", head + `"type":"hire","type":"hire",` + emp + `}`, QueueProvision, "type", "dup-1", "E1", ""},
		{"eventId twice", head + `"eventId":"dup-2","type":"hire",` + emp + `}`, QueueProvision, "eventId", "", "E1", TypeHire},
		{"employee twice", head + `"type":"hire",` + emp + `,"employee":{"employeeId":"E2"}}`, QueueProvision, "employee", "dup-1", "", TypeHire},
		{"employeeId twice", head + `"type":"hire","employee":{"employeeId":"E1","employeeId":"E2"}}`, QueueProvision, "employee.employeeId", "dup-1", "", TypeHire},
		{"email twice", head + `"type":"hire","employee":{"employeeId":"E1","email":"a@example.com","email":"b@example.com"}}`, QueueProvision, "employee.email", "dup-1", "E1", TypeHire},
		{"license entry", head + `"type":"update","employee":{"employeeId":"E1","stateLicenses":[{"state":"CA"},{"state":"NV","status":"Approved","state":"CA"}]}}`,
			QueueProvision, "employee.stateLicenses[1].state", "dup-1", "E1", TypeUpdate},
		{"escaped spelling", head + `"type":"hire","\u0074ype":"terminate",` + emp + `}`, QueueProvision, "type", "dup-1", "E1", ""},
		{"unknown key twice", head + `"type":"hire","x-note":1,"x-note":2,` + emp + `}`, QueueProvision, `["x-note"]`, "dup-1", "E1", TypeHire},
		{"null twice", head + `"type":"update","employee":{"employeeId":"E1","fax":null,"fax":"555-555-1234"}}`, QueueProvision, "employee.fax", "dup-1", "E1", TypeUpdate},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.body), tc.queue, now)
		he, ok := AsError(err)
		if !ok {
			t.Errorf("%s: %v, want a rejection", tc.name, err)
			continue
		}
		if he.Reason != ReasonInvalidJSON || he.Field != tc.field {
			t.Errorf("%s: %s/%s, want invalid_json/%s (%v)", tc.name, he.Reason, he.Field, tc.field, he)
		}
		if !strings.Contains(he.Message, "twice") {
			t.Errorf("%s: message %q", tc.name, he.Message)
		}
		if he.EventID != tc.eventID || he.EmployeeID != tc.employeeID || he.Type != tc.typ {
			t.Errorf("%s: identifiers %q %q %q, want %q %q %q", tc.name, he.EventID, he.EmployeeID, he.Type, tc.eventID, tc.employeeID, tc.typ)
		}
	}
	// The same key in two license entries, or at two depths, is no duplicate.
	ok := head + `"type":"update","employee":{"employeeId":"E1","stateLicenses":[{"state":"CA","status":"Approved"},{"state":"NV","status":"Approved"}]}}`
	if _, err := Decode([]byte(ok), QueueProvision, now); err != nil {
		t.Errorf("distinct licenses rejected: %v", err)
	}
}

// A body nested far deeper than an HRIS event is refused as invalid_json
// before anything is read from it.
func TestDecodeRejectsDeepNesting(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	b := `{"schemaVersion":"1","eventId":"deep-1","type":"update","occurredAt":"2026-11-20T15:04:05Z","employee":{"employeeId":"E1","x":` + deep + `}}`
	_, err := Decode([]byte(b), QueueProvision, now)
	he, ok := AsError(err)
	if !ok || he.Reason != ReasonInvalidJSON || !strings.Contains(he.Message, "nested") || he.EventID != "deep-1" {
		t.Fatalf("%v, want invalid_json about nesting, correlated", err)
	}
	if len(he.Error()) > 400 {
		t.Errorf("error of %d bytes", len(he.Error()))
	}
}
