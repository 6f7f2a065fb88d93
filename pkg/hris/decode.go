package hris

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field limits from the SCIM schema reference (names and job title 64,
// employeeId 10 in Encompass; the HRIS id itself is kept in the state table).
const (
	MaxNameLength        = 64
	MaxEncompassEmployee = 10
	maxIDLength          = 128
	maxFreeTextLength    = 256
	maxLicenses          = 100
)

// Decode parses and validates one SQS message body that arrived on queue q.
// now is the current time, used for the effectiveAt check. Every failure is an
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

	ev.OccurredAt = d.requiredTime(top, "occurredAt")
	if eff, ok := d.optionalString(top, "effectiveAt"); ok && eff != "" {
		t, err := time.Parse(time.RFC3339, eff)
		if err != nil {
			d.set(fieldError(ReasonInvalidField, "effectiveAt", "%q is not an RFC 3339 timestamp such as 2026-12-01T00:00:00Z", truncate(eff)))
		}
		ev.EffectiveAt = t
	}
	if src, ok := d.optionalString(top, "source"); ok {
		ev.Source = src
		if len(src) > maxFreeTextLength {
			d.set(fieldError(ReasonInvalidField, "source", "is %d characters; at most %d are allowed", len(src), maxFreeTextLength))
		}
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
	if !ev.EffectiveAt.IsZero() && ev.EffectiveAt.After(now.Add(FutureTolerance)) {
		return nil, d.fail(fieldError(ReasonEffectiveInFuture, "effectiveAt",
			"%s is more than %s in the future; scheduled events are not processed yet, send it again when it is due",
			ev.EffectiveAt.Format(time.RFC3339), FutureTolerance))
	}
	return ev, nil
}

// maxPeekBytes bounds the oversized bodies whose identifiers are still read:
// SQS's own limit. One pass into a small struct skips everything else.
const maxPeekBytes = 256 << 10

// peekIdentifiers fills e's eventId, employeeId and type from an oversized
// body when it is JSON that has them, so that its rejection can still be
// correlated (CONTRACTS: detail.eventId is the HRIS event id when the body
// has one).
func peekIdentifiers(body []byte, e *Error) {
	if len(body) > maxPeekBytes {
		return
	}
	var v struct {
		EventID  any `json:"eventId"`
		Type     any `json:"type"`
		Employee struct {
			EmployeeID any `json:"employeeId"`
		} `json:"employee"`
	}
	if json.Unmarshal(body, &v) != nil {
		return
	}
	d := decoder{}
	d.id.EventID, _ = v.EventID.(string)
	d.id.EmployeeID, _ = v.Employee.EmployeeID.(string)
	d.id.EventID, d.id.EmployeeID = strings.TrimSpace(d.id.EventID), strings.TrimSpace(d.id.EmployeeID)
	if t, _ := v.Type.(string); Type(t) == TypeHire || Type(t) == TypeUpdate || Type(t) == TypeRehire || Type(t) == TypeTerminate {
		d.id.Type = Type(t)
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

func (d *decoder) requiredTime(obj map[string]json.RawMessage, key string) time.Time {
	s := d.requiredString(obj, key, "")
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.set(fieldError(ReasonInvalidField, key, "%q is not an RFC 3339 timestamp such as 2026-11-20T15:04:05Z", truncate(s)))
	}
	return t
}

// stringField decodes an optional employee string: absent, null (or "",
// which HRIS exports use for "no value") or a trimmed string.
func (d *decoder) stringField(obj map[string]json.RawMessage, key string) Field[string] {
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
	if err := checkText(s); err != nil {
		d.set(fieldError(ReasonInvalidField, "employee."+key, "%s", err))
	}
	return Set(s)
}

func (d *decoder) employee(ev *Event, obj map[string]json.RawMessage) {
	e := &ev.Employee
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
	userName := d.stringField(obj, "userName")
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
	if d.err != nil {
		return
	}

	// Required for hire and rehire; never clearable, because Encompass
	// requires them on every user.
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
		return
	}
	for _, f := range []struct {
		name string
		v    Field[string]
	}{
		{"givenName", e.GivenName}, {"middleName", e.MiddleName}, {"familyName", e.FamilyName},
		{"suffix", e.Suffix}, {"jobTitle", e.JobTitle},
	} {
		if f.v.IsSet() && utf8.RuneCountInString(f.v.Value) > MaxNameLength {
			d.set(fieldError(ReasonInvalidField, "employee."+f.name, "is %d characters; Encompass allows at most %d",
				utf8.RuneCountInString(f.v.Value), MaxNameLength))
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
			return
		}
	}

	switch {
	case userName.IsSet():
		if err := CheckUserName(userName.Value); err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.userName", "%s", err))
			return
		}
		e.UserName = userName.Value
	case e.Email.IsSet():
		u, err := DeriveUserName(e.Email.Value)
		if err != nil {
			d.set(fieldError(ReasonInvalidField, "employee.email", "%s", err))
			return
		}
		e.UserName, e.UserNameDerived = u, true
	}
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
			if err := checkText(*dst); err != nil || len(*dst) > MaxNameLength {
				if err == nil {
					err = fmt.Errorf("is %d bytes; at most %d are allowed", len(*dst), MaxNameLength)
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
			st, ok := LicenseStatusType(l.Status)
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

// forbiddenUserNameChars are the characters Encompass refuses in a login id
// (SCIM schema reference), plus whitespace, which no login id can contain.
const forbiddenUserNameChars = `\/:*?"<>`

// CheckUserName reports whether s is a login id Encompass accepts: no leading
// period, none of \ / : * ? " < >, no spaces or control characters.
func CheckUserName(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.HasPrefix(s, ".") {
		return fmt.Errorf("%q starts with a period, which Encompass does not allow in a login id", truncate(s))
	}
	for _, r := range s {
		if strings.ContainsRune(forbiddenUserNameChars, r) {
			return fmt.Errorf("%q contains %q; Encompass login ids cannot contain any of \\ / : * ? \" < >", truncate(s), r)
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains a space or control character, which a login id cannot", truncate(s))
		}
	}
	if utf8.RuneCountInString(s) > MaxNameLength {
		return fmt.Errorf("is %d characters; at most %d are allowed", utf8.RuneCountInString(s), MaxNameLength)
	}
	return nil
}

// DeriveUserName builds a login id from an e-mail address: its local part,
// lower-cased, with the characters Encompass forbids (and leading periods)
// removed.
func DeriveUserName(email string) (string, error) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "", fmt.Errorf("%q has no @, so no userName can be derived from it", truncate(email))
	}
	local := strings.ToLower(email[:at])
	local = strings.Trim(local, `"`) // a quoted local part
	var b strings.Builder
	for _, r := range local {
		if strings.ContainsRune(forbiddenUserNameChars, r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(r)
	}
	u := strings.TrimLeft(b.String(), ".")
	if err := CheckUserName(u); err != nil {
		return "", fmt.Errorf("no valid userName can be derived from %q (%v); supply employee.userName", truncate(email), err)
	}
	return u, nil
}

// checkID accepts identifiers that are safe as DynamoDB keys and in logs.
func checkID(s string) error {
	if len(s) > maxIDLength {
		return fmt.Errorf("is %d bytes; at most %d are allowed", len(s), maxIDLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q contains a control character", truncate(s))
		}
	}
	return nil
}

// checkText refuses control characters in free text: they have no place in a
// profile field and break downstream systems.
func checkText(s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains a control character (%U); remove it", r)
		}
	}
	return nil
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

// truncate keeps hostile values from flooding messages and logs.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// licenseStatusTypes are the values of Encompass's licenseStatusType, keyed
// by their letters in lower case, so that "Approved Conditional" and
// "approved-conditional" both name ApprovedConditional.
var licenseStatusTypes = func() map[string]string {
	m := map[string]string{}
	for _, s := range strings.Fields(`TransitionRequested TransitionCancelled TransitionRejected
		PendingIncomplete PendingReview PendingDeficient PendingWithdrawRequested
		WithdrawnApplicationAbandoned WithdrawnVoluntaryWithoutLicensure Denied DeniedOnAppeal
		Approved ApprovedConditional ApprovedDeficient ApprovedFailedToRenew ApprovedInactive
		ApprovedOnAppeal ApprovedSurrenderOrCancellationRequested Revoked RevokedOnAppeal
		Suspended SuspendedOnAppeal TemporaryCeaseAndDesist TemporaryExpired TemporaryFailedtoRenew
		TerminatedOrderedToSurrender TerminatedSurrenderedOrCancelled`) {
		m[letters(s)] = s
	}
	return m
}()

// LicenseStatusType returns the Encompass licenseStatusType a status names,
// ignoring case, spaces and punctuation.
func LicenseStatusType(status string) (string, bool) {
	st, ok := licenseStatusTypes[letters(status)]
	return st, ok
}

func letters(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}

var usStates = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DC DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH
		NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY VI GU PR`) {
		m[s] = true
	}
	return m
}()
