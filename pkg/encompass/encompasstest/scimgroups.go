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

type scimGroupMember struct {
	OrgLevel          string   `json:"orgLevel,omitempty"`
	Type              string   `json:"type"`
	AccountIndicators []string `json:"accountIndicators,omitempty"`
	Value             string   `json:"value"`
	EntityName        string   `json:"entityName,omitempty"`
}

type scimGroupBody struct {
	LastModifiedDate string            `json:"lastModifiedDate,omitempty"`
	DisplayName      string            `json:"displayName"`
	Meta             scimMeta          `json:"meta"`
	LastModifiedBy   *scimRef          `json:"lastModifiedBy,omitempty"`
	Members          []scimGroupMember `json:"members,omitempty"`
	ID               string            `json:"id"`
}

type scimGroupResource struct {
	Schemas []string      `json:"schemas"`
	Group   scimGroupBody `json:"urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassGroup"`
}

// toSCIMGroup renders a group; members only when withMembers. The caller
// holds st.mu.
func (s *Server) toSCIMGroup(r *http.Request, g *Group, withMembers bool) scimGroupResource {
	body := scimGroupBody{
		LastModifiedDate: stamp(g.Modified), DisplayName: g.Name, ID: g.ID,
		Meta: scimMeta{Location: baseURL(r) + "/v1/groups/" + g.ID, LastModified: stamp(g.Modified), ResourceType: "Group"},
	}
	if withMembers {
		body.LastModifiedBy = &scimRef{EntityType: "User", EntityID: "admin"}
		body.Members = []scimGroupMember{}
		for _, m := range g.Members {
			out := scimGroupMember{Type: m.Type, Value: m.Value}
			switch m.Type {
			case "Organization":
				o, _ := s.st.org(m.Value)
				out.OrgLevel, out.EntityName = m.OrgLevel, o.Name
			case "User":
				if u := s.st.lookup(m.Value); u != nil {
					out.EntityName = strings.TrimSpace(u.FirstName + " " + u.LastName)
					out.AccountIndicators = []string{"Disabled"}
					if u.Enabled {
						out.AccountIndicators[0] = "Enabled"
					}
					if u.Locked {
						out.AccountIndicators = append(out.AccountIndicators, "Locked")
					}
				}
			}
			body.Members = append(body.Members, out)
		}
	}
	return scimGroupResource{Schemas: []string{SchemaEncompassGroup}, Group: body}
}

// handleSCIMGroups implements GET /scim2/v1/groups.
func (s *Server) handleSCIMGroups(w http.ResponseWriter, r *http.Request) {
	if !requireSchema(w, r, SchemaEncompassGroup) {
		return
	}
	start, count, ok := scimPage(r)
	if !ok {
		scimError(w, http.StatusBadRequest, "startIndex and count must be non-negative integers.")
		return
	}
	s.st.mu.RLock()
	total := len(s.st.groups)
	page := []scimGroupResource{}
	for i := start - 1; i < total && len(page) < count; i++ {
		page = append(page, s.toSCIMGroup(r, s.st.groups[i], false))
	}
	s.st.mu.RUnlock()
	writeJSON(w, http.StatusOK, scimList[scimGroupResource]{
		Schemas: []string{SchemaListResponse}, TotalResults: strconv.Itoa(total),
		ItemsPerPage: strconv.Itoa(len(page)), StartIndex: strconv.Itoa(start), Resources: page,
	})
}

