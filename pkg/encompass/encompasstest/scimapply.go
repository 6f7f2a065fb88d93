package encompasstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// usStates is the license state list Encompass answers, in its order.
var usStates = []string{"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
	"IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
	"NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
	"VI", "GU", "PR"}

// errReadOnly marks attributes SCIM PATCH may not change.
var errReadOnly = errors.New("is read-only")

// scimEdit collects the effect of SCIM writes on one user.
type scimEdit struct {
	u        *SimUser
	password string
	create   bool
}

var scimStringAttrs = map[string]func(*SimUser) *string{
	"jobtitle":           func(u *SimUser) *string { return &u.Title },
	"employeeid":         func(u *SimUser) *string { return &u.EmployeeID },
	"chumid":             func(u *SimUser) *string { return &u.ChumID },
	"comments":           func(u *SimUser) *string { return &u.Comments },
	"workingfolder":      func(u *SimUser) *string { return &u.WorkingFolder },
	"nmlsoriginatorid":   func(u *SimUser) *string { return &u.NMLSOriginatorID },
	"nmlsexpirationdate": func(u *SimUser) *string { return &u.NMLSExpirationDate },
}

var scimNameParts = map[string]func(*SimUser) *string{
	"familyname":       func(u *SimUser) *string { return &u.LastName },
	"givenname":        func(u *SimUser) *string { return &u.FirstName },
	"middlename":       func(u *SimUser) *string { return &u.MiddleName },
	"honorificsuffix":  func(u *SimUser) *string { return &u.Suffix },
	"formatted":        nil, // derived; accepted and ignored
	"honorificprefix":  nil,
	"phoneticfullname": nil,
}

// scimIgnored are attributes Encompass accepts that the simulator does not model.
var scimIgnored = map[string]bool{
	"ccsite": true, "compensationplans": true, "ssodisconnectedfromorg": true, "allowimpersonation": true,
	"subordinateloanaccess": true, "peerloanaccess": true, "oauthclientid": true, "schemas": true,
}

// scimReadOnly are attributes SCIM answers but never accepts in a write.
var scimReadOnly = map[string]bool{
	"organization": true, "id": true, "meta": true, "groups": true, "userindicators": true, "createdby": true,
	"lastmodifiedby": true, "lastlogin": true, "realmname": true, "loginenabled": true, "accountindicators": true,
}

