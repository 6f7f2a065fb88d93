package encompasstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	v3DefaultLimit = 25
	v3MaxLimit     = 200
)

// v3Persona is a persona reference in v3 user JSON.
type v3Persona struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// v3User is the wire shape of GET /encompass/v3/users/{id}.
type v3User struct {
	ID                    string      `json:"id"`
	LoginID               string      `json:"loginId"`
	FirstName             string      `json:"firstName,omitempty"`
	MiddleName            string      `json:"middleName,omitempty"`
	LastName              string      `json:"lastName,omitempty"`
	Suffix                string      `json:"suffix,omitempty"`
	Email                 string      `json:"email,omitempty"`
	Phone                 string      `json:"phone,omitempty"`
	CellPhone             string      `json:"cellPhone,omitempty"`
	Fax                   string      `json:"fax,omitempty"`
	Title                 string      `json:"title,omitempty"`
	EmployeeID            string      `json:"employeeId,omitempty"`
	OrganizationID        string      `json:"organizationId"`
	Personas              []v3Persona `json:"personas"`
	Enabled               *bool       `json:"enabled,omitempty"`
	UserIndicators        []string    `json:"userIndicators,omitempty"`
	NMLSOriginatorID      string      `json:"nmlsOriginatorId,omitempty"`
	NMLSExpirationDate    string      `json:"nmlsExpirationDate,omitempty"`
	WorkingFolder         string      `json:"workingFolder,omitempty"`
	RequirePasswordChange bool        `json:"requirePasswordChange"`
	SSOOnly               bool        `json:"ssoOnly"`
}

// indicators renders account state as Encompass's userIndicators.
func (st *store) indicators(u *SimUser) []string {
	ind := make([]string, 0, 3)
	if u.Enabled {
		ind = append(ind, "Enabled")
	} else {
		ind = append(ind, "Disabled")
	}
	if u.Locked {
		ind = append(ind, "Locked")
	}
	if o, ok := st.org(u.OrganizationID); ok && o.ParentID == "" {
		ind = append(ind, "TopLevelUser")
	}
	return ind
}

// superAdminIndicator adds the misspelled indicator one live tenant sent
// for Super Administrators.
func (st *store) superAdminIndicator(u *SimUser, ind []string) []string {
	for _, p := range u.Personas {
		if st.personaName(p) == "Super Administrator" {
			return append(ind, "SuperAdminnistrator")
		}
	}
	return ind
}

// toV3 renders a user; the caller holds st.mu.
func (s *Server) toV3(u *SimUser) v3User {
	out := v3User{
		ID: u.ID, LoginID: u.LoginID,
		FirstName: u.FirstName, MiddleName: u.MiddleName, LastName: u.LastName, Suffix: u.Suffix,
		Email: u.Email, Phone: u.Phone, CellPhone: u.CellPhone, Fax: u.Fax, Title: u.Title,
		EmployeeID: u.EmployeeID, OrganizationID: u.OrganizationID,
		Personas:              make([]v3Persona, len(u.Personas)),
		NMLSOriginatorID:      u.NMLSOriginatorID,
		NMLSExpirationDate:    u.NMLSExpirationDate,
		WorkingFolder:         u.WorkingFolder,
		RequirePasswordChange: u.RequirePasswordChange,
		SSOOnly:               u.SSOOnly,
	}
	for i, p := range u.Personas {
		out.Personas[i] = v3Persona{ID: p, Name: s.st.personaName(p)}
	}
	if s.cfg.statusStyle != StatusIndicators {
		enabled := u.Enabled
		out.Enabled = &enabled
	}
	if s.cfg.statusStyle != StatusEnabled {
		out.UserIndicators = s.st.indicators(u)
		if s.cfg.misspelledIndicator {
			out.UserIndicators = s.st.superAdminIndicator(u, out.UserIndicators)
		}
	}
	return out
}

