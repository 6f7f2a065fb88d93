package encompasstest

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// SimUser is one Encompass user as the simulator stores it. The v3 and SCIM
// APIs are two views of this one record, as they are two views of one user
// table in Encompass.
type SimUser struct {
	// ID is the Encompass user id: the lower-cased login id.
	ID string `json:"id"`
	// GlobalUserID is the SCIM GUID. Users created through v3 (or seeded
	// without one) have none and are therefore invisible to SCIM lists.
	GlobalUserID          string   `json:"globalUserId,omitempty"`
	LoginID               string   `json:"loginId"`
	FirstName             string   `json:"firstName,omitempty"`
	MiddleName            string   `json:"middleName,omitempty"`
	LastName              string   `json:"lastName,omitempty"`
	Suffix                string   `json:"suffix,omitempty"`
	Email                 string   `json:"email,omitempty"`
	Phone                 string   `json:"phone,omitempty"`
	CellPhone             string   `json:"cellPhone,omitempty"`
	Fax                   string   `json:"fax,omitempty"`
	Title                 string   `json:"title,omitempty"`
	EmployeeID            string   `json:"employeeId,omitempty"`
	OrganizationID        string   `json:"organizationId"`
	Personas              []string `json:"personas,omitempty"` // persona ids
	Enabled               bool     `json:"enabled"`
	Locked                bool     `json:"locked,omitempty"`
	NMLSOriginatorID      string   `json:"nmlsOriginatorId,omitempty"`
	NMLSExpirationDate    string   `json:"nmlsExpirationDate,omitempty"`
	WorkingFolder         string   `json:"workingFolder,omitempty"`
	RequirePasswordChange bool     `json:"requirePasswordChange,omitempty"`
	SSOOnly               bool     `json:"ssoOnly,omitempty"`
	APIUser               bool     `json:"apiUser,omitempty"`
	// Password is kept so that the password grant works for seeded users
	// and tests can assert one was set; no API response ever contains it.
	Password   string    `json:"password,omitempty"`
	Comments   string    `json:"comments,omitempty"`
	ChumID     string    `json:"chumId,omitempty"`
	Licenses   []License `json:"licenses,omitempty"`
	Created    time.Time `json:"created,omitzero"`
	Modified   time.Time `json:"lastModified,omitzero"`
	ModifiedBy string    `json:"lastModifiedBy,omitempty"`
	// AIQ is the DDA (AIQ) profile linked to the user's global user id;
	// nil when it has none. Only a user with a global user id can have one.
	AIQ *AIQProfile `json:"aiq,omitempty"`
}

// License is a state license (SCIM `licenses`).
type License struct {
	StateAbbreviation string `json:"stateAbbreviation"`
	Selected          bool   `json:"selected"`
	LicenseNumber     string `json:"licenseNumber,omitempty"`
	LicenseStatusType string `json:"licenseStatusType,omitempty"`
	IssueDate         string `json:"issueDate,omitempty"`
	StartDate         string `json:"startDate,omitempty"`
	EndDate           string `json:"endDate,omitempty"`
	StatusDate        string `json:"statusDate,omitempty"`
	LastChecked       string `json:"lastChecked,omitempty"`
}

// Persona is an Encompass persona (role).
type Persona struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Organization is a node of the Encompass organization tree.
type Organization struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ParentID string `json:"parentId,omitempty"`
}

// Group is an Encompass user group (SCIM EncompassGroup).
type Group struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Members []GroupMember `json:"members,omitempty"`
	// Modified is when the members last changed.
	Modified time.Time `json:"lastModified,omitzero"`
}

// GroupMember is a user or an organization in a user group.
type GroupMember struct {
	Type     string `json:"type"`  // "User" or "Organization"
	Value    string `json:"value"` // user id or organization id
	OrgLevel string `json:"orgLevel,omitempty"`
}

func (u *SimUser) clone() SimUser {
	c := *u
	c.Personas = slices.Clone(u.Personas)
	c.Licenses = slices.Clone(u.Licenses)
	if u.AIQ != nil {
		a := *u.AIQ
		c.AIQ = &a
	}
	return c
}

// store holds all simulator state. One mutex guards everything: requests
// are small and the simulator favours obviously-correct over clever.
type store struct {
	mu       sync.RWMutex
	users    map[string]*SimUser // by id (lower-case login id)
	ids      []string            // sorted user ids, for stable paging
	byGUID   map[string]string   // global user id -> id
	personas []Persona
	orgs     []Organization
	groups   []*Group
	hooks    map[string]*subscription
	hookIDs  []string
}

