package hris

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func sample(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/hire.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func body(t testing.TB, edit func(ev, emp map[string]any)) []byte {
	t.Helper()
	m := sample(t)
	if edit != nil {
		edit(m, m["employee"].(map[string]any))
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeContractSample(t *testing.T) {
	t.Parallel()
	ev, err := Decode(body(t, nil), QueueProvision, now)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.Employee
	checks := map[string][2]string{
		"eventId":     {ev.EventID, "hris-2026-000123"},
		"type":        {string(ev.Type), "hire"},
		"userName":    {e.UserName, "jdoe"},
		"workPhone":   {e.WorkPhone.Value, "555-555-1234 12"},
		"mobilePhone": {e.MobilePhone.Value, "555-555-0000"},
		"fax":         {e.Fax.Value, "555-555-9999"},
		"email":       {e.Email.Value, "jane.doe@example.com"},
		"nmlsExp":     {e.NMLSExpirationDate.Value, "2027-06-30"},
		"source":      {ev.Source, "workday"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if e.UserNameDerived {
		t.Error("userName was supplied, not derived")
	}
	if !e.SSOOnly.IsSet() || !e.SSOOnly.Value {
		t.Error("ssoOnly should be set true")
	}
	if !e.StateLicenses.IsSet() || len(e.StateLicenses.Value) != 1 || e.StateLicenses.Value[0].State != "CA" {
		t.Errorf("stateLicenses = %+v", e.StateLicenses)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC)) {
		t.Errorf("occurredAt = %v", ev.OccurredAt)
	}
}

func TestDecodeAbsentVersusNull(t *testing.T) {
	t.Parallel()
	b := []byte(`{"schemaVersion":"1","eventId":"e1","type":"update","occurredAt":"2026-11-20T15:04:05Z",
		"employee":{"employeeId":"E1","middleName":null,"fax":"","mobilePhone":"555 555 1234"}}`)
	ev, err := Decode(b, QueueProvision, now)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.Employee
	if e.GivenName.Present {
		t.Error("givenName absent must not be Present")
	}
	if !e.MiddleName.Present || !e.MiddleName.Null {
		t.Errorf("middleName null must be Present+Null, got %+v", e.MiddleName)
	}
	if !e.Fax.Present || !e.Fax.Null {
		t.Errorf(`fax "" must clear, got %+v`, e.Fax)
	}
	if e.MobilePhone.Value != "555-555-1234" {
		t.Errorf("mobilePhone = %q", e.MobilePhone.Value)
	}
	if e.UserName != "" {
		t.Errorf("an update without email or userName has no userName, got %q", e.UserName)
	}
}

func TestDecodeUserNameDerivation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ email, want string }{
		{"Jane.Doe@Example.com", "jane.doe"},
		{"O'Brien@example.com", "o'brien"},
		{"a+b@example.com", "a+b"},
		// The characters Encompass forbids are removed, the rest lower-cased.
		{"Jane/Doe@example.com", "janedoe"},
		{"J*a?n=e@example.com", "jan=e"},
	} {
		b := body(t, func(_, emp map[string]any) { delete(emp, "userName"); emp["email"] = tc.email })
		ev, err := Decode(b, QueueProvision, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.email, err)
		}
		if ev.Employee.UserName != tc.want || !ev.Employee.UserNameDerived {
			t.Errorf("%s: userName = %q (derived %v), want %q", tc.email, ev.Employee.UserName, ev.Employee.UserNameDerived, tc.want)
		}
	}
}

func TestDecodeRejections(t *testing.T) {
	t.Parallel()
	type edit = func(ev, emp map[string]any)
	cases := []struct {
		name   string
		raw    []byte
		edit   edit
		queue  Queue
		reason string
		field  string
		msg    string // substring of the message a person reads
	}{
		{name: "not JSON", raw: []byte(`{"schemaVersion": "1", `), reason: ReasonInvalidJSON, msg: "not valid JSON"},
		{name: "empty body", raw: []byte("  "), reason: ReasonInvalidJSON, msg: "empty"},
		{name: "invalid utf8", raw: []byte{'{', 0xff, '}'}, reason: ReasonInvalidJSON, msg: "UTF-8"},
		{name: "array instead of object", raw: []byte(`[1,2]`), reason: ReasonInvalidField, msg: "JSON an array"},
		{name: "JSON null", raw: []byte(`null`), reason: ReasonInvalidField, msg: "null"},
		{name: "employee is a string", edit: func(ev, _ map[string]any) { ev["employee"] = "E1" }, reason: ReasonInvalidField, field: "employee", msg: "must be a JSON object"},
		{name: "givenName a number", edit: func(_, emp map[string]any) { emp["givenName"] = 7 }, reason: ReasonInvalidField, field: "employee.givenName", msg: "must be a string"},
		{name: "ssoOnly a string", edit: func(_, emp map[string]any) { emp["ssoOnly"] = "yes" }, reason: ReasonInvalidField, field: "employee.ssoOnly"},
		{name: "eventId a number", edit: func(ev, _ map[string]any) { ev["eventId"] = 12 }, reason: ReasonInvalidField, field: "eventId"},
		{name: "unknown schemaVersion", edit: func(ev, _ map[string]any) { ev["schemaVersion"] = "2" }, reason: ReasonUnsupportedVersion, field: "schemaVersion", msg: `"2" is not supported`},
		{name: "unknown type", edit: func(ev, _ map[string]any) { ev["type"] = "promote" }, reason: ReasonUnknownType, field: "type", msg: "hire, update, rehire, terminate"},
		{name: "missing eventId", edit: func(ev, _ map[string]any) { delete(ev, "eventId") }, reason: ReasonMissingField, field: "eventId"},
		{name: "missing schemaVersion", edit: func(ev, _ map[string]any) { delete(ev, "schemaVersion") }, reason: ReasonMissingField, field: "schemaVersion"},
		{name: "missing type", edit: func(ev, _ map[string]any) { delete(ev, "type") }, reason: ReasonMissingField, field: "type"},
		{name: "missing occurredAt", edit: func(ev, _ map[string]any) { delete(ev, "occurredAt") }, reason: ReasonMissingField, field: "occurredAt"},
		{name: "missing employee", edit: func(ev, _ map[string]any) { delete(ev, "employee") }, reason: ReasonMissingField, field: "employee"},
		{name: "missing employeeId", edit: func(_, emp map[string]any) { delete(emp, "employeeId") }, reason: ReasonMissingField, field: "employee.employeeId"},
		{name: "blank employeeId", edit: func(_, emp map[string]any) { emp["employeeId"] = "  " }, reason: ReasonMissingField, field: "employee.employeeId"},
		{name: "hire without givenName", edit: func(_, emp map[string]any) { delete(emp, "givenName") }, reason: ReasonMissingField, field: "employee.givenName", msg: "required for a hire"},
		{name: "hire without familyName", edit: func(_, emp map[string]any) { emp["familyName"] = nil }, reason: ReasonMissingField, field: "employee.familyName"},
		{name: "rehire without email", edit: func(ev, emp map[string]any) { ev["type"] = "rehire"; delete(emp, "email") }, reason: ReasonMissingField, field: "employee.email"},
		{name: "update clears email", edit: func(ev, emp map[string]any) { ev["type"] = "update"; emp["email"] = nil }, reason: ReasonInvalidField, field: "employee.email", msg: "cannot be cleared"},
		{name: "userName with slash", edit: func(_, emp map[string]any) { emp["userName"] = "j/doe" }, reason: ReasonInvalidField, field: "employee.userName", msg: "cannot contain"},
		{name: "userName with colon", edit: func(_, emp map[string]any) { emp["userName"] = "j:doe" }, reason: ReasonInvalidField, field: "employee.userName"},
		{name: "userName with quote", edit: func(_, emp map[string]any) { emp["userName"] = `j"doe` }, reason: ReasonInvalidField, field: "employee.userName"},
		{name: "userName with angle", edit: func(_, emp map[string]any) { emp["userName"] = "<script>" }, reason: ReasonInvalidField, field: "employee.userName"},
		{name: "userName with space", edit: func(_, emp map[string]any) { emp["userName"] = "j doe" }, reason: ReasonInvalidField, field: "employee.userName"},
		{name: "userName leading period", edit: func(_, emp map[string]any) { emp["userName"] = ".jdoe" }, reason: ReasonInvalidField, field: "employee.userName", msg: "starts with a period"},
		{name: "underivable userName", edit: func(_, emp map[string]any) { delete(emp, "userName"); emp["email"] = `"..."@example.com` }, reason: ReasonInvalidField, field: "employee.email"},
		{name: "givenName over 64", edit: func(_, emp map[string]any) { emp["givenName"] = strings.Repeat("a", 65) }, reason: ReasonInvalidField, field: "employee.givenName", msg: "at most 64"},
		{name: "familyName over 64 runes", edit: func(_, emp map[string]any) { emp["familyName"] = strings.Repeat("é", 65) }, reason: ReasonInvalidField, field: "employee.familyName"},
		{name: "jobTitle over 64", edit: func(_, emp map[string]any) { emp["jobTitle"] = strings.Repeat("x", 100) }, reason: ReasonInvalidField, field: "employee.jobTitle"},
		{name: "email not an address", edit: func(_, emp map[string]any) { emp["email"] = "jane.doe" }, reason: ReasonInvalidField, field: "employee.email", msg: "not an e-mail address"},
		{name: "email with display name", edit: func(_, emp map[string]any) { emp["email"] = "Jane <jane@example.com>" }, reason: ReasonInvalidField, field: "employee.email"},
		{name: "email without dot in domain", edit: func(_, emp map[string]any) { emp["email"] = "jane@localhost" }, reason: ReasonInvalidField, field: "employee.email"},
		{name: "phone too short", edit: func(_, emp map[string]any) { emp["workPhone"] = "555-1234" }, reason: ReasonInvalidField, field: "employee.workPhone", msg: "has 7 digits"},
		{name: "phone with letters", edit: func(_, emp map[string]any) { emp["mobilePhone"] = "555-CALL-NOW" }, reason: ReasonInvalidField, field: "employee.mobilePhone"},
		{name: "phone foreign", edit: func(_, emp map[string]any) { emp["fax"] = "+44 20 7946 0958" }, reason: ReasonInvalidField, field: "employee.fax"},
		{name: "phone extension too long", edit: func(_, emp map[string]any) { emp["workPhone"] = "555-555-1234 x12345" }, reason: ReasonInvalidField, field: "employee.workPhone", msg: "extension"},
		{name: "occurredAt not a date", edit: func(ev, _ map[string]any) { ev["occurredAt"] = "yesterday" }, reason: ReasonInvalidField, field: "occurredAt", msg: "RFC 3339"},
		{name: "occurredAt date only", edit: func(ev, _ map[string]any) { ev["occurredAt"] = "2026-11-20" }, reason: ReasonInvalidField, field: "occurredAt"},
		{name: "effectiveAt not a date", edit: func(ev, _ map[string]any) { ev["effectiveAt"] = "soon" }, reason: ReasonInvalidField, field: "effectiveAt"},
		{name: "nmlsExpirationDate not a date", edit: func(_, emp map[string]any) { emp["nmlsExpirationDate"] = "2027-02-30" }, reason: ReasonInvalidField, field: "employee.nmlsExpirationDate", msg: "yyyy-mm-dd"},
		{name: "license date not a date", edit: func(_, emp map[string]any) {
			emp["stateLicenses"] = []any{map[string]any{"state": "CA", "expirationDate": "01/01/2027"}}
		}, reason: ReasonInvalidField, field: "employee.stateLicenses[0].expirationDate"},
		{name: "license unknown state", edit: func(_, emp map[string]any) { emp["stateLicenses"] = []any{map[string]any{"state": "ZZ"}} }, reason: ReasonInvalidField, field: "employee.stateLicenses[0].state"},
		{name: "license status unknown", edit: func(_, emp map[string]any) {
			emp["stateLicenses"] = []any{map[string]any{"state": "CA", "status": "Valid-ish"}}
		}, reason: ReasonInvalidField, field: "employee.stateLicenses[0].status", msg: "not an Encompass license status"},
		{name: "license state twice", edit: func(_, emp map[string]any) {
			emp["stateLicenses"] = []any{map[string]any{"state": "CA"}, map[string]any{"state": "ca"}}
		}, reason: ReasonInvalidField, field: "employee.stateLicenses[1].state", msg: "listed twice"},
		{name: "licenses not an array", edit: func(_, emp map[string]any) { emp["stateLicenses"] = "CA" }, reason: ReasonInvalidField, field: "employee.stateLicenses"},
		{name: "control character", edit: func(_, emp map[string]any) { emp["department"] = "Retail\x00Lending" }, reason: ReasonInvalidField, field: "employee.department", msg: "control character"},
		{name: "effectiveAt more than 400 days ahead", edit: func(ev, _ map[string]any) { ev["effectiveAt"] = "2028-01-01T00:00:00Z" }, reason: ReasonInvalidField, field: "effectiveAt", msg: "typing error, not a plan"},
		{name: "effectiveAt with a comma", edit: func(ev, _ map[string]any) { ev["effectiveAt"] = "2026-12-01T00:00:00,5Z" }, reason: ReasonInvalidField, field: "effectiveAt", msg: "period"},
		{name: "effectiveAt not a string", edit: func(ev, _ map[string]any) { ev["effectiveAt"] = 1764547200 }, reason: ReasonInvalidField, field: "effectiveAt", msg: "must be a string"},
		{name: "terminate on provision queue", edit: func(ev, _ map[string]any) { ev["type"] = "terminate" }, reason: ReasonWrongQueue, field: "type", msg: "send it to the deprovision queue"},
		{name: "hire on deprovision queue", queue: QueueDeprovision, reason: ReasonWrongQueue, field: "type", msg: "send it to the provision queue"},
		{name: "body of 256 KiB", raw: []byte(`{"pad":"` + strings.Repeat("a", 256<<10) + `"}`), reason: ReasonTooLarge, msg: "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := tc.raw
			if raw == nil {
				raw = body(t, tc.edit)
			}
			q := tc.queue
			if q == "" {
				q = QueueProvision
			}
			ev, err := Decode(raw, q, now)
			if err == nil {
				t.Fatalf("accepted: %+v", ev)
			}
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("error %T %v is not *hris.Error", err, err)
			}
			if he.Reason != tc.reason || he.Field != tc.field {
				t.Fatalf("reason/field = %s/%s, want %s/%s (%v)", he.Reason, he.Field, tc.reason, tc.field, err)
			}
			if !strings.Contains(he.Message, tc.msg) {
				t.Errorf("message %q does not say %q", he.Message, tc.msg)
			}
			if len(he.Message) > 400 {
				t.Errorf("message too long for a person (%d bytes)", len(he.Message))
			}
			if tc.raw == nil && tc.edit != nil && he.EventID == "" && tc.field != "eventId" {
				t.Errorf("rejection lost the event id")
			}
		})
	}
}

