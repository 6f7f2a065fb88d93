package encompasstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AIQProfile is a DDA (AIQ) user profile, linked to the global user id of
// an Encompass user (reference 001, "PATCH 10"; attributes of reference
// 002). Standalone DDA users are not supported by ICE's SCIM service, so
// every profile here belongs to a SimUser.
type AIQProfile struct {
	UserName   string `json:"userName"`
	RoleName   string `json:"roleName,omitempty"`
	Enabled    bool   `json:"enabled"`
	FirstName  string `json:"firstName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	CellPhone  string `json:"cellPhone,omitempty"`
	Fax        string `json:"fax,omitempty"`
	SSOOnly    bool   `json:"ssoOnly"`
	AuthID     string `json:"authId,omitempty"`
	// Password is kept so that tests can assert one was set; no answer
	// ever contains it.
	Password   string    `json:"password,omitempty"`
	Created    time.Time `json:"created,omitzero"`
	Modified   time.Time `json:"lastModified,omitzero"`
	ModifiedBy string    `json:"lastModifiedBy,omitempty"`
}

// aiqResourceBody is the AIQUser object of an answer (reference 002, "AIQ
// User" response attributes).
type aiqResourceBody struct {
	ID           string      `json:"id"`
	UserName     string      `json:"userName"`
	RoleName     string      `json:"roleName,omitempty"`
	Enabled      bool        `json:"enabled"`
	Name         scimName    `json:"name"`
	PhoneNumbers []scimTyped `json:"phoneNumbers"`
	Emails       []aiqEmail  `json:"emails"`
	SSOOnly      bool        `json:"ssoOnly"`
	AuthID       string      `json:"authId,omitempty"`
	Meta         scimMeta    `json:"meta"`
}

type aiqEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type"`
	Primary bool   `json:"primary"`
}

type aiqResource struct {
	Schemas []string        `json:"schemas"`
	ID      string          `json:"id"`
	AIQ     aiqResourceBody `json:"urn:ietf:params:scim:schemas:extension:ice:2.0:AIQUser"`
}

// toAIQ renders the DDA profile of u; the caller holds st.mu.
func (s *Server) toAIQ(r *http.Request, u *SimUser) aiqResource {
	p := u.AIQ
	phones := scimPhones(p.Phone, p.CellPhone, p.Fax)
	emails := []aiqEmail{}
	if p.Email != "" {
		emails = append(emails, aiqEmail{Value: p.Email, Type: "work", Primary: true})
	}
	body := aiqResourceBody{
		ID: strings.ToLower(p.UserName), UserName: p.UserName, RoleName: p.RoleName, Enabled: p.Enabled,
		Name:         scimName{FamilyName: p.LastName, GivenName: p.FirstName, MiddleName: p.MiddleName},
		PhoneNumbers: phones, Emails: emails, SSOOnly: p.SSOOnly, AuthID: p.AuthID,
		Meta: scimMeta{Created: stamp(p.Created), LastModified: stamp(p.Modified), ResourceType: "User",
			Location: baseURL(r) + "/v1/users/" + u.GlobalUserID},
	}
	return aiqResource{Schemas: []string{SchemaCoreUser, SchemaAIQUser}, ID: u.GlobalUserID, AIQ: body}
}

// isAIQSchema reports whether the request's schema parameter names the
// AIQUser (DDA) schema.
func isAIQSchema(r *http.Request) bool {
	return strings.EqualFold(r.URL.Query().Get("schema"), SchemaAIQUser)
}

// handleAIQGet answers GET /scim2/v1/users/{id}?schema=AIQUser: the DDA
// profile of the global user id, 404 when it has none.
func (s *Server) handleAIQGet(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.aiqUserOr404(w, r)
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.toAIQ(r, u))
}

// aiqUserOr404 returns the user of the request's global user id when it
// holds a DDA profile, or answers 404; the caller holds s.st.mu.
func (s *Server) aiqUserOr404(w http.ResponseWriter, r *http.Request) *SimUser {
	u := s.scimUserOr404(w, r)
	if u == nil {
		return nil
	}
	if u.AIQ == nil {
		scimError(w, http.StatusNotFound, fmt.Sprintf("User %q has no %s profile.", r.PathValue("id"), SchemaAIQUser))
		return nil
	}
	return u
}

