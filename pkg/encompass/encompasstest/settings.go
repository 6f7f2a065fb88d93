package encompasstest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// handlePersonas implements GET /encompass/v3/settings/personas (and v1):
// an array of {"id","name"}, paged with start (default 0) and limit
// (default 100, max 1000).
func (s *Server) handlePersonas(w http.ResponseWriter, r *http.Request) {
	start, ok1 := intParam(r, "start", 0)
	limit, ok2 := intParam(r, "limit", 100)
	if !ok1 || !ok2 {
		badRequest(w, "start and limit must be non-negative integers.")
		return
	}
	if limit == 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	s.st.mu.RLock()
	all := s.st.personas
	out := []Persona{}
	if start < len(all) {
		out = slices.Clone(all[start:min(start+limit, len(all))])
	}
	s.st.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}

// handleOrganizations implements GET /encompass/v1/organizations (query
// start, limit, view, parentId): an array of {"id","name","parentId"}.
func (s *Server) handleOrganizations(w http.ResponseWriter, r *http.Request) {
	parent, hasParent := r.URL.Query()["parentId"]
	s.st.mu.RLock()
	var list []Organization
	for _, o := range s.st.orgs {
		if hasParent && o.ParentID != strings.Join(parent, "") {
			continue
		}
		list = append(list, o)
	}
	s.st.mu.RUnlock()
	s.writeOrgPage(w, r, list)
}

// handleOrgChildren implements GET /encompass/v1/organizations/{id}/children.
func (s *Server) handleOrgChildren(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.st.mu.RLock()
	_, ok := s.st.org(id)
	var list []Organization
	for _, o := range s.st.orgs {
		if o.ParentID == id && o.ID != id {
			list = append(list, o)
		}
	}
	s.st.mu.RUnlock()
	if !ok {
		notFound(w, fmt.Sprintf("Organization %q was not found.", id))
		return
	}
	s.writeOrgPage(w, r, list)
}

// handleOrganization implements GET /encompass/v1/organizations/{id}.
func (s *Server) handleOrganization(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	o, ok := s.st.org(r.PathValue("id"))
	s.st.mu.RUnlock()
	if !ok {
		notFound(w, fmt.Sprintf("Organization %q was not found.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) writeOrgPage(w http.ResponseWriter, r *http.Request, list []Organization) {
	start, ok1 := intParam(r, "start", 0)
	limit, ok2 := intParam(r, "limit", 100)
	if !ok1 || !ok2 {
		badRequest(w, "start and limit must be non-negative integers.")
		return
	}
	if limit == 0 {
		limit = 100
	}
	out := []Organization{}
	if start < len(list) {
		out = list[start:min(start+limit, len(list))]
	}
	writeJSON(w, http.StatusOK, out)
}
