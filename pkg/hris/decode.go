package hris

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/strictjson"
)

// Bounds of this product's own: Encompass's field limits are in
// pkg/encompass (encompass.MaxNameLength ...).
const (
	maxIDLength       = 128
	maxFreeTextLength = 256
	maxLicenses       = 100
)

// Decode parses and validates one SQS message body that arrived on queue q.
// now is the current time, used for the occurredAt and effectiveAt bounds.
// Every failure is an
// *Error; Decode never returns a partially valid Event.
func Decode(body []byte, q Queue, now time.Time) (*Event, error) {
	if len(body) > MaxBodyBytes {
		e := &Error{Reason: ReasonTooLarge, Message: fmt.Sprintf(
			"message body is %d bytes; an HRIS event must be at most %d bytes", len(body), MaxBodyBytes)}
		peekIdentifiers(body, e)
		return nil, e
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &Error{Reason: ReasonInvalidJSON, Message: "message body is empty; expected a JSON object"}
	}
	if !utf8.Valid(trimmed) {
		return nil, &Error{Reason: ReasonInvalidJSON, Message: "message body is not valid UTF-8 text"}
	}
	// A duplicated key would let the last one win silently, so that what an
	// operator reads in the body is not what is applied. Malformed JSON is
	// left to json.Unmarshal below, whose messages are the established ones.
	strictErr := strictjson.CheckDuplicateKeys(trimmed)
	if errors.Is(strictErr, strictjson.ErrSyntax) {
		strictErr = nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		if trimmed[0] != '{' && json.Valid(trimmed) {
			return nil, &Error{Reason: ReasonInvalidField, Message: fmt.Sprintf(
				"message body is a JSON %s; expected a JSON object with schemaVersion, eventId, type, occurredAt and employee", jsonKind(trimmed))}
		}
		return nil, &Error{Reason: ReasonInvalidJSON, Message: "message body is not valid JSON: " + err.Error()}
	}
	if top == nil {
		return nil, &Error{Reason: ReasonInvalidField, Message: "message body is JSON null; expected an HRIS event object"}
	}
	if strictErr != nil {
		return nil, ambiguous(trimmed, strictErr)
	}

	d := decoder{}
	ev := &Event{}
	// Identify the event first, so that every later error can be correlated.
	ev.EventID = d.requiredString(top, "eventId", "")
	d.id.EventID = ev.EventID
	var emp map[string]json.RawMessage
	if raw, ok := top["employee"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &emp); err != nil || emp == nil {
			return nil, d.fail(fieldError(ReasonInvalidField, "employee", "must be a JSON object, got %s", jsonKind(raw)))
		}
		if id, ok := emp["employeeId"]; ok {
			var s string
			if json.Unmarshal(id, &s) == nil {
				d.id.EmployeeID = strings.TrimSpace(s)
			}
		}
	}
	if d.err != nil {
		return nil, d.fail(d.err)
	}

	ev.SchemaVersion = d.requiredString(top, "schemaVersion", "")
	if d.err != nil {
		return nil, d.fail(d.err)
	}
	if ev.SchemaVersion != SchemaVersion {
		return nil, d.fail(fieldError(ReasonUnsupportedVersion, "schemaVersion",
			"%q is not supported; this function understands schemaVersion %q", ev.SchemaVersion, SchemaVersion))
	}
	typ := d.requiredString(top, "type", "")
	if d.err != nil {
		return nil, d.fail(d.err)
	}
	ev.Type = Type(typ)
	switch ev.Type {
	case TypeHire, TypeUpdate, TypeRehire, TypeTerminate:
		// Only a known type is carried into the rejection.
		d.id.Type = ev.Type
	default:
		return nil, d.fail(fieldError(ReasonUnknownType, "type",
			"%q is not an HRIS event type; expected one of hire, update, rehire, terminate", truncate(typ)))
	}
	if !q.Accepts(ev.Type) {
		other := QueueDeprovision
		if ev.Type != TypeTerminate {
			other = QueueProvision
		}
		return nil, d.fail(fieldError(ReasonWrongQueue, "type",
			"a %q event arrived on the %s queue; send it to the %s queue", ev.Type, q, other))
	}
	if ev.EventID != "" {
		if err := checkID(ev.EventID); err != nil {
			return nil, d.fail(fieldError(ReasonInvalidField, "eventId", "%s", err))
		}
	}

	ev.OccurredAt = d.occurredAt(top, now)
	ev.EffectiveAt = d.effectiveAt(top, now)
	if src, ok := d.optionalString(top, "source"); ok {
		ev.Source = src
		d.checkTopText("source", src, maxFreeTextLength)
	}
	if reason, ok := d.optionalString(top, "terminationReason"); ok && reason != "" {
		if ev.Type != TypeTerminate {
			d.set(fieldError(ReasonInvalidField, "terminationReason", "is only allowed on a terminate event; this is a %s event", ev.Type))
		}
		ev.TerminationReason = reason
		d.checkTopText("terminationReason", reason, maxIDLength)
	}
	if d.err != nil {
		return nil, d.fail(d.err)
	}
	if emp == nil {
		return nil, d.fail(fieldError(ReasonMissingField, "employee", "is required: an object with at least employeeId"))
	}
	d.employee(ev, emp)
	if d.err != nil {
		return nil, d.fail(d.err)
	}
	// An effectiveAt more than FutureTolerance ahead is valid: the event is
	// held until then (pkg/provisioning, CONTRACTS section 2a).
	return ev, nil
}