// handleAIQDelete answers DELETE /scim2/v1/users/{id}?schema=AIQUser: it
// disables the DDA profile and leaves the Encompass profile alone.
func (s *Server) handleAIQDelete(w http.ResponseWriter, r *http.Request) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	u := s.aiqUserOr404(w, r)
	if u == nil {
		return
	}
	u.AIQ.Enabled = false
	s.st.aiqTouched(u.AIQ, tokenUser(r))
	writeRaw(w, http.StatusOK, noContent)
}

// aiqFilters are the DDA filters of reference 003 (lower-cased), each with
// how it reads a profile. enabled is compared as a boolean, the rest as
// strings, case-insensitively.
var aiqFilters = map[string]func(*AIQProfile) string{
	"username":        func(p *AIQProfile) string { return p.UserName },
	"name.givenname":  func(p *AIQProfile) string { return p.FirstName },
	"name.familyname": func(p *AIQProfile) string { return p.LastName },
	"name.middlename": func(p *AIQProfile) string { return p.MiddleName },
	"emails.value":    func(p *AIQProfile) string { return p.Email },
	"enabled":         func(p *AIQProfile) string { return strconv.FormatBool(p.Enabled) },
	"rolename":        func(p *AIQProfile) string { return p.RoleName },
}

// handleAIQList answers GET /scim2/v1/users?schema=AIQUser: the DDA
// profiles, filtered by any combination of the DDA filters.
func (s *Server) handleAIQList(w http.ResponseWriter, r *http.Request) {
	start, count, ok := scimPage(r)
	if !ok {
		scimError(w, http.StatusBadRequest, "startIndex and count must be non-negative integers.")
		return
	}
	if r.URL.Query().Get("attributes") != "" {
		scimError(w, http.StatusBadRequest, "The attributes parameter is supported for the Encompass product schema only.")
		return
	}
	var terms []filterTerm
	if f := r.URL.Query().Get("filter"); f != "" {
		var err error
		if terms, err = parseFilter(f); err != nil {
			scimError(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
			return
		}
		for i, t := range terms {
			name := strings.ToLower(t.Name)
			if _, ok := aiqFilters[name]; !ok {
				scimError(w, http.StatusBadRequest, fmt.Sprintf("Filter attribute %q is not supported for the DDA product schema.", t.Name))
				return
			}
			if name == "enabled" {
				b, err := strconv.ParseBool(t.Value)
				if err != nil {
					scimError(w, http.StatusBadRequest, "enabled must be true or false.")
					return
				}
				terms[i].Value = strconv.FormatBool(b)
			}
		}
	}
	s.st.mu.RLock()
	var page []aiqResource
	total := 0
	for _, id := range s.st.ids {
		u := s.st.users[id]
		if u.AIQ == nil || u.GlobalUserID == "" || !aiqMatches(u.AIQ, terms) {
			continue
		}
		total++
		if total >= start && len(page) < count {
			page = append(page, s.toAIQ(r, u))
		}
	}
	s.st.mu.RUnlock()
	if page == nil {
		page = []aiqResource{}
	}
	writeJSON(w, http.StatusOK, scimList[aiqResource]{
		Schemas: []string{SchemaListResponse}, TotalResults: strconv.Itoa(total),
		ItemsPerPage: strconv.Itoa(len(page)), StartIndex: strconv.Itoa(start), Resources: page,
	})
}

func aiqMatches(p *AIQProfile, terms []filterTerm) bool {
	for _, t := range terms {
		if !strings.EqualFold(aiqFilters[strings.ToLower(t.Name)](p), t.Value) {
			return false
		}
	}
	return true
}

// splitAIQOps separates the operations of a PATCH that address the AIQUser
// schema (a path prefixed with it, or its object inside a value without a
// path) from the Encompass ones. A value object naming both schemas is
// split in two.
func splitAIQOps(ops []patchOp) (enc, aiq []patchOp, err error) {
	for _, op := range ops {
		if op.Path != nil {
			if op.Path.Schema == SchemaAIQUser {
				aiq = append(aiq, op)
			} else {
				enc = append(enc, op)
			}
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(op.Value, &obj); err != nil {
			return nil, nil, errors.New("value must be an object")
		}
		rest := map[string]json.RawMessage{}
		for k, v := range obj {
			if strings.EqualFold(k, SchemaAIQUser) {
				aiq = append(aiq, patchOp{Op: op.Op, Value: v})
			} else {
				rest[k] = v
			}
		}
		if len(rest) > 0 {
			enc = append(enc, patchOp{Op: op.Op, Value: mustJSON(rest)})
		}
	}
	return enc, aiq, nil
}

// aiqEdit collects the effect of AIQ writes on one profile.
type aiqEdit struct {
	p        *AIQProfile
	password string
	create   bool
	// enabledSet records whether the create said enabled (it must say true).
	enabledSet bool
}

// applyAIQOps applies the AIQ operations of a PATCH to u: an `add` of the
// whole object creates the profile (reference 001, "PATCH 10"); every
// other operation changes the existing one. Errors carry the status to
// answer.
func (s *Server) applyAIQOps(u *SimUser, ops []patchOp) (status int, err error) {
	for _, op := range ops {
		creating := op.Op == "add" && op.Path == nil
		switch {
		case creating && u.AIQ != nil:
			return http.StatusConflict, fmt.Errorf("the global user id %s already holds a %s profile; only one user can be linked to a global user id per product", u.GlobalUserID, SchemaAIQUser)
		case creating:
			p := &AIQProfile{SSOOnly: true}
			e := &aiqEdit{p: p, create: true}
			if err := e.applyObject("add", op.Value); err != nil {
				return http.StatusBadRequest, err
			}
			if err := e.checkCreate(); err != nil {
				return http.StatusBadRequest, err
			}
			if other := s.st.aiqByUserName(p.UserName); other != nil {
				return http.StatusConflict, fmt.Errorf("a DDA user with userName %q already exists", p.UserName)
			}
			p.Created = time.Now().UTC().Truncate(time.Second)
			p.Modified = p.Created
			u.AIQ = p
		case u.AIQ == nil:
			return http.StatusNotFound, fmt.Errorf("the user has no %s profile to change; add one first", SchemaAIQUser)
		default:
			e := &aiqEdit{p: u.AIQ}
			var err error
			if op.Path == nil {
				err = e.applyObject(op.Op, op.Value)
			} else {
				err = e.apply(op.Op, op.Path.Attr, op.Path.Filter, op.Path.Sub, op.Value)
			}
			if err == nil {
				err = e.checkChange()
			}
			if err != nil {
				return http.StatusBadRequest, err
			}
		}
	}
	return 0, nil
}

// aiqByUserName finds the profile with that DDA userName
// (case-insensitively); the caller holds mu. A scan: DDA users are few.
func (st *store) aiqByUserName(name string) *SimUser {
	for _, u := range st.users {
		if u.AIQ != nil && strings.EqualFold(u.AIQ.UserName, name) {
			return u
		}
	}
	return nil
}

func (st *store) aiqTouched(p *AIQProfile, by string) {
	p.Modified = time.Now().UTC().Truncate(time.Second)
	if by != "" {
		p.ModifiedBy = by
	}
}

// checkCreate applies the AIQ schema's rules for a new profile: userName,
// name.givenName, name.familyName and emails are required, enabled must be
// true, an SSO-only profile (the default) needs authId, any other needs a
// password that meets the policy.
func (e *aiqEdit) checkCreate() error {
	p := e.p
	switch {
	case !e.enabledSet || !p.Enabled:
		return errors.New("enabled must be true when a DDA user is created")
	case p.FirstName == "" || p.LastName == "":
		return errors.New("name.givenName and name.familyName are required")
	case p.Email == "":
		return errors.New("emails is required")
	}
	if err := checkUserName(p.UserName); err != nil {
		return err
	}
	if err := e.checkSecrets(); err != nil {
		return err
	}
	return e.checkFields()
}

// checkChange applies the rules that hold after any change.
func (e *aiqEdit) checkChange() error {
	p := e.p
	if p.FirstName == "" || p.LastName == "" {
		return errors.New("name.givenName and name.familyName are required")
	}
	if p.Email == "" {
		return errors.New("emails is required")
	}
	if err := e.checkSecrets(); err != nil {
		return err
	}
	return e.checkFields()
}

func (e *aiqEdit) checkSecrets() error {
	p := e.p
	switch {
	case p.SSOOnly && p.AuthID == "":
		return errors.New("authId is required when ssoOnly is true")
	case p.SSOOnly && e.password != "":
		return errors.New("password cannot be set when ssoOnly is true")
	case !p.SSOOnly && e.password == "" && p.Password == "":
		return errors.New("password is required when ssoOnly is false")
	case e.password != "":
		if err := checkPasswordPolicy(e.password); err != nil {
			return err
		}
		p.Password = e.password
	}
	if p.SSOOnly {
		p.Password = ""
	}
	return nil
}

func (e *aiqEdit) checkFields() error {
	p := e.p
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"name.givenName", p.FirstName, maxNameLen}, {"name.middleName", p.MiddleName, maxNameLen},
		{"name.familyName", p.LastName, maxNameLen}, {"roleName", p.RoleName, maxNameLen},
		{"authId", p.AuthID, maxFreeTextLen},
	} {
		if err := checkLen(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if err := checkEmail(p.Email); err != nil {
		return err
	}
	return nil
}

// applyObject applies every attribute of a value object.
func (e *aiqEdit) applyObject(op string, raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return fmt.Errorf("the %s value must be an object", SchemaAIQUser)
	}
	for _, k := range sortedKeys(obj) {
		if err := e.apply(op, k, nil, "", obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// apply changes one AIQ attribute.
func (e *aiqEdit) apply(op, attr string, filter []filterTerm, sub string, value json.RawMessage) error {
	p := e.p
	remove := op == "remove"
	v := patchValue{attr: attr, remove: remove, raw: value}
	str, boolean := v.str, v.boolean
	switch a := strings.ToLower(attr); {
	case a == "schemas" || a == "meta" || a == "id":
		if e.create || a == "schemas" {
			return nil
		}
		return fmt.Errorf("%s %w", attr, errReadOnly)
	case a == "username":
		s, err := str()
		if err != nil {
			return err
		}
		if e.create {
			p.UserName = s
			return nil
		}
		if remove || !strings.EqualFold(s, p.UserName) {
			return errors.New("userName cannot be changed")
		}
		return nil
	case a == "rolename":
		return v.setStr(&p.RoleName)
	case a == "authid":
		return v.setStr(&p.AuthID)
	case a == "password":
		s, err := str()
		if err != nil || s == "" {
			return errors.New("password must be a non-empty string")
		}
		e.password = s
		return nil
	case a == "enabled":
		b, err := boolean()
		if err != nil {
			return err
		}
		p.Enabled, e.enabledSet = b, true
		return nil
	case a == "ssoonly":
		return v.setBool(&p.SSOOnly)
	case a == "name":
		return e.applyName(op, sub, value)
	case a == "emails":
		u := SimUser{Email: p.Email}
		ed := &scimEdit{u: &u}
		if err := ed.applyEmails(op, filter, sub, value); err != nil {
			return err
		}
		p.Email = u.Email
		return nil
	case a == "phonenumbers":
		u := SimUser{Phone: p.Phone, CellPhone: p.CellPhone, Fax: p.Fax}
		ed := &scimEdit{u: &u}
		if err := ed.applyPhones(op, filter, sub, value); err != nil {
			return err
		}
		p.Phone, p.CellPhone, p.Fax = u.Phone, u.CellPhone, u.Fax
		return nil
	}
	return fmt.Errorf("attribute %q is not supported by the %s schema", attr, SchemaAIQUser)
}

func (e *aiqEdit) applyName(op, sub string, value json.RawMessage) error {
	u := SimUser{FirstName: e.p.FirstName, MiddleName: e.p.MiddleName, LastName: e.p.LastName}
	ed := &scimEdit{u: &u}
	if strings.EqualFold(sub, "honorificSuffix") {
		return errors.New("name.honorificSuffix is not an attribute of the DDA schema")
	}
	if err := ed.applyName(op, sub, value); err != nil {
		return err
	}
	if u.Suffix != "" {
		return errors.New("name.honorificSuffix is not an attribute of the DDA schema")
	}
	e.p.FirstName, e.p.MiddleName, e.p.LastName = u.FirstName, u.MiddleName, u.LastName
	return nil
}

// handleAccountLinkCreate answers POST /scim2/v1/accountLinks: a global
// user id for a product user that has none (ICE's "create account link":
// one user and product at a time, core and product schemas both in the
// body, refused for a user already linked).
func (s *Server) handleAccountLinkCreate(w http.ResponseWriter, r *http.Request) {
	req, product, ok := decodeAccountLink(w, r)
	if !ok {
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var u *SimUser
	if product == SchemaAIQUser {
		// DDA profiles exist only under a global user id here: a DDA user
		// is always linked already.
		if u = s.st.aiqByUserName(req.UserName); u != nil {
			scimError(w, http.StatusConflict, fmt.Sprintf("The DDA user %q is already linked to a globalUserId.", req.UserName))
			return
		}
		scimError(w, http.StatusNotFound, fmt.Sprintf("No DDA user %q exists.", req.UserName))
		return
	}
	if u = s.st.lookup(req.UserName); u == nil {
		scimError(w, http.StatusNotFound, fmt.Sprintf("No Encompass user %q exists.", req.UserName))
		return
	}
	if u.GlobalUserID != "" {
		scimError(w, http.StatusConflict, fmt.Sprintf("The user %q is already linked to a globalUserId; a globalUserId can only be created for users that are not linked yet.", req.UserName))
		return
	}
	u.GlobalUserID = newGUID()
	s.st.byGUID[strings.ToLower(u.GlobalUserID)] = u.ID
	s.st.touched(u, tokenUser(r))
	writeJSON(w, http.StatusCreated, map[string]any{
		"schemas": []string{SchemaCoreUser, product}, "id": u.GlobalUserID, "userName": u.ID,
	})
}

// handleAccountLinkAdd answers POST /scim2/v1/accountLinks/{id}: link a
// product user to an existing global user id. Only one user per global
// user id and product: every global user id here holds an Encompass
// profile, and DDA profiles are always linked, so the documented refusals
// are what this answers.
func (s *Server) handleAccountLinkAdd(w http.ResponseWriter, r *http.Request) {
	req, product, ok := decodeAccountLink(w, r)
	if !ok {
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	holder := s.scimUserOr404(w, r)
	if holder == nil {
		return
	}
	if product == SchemaAIQUser {
		if holder.AIQ != nil {
			scimError(w, http.StatusConflict, fmt.Sprintf("The globalUserId already holds a %s profile.", product))
			return
		}
		if s.st.aiqByUserName(req.UserName) != nil {
			scimError(w, http.StatusConflict, fmt.Sprintf("The DDA user %q is already linked to a globalUserId.", req.UserName))
			return
		}
		scimError(w, http.StatusNotFound, fmt.Sprintf("No DDA user %q exists.", req.UserName))
		return
	}
	scimError(w, http.StatusConflict, fmt.Sprintf("The globalUserId already holds a %s profile.", product))
}

// handleAccountLinksGet answers GET /scim2/v1/accountLinks/{id}: each
// product's userName linked to the global user id, keyed by the product
// schema.
func (s *Server) handleAccountLinksGet(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.scimUserOr404(w, r)
	if u == nil {
		return
	}
	out := map[string]any{"schemas": []string{SchemaCoreUser}, "id": u.GlobalUserID,
		SchemaEncompassUser: map[string]string{"userName": u.ID}}
	if u.AIQ != nil {
		out[SchemaAIQUser] = map[string]string{"userName": u.AIQ.UserName}
	}
	writeJSON(w, http.StatusOK, out)
}

type accountLinkBody struct {
	Schemas  []string `json:"schemas"`
	UserName string   `json:"userName"`
}

// decodeAccountLink reads and checks an Account Links body: the core
// schema and exactly one product schema, and a userName of at most 16
// characters (ICE's "Post Account Links Request Contract").
func decodeAccountLink(w http.ResponseWriter, r *http.Request) (accountLinkBody, string, bool) {
	body, _ := readBody(r)
	var req accountLinkBody
	if err := json.Unmarshal(body, &req); err != nil {
		scimError(w, http.StatusBadRequest, "The request body must be an object with schemas and userName.")
		return req, "", false
	}
	core, product := false, ""
	for _, sc := range req.Schemas {
		switch {
		case strings.EqualFold(sc, SchemaCoreUser):
			core = true
		case strings.EqualFold(sc, SchemaEncompassUser) || strings.EqualFold(sc, SchemaEncompassUserAlt):
			if product != "" {
				scimError(w, http.StatusBadRequest, "Only one product schema is supported per call.")
				return req, "", false
			}
			product = SchemaEncompassUser
		case strings.EqualFold(sc, SchemaAIQUser):
			if product != "" {
				scimError(w, http.StatusBadRequest, "Only one product schema is supported per call.")
				return req, "", false
			}
			product = SchemaAIQUser
		default:
			scimError(w, http.StatusBadRequest, fmt.Sprintf("Schema %q is not supported.", sc))
			return req, "", false
		}
	}
	if !core || product == "" {
		scimError(w, http.StatusBadRequest, "Both core and product link schemas must be included in every call.")
		return req, "", false
	}
	if err := checkUserName(req.UserName); err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return req, "", false
	}
	if len(req.UserName) > 16 {
		scimError(w, http.StatusBadRequest, "userName cannot be longer than 16 characters.")
		return req, "", false
	}
	return req, product, true
}
