package encompasstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	scimDefaultCount = 10
	scimMaxCount     = 100
)

// noContent is what Encompass answers (with status 200) to SCIM PATCH and
// DELETE.
var noContent = []byte(`{"description":"No Content"}`)

type scimRef struct {
	EntityName string `json:"entityName,omitempty"`
	EntityType string `json:"entityType"`
	EntityID   string `json:"entityId"`
}

type scimMeta struct {
	Created      string `json:"created,omitempty"`
	Location     string `json:"location,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	ResourceType string `json:"resourceType"`
}

type scimName struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

type scimTyped struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type scimLicense struct {
	StatusDate        string `json:"statusDate,omitempty"`
	EndDate           string `json:"endDate,omitempty"`
	StateAbbreviation string `json:"stateAbbreviation"`
	LicenseStatus     string `json:"licenseStatus,omitempty"`
	LicenseNumber     string `json:"licenseNumber,omitempty"`
	LicenseStatusType string `json:"licenseStatusType,omitempty"`
	IssueDate         string `json:"issueDate,omitempty"`
	LastChecked       string `json:"lastChecked,omitempty"`
	Selected          bool   `json:"selected"`
	StartDate         string `json:"startDate,omitempty"`
}

// scimUserFull is the EncompassInternalUser object of GET /users/{id} and
// of the create answer (reference 001), in the documented field order.
type scimUserFull struct {
	SSODisconnectedFromOrg bool          `json:"ssoDisconnectedFromOrg"`
	JobTitle               string        `json:"jobTitle,omitempty"`
	CompensationPlans      struct{}      `json:"compensationPlans"`
	IsSSOOnly              bool          `json:"isSsoOnly"`
	CCSite                 struct{}      `json:"ccSite"`
	AccountEnabled         bool          `json:"accountEnabled"`
	APIUser                bool          `json:"apiUser"`
	PhoneNumbers           []scimTyped   `json:"phoneNumbers"`
	UserIndicators         []string      `json:"userIndicators"`
	WorkingFolder          string        `json:"workingFolder,omitempty"`
	Emails                 []scimTyped   `json:"emails"`
	SubordinateLoanAccess  string        `json:"subordinateLoanAccess"`
	ChumID                 string        `json:"chumId,omitempty"`
	LoginEnabled           bool          `json:"loginEnabled"`
	ID                     string        `json:"id"`
	PeerLoanAccess         string        `json:"peerLoanAccess"`
	NMLSOriginatorID       string        `json:"nmlsOriginatorId,omitempty"`
	NMLSExpirationDate     string        `json:"nmlsExpirationDate,omitempty"`
	Comments               string        `json:"comments,omitempty"`
	AllowImpersonation     bool          `json:"allowImpersonation"`
	LastModifiedBy         scimRef       `json:"lastModifiedBy"`
	EmployeeID             string        `json:"employeeId,omitempty"`
	Groups                 []scimRef     `json:"groups,omitempty"`
	UserName               string        `json:"userName"`
	Personas               []scimRef     `json:"personas"`
	Licenses               []scimLicense `json:"licenses"`
	CreatedBy              scimRef       `json:"createdBy"`
	Meta                   scimMeta      `json:"meta"`
	Organization           scimRef       `json:"organization"`
	Name                   scimName      `json:"name"`
	RequirePasswordChange  bool          `json:"requirePasswordChange"`
}

// scimUserSummary is the reduced user object of the list answer.
type scimUserSummary struct {
	Emails         []scimTyped   `json:"emails"`
	CreatedBy      scimRef       `json:"createdBy"`
	Meta           scimMeta      `json:"meta"`
	LastModifiedBy scimRef       `json:"lastModifiedBy"`
	Name           scimName      `json:"name"`
	LoginEnabled   bool          `json:"loginEnabled"`
	ID             string        `json:"id"`
	UserName       string        `json:"userName"`
	AccountEnabled bool          `json:"accountEnabled"`
	PhoneNumbers   []scimTyped   `json:"phoneNumbers"`
	Personas       []scimRef     `json:"personas,omitempty"`
	Licenses       []scimLicense `json:"licenses,omitempty"`
}

type scimUserResource[T any] struct {
	Schemas []string `json:"schemas"`
	ID      string   `json:"id"`
	User    T        `json:"urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassInternalUser"`
}

// scimList is a ListResponse; Encompass sends the totals as strings.
type scimList[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults string   `json:"totalResults"`
	ItemsPerPage string   `json:"itemsPerPage"`
	StartIndex   string   `json:"startIndex"`
	Resources    []T      `json:"Resources"`
}

type scimErrorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// scimError writes an RFC 7644 error (status as a string, like the totals).
func scimError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, scimErrorBody{Schemas: []string{SchemaError}, Status: strconv.Itoa(status), Detail: detail})
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func baseURL(r *http.Request) string { return "http://" + r.Host }

func systemRef(by string) scimRef {
	if by == "" {
		by = "<system>"
	}
	return scimRef{EntityType: "User", EntityID: by}
}

// scimPhones is a profile's phoneNumbers: the work, mobile and fax numbers
// it has, in that order.
func scimPhones(work, mobile, fax string) []scimTyped {
	out := []scimTyped{}
	for _, p := range []scimTyped{{"work", work}, {"mobile", mobile}, {"fax", fax}} {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) scimPersonas(u *SimUser) []scimRef {
	out := make([]scimRef, 0, len(u.Personas))
	for _, p := range u.Personas {
		out = append(out, scimRef{EntityName: s.st.personaName(p), EntityType: "Persona", EntityID: p})
	}
	return out
}

// spaced turns "TransitionRequested" into "Transition Requested".
func spaced(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scimLicenses answers every state, as Encompass does: the licensed ones in
// full and the rest as {"stateAbbreviation", "selected": false}.
func scimLicenses(u *SimUser) []scimLicense {
	out := make([]scimLicense, 0, len(usStates))
	for _, st := range usStates {
		i := slices.IndexFunc(u.Licenses, func(l License) bool { return l.StateAbbreviation == st })
		if i < 0 {
			out = append(out, scimLicense{StateAbbreviation: st})
			continue
		}
		l := u.Licenses[i]
		out = append(out, scimLicense{
			StatusDate: l.StatusDate, EndDate: l.EndDate, StateAbbreviation: st,
			LicenseStatus: spaced(l.LicenseStatusType), LicenseNumber: l.LicenseNumber,
			LicenseStatusType: l.LicenseStatusType, IssueDate: l.IssueDate, LastChecked: l.LastChecked,
			Selected: l.Selected, StartDate: l.StartDate,
		})
	}
	return out
}

func (s *Server) scimName(u *SimUser) scimName {
	formatted := strings.Join(slices.DeleteFunc([]string{u.FirstName, u.MiddleName, u.LastName, u.Suffix},
		func(p string) bool { return p == "" }), " ")
	return scimName{Formatted: formatted, FamilyName: u.LastName, GivenName: u.FirstName,
		MiddleName: u.MiddleName, HonorificSuffix: u.Suffix}
}

func (s *Server) scimMeta(r *http.Request, u *SimUser) scimMeta {
	return scimMeta{Created: stamp(u.Created), Location: baseURL(r) + "/v1/users/" + u.GlobalUserID,
		LastModified: stamp(u.Modified), ResourceType: "User"}
}

// toSCIMFull renders a user; the caller holds st.mu.
func (s *Server) toSCIMFull(r *http.Request, u *SimUser) scimUserResource[scimUserFull] {
	var ind []string
	if o, ok := s.st.org(u.OrganizationID); ok && o.ParentID == "" {
		ind = append(ind, "TopLevelUser")
	}
	if u.Locked {
		ind = append(ind, "Locked")
	}
	if ind == nil {
		ind = []string{}
	}
	var groups []scimRef
	for _, g := range s.st.groups {
		if slices.ContainsFunc(g.Members, func(m GroupMember) bool { return s.st.memberCovers(m, u) }) {
			groups = append(groups, scimRef{EntityName: g.Name, EntityType: "UserGroup", EntityID: g.ID})
		}
	}
	org, _ := s.st.org(u.OrganizationID)
	emails := []scimTyped{}
	if u.Email != "" {
		emails = append(emails, scimTyped{"work", u.Email})
	}
	full := scimUserFull{
		JobTitle: u.Title, IsSSOOnly: u.SSOOnly, AccountEnabled: u.Enabled, APIUser: u.APIUser,
		PhoneNumbers: scimPhones(u.Phone, u.CellPhone, u.Fax), UserIndicators: ind, WorkingFolder: u.WorkingFolder, Emails: emails,
		SubordinateLoanAccess: "ReadOnly", ChumID: u.ChumID, LoginEnabled: u.Enabled && !u.Locked, ID: u.ID,
		PeerLoanAccess: "Disabled", NMLSOriginatorID: u.NMLSOriginatorID, NMLSExpirationDate: u.NMLSExpirationDate,
		Comments: u.Comments, LastModifiedBy: systemRef(u.ModifiedBy), EmployeeID: u.EmployeeID, Groups: groups,
		UserName: u.ID, Personas: s.scimPersonas(u), Licenses: scimLicenses(u), CreatedBy: systemRef(""),
		Meta:         s.scimMeta(r, u),
		Organization: scimRef{EntityName: org.Name, EntityType: "Organization", EntityID: u.OrganizationID},
		Name:         s.scimName(u), RequirePasswordChange: u.RequirePasswordChange,
	}
	return scimUserResource[scimUserFull]{Schemas: []string{SchemaCoreUser, SchemaEncompassUser}, ID: u.GlobalUserID, User: full}
}

func (s *Server) toSCIMSummary(r *http.Request, u *SimUser, personas, licenses bool) scimUserResource[scimUserSummary] {
	emails := []scimTyped{}
	if u.Email != "" {
		emails = append(emails, scimTyped{"work", u.Email})
	}
	sum := scimUserSummary{
		Emails: emails, CreatedBy: systemRef(""), Meta: s.scimMeta(r, u), LastModifiedBy: systemRef(u.ModifiedBy),
		Name:         scimName{FamilyName: u.LastName, GivenName: u.FirstName},
		LoginEnabled: u.Enabled && !u.Locked, ID: u.ID, UserName: u.ID, AccountEnabled: u.Enabled,
		PhoneNumbers: scimPhones(u.Phone, u.CellPhone, u.Fax),
	}
	if personas {
		sum.Personas = s.scimPersonas(u)
	}
	if licenses {
		sum.Licenses = scimLicenses(u)
	}
	return scimUserResource[scimUserSummary]{Schemas: []string{SchemaEncompassUser, SchemaCoreUser}, ID: u.GlobalUserID, User: sum}
}

// requireSchema enforces the documented required `schema` query parameter.
func requireSchema(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	sc := r.URL.Query().Get("schema")
	if sc == "" {
		scimError(w, http.StatusBadRequest, "The schema query parameter is required.")
		return false
	}
	for _, a := range allowed {
		if strings.EqualFold(sc, a) {
			return true
		}
	}
	scimError(w, http.StatusBadRequest, fmt.Sprintf("Schema %q is not supported.", sc))
	return false
}

// scimPage reads startIndex (default 1) and count (default 10, at most 100).
func scimPage(r *http.Request) (start, count int, ok bool) {
	start, ok1 := intParam(r, "startIndex", 1)
	count, ok2 := intParam(r, "count", scimDefaultCount)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return max(start, 1), min(count, scimMaxCount), true
}

// handleSCIMList implements GET /scim2/v1/users. Only users with a global
// user id are listed. Without enc_orgId the root organization is meant, and
// without enc_isRecursive eq true only its direct users, as documented.
func (s *Server) handleSCIMList(w http.ResponseWriter, r *http.Request) {
	if isAIQSchema(r) {
		s.handleAIQList(w, r)
		return
	}
	if !requireSchema(w, r, SchemaEncompassUser, SchemaEncompassUserAlt) {
		return
	}
	start, count, ok := scimPage(r)
	if !ok {
		scimError(w, http.StatusBadRequest, "startIndex and count must be non-negative integers.")
		return
	}
	var userName, orgID string
	var hasUser, hasOrg, recursive bool
	if f := r.URL.Query().Get("filter"); f != "" {
		terms, err := parseFilter(f)
		if err != nil {
			scimError(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
			return
		}
		for _, t := range terms {
			switch strings.ToLower(t.Name) {
			case "username":
				if !s.cfg.ignoreUserNameFltr {
					userName, hasUser = t.Value, true
				}
			case "enc_orgid":
				orgID, hasOrg = t.Value, true
			case "enc_isrecursive":
				b, err := strconv.ParseBool(t.Value)
				if err != nil {
					scimError(w, http.StatusBadRequest, "enc_isRecursive must be true or false.")
					return
				}
				recursive = b
			default:
				scimError(w, http.StatusBadRequest, fmt.Sprintf("Filter attribute %q is not supported.", t.Name))
				return
			}
		}
		if hasUser && (hasOrg || strings.Contains(strings.ToLower(f), "enc_isrecursive")) {
			scimError(w, http.StatusBadRequest, "The userName filter cannot be combined with enc_orgId or enc_isRecursive.")
			return
		}
	}
	attrs := strings.ToLower(r.URL.Query().Get("attributes"))
	withPersonas, withLicenses := strings.Contains(attrs, "personas"), strings.Contains(attrs, "licenses")

	s.st.mu.RLock()
	if !hasOrg {
		for _, o := range s.st.orgs {
			if o.ParentID == "" {
				orgID = o.ID
				break
			}
		}
	}
	var page []scimUserResource[scimUserSummary]
	total := 0
	consider := func(u *SimUser) {
		if u == nil || u.GlobalUserID == "" {
			return
		}
		total++
		if total >= start && len(page) < count {
			page = append(page, s.toSCIMSummary(r, u, withPersonas, withLicenses))
		}
	}
	if hasUser {
		consider(s.st.lookup(userName))
	} else {
		for _, id := range s.st.ids {
			if u := s.st.users[id]; u.GlobalUserID != "" && s.orgMatch(u, orgID, recursive) {
				consider(u)
			}
		}
	}
	s.st.mu.RUnlock()
	if page == nil {
		page = []scimUserResource[scimUserSummary]{}
	}
	writeJSON(w, http.StatusOK, scimList[scimUserResource[scimUserSummary]]{
		Schemas: []string{SchemaListResponse}, TotalResults: strconv.Itoa(total),
		ItemsPerPage: strconv.Itoa(len(page)), StartIndex: strconv.Itoa(start), Resources: page,
	})
}

// handleSCIMGet implements GET /scim2/v1/users/{id} (id = global user id).
func (s *Server) handleSCIMGet(w http.ResponseWriter, r *http.Request) {
	if isAIQSchema(r) {
		s.handleAIQGet(w, r)
		return
	}
	if !requireSchema(w, r, SchemaEncompassUser, SchemaEncompassUserAlt) {
		return
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.scimUserOr404(w, r)
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.toSCIMFull(r, u))
}

// scimUser finds a user by global user id; the caller holds st.mu.
func (s *Server) scimUser(guid string) *SimUser {
	id, ok := s.st.byGUID[strings.ToLower(guid)]
	if !ok {
		return nil
	}
	return s.st.users[id]
}

// scimUserOr404 returns the user of the request's {id} (a global user id),
// or answers 404 and returns nil. The caller holds s.st.mu.
func (s *Server) scimUserOr404(w http.ResponseWriter, r *http.Request) *SimUser {
	u := s.scimUser(r.PathValue("id"))
	if u == nil {
		scimError(w, http.StatusNotFound, fmt.Sprintf("User %q was not found.", r.PathValue("id")))
	}
	return u
}

// handleSCIMCreate implements POST /scim2/v1/users.
func (s *Server) handleSCIMCreate(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	f, err := decodeObject(body)
	if err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	ext := f[strings.ToLower(SchemaEncompassUser)]
	if ext == nil {
		ext = f[strings.ToLower(SchemaEncompassUserAlt)]
	}
	if ext == nil {
		// ICE does not support standalone DDA users: a DDA profile is
		// added to an Encompass user's global user id with PATCH.
		scimError(w, http.StatusBadRequest, "The body needs an "+SchemaEncompassUser+" object; standalone DDA ("+SchemaAIQUser+") users are not supported, add the profile to an existing user with PATCH.")
		return
	}
	u := &SimUser{Enabled: true}
	e := &scimEdit{u: u, create: true}
	if err := e.applyObject("add", ext); err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	if u.LoginID == "" {
		scimError(w, http.StatusBadRequest, "userName is required.")
		return
	}
	switch {
	case e.password != "" && (u.SSOOnly || u.APIUser):
		scimError(w, http.StatusBadRequest, "password cannot be set when isSsoOnly or apiUser is true.")
		return
	case e.password == "" && !u.SSOOnly && !u.APIUser:
		scimError(w, http.StatusBadRequest, "password is required unless isSsoOnly or apiUser is true.")
		return
	case e.password != "":
		if err := checkPasswordPolicy(e.password); err != nil {
			scimError(w, http.StatusBadRequest, err.Error())
			return
		}
		u.Password = e.password
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	// Instance defaults (Server Settings > Policies) for what was left out.
	if u.OrganizationID == "" {
		for _, o := range s.st.orgs {
			if o.ParentID == "" {
				u.OrganizationID = o.ID
				break
			}
		}
	}
	if u.WorkingFolder == "" {
		u.WorkingFolder = "My Pipeline"
	}
	if err := s.st.checkUser(u); err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.st.lookup(u.LoginID) != nil {
		scimError(w, http.StatusConflict, fmt.Sprintf("A user with userName %q already exists.", u.LoginID))
		return
	}
	u.GlobalUserID = newGUID()
	u.Created = time.Now().UTC().Truncate(time.Second)
	u.Modified = u.Created
	s.st.put(u)
	w.Header().Set("Location", baseURL(r)+"/scim2/v1/users/"+u.GlobalUserID)
	writeJSON(w, http.StatusCreated, s.toSCIMFull(r, u))
}

// handleSCIMPatch implements PATCH /scim2/v1/users/{id}.
func (s *Server) handleSCIMPatch(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	ops, err := parseSCIMPatch(body, SchemaEncompassUser, SchemaEncompassUserAlt, SchemaAIQUser)
	if err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cur := s.scimUserOr404(w, r)
	if cur == nil {
		return
	}
	encOps, aiqOps, err := splitAIQOps(ops)
	if err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Both schemas' changes are checked on a copy and applied together.
	c := cur.clone()
	if len(encOps) > 0 {
		if err := s.applySCIMOps(&c, encOps); err != nil {
			scimError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if len(aiqOps) > 0 {
		if status, err := s.applyAIQOps(&c, aiqOps); err != nil {
			scimError(w, status, err.Error())
			return
		}
		s.st.aiqTouched(c.AIQ, tokenUser(r))
	}
	*cur = c
	if len(encOps) > 0 {
		s.st.touched(cur, tokenUser(r))
	}
	writeRaw(w, http.StatusOK, noContent)
}

// applySCIMOps applies parsed operations to u and validates the result; on
// error u is left half-changed, so callers pass a copy.
func (s *Server) applySCIMOps(u *SimUser, ops []patchOp) error {
	e := &scimEdit{u: u}
	for _, op := range ops {
		if err := e.applyOp(op); err != nil {
			return err
		}
	}
	if e.password != "" {
		if err := checkNewPassword(e.password, u.SSOOnly); err != nil {
			return err
		}
		u.Password = e.password
	}
	if u.SSOOnly {
		u.Password = ""
	}
	return s.st.checkUser(u)
}

// handleSCIMDelete implements DELETE /scim2/v1/users/{id}: it disables the
// account, it does not delete it.
func (s *Server) handleSCIMDelete(w http.ResponseWriter, r *http.Request) {
	if isAIQSchema(r) {
		s.handleAIQDelete(w, r)
		return
	}
	if !requireSchema(w, r, SchemaEncompassUser, SchemaEncompassUserAlt) {
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	u := s.scimUserOr404(w, r)
	if u == nil {
		return
	}
	u.Enabled = false
	s.st.touched(u, tokenUser(r))
	writeRaw(w, http.StatusOK, noContent)
}

// AssignGlobalUserID gives an existing user a SCIM global user id (what the
// SCIM account links API does for users created outside SCIM) and returns it.
func (s *Server) AssignGlobalUserID(idOrLogin string) (string, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	u := s.st.find(idOrLogin)
	if u == nil {
		return "", errors.New("no such user: " + idOrLogin)
	}
	if u.GlobalUserID == "" {
		u.GlobalUserID = newGUID()
		s.st.byGUID[u.GlobalUserID] = u.ID
	}
	return u.GlobalUserID, nil
}

// mustJSON is for values that always marshal.
func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