// maxPeekBytes bounds the oversized bodies whose identifiers are still read:
// SQS's own limit. Only the top level and the employee object are decoded.
const maxPeekBytes = 256 << 10

// peekIdentifiers fills e's eventId, employeeId and type from an oversized
// body when it is JSON that has them, so that its rejection can still be
// correlated (CONTRACTS: detail.eventId is the HRIS event id when the body
// has one).
func peekIdentifiers(body []byte, e *Error) {
	if len(body) > maxPeekBytes {
		return
	}
	readIdentifiers(body).fill(e, "")
}

// identifiers are the fields that correlate a rejection of a body that is
// not otherwise decoded.
type identifiers struct {
	eventID, employeeID, typ string
}

// readIdentifiers reads them from body, leniently: a field that is missing or
// not a string is left empty. Keys match exactly, as in Decode (a struct
// would also take "EventID").
func readIdentifiers(body []byte) identifiers {
	var v identifiers
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return strings.TrimSpace(s)
	}
	var top, emp map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return v
	}
	v.eventID, v.typ = str(top["eventId"]), str(top["type"])
	if json.Unmarshal(top["employee"], &emp) == nil {
		v.employeeID = str(emp["employeeId"])
	}
	return v
}

// fill copies the identifiers into e (type only when it is a known one),
// leaving out the one at the JSON path ambiguous: a key given twice has no
// single value. fail drops ids that are themselves invalid.
func (v identifiers) fill(e *Error, ambiguous string) {
	d := decoder{}
	if ambiguous != "eventId" {
		d.id.EventID = v.eventID
	}
	if ambiguous != "employee" && ambiguous != "employee.employeeId" {
		d.id.EmployeeID = v.employeeID
	}
	if t := Type(v.typ); ambiguous != "type" && (t == TypeHire || t == TypeUpdate || t == TypeRehire || t == TypeTerminate) {
		d.id.Type = t
	}
	d.fail(e)
}

// decoder keeps the first error and the identifiers read so far.
type decoder struct {
	err *Error
	id  Error
}

func (d *decoder) set(e *Error) {
	if d.err == nil {
		d.err = e
	}
}

// fail attaches the identifiers read so far. An id that is itself invalid
// (too long, control characters) is left out: it would otherwise flood the
// rejection event and the logs, or make an unusable state-table key.
func (d *decoder) fail(e *Error) *Error {
	e.Type = d.id.Type
	if checkID(d.id.EventID) == nil {
		e.EventID = d.id.EventID
	}
	if checkID(d.id.EmployeeID) == nil {
		e.EmployeeID = d.id.EmployeeID
	}
	return e
}

func (d *decoder) requiredString(obj map[string]json.RawMessage, key, prefix string) string {
	path := prefix + key
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		d.set(fieldError(ReasonMissingField, path, "is required"))
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.set(fieldError(ReasonInvalidField, path, "must be a string, got %s", jsonKind(raw)))
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" {
		d.set(fieldError(ReasonMissingField, path, "is required and must not be empty"))
	}
	return s
}

