package hris

import (
	"encoding/json"
	"slices"
)

// EmployeeFields are the keys of the employee object (CONTRACTS section 1),
// in the contract's order. A roster (CONTRACTS section 7) uses them as its
// columns; a key outside them is not the contract's.
var EmployeeFields = []string{
	"employeeId", "userName", "givenName", "middleName", "familyName", "suffix", "email",
	"workPhone", "mobilePhone", "fax", "jobTitle", "jobCode", "department", "location",
	"nmlsId", "nmlsExpirationDate", "stateLicenses", "ssoOnly", "encompassUserName", "ddaAuthId",
}

// IsEmployeeField reports whether key is one of EmployeeFields.
func IsEmployeeField(key string) bool { return slices.Contains(EmployeeFields, key) }

// DecodeEmployee validates an employee profile that did not arrive as an
// SQS body (a reconciliation roster's row) with exactly the rules Decode
// applies to the employee object of an event of type t: the same field
// rules, the same required fields, the same normalised phones and derived
// userName. obj is the employee object's members; keys outside
// EmployeeFields are ignored, as Decode ignores them. Every failure is an
// *Error whose Field is the member's path ("employee.email").
func DecodeEmployee(obj map[string]json.RawMessage, t Type) (Employee, error) {
	d := decoder{}
	ev := &Event{Type: t}
	switch t {
	case TypeHire, TypeUpdate, TypeRehire, TypeTerminate:
	default:
		return Employee{}, fieldError(ReasonUnknownType, "type", "%q is not an HRIS event type", truncate(string(t)))
	}
	if obj == nil {
		return Employee{}, fieldError(ReasonMissingField, "employee", "is required: an object with at least employeeId")
	}
	d.id.Type = t
	d.employee(ev, obj)
	if d.err != nil {
		d.id.EmployeeID = ev.Employee.EmployeeID
		return Employee{}, d.fail(d.err)
	}
	return ev.Employee, nil
}