// applyObject applies every attribute of a value object (a PATCH without
// path, or a create body). Keys that are schema URNs are descended into.
func (e *scimEdit) applyObject(op string, raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return errors.New("value must be an object")
	}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch {
		case strings.EqualFold(k, SchemaEncompassUser) || strings.EqualFold(k, SchemaEncompassUserAlt):
			if err := e.applyObject(op, v); err != nil {
				return err
			}
		case strings.EqualFold(k, SchemaAIQUser):
			// handleSCIMPatch takes AIQ objects out of the value first
			// (scimaiq.go); one nested inside another schema is malformed.
			return fmt.Errorf("the %s object must stand at the top level of the value", SchemaAIQUser)
		case strings.HasPrefix(strings.ToLower(k), "urn:"):
			return fmt.Errorf("schema %q is not supported", k)
		default:
			if err := e.apply(op, k, nil, "", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// applyOp applies one parsed PATCH operation.
func (e *scimEdit) applyOp(op patchOp) error {
	if op.Path == nil {
		return e.applyObject(op.Op, op.Value)
	}
	if op.Path.Schema == SchemaAIQUser {
		return fmt.Errorf("%s paths address the DDA profile, not the Encompass one", SchemaAIQUser)
	}
	return e.apply(op.Op, op.Path.Attr, op.Path.Filter, op.Path.Sub, op.Value)
}

// apply changes one attribute. op is add, replace or remove; value is nil
// for remove without value.
func (e *scimEdit) apply(op, attr string, filter []filterTerm, sub string, value json.RawMessage) error {
	u := e.u
	a := strings.ToLower(attr)
	remove := op == "remove"
	v := patchValue{attr: attr, remove: remove, raw: value}
	str, boolean := v.str, v.boolean
	if get, ok := scimStringAttrs[a]; ok {
		if sub != "" || filter != nil {
			return fmt.Errorf("%s has no sub-attributes", attr)
		}
		s, err := str()
		if err != nil {
			return err
		}
		*get(u) = s
		return nil
	}
	switch {
	case scimIgnored[a]:
		return nil
	case a == "organization" && e.create:
		var ref struct {
			EntityID json.RawMessage `json:"entityId"`
		}
		if err := json.Unmarshal(value, &ref); err != nil {
			return errors.New("organization must be an object with an entityId")
		}
		id, ok := scalarString(ref.EntityID)
		if !ok {
			return errors.New("organization needs an entityId")
		}
		u.OrganizationID = id
		return nil
	case scimReadOnly[a]:
		return fmt.Errorf("%s %w", attr, errReadOnly)
	case a == "username":
		s, err := str()
		if err != nil {
			return err
		}
		if e.create {
			u.LoginID = s
			return nil
		}
		if remove || !strings.EqualFold(s, u.LoginID) {
			return errors.New("userName cannot be changed")
		}
		return nil
	case a == "name":
		return e.applyName(op, sub, value)
	case a == "emails":
		return e.applyEmails(op, filter, sub, value)
	case a == "phonenumbers":
		return e.applyPhones(op, filter, sub, value)
	case a == "password":
		s, err := str()
		if err != nil || s == "" {
			return errors.New("password must be a non-empty string")
		}
		e.password = s
		return nil
	case a == "accountenabled":
		return v.setBool(&u.Enabled)
	case a == "requirepasswordchange":
		return v.setBool(&u.RequirePasswordChange)
	case a == "isssoonly":
		return v.setBool(&u.SSOOnly)
	case a == "apiuser":
		b, err := boolean()
		if err != nil {
			return err
		}
		if !e.create && b != u.APIUser {
			return errors.New("apiUser can only be set when the user is created")
		}
		u.APIUser = b
		return nil
	case a == "personas":
		return e.applyPersonas(op, filter, value)
	case a == "licenses":
		return e.applyLicenses(op, value)
	}
	return fmt.Errorf("attribute %q is not supported", attr)
}

func (e *scimEdit) applyName(op, sub string, value json.RawMessage) error {
	if sub != "" {
		get, ok := scimNameParts[strings.ToLower(sub)]
		if !ok {
			return fmt.Errorf("name.%s is not supported", sub)
		}
		if get == nil {
			return nil
		}
		if op == "remove" {
			*get(e.u) = ""
			return nil
		}
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("name.%s must be a string", sub)
		}
		*get(e.u) = s
		return nil
	}
	if op == "remove" {
		return errors.New("name is required")
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(value, &parts); err != nil {
		return errors.New("name must be an object")
	}
	for _, k := range sortedKeys(parts) {
		if err := e.applyName(op, k, parts[k]); err != nil {
			return err
		}
	}
	return nil
}

type scimMultiValue struct {
	Value   json.RawMessage `json:"value"`
	Type    string          `json:"type"`
	Primary bool            `json:"primary"`
}

func decodeMulti(attr string, value json.RawMessage) ([]scimMultiValue, error) {
	var items []scimMultiValue
	if err := json.Unmarshal(value, &items); err != nil {
		var one scimMultiValue
		if err := json.Unmarshal(value, &one); err != nil || one.Value == nil {
			return nil, fmt.Errorf("%s must be an array of {value, type}", attr)
		}
		items = []scimMultiValue{one}
	}
	return items, nil
}

func (e *scimEdit) applyEmails(op string, filter []filterTerm, sub string, value json.RawMessage) error {
	if op == "remove" {
		e.u.Email = ""
		return nil
	}
	if sub != "" {
		if !strings.EqualFold(sub, "value") {
			return nil // type and primary are not modelled: one work e-mail
		}
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return errors.New("emails.value must be a string")
		}
		e.u.Email = s
		return nil
	}
	items, err := decodeMulti("emails", value)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return errors.New("emails needs at least one value")
	}
	pick := items[0]
	for _, it := range items {
		if it.Primary {
			pick = it
		}
	}
	var s string
	if err := json.Unmarshal(pick.Value, &s); err != nil {
		return errors.New("emails.value must be a string")
	}
	e.u.Email = s
	return nil
}

// phoneField maps a SCIM phone type to the Encompass field.
func phoneField(u *SimUser, typ string) (*string, error) {
	switch strings.ToLower(typ) {
	case "work", "":
		return &u.Phone, nil
	case "mobile":
		return &u.CellPhone, nil
	case "fax":
		return &u.Fax, nil
	}
	return nil, fmt.Errorf("phone type %q is not supported (work, mobile, fax)", typ)
}