func newStore() *store {
	return &store{
		users:  make(map[string]*SimUser),
		byGUID: make(map[string]string),
		hooks:  make(map[string]*subscription),
	}
}

// put inserts or replaces a user; the caller holds mu.
func (s *store) put(u *SimUser) {
	u.ID = strings.ToLower(u.LoginID)
	if old, ok := s.users[u.ID]; ok {
		if old.GlobalUserID != "" && old.GlobalUserID != u.GlobalUserID {
			delete(s.byGUID, strings.ToLower(old.GlobalUserID))
		}
	} else {
		i, _ := slices.BinarySearch(s.ids, u.ID)
		s.ids = slices.Insert(s.ids, i, u.ID)
	}
	s.users[u.ID] = u
	if u.GlobalUserID != "" {
		s.byGUID[strings.ToLower(u.GlobalUserID)] = u.ID
	}
}

// bulkPut adds many users at once and sorts the id slice once; the caller
// holds mu. Used by WithUsers so that 100,000 users take milliseconds.
func (s *store) bulkPut(us []*SimUser) {
	for _, u := range us {
		u.ID = lower(u.LoginID)
		if _, ok := s.users[u.ID]; !ok {
			s.ids = append(s.ids, u.ID)
		}
		s.users[u.ID] = u
		if u.GlobalUserID != "" {
			s.byGUID[strings.ToLower(u.GlobalUserID)] = u.ID
		}
	}
	if !slices.IsSorted(s.ids) {
		slices.Sort(s.ids)
	}
}

// remove deletes a user; the caller holds mu.
func (s *store) remove(id string) bool {
	u, ok := s.users[id]
	if !ok {
		return false
	}
	delete(s.users, id)
	if u.GlobalUserID != "" {
		delete(s.byGUID, strings.ToLower(u.GlobalUserID))
	}
	if i, found := slices.BinarySearch(s.ids, id); found {
		s.ids = slices.Delete(s.ids, i, i+1)
	}
	for _, g := range s.groups {
		g.Members = slices.DeleteFunc(g.Members, func(m GroupMember) bool {
			return m.Type == "User" && strings.EqualFold(m.Value, id)
		})
	}
	return true
}

// touched marks a user as changed; the caller holds mu.
func (s *store) touched(u *SimUser, by string) {
	u.Modified = time.Now().UTC().Truncate(time.Second)
	if by != "" {
		u.ModifiedBy = by
	}
}

// lookup finds a user by id or login id (case-insensitive); the caller holds mu.
func (s *store) lookup(idOrLogin string) *SimUser {
	return s.users[strings.ToLower(idOrLogin)]
}

func (s *store) persona(id string) (Persona, bool) {
	for _, p := range s.personas {
		if p.ID == id {
			return p, true
		}
	}
	return Persona{}, false
}

func (s *store) personaName(id string) string {
	p, _ := s.persona(id)
	return p.Name
}

func (s *store) org(id string) (Organization, bool) {
	for _, o := range s.orgs {
		if o.ID == id {
			return o, true
		}
	}
	return Organization{}, false
}

// orgDescendants reports whether org is root or below root.
func (s *store) orgWithin(org, root string) bool {
	for range len(s.orgs) + 1 {
		if org == root {
			return true
		}
		o, ok := s.org(org)
		if !ok || o.ParentID == "" || o.ParentID == o.ID {
			return false
		}
		org = o.ParentID
	}
	return false
}

func (s *store) group(id string) *Group {
	for _, g := range s.groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func (s *store) groupByName(name string) *Group {
	for _, g := range s.groups {
		if strings.EqualFold(g.Name, name) {
			return g
		}
	}
	return nil
}

// memberCovers reports whether a group member entry includes u: the user
// itself, its organization, or (Recursive) an ancestor organization.
func (s *store) memberCovers(m GroupMember, u *SimUser) bool {
	switch m.Type {
	case "User":
		return strings.EqualFold(m.Value, u.ID)
	case "Organization":
		if m.OrgLevel == "Recursive" {
			return s.orgWithin(u.OrganizationID, m.Value)
		}
		return m.Value == u.OrganizationID
	}
	return false
}

// lower avoids an allocation for ids that are already lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}
