package hris

import (
	"strings"
	"testing"
)

// The fields CONTRACTS section 1 added: terminationReason,
// employee.encompassUserName and employee.ddaAuthId.
func TestDecodeTerminationReason(t *testing.T) {
	t.Parallel()
	ev, he := decodeWith(t, QueueDeprovision, func(ev, _ map[string]any) { ev["terminationReason"] = "  Gross-Misconduct " })
	if he != nil || ev.TerminationReason != "Gross-Misconduct" {
		t.Fatalf("terminate with a reason: %+v %v", ev, he)
	}
	ev, he = decodeWith(t, QueueDeprovision, nil)
	if he != nil || ev.TerminationReason != "" {
		t.Fatalf("terminate without a reason: %+v %v", ev, he)
	}
	// null and "" are no reason, on any type, as for every optional field.
	for _, v := range []any{nil, "", "  "} {
		if _, he := decodeWith(t, QueueProvision, func(ev, _ map[string]any) { ev["terminationReason"] = v }); he != nil {
			t.Errorf("hire with terminationReason %#v: %v", v, he)
		}
	}
	for _, tc := range []struct {
		name  string
		queue Queue
		typ   string
		value any
		says  string
	}{
		{"on a hire", QueueProvision, "hire", "RESIGNATION", "only allowed on a terminate event; this is a hire event"},
		{"on an update", QueueProvision, "update", "RESIGNATION", "this is a update event"},
		{"on a rehire", QueueProvision, "rehire", "RESIGNATION", "only allowed on a terminate"},
		{"a number", QueueDeprovision, "terminate", 7, "must be a string"},
		{"an object", QueueDeprovision, "terminate", map[string]any{"code": "x"}, "must be a string"},
		{"too long", QueueDeprovision, "terminate", strings.Repeat("R", maxIDLength+1), "at most 128"},
		{"a control character", QueueDeprovision, "terminate", "RESIGN\nATION", "control character"},
		{"a bidi override", QueueDeprovision, "terminate", "RESIGN\u202eATION", "U+202E RIGHT-TO-LEFT OVERRIDE"},
	} {
		_, he := decodeWith(t, tc.queue, func(ev, _ map[string]any) { ev["type"], ev["terminationReason"] = tc.typ, tc.value })
		if he == nil || he.Reason != ReasonInvalidField || he.Field != "terminationReason" || !strings.Contains(he.Message, tc.says) {
			t.Errorf("%s: %v, want invalid_field/terminationReason saying %q", tc.name, he, tc.says)
		}
	}
}

func TestDecodeEncompassUserName(t *testing.T) {
	t.Parallel()
	ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["encompassUserName"] = " jdoe.legacy " })
	if he != nil || ev.Employee.EncompassUserName != "jdoe.legacy" {
		t.Fatalf("%+v %v", ev, he)
	}
	// Absent, null and "" all mean no explicit link.
	for _, edit := range []func(map[string]any){
		func(emp map[string]any) {},
		func(emp map[string]any) { emp["encompassUserName"] = nil },
		func(emp map[string]any) { emp["encompassUserName"] = "" },
	} {
		ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { edit(emp) })
		if he != nil || ev.Employee.EncompassUserName != "" {
			t.Errorf("%+v %v", ev, he)
		}
	}
	for value, says := range map[any]string{
		"j/doe":                 "cannot contain",
		".jdoe":                 "starts with a period",
		"\u0430dmin":            "printable ASCII",
		strings.Repeat("a", 65): "at most 64",
		12:                      "must be a string",
	} {
		_, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["encompassUserName"] = value })
		if he == nil || he.Reason != ReasonInvalidField || he.Field != "employee.encompassUserName" || !strings.Contains(he.Message, says) {
			t.Errorf("%v: %v, want invalid_field saying %q", value, he, says)
		}
	}
}

func TestDecodeDDAAuthID(t *testing.T) {
	t.Parallel()
	ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["ddaAuthId"] = "jane.doe@idp.example.com" })
	if he != nil || !ev.Employee.DDAAuthID.IsSet() || ev.Employee.DDAAuthID.Value != "jane.doe@idp.example.com" {
		t.Fatalf("%+v %v", ev, he)
	}
	// Tri-state, like every profile field: absent keeps, null clears.
	ev, _ = decodeWith(t, QueueProvision, nil)
	if ev.Employee.DDAAuthID.Present {
		t.Errorf("absent ddaAuthId is Present")
	}
	ev, _ = decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["ddaAuthId"] = nil })
	if !ev.Employee.DDAAuthID.Present || !ev.Employee.DDAAuthID.Null {
		t.Errorf("null ddaAuthId: %+v", ev.Employee.DDAAuthID)
	}
	guid := "0f8fad5b-d9cb-469f-a165-70867728950e"
	if ev, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["ddaAuthId"] = guid }); he != nil || ev.Employee.DDAAuthID.Value != guid {
		t.Errorf("GUID subject: %v", he)
	}
	for value, says := range map[any]string{
		strings.Repeat("s", 257): "at most 256",
		"jane doe":               "U+0020 SPACE at position 5",
		"j\u0430ne@idp.example":  "U+0430 CYRILLIC SMALL LETTER A at position 2",
		"jane\u200b":             "U+200B ZERO WIDTH SPACE",
		true:                     "must be a string or null",
	} {
		_, he := decodeWith(t, QueueProvision, func(_, emp map[string]any) { emp["ddaAuthId"] = value })
		if he == nil || he.Reason != ReasonInvalidField || he.Field != "employee.ddaAuthId" || !strings.Contains(he.Message, says) {
			t.Errorf("%v: %v, want invalid_field saying %q", value, he, says)
		}
	}
}