func (e *scimEdit) applyPhones(op string, filter []filterTerm, sub string, value json.RawMessage) error {
	typ, hasType := term(filter, "type")
	if op == "remove" {
		if hasType {
			f, err := phoneField(e.u, typ)
			if err != nil {
				return err
			}
			*f = ""
			return nil
		}
		if value != nil {
			items, err := decodeMulti("phoneNumbers", value)
			if err != nil {
				return err
			}
			for _, it := range items {
				f, err := phoneField(e.u, it.Type)
				if err != nil {
					return err
				}
				*f = ""
			}
			return nil
		}
		e.u.Phone, e.u.CellPhone, e.u.Fax = "", "", ""
		return nil
	}
	if hasType || sub != "" {
		if !hasType || !strings.EqualFold(sub, "value") {
			return errors.New(`phoneNumbers sub-attribute paths need the form phoneNumbers[type eq "work"].value`)
		}
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return errors.New("phoneNumbers.value must be a string")
		}
		return e.setPhone(typ, s)
	}
	items, err := decodeMulti("phoneNumbers", value)
	if err != nil {
		return err
	}
	if op == "replace" {
		e.u.Phone, e.u.CellPhone, e.u.Fax = "", "", ""
	}
	for _, it := range items {
		var s string
		if err := json.Unmarshal(it.Value, &s); err != nil {
			return errors.New("phoneNumbers.value must be a string")
		}
		if err := e.setPhone(it.Type, s); err != nil {
			return err
		}
	}
	return nil
}

func (e *scimEdit) setPhone(typ, v string) error {
	f, err := phoneField(e.u, typ)
	if err != nil {
		return err
	}
	name := map[*string]string{&e.u.Phone: "work phone", &e.u.CellPhone: "mobile phone", &e.u.Fax: "fax"}[f]
	n, err := normalizePhone(name, v)
	if err != nil {
		return err
	}
	*f = n
	return nil
}

func (e *scimEdit) applyPersonas(op string, filter []filterTerm, value json.RawMessage) error {
	if op == "remove" {
		if id, ok := term(filter, "entityId"); ok {
			e.u.Personas = slices.DeleteFunc(e.u.Personas, func(p string) bool { return p == id })
			return nil
		}
		if value != nil {
			ids, err := decodePersonaRefs(value)
			if err != nil {
				return err
			}
			e.u.Personas = slices.DeleteFunc(e.u.Personas, func(p string) bool { return slices.Contains(ids, p) })
			return nil
		}
		e.u.Personas = nil
		return nil
	}
	if filter != nil {
		return errors.New("personas filters are supported for remove only")
	}
	ids, err := decodePersonaRefs(value)
	if err != nil {
		return err
	}
	if op == "add" {
		ids = append(ids, e.u.Personas...)
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	e.u.Personas = ids
	return nil
}

func (e *scimEdit) applyLicenses(op string, value json.RawMessage) error {
	if op == "remove" {
		e.u.Licenses = nil
		return nil
	}
	var ls []License
	if err := json.Unmarshal(value, &ls); err != nil {
		return errors.New("licenses must be an array of license objects")
	}
	for i := range ls {
		l := &ls[i]
		l.StateAbbreviation = strings.ToUpper(l.StateAbbreviation)
		if !slices.Contains(usStates, l.StateAbbreviation) {
			return fmt.Errorf("license state %q is not supported", l.StateAbbreviation)
		}
		for _, d := range []*string{&l.IssueDate, &l.StartDate, &l.EndDate, &l.StatusDate, &l.LastChecked} {
			if len(*d) > 10 {
				*d = (*d)[:10]
			}
		}
		if err := checkLen("licenseNumber", l.LicenseNumber, 64); err != nil {
			return err
		}
	}
	if op == "add" {
		for _, old := range e.u.Licenses {
			if !slices.ContainsFunc(ls, func(l License) bool { return l.StateAbbreviation == old.StateAbbreviation }) {
				ls = append(ls, old)
			}
		}
	}
	e.u.Licenses = ls
	return nil
}

// patchValue is the value of one PATCH operation on one attribute, read as
// the attribute's type; a remove reads as the zero string and is refused
// where a boolean is needed.
type patchValue struct {
	attr   string
	remove bool
	raw    json.RawMessage
}

func (v patchValue) str() (string, error) {
	if v.remove {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v.raw, &s); err != nil {
		return "", fmt.Errorf("%s must be a string", v.attr)
	}
	return s, nil
}

func (v patchValue) boolean() (bool, error) {
	var b bool
	if v.remove || json.Unmarshal(v.raw, &b) != nil {
		return false, fmt.Errorf("%s must be true or false", v.attr)
	}
	return b, nil
}

// setStr stores the value, read as a string, in dst.
func (v patchValue) setStr(dst *string) error {
	s, err := v.str()
	if err == nil {
		*dst = s
	}
	return err
}

// setBool stores the value, read as a boolean, in dst.
func (v patchValue) setBool(dst *bool) error {
	b, err := v.boolean()
	if err == nil {
		*dst = b
	}
	return err
}
