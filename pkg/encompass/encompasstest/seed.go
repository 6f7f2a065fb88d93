package encompasstest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Seed is the initial state of a simulator, and the format of the seed JSON
// file (-seed flag, WithSeedFile):
//
//	{
//	  "personas":      [{"id": "1", "name": "Loan Officer"}],
//	  "organizations": [{"id": "0", "name": "Administration"}, {"id": "1", "name": "Retail Lending", "parentId": "0"}],
//	  "userGroups":    [{"id": "1", "name": "All Users", "members": [{"type": "User", "value": "jdoe"}]}],
//	  "users":         [{"loginId": "jdoe", "firstName": "Jane", "lastName": "Doe", "email": "jdoe@example.com",
//	                     "organizationId": "1", "personas": ["1"], "globalUserId": "…", "password": "…"}]
//	}
//
// User fields are the SimUser JSON names; `enabled` defaults to true, and a
// user without `globalUserId` is invisible to SCIM lists (as users created
// outside SCIM are).
type Seed struct {
	Personas      []Persona      `json:"personas"`
	Organizations []Organization `json:"organizations"`
	UserGroups    []Group        `json:"userGroups"`
	Users         []SeedUser     `json:"users"`
}

// SeedUser is a user in a seed; Enabled is a pointer so that an absent
// `enabled` means enabled.
type SeedUser struct {
	SimUser
	Enabled *bool `json:"enabled,omitempty"`
}

//go:embed testdata/default_seed.json
var defaultSeedJSON []byte

// DefaultSeed returns the built-in seed: personas "Loan Officer", "Loan
// Processor", "Underwriter", "Administrator", "Super Administrator";
// organizations "Administration" (id 0), "Retail Lending", "Processing",
// "Wholesale"; groups "All Users", "Retail Loan Officers", "Processors"; a
// few users, the API admin (DefaultUsername) among them.
func DefaultSeed() Seed {
	var s Seed
	if err := json.Unmarshal(defaultSeedJSON, &s); err != nil {
		panic("encompasstest: built-in seed: " + err.Error())
	}
	return s
}

// LoadSeedFile reads and checks a seed JSON file.
func LoadSeedFile(path string) (Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("seed file: %w", err)
	}
	var s Seed
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Seed{}, fmt.Errorf("seed file %s: %w", path, err)
	}
	if err := s.check(); err != nil {
		return Seed{}, fmt.Errorf("seed file %s: %w", path, err)
	}
	return s, nil
}

// check validates references inside a seed.
func (sd Seed) check() error {
	personas := map[string]bool{}
	for _, p := range sd.Personas {
		if p.ID == "" || p.Name == "" || personas[p.ID] {
			return fmt.Errorf("persona %q: id and name are required and ids unique", p.ID)
		}
		personas[p.ID] = true
	}
	orgs := map[string]bool{}
	for _, o := range sd.Organizations {
		if o.ID == "" || o.Name == "" || orgs[o.ID] {
			return fmt.Errorf("organization %q: id and name are required and ids unique", o.ID)
		}
		orgs[o.ID] = true
	}
	for _, o := range sd.Organizations {
		if o.ParentID != "" && !orgs[o.ParentID] {
			return fmt.Errorf("organization %q: unknown parentId %q", o.ID, o.ParentID)
		}
	}
	users := map[string]bool{}
	guids := map[string]bool{}
	for _, u := range sd.Users {
		if g := strings.ToLower(u.GlobalUserID); g != "" {
			if guids[g] {
				return fmt.Errorf("user %q: duplicate globalUserId", u.LoginID)
			}
			guids[g] = true
		}
		id := strings.ToLower(u.LoginID)
		if err := checkUserName(u.LoginID); err != nil {
			return fmt.Errorf("user %q: %w", u.LoginID, err)
		}
		if users[id] {
			return fmt.Errorf("user %q: duplicate login id", u.LoginID)
		}
		if u.AIQ != nil {
			if u.GlobalUserID == "" {
				return fmt.Errorf("user %q: a DDA (aiq) profile needs a globalUserId", u.LoginID)
			}
			if err := checkUserName(u.AIQ.UserName); err != nil {
				return fmt.Errorf("user %q: aiq: %w", u.LoginID, err)
			}
		}
		users[id] = true
		if !orgs[u.OrganizationID] {
			return fmt.Errorf("user %q: unknown organizationId %q", u.LoginID, u.OrganizationID)
		}
		for _, p := range u.Personas {
			if !personas[p] {
				return fmt.Errorf("user %q: unknown persona %q", u.LoginID, p)
			}
		}
	}
	groups := map[string]bool{}
	for _, g := range sd.UserGroups {
		if g.ID == "" || g.Name == "" || groups[g.ID] {
			return fmt.Errorf("group %q: id and name are required and ids unique", g.ID)
		}
		groups[g.ID] = true
		for _, m := range g.Members {
			switch {
			case m.Type == "User" && users[strings.ToLower(m.Value)]:
			case m.Type == "Organization" && orgs[m.Value]:
			default:
				return fmt.Errorf("group %q: unknown member %s %q", g.Name, m.Type, m.Value)
			}
		}
	}
	return nil
}