func TestDecodeCarriesIdentifiersOnRejection(t *testing.T) {
	t.Parallel()
	_, err := Decode(body(t, func(_, emp map[string]any) { emp["email"] = "nope" }), QueueProvision, now)
	he, ok := AsError(err)
	if !ok {
		t.Fatal(err)
	}
	if he.EventID != "hris-2026-000123" || he.EmployeeID != "E12345" || he.Type != TypeHire {
		t.Errorf("identifiers = %q %q %q", he.EventID, he.EmployeeID, he.Type)
	}
}

// An identifier that is itself invalid is not carried into the rejection:
// it would flood the event and the logs, or make an unusable table key (the
// SQS message id stands in for the event id).
func TestDecodeLeavesOutHostileIdentifiers(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 4000)
	cases := []struct {
		name                  string
		edit                  func(ev, emp map[string]any)
		wantEvent, wantEmp    string
		wantType              Type
		wantReason, wantField string
	}{
		{"long eventId", func(ev, _ map[string]any) { ev["eventId"] = long }, "", "E12345", TypeHire, ReasonInvalidField, "eventId"},
		{"control character in eventId", func(ev, _ map[string]any) { ev["eventId"] = "a\x00b" }, "", "E12345", TypeHire, ReasonInvalidField, "eventId"},
		{"long employeeId", func(_, emp map[string]any) { emp["employeeId"] = long }, "hris-2026-000123", "", TypeHire, ReasonInvalidField, "employee.employeeId"},
		{"long unknown type", func(ev, _ map[string]any) { ev["type"] = long }, "hris-2026-000123", "E12345", "", ReasonUnknownType, "type"},
		{"long eventId and wrong queue", func(ev, _ map[string]any) { ev["eventId"], ev["type"] = long, "terminate" }, "", "E12345", TypeTerminate, ReasonWrongQueue, "type"},
	}
	for _, tc := range cases {
		_, err := Decode(body(t, tc.edit), QueueProvision, now)
		he, ok := AsError(err)
		if !ok {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if he.EventID != tc.wantEvent || he.EmployeeID != tc.wantEmp || he.Type != tc.wantType || he.Reason != tc.wantReason || he.Field != tc.wantField {
			t.Errorf("%s: got %.40q %.40q %.40q %s/%s", tc.name, he.EventID, he.EmployeeID, he.Type, he.Reason, he.Field)
		}
		if len(he.Error()) > 400 {
			t.Errorf("%s: error of %d bytes", tc.name, len(he.Error()))
		}
	}
}