// optionalString returns the string and whether the key was present with a
// non-null value.
func (d *decoder) optionalString(obj map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.set(fieldError(ReasonInvalidField, key, "must be a string, got %s", jsonKind(raw)))
		return "", false
	}
	return strings.TrimSpace(s), true
}

// occurredAt reads the required occurredAt, which may not lie more than
// FutureTolerance after now: an event cannot have happened yet, and one
// dated in the future would, once applied, make every real event of its
// employee look older and be skipped as stale (a leaver kept enabled).
func (d *decoder) occurredAt(obj map[string]json.RawMessage, now time.Time) time.Time {
	s := d.requiredString(obj, "occurredAt", "")
	if s == "" {
		return time.Time{}
	}
	t, ok := d.timestamp("occurredAt", s, "2026-11-20T15:04:05Z")
	if ok && t.After(now.Add(FutureTolerance)) {
		d.set(fieldError(ReasonInvalidField, "occurredAt",
			"%s is in the future: an event cannot have happened yet (at most %s ahead of this function's clock, %s, is accepted for clock skew)",
			t.Format(time.RFC3339Nano), FutureTolerance, now.UTC().Format(time.RFC3339)))
	}
	return t
}

// effectiveAt reads the optional effectiveAt (absent, null or "" mean now);
// more than MaxEffectiveAhead after now is a typing error, not a plan.
func (d *decoder) effectiveAt(obj map[string]json.RawMessage, now time.Time) time.Time {
	s, ok := d.optionalString(obj, "effectiveAt")
	if !ok || s == "" {
		return time.Time{}
	}
	t, ok := d.timestamp("effectiveAt", s, "2026-12-01T00:00:00Z")
	if ok && t.After(now.Add(MaxEffectiveAhead)) {
		d.set(fieldError(ReasonInvalidField, "effectiveAt",
			"%s is more than %d days ahead: that is a typing error, not a plan", t.Format(time.RFC3339), int(MaxEffectiveAhead.Hours()/24)))
	}
	return t
}

func (d *decoder) timestamp(key, s, example string) (time.Time, bool) {
	t, err := parseTimestamp(s)
	if err == nil {
		return t, true
	}
	why := ""
	if !errors.Is(err, errNotRFC3339) {
		why = ": " + err.Error()
	}
	d.set(fieldError(ReasonInvalidField, key, "%q is not an RFC 3339 timestamp such as %s%s", truncate(s), example, why))
	return time.Time{}, false
}

// checkTopText bounds a free-text field at the top level of the event and
// applies the character rules of checkText.
func (d *decoder) checkTopText(key, s string, max int) {
	if len(s) > max {
		d.set(fieldError(ReasonInvalidField, key, "is %d bytes; at most %d are allowed", len(s), max))
		return
	}
	if err := checkText(s); err != nil {
		d.set(fieldError(ReasonInvalidField, key, "%s", err))
	}
}

// ambiguous is the rejection of a body with a duplicated key (or nested
// beyond reason). The identifiers are still read for correlation, except one
// that is itself duplicated: which of its values is meant cannot be known.
func ambiguous(body []byte, err error) *Error {
	e := &Error{Reason: ReasonInvalidJSON, Message: err.Error()}
	var se *strictjson.Error
	if errors.As(err, &se) {
		e.Field = strings.TrimPrefix(strings.TrimPrefix(se.Path, "$"), ".")
		switch {
		case errors.Is(err, strictjson.ErrDuplicateKey):
			e.Message = "appears twice in the same object; a body with a duplicated key is ambiguous (the last value would silently win), so none of it is applied"
		case errors.Is(err, strictjson.ErrTooDeep):
			e.Message = fmt.Sprintf("is nested more than %d levels deep; an HRIS event has four", strictjson.DefaultMaxDepth)
		}
	}
	readIdentifiers(body).fill(e, e.Field)
	return e
}

// stringField decodes an optional employee string: absent, null (or "",
// which HRIS exports use for "no value") or a trimmed string that meets the
// text rules (checkText).
func (d *decoder) stringField(obj map[string]json.RawMessage, key string) Field[string] {
	return d.checkedField(obj, key, checkText)
}