// load replaces the state with a seed.
func (s *Server) load(sd Seed) error {
	if err := sd.check(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	st := newStore()
	st.personas = append([]Persona(nil), sd.Personas...)
	st.orgs = append([]Organization(nil), sd.Organizations...)
	for _, g := range sd.UserGroups {
		g.Members = append([]GroupMember(nil), g.Members...)
		for i := range g.Members {
			if g.Members[i].Type == "User" {
				g.Members[i].Value = strings.ToLower(g.Members[i].Value)
			}
		}
		if g.Modified.IsZero() {
			g.Modified = time.Now().UTC().Truncate(time.Second)
		}
		st.groups = append(st.groups, &g)
	}
	now := time.Now().UTC().Truncate(time.Second)
	us := make([]*SimUser, 0, len(sd.Users))
	for _, su := range sd.Users {
		u := su.SimUser.clone()
		u.Enabled = su.Enabled == nil || *su.Enabled
		if u.Created.IsZero() {
			u.Created = now
		}
		if u.Modified.IsZero() {
			u.Modified = u.Created
		}
		us = append(us, &u)
	}
	st.bulkPut(us)
	s.st.mu.Lock()
	s.st.users, s.st.ids, s.st.byGUID = st.users, st.ids, st.byGUID
	s.st.personas, s.st.orgs, s.st.groups = st.personas, st.orgs, st.groups
	s.st.mu.Unlock()
	return nil
}

// generateUsers adds n users named simuser000001 ... quickly: one block
// allocation for the records, one shared persona slice (every write path
// copies a user before changing it) and a presized map.
func (s *Server) generateUsers(n int) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var orgID string
	for _, o := range s.st.orgs {
		orgID = o.ID
		if o.ParentID != "" {
			break
		}
	}
	var personas []string
	if len(s.st.personas) > 0 {
		personas = []string{s.st.personas[0].ID}
	}
	if len(s.st.users) < n {
		users := make(map[string]*SimUser, n+len(s.st.users))
		for k, v := range s.st.users {
			users[k] = v
		}
		s.st.users = users
		s.st.ids = slices.Grow(s.st.ids, n)
	}
	width := max(6, len(strconv.Itoa(n)))
	now := time.Now().UTC().Truncate(time.Second)
	us := make([]*SimUser, n)
	block := make([]SimUser, n)
	digits := make([]byte, 0, 24)
	for i := range n {
		digits = strconv.AppendInt(digits[:0], int64(i+1), 10)
		num := strings.Repeat("0", width-len(digits)) + string(digits)
		// One string per user; the fields are slices of it.
		all := "User" + num + " S" + num + " simuser" + num + "@example.com"
		w := len(num)
		u := &block[i]
		u.LastName = all[:4+w]
		if w <= 9 {
			u.EmployeeID = all[5+w : 6+2*w]
		}
		u.Email = all[7+2*w:]
		u.LoginID = u.Email[:7+w]
		u.FirstName = "Sim"
		u.OrganizationID = orgID
		u.Personas = personas
		u.Enabled = true
		u.Created, u.Modified = now, now
		us[i] = u
	}
	s.st.bulkPut(us)
}
