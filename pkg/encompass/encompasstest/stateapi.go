package encompasstest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Users returns a copy of every user, sorted by id.
func (s *Server) Users() []SimUser {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]SimUser, 0, len(s.st.ids))
	for _, id := range s.st.ids {
		out = append(out, s.st.users[id].clone())
	}
	return out
}

// UserCount reports how many users exist.
func (s *Server) UserCount() int {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return len(s.st.ids)
}

// User returns a copy of the user with this id, login id (case-insensitive)
// or global user id.
func (s *Server) User(idOrLogin string) (SimUser, bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.st.find(idOrLogin)
	if u == nil {
		return SimUser{}, false
	}
	return u.clone(), true
}

// find looks a user up by id, login id or GUID; the caller holds mu.
func (st *store) find(key string) *SimUser {
	if u := st.lookup(key); u != nil {
		return u
	}
	if id, ok := st.byGUID[strings.ToLower(key)]; ok {
		return st.users[id]
	}
	return nil
}

// UpsertUser creates or replaces a user directly, as an administrator would
// in Encompass (an "external" change). The record is validated like an API
// write; ID is derived from LoginID. Created is kept for existing users.
func (s *Server) UpsertUser(u SimUser) error {
	c := u.clone()
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.st.checkUser(&c); err != nil {
		return fmt.Errorf("upsert %s: %w", u.LoginID, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if old := s.st.lookup(c.LoginID); old != nil {
		c.Created = old.Created
		if c.GlobalUserID == "" {
			c.GlobalUserID = old.GlobalUserID
		}
	} else if c.Created.IsZero() {
		c.Created = now
	}
	c.Modified = now
	c.ModifiedBy = "admin"
	s.st.put(&c)
	return nil
}

// ModifyUser changes a user in place as an external change. The change is
// validated; on error nothing changes. The id and global user id cannot be
// changed this way.
func (s *Server) ModifyUser(idOrLogin string, change func(*SimUser)) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cur := s.st.find(idOrLogin)
	if cur == nil {
		return fmt.Errorf("modify %s: no such user", idOrLogin)
	}
	c := cur.clone()
	change(&c)
	if !strings.EqualFold(c.LoginID, cur.LoginID) || c.GlobalUserID != cur.GlobalUserID {
		return fmt.Errorf("modify %s: login id and global user id cannot change", idOrLogin)
	}
	c.ID = cur.ID
	if err := s.st.checkUser(&c); err != nil {
		return fmt.Errorf("modify %s: %w", idOrLogin, err)
	}
	*cur = c
	s.st.touched(cur, "admin")
	return nil
}

// SetEnabled enables or disables a user as an external change.
func (s *Server) SetEnabled(idOrLogin string, enabled bool) error {
	return s.ModifyUser(idOrLogin, func(u *SimUser) { u.Enabled = enabled })
}

// DeleteUser removes a user entirely (and from every group), as an
// administrator deleting it in Encompass would.
func (s *Server) DeleteUser(idOrLogin string) bool {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	u := s.st.find(idOrLogin)
	if u == nil {
		return false
	}
	return s.st.remove(u.ID)
}

// AIQ returns a copy of the DDA (AIQ) profile of the user with this id,
// login id or global user id; false when the user or the profile does not
// exist.
func (s *Server) AIQ(idOrLogin string) (AIQProfile, bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.st.find(idOrLogin)
	if u == nil || u.AIQ == nil {
		return AIQProfile{}, false
	}
	return *u.AIQ, true
}

// ModifyAIQ changes (or, when the user has none, creates) the DDA profile
// of a user that has a global user id, as an administrator would in DDA (an
// "external" change). Nothing is validated but the global user id.
func (s *Server) ModifyAIQ(idOrLogin string, change func(*AIQProfile)) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	u := s.st.find(idOrLogin)
	if u == nil {
		return fmt.Errorf("modify aiq %s: no such user", idOrLogin)
	}
	if u.GlobalUserID == "" {
		return fmt.Errorf("modify aiq %s: the user has no global user id", idOrLogin)
	}
	p := AIQProfile{}
	if u.AIQ != nil {
		p = *u.AIQ
	}
	change(&p)
	s.st.aiqTouched(&p, "admin")
	u.AIQ = &p
	return nil
}

// Personas returns the personas.
func (s *Server) Personas() []Persona {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return slices.Clone(s.st.personas)
}

// Organizations returns the organizations.
func (s *Server) Organizations() []Organization {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return slices.Clone(s.st.orgs)
}

// Groups returns a copy of every user group.
func (s *Server) Groups() []Group {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Group, 0, len(s.st.groups))
	for _, g := range s.st.groups {
		c := *g
		c.Members = slices.Clone(g.Members)
		out = append(out, c)
	}
	return out
}

// Group returns the user group with this name (case-insensitive) or id.
func (s *Server) Group(nameOrID string) (Group, bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	g := s.st.groupByName(nameOrID)
	if g == nil {
		g = s.st.group(nameOrID)
	}
	if g == nil {
		return Group{}, false
	}
	c := *g
	c.Members = slices.Clone(g.Members)
	return c, true
}

// GroupMembers returns the sorted user ids that are direct members of the
// named group (organization members are not expanded).
func (s *Server) GroupMembers(name string) []string {
	g, ok := s.Group(name)
	if !ok {
		return nil
	}
	var ids []string
	for _, m := range g.Members {
		if m.Type == "User" {
			ids = append(ids, m.Value)
		}
	}
	slices.Sort(ids)
	return ids
}

// SetGroupMembers replaces the user members of a group as an external change.
func (s *Server) SetGroupMembers(name string, userIDs ...string) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	g := s.st.groupByName(name)
	if g == nil {
		return fmt.Errorf("group %q does not exist", name)
	}
	members := slices.DeleteFunc(slices.Clone(g.Members), func(m GroupMember) bool { return m.Type == "User" })
	for _, id := range userIDs {
		u := s.st.find(id)
		if u == nil {
			return fmt.Errorf("group %q: user %q does not exist", name, id)
		}
		members = append(members, GroupMember{Type: "User", Value: u.ID})
	}
	g.Members = members
	return nil
}

// Reset replaces the whole state with a seed (nil: the server's original
// seed) and empties the request log; tokens stay valid.
func (s *Server) Reset(seed *Seed) error {
	sd := seed
	if sd == nil {
		sd = s.seed
	}
	if err := s.load(*sd); err != nil {
		return err
	}
	if s.cfg.generated > 0 && seed == nil {
		s.generateUsers(s.cfg.generated)
	}
	s.st.mu.Lock()
	clear(s.st.hooks)
	s.st.hookIDs = nil
	s.st.mu.Unlock()
	s.ResetRequests()
	return nil
}