// checkedField is stringField with the character rules of check: checkText
// for free text, stricter ones for identifiers that must be printable ASCII
// (login ids, SSO subjects).
func (d *decoder) checkedField(obj map[string]json.RawMessage, key string, check func(string) error) Field[string] {
	raw, ok := obj[key]
	if !ok {
		return Field[string]{}
	}
	if isNull(raw) {
		return Null[string]()
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.set(fieldError(ReasonInvalidField, "employee."+key, "must be a string or null, got %s", jsonKind(raw)))
		return Field[string]{}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Null[string]()
	}
	if err := check(s); err != nil {
		d.set(fieldError(ReasonInvalidField, "employee."+key, "%s", err))
	}
	return Set(s)
}

// employee reads and validates the employee object: each field, then the
// rules between fields, then the login id.
func (d *decoder) employee(ev *Event, obj map[string]json.RawMessage) {
	userName := d.readEmployee(&ev.Employee, obj)
	for _, step := range []func(){
		func() { d.requiredFields(ev, userName) },
		func() { d.normaliseProfile(&ev.Employee) },
		func() { d.resolveUserName(&ev.Employee, userName) },
	} {
		if d.err != nil {
			return
		}
		step()
	}
}

// readEmployee decodes every field of the employee object with its own
// rules (type, characters); userName is returned apart, as sent, since
// Employee.UserName holds the resolved one.
func (d *decoder) readEmployee(e *Employee, obj map[string]json.RawMessage) (userName Field[string]) {
	e.EmployeeID = d.requiredString(obj, "employeeId", "employee.")
	if e.EmployeeID != "" {
		if err := checkID(e.EmployeeID); err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.employeeId", "%s", err))
		}
	}
	e.GivenName = d.stringField(obj, "givenName")
	e.MiddleName = d.stringField(obj, "middleName")
	e.FamilyName = d.stringField(obj, "familyName")
	e.Suffix = d.stringField(obj, "suffix")
	e.Email = d.stringField(obj, "email")
	e.WorkPhone = d.stringField(obj, "workPhone")
	e.MobilePhone = d.stringField(obj, "mobilePhone")
	e.Fax = d.stringField(obj, "fax")
	e.JobTitle = d.stringField(obj, "jobTitle")
	e.JobCode = d.stringField(obj, "jobCode")
	e.Department = d.stringField(obj, "department")
	e.Location = d.stringField(obj, "location")
	e.NMLSID = d.stringField(obj, "nmlsId")
	e.NMLSExpirationDate = d.stringField(obj, "nmlsExpirationDate")
	userName = d.checkedField(obj, "userName", checkLogin)
	// An explicit link is either there or not: null and "" mean not.
	if link := d.checkedField(obj, "encompassUserName", checkLogin); link.IsSet() {
		e.EncompassUserName = link.Value
	}
	e.DDAAuthID = d.checkedField(obj, "ddaAuthId", checkAuthID)
	if raw, ok := obj["ssoOnly"]; ok {
		if isNull(raw) {
			e.SSOOnly = Null[bool]()
		} else {
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				d.set(fieldError(ReasonInvalidField, "employee.ssoOnly", "must be true, false or null, got %s", jsonKind(raw)))
			}
			e.SSOOnly = Set(b)
		}
	}
	if raw, ok := obj["stateLicenses"]; ok {
		e.StateLicenses = d.licenses(raw)
	}
	return userName
}

// requiredFields applies the rules of presence: givenName, familyName and
// email are required for hire and rehire and never clearable, because
// Encompass requires them on every user; userName cannot be cleared.
func (d *decoder) requiredFields(ev *Event, userName Field[string]) {
	e := &ev.Employee
	for _, f := range []struct {
		name string
		v    Field[string]
	}{{"givenName", e.GivenName}, {"familyName", e.FamilyName}, {"email", e.Email}} {
		if ev.Type == TypeHire || ev.Type == TypeRehire {
			if !f.v.IsSet() {
				d.set(fieldError(ReasonMissingField, "employee."+f.name, "is required for a %s event", ev.Type))
				return
			}
		}
		if f.v.Present && f.v.Null {
			d.set(fieldError(ReasonInvalidField, "employee."+f.name, "cannot be cleared: Encompass requires it on every user"))
			return
		}
	}
	if userName.Present && userName.Null {
		d.set(fieldError(ReasonInvalidField, "employee.userName", "cannot be cleared; omit it to keep the current login id"))
	}
}

