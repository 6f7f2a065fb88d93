package hris

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// DecodeEmployee applies to a bare profile exactly what Decode applies to
// an event's employee object.
func TestDecodeEmployeeIsDecodesEmployee(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/hire.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)
	ev, err := Decode(body, QueueProvision, now)
	if err != nil {
		t.Fatal(err)
	}
	var top struct{ Employee map[string]json.RawMessage }
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEmployee(top.Employee, TypeHire)
	if err != nil || !reflect.DeepEqual(got, ev.Employee) {
		t.Fatalf("DecodeEmployee = %+v, %v\nDecode's employee = %+v", got, err, ev.Employee)
	}
	// A key outside the contract is ignored, as Decode ignores it.
	top.Employee["status"] = json.RawMessage(`"active"`)
	if _, err := DecodeEmployee(top.Employee, TypeHire); err != nil {
		t.Fatalf("unknown key: %v", err)
	}
}

// Every listed field is read with its own rules: a value of the wrong JSON
// type is rejected, naming the field.
func TestEmployeeFieldsAreRead(t *testing.T) {
	t.Parallel()
	for _, f := range EmployeeFields {
		obj := map[string]json.RawMessage{"employeeId": json.RawMessage(`"E1"`), f: json.RawMessage(`{"x":1}`)}
		_, err := DecodeEmployee(obj, TypeUpdate)
		he, ok := AsError(err)
		if !ok || he.Field != "employee."+f {
			t.Errorf("%s as an object: %v, want an error naming employee.%s", f, err, f)
		}
	}
}

func TestDecodeEmployeeRules(t *testing.T) {
	t.Parallel()
	raw := func(kv ...string) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = json.RawMessage(kv[i+1])
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		obj    map[string]json.RawMessage
		typ    Type
		reason string
		field  string
	}{
		{"no object", nil, TypeUpdate, ReasonMissingField, "employee"},
		{"no employeeId", raw("email", `"a@example.com"`), TypeUpdate, ReasonMissingField, "employee.employeeId"},
		{"hire without names", raw("employeeId", `"E1"`, "email", `"a@example.com"`), TypeHire, ReasonMissingField, "employee.givenName"},
		{"a bad phone", raw("employeeId", `"E1"`, "workPhone", `"call me"`), TypeUpdate, ReasonInvalidField, "employee.workPhone"},
		{"a bad login", raw("employeeId", `"E1"`, "encompassUserName", `"j doe"`), TypeUpdate, ReasonInvalidField, "employee.encompassUserName"},
		{"an unknown type", raw("employeeId", `"E1"`), Type("fire"), ReasonUnknownType, "type"},
	} {
		_, err := DecodeEmployee(tc.obj, tc.typ)
		he, ok := AsError(err)
		if !ok || he.Reason != tc.reason || he.Field != tc.field {
			t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.reason, tc.field)
		}
	}
	e, err := DecodeEmployee(raw("employeeId", `"E1"`, "email", `"Jane.Doe@Example.com"`, "mobilePhone", `"(555) 555-0000"`), TypeTerminate)
	if err != nil || e.UserName != "jane.doe" || !e.UserNameDerived || e.MobilePhone.Value != "555-555-0000" {
		t.Fatalf("terminate profile: %+v %v", e, err)
	}
}