// handleV3List implements GET /encompass/v3/users.
func (s *Server) handleV3List(w http.ResponseWriter, r *http.Request) {
	start, ok1 := intParam(r, "start", 0)
	limit, ok2 := intParam(r, "limit", v3DefaultLimit)
	if !ok1 || !ok2 {
		badRequest(w, "start and limit must be non-negative integers.")
		return
	}
	if limit == 0 {
		limit = v3DefaultLimit
	}
	limit = min(limit, v3MaxLimit)
	q := r.URL.Query()
	login := q.Get("loginId")
	if s.cfg.ignoreLoginFilter {
		login = ""
	}
	orgID := q.Get("orgId")
	recursive := strings.EqualFold(q.Get("isRecursive"), "true")

	s.st.mu.RLock()
	var page []v3User
	total := 0
	switch {
	case login != "":
		if u := s.st.lookup(login); u != nil && (orgID == "" || s.orgMatch(u, orgID, recursive)) {
			total = 1
			if start == 0 {
				page = append(page, s.toV3(u))
			}
		}
	case orgID != "":
		for _, id := range s.st.ids {
			u := s.st.users[id]
			if !s.orgMatch(u, orgID, recursive) {
				continue
			}
			if total >= start && len(page) < limit {
				page = append(page, s.toV3(u))
			}
			total++
		}
	default:
		total = len(s.st.ids)
		if start < total {
			end := min(start+limit, total)
			page = make([]v3User, 0, end-start)
			for _, id := range s.st.ids[start:end] {
				page = append(page, s.toV3(s.st.users[id]))
			}
		}
	}
	s.st.mu.RUnlock()
	if page == nil {
		page = []v3User{}
	}
	if s.cfg.listWrapper == ListItemsObject {
		s.writeV3(w, http.StatusOK, struct {
			Items      []v3User `json:"items"`
			TotalCount int      `json:"totalCount"`
		}{page, total})
		return
	}
	s.writeV3(w, http.StatusOK, page)
}

func (s *Server) orgMatch(u *SimUser, orgID string, recursive bool) bool {
	if recursive {
		return s.st.orgWithin(u.OrganizationID, orgID)
	}
	return u.OrganizationID == orgID
}

// handleV3Get implements GET /encompass/v3/users/{id}.
func (s *Server) handleV3Get(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	u := s.st.lookup(r.PathValue("id"))
	var out v3User
	if u != nil {
		out = s.toV3(u)
	}
	s.st.mu.RUnlock()
	if u == nil {
		notFound(w, fmt.Sprintf("User %q was not found.", r.PathValue("id")))
		return
	}
	s.writeV3(w, http.StatusOK, out)
}

// handleV3Me implements GET /encompass/v3/users/me (password grant only).
func (s *Server) handleV3Me(w http.ResponseWriter, r *http.Request) {
	t := tokenFrom(r)
	if t == nil || t.userID == "" {
		badRequest(w, "The access token has no user context.")
		return
	}
	r.SetPathValue("id", t.userID)
	s.handleV3Get(w, r)
}