// normaliseProfile checks the lengths, e-mail, phones and dates, and writes
// the phones in Encompass's form.
func (d *decoder) normaliseProfile(e *Employee) {
	for _, f := range []struct {
		name string
		v    Field[string]
	}{
		{"givenName", e.GivenName}, {"middleName", e.MiddleName}, {"familyName", e.FamilyName},
		{"suffix", e.Suffix}, {"jobTitle", e.JobTitle},
	} {
		if f.v.IsSet() && utf8.RuneCountInString(f.v.Value) > encompass.MaxNameLength {
			d.set(fieldError(ReasonInvalidField, "employee."+f.name, "is %d characters; Encompass allows at most %d",
				utf8.RuneCountInString(f.v.Value), encompass.MaxNameLength))
			return
		}
	}
	for _, f := range []struct {
		name string
		v    Field[string]
	}{{"jobCode", e.JobCode}, {"department", e.Department}, {"location", e.Location}, {"nmlsId", e.NMLSID}} {
		if f.v.IsSet() && len(f.v.Value) > maxFreeTextLength {
			d.set(fieldError(ReasonInvalidField, "employee."+f.name, "is %d bytes; at most %d are allowed", len(f.v.Value), maxFreeTextLength))
			return
		}
	}
	if e.Email.IsSet() {
		addr, err := ParseEmail(e.Email.Value)
		if err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.email", "%s", err))
			return
		}
		e.Email.Value = addr
	}
	for _, p := range []struct {
		name string
		v    *Field[string]
	}{{"workPhone", &e.WorkPhone}, {"mobilePhone", &e.MobilePhone}, {"fax", &e.Fax}} {
		if !p.v.IsSet() {
			continue
		}
		n, err := NormalizePhone(p.v.Value)
		if err != nil {
			d.set(fieldError(ReasonInvalidField, "employee."+p.name, "%s", err))
			return
		}
		p.v.Value = n
	}
	if e.NMLSExpirationDate.IsSet() {
		if err := checkDate(e.NMLSExpirationDate.Value); err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.nmlsExpirationDate", "%s", err))
		}
	}
}

// resolveUserName sets the login id: the one sent (already checked by
// checkedField), or the one derived from the e-mail, which must then be
// printable ASCII too.
func (d *decoder) resolveUserName(e *Employee, userName Field[string]) {
	switch {
	case userName.IsSet():
		e.UserName = userName.Value
	case e.Email.IsSet():
		u, err := encompass.DeriveUserName(e.Email.Value)
		if err == nil {
			if asciiErr := checkPrintableASCII(u); asciiErr != nil {
				err = fmt.Errorf("the login id derived from its local part, %+q, %w", truncate(u), asciiErr)
			}
		}
		if err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.email", "%s; supply employee.userName", err))
			return
		}
		e.UserName, e.UserNameDerived = u, true
	}
}

// maxAuthIDLength bounds ddaAuthId: an SSO subject is an e-mail address, a
// user principal name or a GUID.
const maxAuthIDLength = 256

// checkAuthID applies the rules of an SSO subject: printable ASCII (a
// look-alike subject would link the profile to someone else's sign-in), and
// bounded.
func checkAuthID(s string) error {
	if len(s) > maxAuthIDLength {
		return fmt.Errorf("is %d bytes; at most %d are allowed", len(s), maxAuthIDLength)
	}
	return checkPrintableASCII(s)
}