func TestDecodeTerminateMinimal(t *testing.T) {
	t.Parallel()
	b := []byte(`{"schemaVersion":"1","eventId":"t1","type":"terminate","occurredAt":"2026-11-20T15:04:05+02:00","employee":{"employeeId":"E1"}}`)
	ev, err := Decode(b, QueueDeprovision, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != TypeTerminate || ev.Employee.EmployeeID != "E1" {
		t.Errorf("%+v", ev)
	}
	// Near-future effectiveAt within the tolerance is acted on now.
	b = []byte(`{"schemaVersion":"1","eventId":"t2","type":"terminate","occurredAt":"2026-11-20T15:04:05Z","effectiveAt":"2026-11-21T12:04:00Z","employee":{"employeeId":"E1"}}`)
	if _, err := Decode(b, QueueDeprovision, now); err != nil {
		t.Errorf("effectiveAt within 5 minutes rejected: %v", err)
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"5555551234":               "555-555-1234",
		"555-555-1234":             "555-555-1234",
		"555.555.1234":             "555-555-1234",
		"(555) 555-1234":           "555-555-1234",
		"+1 (555) 555-1234":        "555-555-1234",
		"1-555-555-1234":           "555-555-1234",
		"+15555551234":             "555-555-1234",
		"555 555 1234":             "555-555-1234",
		"555-555-1234 12":          "555-555-1234 12",
		"555-555-1234 x123":        "555-555-1234 123",
		"555-555-1234x1":           "555-555-1234 1",
		"555-555-1234 ext. 12":     "555-555-1234 12",
		"555-555-1234 EXT 4567":    "555-555-1234 4567",
		"555-555-1234 extension 9": "555-555-1234 9",
		"+1 555 555 1234 #77":      "555-555-1234 77",
		"1 555 555 1234 12":        "555-555-1234 12",
	}
	for in, want := range good {
		got, err := NormalizePhone(in)
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12345", "555-555-12345", "555-555-1234 12345", "555-555-1234 x", "x123", "555+555+1234",
		"555-555-1234 ext. 1a", "+44 20 7946 0958", "555-555-1234 12 34", "2555-555-1234", "phone"} {
		if got, err := NormalizePhone(in); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzDecode checks that no body makes Decode panic, that every failure is a
// typed *Error with a known reason, and that every success is self-consistent.
func FuzzDecode(f *testing.F) {
	seed, err := os.ReadFile("testdata/hire.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"schemaVersion":"1","eventId":"t1","type":"terminate","occurredAt":"2026-11-20T15:04:05Z","employee":{"employeeId":"E1"}}`))
	f.Add([]byte(`{"schemaVersion":"1","eventId":"u1","type":"update","occurredAt":"2026-11-20T15:04:05Z","employee":{"employeeId":"E1","fax":null,"workPhone":"+1 (555) 555-1234 ext. 9"}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"employee":{"employeeId":{}}}`))
	f.Add([]byte("{\"schemaVersion\":\"1\",\"eventId\":\"\xff\"}"))
	f.Add([]byte(`{"schemaVersion":"1","eventId":"d1","type":"hire","type":"terminate","occurredAt":"2026-11-20T15:04:05Z","employee":{"employeeId":"E1"}}`))
	f.Add([]byte(`{"schemaVersion":"1","eventId":"f1","type":"terminate","occurredAt":"9999-12-31T00:00:00Z","employee":{"employeeId":"E1"}}`))
	f.Add([]byte(`{"schemaVersion":"1","eventId":"f2","type":"terminate","occurredAt":"0000-01-01T00:00:00+01:00","terminationReason":"X","employee":{"employeeId":"E1"}}`))
	f.Add([]byte("{\"schemaVersion\":\"1\",\"eventId\":\"u1\",\"type\":\"update\",\"occurredAt\":\"2026-11-20T15:04:05Z\",\"employee\":{\"employeeId\":\"E1\",\"userName\":\"h048\u200b\",\"encompassUserName\":\"\u0430dmin\",\"ddaAuthId\":\"a\"}}"))
	known := map[string]bool{ReasonInvalidField: true, ReasonWrongQueue: true, ReasonInvalidJSON: true,
		ReasonMissingField: true, ReasonUnsupportedVersion: true, ReasonUnknownType: true, ReasonTooLarge: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, q := range []Queue{QueueProvision, QueueDeprovision} {
			ev, err := Decode(b, q, now)
			if err != nil {
				he, ok := AsError(err)
				if !ok || !known[he.Reason] || he.Message == "" {
					t.Fatalf("bad error %T %v", err, err)
				}
				continue
			}
			if ev.EventID == "" || ev.Employee.EmployeeID == "" || !q.Accepts(ev.Type) || ev.OccurredAt.IsZero() {
				t.Fatalf("inconsistent event %+v", ev)
			}
			e := ev.Employee
			for _, login := range []string{e.UserName, e.EncompassUserName} {
				if err := checkLogin(login); login != "" && err != nil {
					t.Fatalf("accepted bad login %+q: %v", login, err)
				}
			}
			if err := checkAuthID(e.DDAAuthID.Value); err != nil {
				t.Fatalf("accepted bad ddaAuthId %+q", e.DDAAuthID.Value)
			}
			for _, f := range []Field[string]{e.GivenName, e.MiddleName, e.FamilyName, e.Suffix, e.Email, e.JobTitle, e.JobCode,
				e.Department, e.Location, e.NMLSID, e.NMLSExpirationDate} {
				if err := checkText(f.Value); err != nil {
					t.Fatalf("accepted %+q: %v", f.Value, err)
				}
			}
			for _, s := range []string{ev.EventID, e.EmployeeID, ev.Source, ev.TerminationReason} {
				if err := checkText(s); err != nil {
					t.Fatalf("accepted %+q: %v", s, err)
				}
			}
			if ev.TerminationReason != "" && ev.Type != TypeTerminate {
				t.Fatalf("terminationReason on a %s", ev.Type)
			}
			if err := strictjson.CheckDuplicateKeys(b); err != nil {
				t.Fatalf("accepted a body the strict check refuses: %v", err)
			}
			// Nothing accepted lies in the future, and every time can be stored
			// and read back as the employee's last applied time.
			for _, tm := range []time.Time{ev.OccurredAt, ev.EffectiveAt, ev.DueAt()} {
				if tm.After(now.Add(FutureTolerance)) {
					t.Fatalf("accepted %v, after now+%s", tm, FutureTolerance)
				}
				if back, err := time.Parse(time.RFC3339Nano, tm.UTC().Format(time.RFC3339Nano)); err != nil || !back.Equal(tm) {
					t.Fatalf("%v does not round-trip: %v", tm, err)
				}
			}
			for _, p := range []Field[string]{ev.Employee.WorkPhone, ev.Employee.MobilePhone, ev.Employee.Fax} {
				if p.IsSet() {
					if n, err := NormalizePhone(p.Value); err != nil || n != p.Value {
						t.Fatalf("phone %q not normalised", p.Value)
					}
				}
			}
		}
	})
}

// An oversized body is refused unparsed, but its identifiers are still read
// (up to SQS's 256 KiB) so that the rejection can be correlated.
func TestDecodeTooLargeKeepsIdentifiers(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("x", MaxBodyBytes)
	cases := []struct {
		name, body         string
		wantEvent, wantEmp string
		wantType           Type
	}{
		{"JSON with ids", `{"eventId":"big-1","type":"hire","employee":{"employeeId":"E1"},"pad":"` + pad + `"}`, "big-1", "E1", TypeHire},
		{"unknown type left out", `{"eventId":"big-2","type":"promote","pad":"` + pad + `"}`, "big-2", "", ""},
		{"ids of the wrong JSON type", `{"eventId":7,"employee":{"employeeId":["E1"]},"pad":"` + pad + `"}`, "", "", ""},
		{"hostile id left out", `{"eventId":"` + strings.Repeat("e", 500) + `","pad":"` + pad + `"}`, "", "", ""},
		{"not JSON", "x" + pad, "", "", ""},
		{"over SQS's limit", `{"eventId":"big-3","pad":"` + strings.Repeat("x", 256<<10) + `"}`, "", "", ""},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.body), QueueProvision, now)
		he, ok := AsError(err)
		if !ok || he.Reason != ReasonTooLarge {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if he.EventID != tc.wantEvent || he.EmployeeID != tc.wantEmp || he.Type != tc.wantType {
			t.Errorf("%s: %.40q %q %q", tc.name, he.EventID, he.EmployeeID, he.Type)
		}
	}
}