// handleV3UserPersonas implements GET /encompass/v3/users/{id}/personas.
func (s *Server) handleV3UserPersonas(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	u := s.st.lookup(r.PathValue("id"))
	var out []v3Persona
	if u != nil {
		out = s.toV3(u).Personas
	}
	s.st.mu.RUnlock()
	if u == nil {
		notFound(w, fmt.Sprintf("User %q was not found.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeObject decodes a JSON object into lower-cased keys, because
// Encompass matches field names case-insensitively.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	if raw == nil {
		return nil, errors.New("the request body is not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("the request body has trailing data")
	}
	out := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

// v3Fields maps lower-cased v3 field names to setters on a user.
var v3StringFields = map[string]func(*SimUser) *string{
	"firstname":          func(u *SimUser) *string { return &u.FirstName },
	"middlename":         func(u *SimUser) *string { return &u.MiddleName },
	"lastname":           func(u *SimUser) *string { return &u.LastName },
	"suffix":             func(u *SimUser) *string { return &u.Suffix },
	"email":              func(u *SimUser) *string { return &u.Email },
	"phone":              func(u *SimUser) *string { return &u.Phone },
	"cellphone":          func(u *SimUser) *string { return &u.CellPhone },
	"fax":                func(u *SimUser) *string { return &u.Fax },
	"title":              func(u *SimUser) *string { return &u.Title },
	"employeeid":         func(u *SimUser) *string { return &u.EmployeeID },
	"organizationid":     func(u *SimUser) *string { return &u.OrganizationID },
	"nmlsoriginatorid":   func(u *SimUser) *string { return &u.NMLSOriginatorID },
	"nmlsexpirationdate": func(u *SimUser) *string { return &u.NMLSExpirationDate },
	"workingfolder":      func(u *SimUser) *string { return &u.WorkingFolder },
}

var v3BoolFields = map[string]func(*SimUser) *bool{
	"enabled":               func(u *SimUser) *bool { return &u.Enabled },
	"requirepasswordchange": func(u *SimUser) *bool { return &u.RequirePasswordChange },
	"ssoonly":               func(u *SimUser) *bool { return &u.SSOOnly },
}

// v3Ignored are fields Encompass accepts but the simulator does not model.
var v3Ignored = map[string]bool{"statelicenses": true, "fullname": true, "apiuser": true}

// applyV3 applies v3 fields to u. It returns the new password, if any.
func (s *Server) applyV3(u *SimUser, f map[string]json.RawMessage, create bool) (string, error) {
	var password string
	hasEnabled := false
	for k, raw := range f {
		isNull := string(raw) == "null"
		if get, ok := v3StringFields[k]; ok {
			var v string
			if !isNull {
				if err := json.Unmarshal(raw, &v); err != nil {
					return "", fmt.Errorf("%s must be a string", k)
				}
			}
			*get(u) = v
			continue
		}
		if get, ok := v3BoolFields[k]; ok {
			var v bool
			if err := json.Unmarshal(raw, &v); err != nil || isNull {
				return "", fmt.Errorf("%s must be true or false", k)
			}
			*get(u) = v
			hasEnabled = hasEnabled || k == "enabled"
			continue
		}
		switch {
		case v3Ignored[k]:
		case k == "id":
			var v string
			if err := json.Unmarshal(raw, &v); err != nil || (!create && !strings.EqualFold(v, u.ID)) {
				return "", errors.New("id cannot be changed")
			}
		case k == "loginid":
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", errors.New("loginId must be a string")
			}
			if !create && !strings.EqualFold(v, u.LoginID) {
				return "", errors.New("loginId cannot be changed")
			}
			u.LoginID = v
		case k == "password":
			if err := json.Unmarshal(raw, &password); err != nil || isNull {
				return "", errors.New("password must be a string")
			}
		case k == "personas":
			ids, err := decodePersonaRefs(raw)
			if err != nil {
				return "", err
			}
			u.Personas = ids
		case k == "userindicators":
			var ind []string
			if err := json.Unmarshal(raw, &ind); err != nil {
				return "", errors.New("userIndicators must be an array of strings")
			}
			if !hasEnabled && f["enabled"] == nil {
				for _, i := range ind {
					switch {
					case strings.EqualFold(i, "Disabled"):
						u.Enabled = false
					case strings.EqualFold(i, "Enabled"):
						u.Enabled = true
					}
				}
			}
		default:
			return "", fmt.Errorf("unknown field %q", k)
		}
	}
	return password, nil
}

// decodePersonaRefs accepts ["10"], [{"id": "10"}] and [{"entityId": 10}].
func decodePersonaRefs(raw json.RawMessage) ([]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("personas must be an array")
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		var id string
		if err := json.Unmarshal(it, &id); err == nil {
			ids = append(ids, id)
			continue
		}
		var obj struct {
			ID       json.RawMessage `json:"id"`
			EntityID json.RawMessage `json:"entityId"`
		}
		if err := json.Unmarshal(it, &obj); err != nil {
			return nil, errors.New("personas must be persona ids or objects with an id")
		}
		ref := obj.ID
		if ref == nil {
			ref = obj.EntityID
		}
		id, ok := scalarString(ref)
		if !ok {
			return nil, errors.New("every persona needs an id")
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// scalarString reads a JSON string or number as a string (SCIM sends
// entityId as a number and answers it as a string).
func scalarString(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil && s != "" {
		return s, true
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil && n != "" {
		return n.String(), true
	}
	return "", false
}

// handleV3Create implements POST /encompass/v3/users.
func (s *Server) handleV3Create(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	f, err := decodeObject(body)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	u := &SimUser{Enabled: true}
	password, err := s.applyV3(u, f, true)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if f["organizationid"] == nil {
		badRequest(w, "organizationId is required.")
		return
	}
	if password == "" && !u.SSOOnly {
		badRequest(w, "password is required unless ssoOnly is true.")
		return
	}
	if password != "" {
		if err := checkNewPassword(password, u.SSOOnly); err != nil {
			badRequest(w, err.Error())
			return
		}
		u.Password = password
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.st.checkUser(u); err != nil {
		badRequest(w, err.Error())
		return
	}
	if s.st.lookup(u.LoginID) != nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("A user with login id %q already exists.", u.LoginID), "EBS-409")
		return
	}
	u.Created = time.Now().UTC().Truncate(time.Second)
	u.Modified = u.Created
	s.st.put(u)
	w.Header().Set("Location", "/encompass/v3/users/"+u.ID)
	s.writeV3(w, http.StatusCreated, s.toV3(u))
}

// handleV3Patch implements PATCH /encompass/v3/users/{id}. Like the
// reference document, it answers the id and the fields that were sent.
func (s *Server) handleV3Patch(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	f, err := decodeObject(body)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cur := s.st.lookup(r.PathValue("id"))
	if cur == nil {
		notFound(w, fmt.Sprintf("User %q was not found.", r.PathValue("id")))
		return
	}
	u := cur.clone()
	password, err := s.applyV3(&u, f, false)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if password != "" {
		if err := checkNewPassword(password, u.SSOOnly); err != nil {
			badRequest(w, err.Error())
			return
		}
		u.Password = password
	}
	if u.SSOOnly {
		u.Password = ""
	}
	if err := s.st.checkUser(&u); err != nil {
		badRequest(w, err.Error())
		return
	}
	*cur = u
	s.st.touched(cur, tokenUser(r))
	full, _ := json.Marshal(s.toV3(cur))
	var all map[string]json.RawMessage
	_ = json.Unmarshal(full, &all)
	out := map[string]json.RawMessage{"id": all["id"]}
	for k, v := range all {
		if _, sent := f[strings.ToLower(k)]; sent {
			out[k] = v
		}
	}
	s.writeV3(w, http.StatusOK, out)
}

// handleV3Delete implements DELETE /encompass/v3/users/{id} (a real delete).
func (s *Server) handleV3Delete(w http.ResponseWriter, r *http.Request) {
	s.st.mu.Lock()
	ok := s.st.remove(strings.ToLower(r.PathValue("id")))
	s.st.mu.Unlock()
	if !ok {
		notFound(w, fmt.Sprintf("User %q was not found.", r.PathValue("id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func tokenUser(r *http.Request) string {
	if t := tokenFrom(r); t != nil && t.userID != "" {
		return t.userID
	}
	return "<api>"
}

// writeV3 writes v3 user JSON with the tenant quirks chosen by options.
func (s *Server) writeV3(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if s.cfg.nmlsIDCasing {
		b = bytes.ReplaceAll(b, []byte(`"nmlsOriginatorId":`), []byte(`"nmlsOriginatorID":`))
	}
	writeRaw(w, status, b)
}