func (d *decoder) licenses(raw json.RawMessage) Field[[]StateLicense] {
	if isNull(raw) {
		return Null[[]StateLicense]()
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.set(fieldError(ReasonInvalidField, "employee.stateLicenses", "must be an array of licenses or null, got %s", jsonKind(raw)))
		return Field[[]StateLicense]{}
	}
	if len(items) > maxLicenses {
		d.set(fieldError(ReasonInvalidField, "employee.stateLicenses", "has %d entries; at most %d are allowed", len(items), maxLicenses))
		return Field[[]StateLicense]{}
	}
	out := make([]StateLicense, 0, len(items))
	seen := map[string]bool{}
	for i, item := range items {
		path := fmt.Sprintf("employee.stateLicenses[%d]", i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
			d.set(fieldError(ReasonInvalidField, path, "must be an object with state, licenseNumber, expirationDate and status, got %s", jsonKind(item)))
			return Field[[]StateLicense]{}
		}
		var l StateLicense
		for key, dst := range map[string]*string{"state": &l.State, "licenseNumber": &l.LicenseNumber, "expirationDate": &l.ExpirationDate, "status": &l.Status} {
			v, ok := obj[key]
			if !ok || isNull(v) {
				continue
			}
			if err := json.Unmarshal(v, dst); err != nil {
				d.set(fieldError(ReasonInvalidField, path+"."+key, "must be a string, got %s", jsonKind(v)))
				return Field[[]StateLicense]{}
			}
			*dst = strings.TrimSpace(*dst)
			if err := checkText(*dst); err != nil || len(*dst) > encompass.MaxNameLength {
				if err == nil {
					err = fmt.Errorf("is %d bytes; at most %d are allowed", len(*dst), encompass.MaxNameLength)
				}
				d.set(fieldError(ReasonInvalidField, path+"."+key, "%s", err))
				return Field[[]StateLicense]{}
			}
		}
		l.State = strings.ToUpper(l.State)
		if !usStates[l.State] {
			d.set(fieldError(ReasonInvalidField, path+".state", "%q is not a two-letter US state or territory code such as CA", truncate(l.State)))
			return Field[[]StateLicense]{}
		}
		if seen[l.State] {
			d.set(fieldError(ReasonInvalidField, path+".state", "%s is listed twice", l.State))
			return Field[[]StateLicense]{}
		}
		seen[l.State] = true
		if l.ExpirationDate != "" {
			if err := checkDate(l.ExpirationDate); err != nil {
				d.set(fieldError(ReasonInvalidField, path+".expirationDate", "%s", err))
				return Field[[]StateLicense]{}
			}
		}
		if l.Status != "" {
			st, ok := encompass.LicenseStatusType(l.Status)
			if !ok {
				d.set(fieldError(ReasonInvalidField, path+".status", "%q is not an Encompass license status such as Approved, PendingReview or Suspended (spaces and case do not matter)", truncate(l.Status)))
				return Field[[]StateLicense]{}
			}
			l.Status = st
		}
		out = append(out, l)
	}
	return Set(out)
}

// ParseEmail validates a bare e-mail address (no display name, no angle
// brackets) and returns it with surrounding space removed.
func ParseEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%q is not an e-mail address such as jane.doe@example.com", truncate(s))
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || !strings.Contains(a.Address[at+1:], ".") {
		return "", fmt.Errorf("%q is not an e-mail address such as jane.doe@example.com (the domain needs a dot)", truncate(s))
	}
	if len(a.Address) > 254 {
		return "", fmt.Errorf("is %d characters; an e-mail address has at most 254", len(a.Address))
	}
	return a.Address, nil
}

// checkID accepts identifiers that are safe as DynamoDB keys and in logs,
// and that cannot be told apart only by an invisible character ("E1001" and
// "E1001\u200b" would be two employees, so two accounts for one person).
func checkID(s string) error {
	if len(s) > maxIDLength {
		return fmt.Errorf("is %d bytes; at most %d are allowed", len(s), maxIDLength)
	}
	return checkText(s)
}

func checkDate(s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not a date in the form yyyy-mm-dd such as 2027-06-30", truncate(s))
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// truncate keeps hostile values from flooding messages and logs: the
// values a message quotes are cut at 80 bytes.
func truncate(s string) string { return Truncate(s, 80) }

// Truncate cuts s to at most n bytes, at a character boundary, and marks
// the cut with "…", so that a hostile value cannot flood a message, a
// report or a log line.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var usStates = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DC DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH
		NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY VI GU PR`) {
		m[s] = true
	}
	return m
}()
