package encompasstest

import "net/http"

// routes registers every endpoint. The patterns double as the templated
// endpoint names of the request log, so keep them stable.
func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth2/v1/token", s.handleToken)
	m.HandleFunc("POST /oauth2/v1/token/revocation", s.handleRevoke)
	m.HandleFunc("POST /oauth2/v1/token/introspection", s.handleIntrospect)

	m.HandleFunc("GET /encompass/v3/users", s.handleV3List)
	m.HandleFunc("POST /encompass/v3/users", s.handleV3Create)
	m.HandleFunc("GET /encompass/v3/users/me", s.handleV3Me)
	m.HandleFunc("GET /encompass/v3/users/{id}", s.handleV3Get)
	m.HandleFunc("PATCH /encompass/v3/users/{id}", s.handleV3Patch)
	m.HandleFunc("DELETE /encompass/v3/users/{id}", s.handleV3Delete)
	m.HandleFunc("GET /encompass/v3/users/{id}/personas", s.handleV3UserPersonas)

	m.HandleFunc("GET /encompass/v3/settings/personas", s.handlePersonas)
	m.HandleFunc("GET /encompass/v1/settings/personas", s.handlePersonas)
	m.HandleFunc("GET /encompass/v1/organizations", s.handleOrganizations)
	m.HandleFunc("GET /encompass/v1/organizations/{id}", s.handleOrganization)
	m.HandleFunc("GET /encompass/v1/organizations/{id}/children", s.handleOrgChildren)

	m.HandleFunc("GET /scim2/v1/users", s.handleSCIMList)
	m.HandleFunc("POST /scim2/v1/users", s.handleSCIMCreate)
	m.HandleFunc("GET /scim2/v1/users/{id}", s.handleSCIMGet)
	m.HandleFunc("PATCH /scim2/v1/users/{id}", s.handleSCIMPatch)
	m.HandleFunc("DELETE /scim2/v1/users/{id}", s.handleSCIMDelete)
	m.HandleFunc("POST /scim2/v1/accountLinks", s.handleAccountLinkCreate)
	m.HandleFunc("GET /scim2/v1/accountLinks/{id}", s.handleAccountLinksGet)
	m.HandleFunc("POST /scim2/v1/accountLinks/{id}", s.handleAccountLinkAdd)
	m.HandleFunc("GET /scim2/v1/groups", s.handleSCIMGroups)
	m.HandleFunc("GET /scim2/v1/groups/{id}", s.handleSCIMGroup)
	m.HandleFunc("PATCH /scim2/v1/groups/{id}", s.handleSCIMGroupPatch)

	m.HandleFunc("GET /webhook/v1/subscriptions", s.handleSubsList)
	m.HandleFunc("POST /webhook/v1/subscriptions", s.handleSubsCreate)
	m.HandleFunc("GET /webhook/v1/subscriptions/{id}", s.handleSubGet)
	m.HandleFunc("PUT /webhook/v1/subscriptions/{id}", s.handleSubPut)
	m.HandleFunc("DELETE /webhook/v1/subscriptions/{id}", s.handleSubDelete)
	m.HandleFunc("GET /webhook/v1/resources", s.handleWebhookResources)

	s.controlRoutes(m)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "No such endpoint in the simulator: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}