// handleSCIMGroup implements GET /scim2/v1/groups/{id}.
func (s *Server) handleSCIMGroup(w http.ResponseWriter, r *http.Request) {
	if !requireSchema(w, r, SchemaEncompassGroup) {
		return
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	g := s.st.group(r.PathValue("id"))
	if g == nil {
		scimError(w, http.StatusNotFound, fmt.Sprintf("Group %q was not found.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.toSCIMGroup(r, g, true))
}

// handleSCIMGroupPatch implements PATCH /scim2/v1/groups/{id}: members add
// and remove (with a value, or a path filter such as
// members[value eq "x" and type eq "User"]), and replace of orgLevel for
// organization members.
func (s *Server) handleSCIMGroupPatch(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	ops, err := parseSCIMPatch(body, SchemaEncompassGroup)
	if err != nil {
		scimError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	g := s.st.group(r.PathValue("id"))
	if g == nil {
		scimError(w, http.StatusNotFound, fmt.Sprintf("Group %q was not found.", r.PathValue("id")))
		return
	}
	members := slices.Clone(g.Members)
	for _, op := range ops {
		members, err = s.applyGroupOp(members, op)
		if err != nil {
			scimError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	g.Members = members
	g.Modified = time.Now().UTC().Truncate(time.Second)
	writeRaw(w, http.StatusOK, noContent)
}

type memberIn struct {
	Value    json.RawMessage `json:"value"`
	Type     string          `json:"type"`
	OrgLevel string          `json:"orgLevel"`
}

// groupMembersValue extracts the members array of an op value: either the
// array itself (path "members") or an object holding it, possibly under
// the EncompassGroup schema key.
func groupMembersValue(op patchOp) ([]memberIn, error) {
	raw := op.Value
	if op.Path == nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, errors.New("value must be an object")
		}
		for k, v := range obj {
			if strings.EqualFold(k, SchemaEncompassGroup) {
				obj = nil
				if err := json.Unmarshal(v, &obj); err != nil {
					return nil, errors.New("the EncompassGroup value must be an object")
				}
				break
			}
		}
		raw = nil
		for k, v := range obj {
			switch {
			case strings.EqualFold(k, "members"):
				raw = v
			case strings.EqualFold(k, "displayName"), strings.EqualFold(k, "id"):
				return nil, errors.New("only members can be changed through SCIM; other group settings are made in Encompass Admin")
			default:
				return nil, fmt.Errorf("attribute %q is not supported", k)
			}
		}
		if raw == nil {
			return nil, errors.New("value has no members")
		}
	}
	var ms []memberIn
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, errors.New("members must be an array of {value, type, orgLevel}")
	}
	return ms, nil
}

// resolveMember checks a member reference; the caller holds st.mu.
func (s *Server) resolveMember(m memberIn) (GroupMember, error) {
	v, ok := scalarString(m.Value)
	if !ok {
		return GroupMember{}, errors.New("every member needs a value")
	}
	switch {
	case strings.EqualFold(m.Type, "User"):
		u := s.st.lookup(v)
		if u == nil {
			return GroupMember{}, fmt.Errorf("user %q does not exist", v)
		}
		return GroupMember{Type: "User", Value: u.ID}, nil
	case strings.EqualFold(m.Type, "Organization"):
		if _, ok := s.st.org(v); !ok {
			return GroupMember{}, fmt.Errorf("organization %q does not exist", v)
		}
		lvl := m.OrgLevel
		switch strings.ToLower(lvl) {
		case "current":
			lvl = "Current"
		case "recursive":
			lvl = "Recursive"
		default:
			return GroupMember{}, errors.New("orgLevel must be Current or Recursive for an Organization member")
		}
		return GroupMember{Type: "Organization", Value: v, OrgLevel: lvl}, nil
	}
	return GroupMember{}, fmt.Errorf("member type %q is not supported (User, Organization)", m.Type)
}

func sameMember(a, b GroupMember) bool {
	return a.Type == b.Type && strings.EqualFold(a.Value, b.Value)
}

func (s *Server) applyGroupOp(members []GroupMember, op patchOp) ([]GroupMember, error) {
	if op.Path != nil && !strings.EqualFold(op.Path.Attr, "members") {
		return nil, fmt.Errorf("attribute %q cannot be changed through SCIM", op.Path.Attr)
	}
	if op.Path != nil && op.Path.Filter != nil {
		val, hasVal := term(op.Path.Filter, "value")
		typ, hasType := term(op.Path.Filter, "type")
		if !hasVal || !hasType {
			return nil, errors.New(`a members filter needs value and type: members[value eq "x" and type eq "User"]`)
		}
		match := func(m GroupMember) bool { return strings.EqualFold(m.Type, typ) && strings.EqualFold(m.Value, val) }
		switch op.Op {
		case "remove":
			if op.Path.Sub != "" {
				return nil, errors.New("remove takes a member, not a sub-attribute")
			}
			return slices.DeleteFunc(members, match), nil
		case "replace":
			if !strings.EqualFold(op.Path.Sub, "orgLevel") || !strings.EqualFold(typ, "Organization") {
				return nil, errors.New("replace is supported only for orgLevel of an Organization member")
			}
			var lvl string
			_ = json.Unmarshal(op.Value, &lvl)
			i := slices.IndexFunc(members, match)
			if i < 0 {
				return nil, fmt.Errorf("organization %q is not a member", val)
			}
			gm, err := s.resolveMember(memberIn{Value: mustJSON(val), Type: "Organization", OrgLevel: lvl})
			if err != nil {
				return nil, err
			}
			members[i] = gm
			return members, nil
		}
		return nil, errors.New("add does not take a filter")
	}
	if op.Op == "remove" && op.Value == nil {
		return members[:0], nil
	}
	in, err := groupMembersValue(op)
	if err != nil {
		return nil, err
	}
	for _, m := range in {
		if op.Op == "remove" {
			v, _ := scalarString(m.Value)
			members = slices.DeleteFunc(members, func(x GroupMember) bool {
				return strings.EqualFold(x.Type, m.Type) && strings.EqualFold(x.Value, v)
			})
			continue
		}
		gm, err := s.resolveMember(m)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(members, func(x GroupMember) bool { return sameMember(x, gm) })
		switch {
		case op.Op == "replace" && gm.Type != "Organization":
			return nil, errors.New("replace is supported only for orgLevel of an Organization member")
		case op.Op == "replace" && i < 0:
			return nil, fmt.Errorf("organization %q is not a member", gm.Value)
		case i >= 0:
			members[i] = gm
		default:
			members = append(members, gm)
		}
	}
	return members, nil
}
