package encompasstest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The control API under /_sim/ lets a test or the demo drive a standalone
// simulator over HTTP: read and change state as an external administrator
// would, inject faults, read request counts, and reset. It has no
// authentication: the simulator is for local use only.
//
//	GET    /_sim/users                      every user (no passwords)
//	GET    /_sim/users/{id}                 one user by id, login id or global user id
//	POST   /_sim/users                      create or replace a user (SimUser JSON)
//	PATCH  /_sim/users/{id}                 change some fields (SimUser JSON names)
//	DELETE /_sim/users/{id}                 delete a user
//	GET    /_sim/groups                     every group with its members
//	PUT    /_sim/groups/{name}/members      set a group's user members (["id", ...])
//	POST   /_sim/faults                     {"throttle": n, "fail": {"n", "status", "match"},
//	                                         "drop": {"n", "match"}, "latencyMs": n,
//	                                         "concurrencyLimit": n, "revokeTokens": true,
//	                                         "expireTokens": true, "clear": true}
//	GET    /_sim/requests                   {"total": n, "counts": {"GET /encompass/v3/users": n, ...}}
//	GET    /_sim/requests?log=true          the request log too (without bodies)
//	DELETE /_sim/requests                   empty the request log
//	POST   /_sim/reset                      back to the seed; empties the log
//	GET    /_sim/subscriptions              webhook subscriptions (no keys)
//	POST   /_sim/webhooks/deliver           {"subscriptionId", "resourceType", "eventType", "resourceId"}
//	                                        or {"subscriptionId", "event": {...}}: send a signed delivery
func (s *Server) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /_sim/users", s.ctlUsers)
	m.HandleFunc("GET /_sim/users/{id}", s.ctlUser)
	m.HandleFunc("POST /_sim/users", s.ctlUpsert)
	m.HandleFunc("PATCH /_sim/users/{id}", s.ctlPatch)
	m.HandleFunc("DELETE /_sim/users/{id}", s.ctlDelete)
	m.HandleFunc("GET /_sim/groups", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Groups()) })
	m.HandleFunc("PUT /_sim/groups/{name}/members", s.ctlGroupMembers)
	m.HandleFunc("POST /_sim/faults", s.ctlFaults)
	m.HandleFunc("GET /_sim/requests", s.ctlRequests)
	m.HandleFunc("DELETE /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Reset(nil); err != nil {
			badRequest(w, err.Error())
			return
		}
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/subscriptions", s.handleSubsList)
	m.HandleFunc("POST /_sim/webhooks/deliver", s.ctlDeliver)
	m.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "No such control endpoint: "+r.Method+" "+r.URL.Path)
	})
}

// publicUser hides the password of a user answered by the control API.
func publicUser(u SimUser) SimUser {
	u.Password = ""
	return u
}

func (s *Server) ctlUsers(w http.ResponseWriter, r *http.Request) {
	us := s.Users()
	for i := range us {
		us[i] = publicUser(us[i])
	}
	writeJSON(w, http.StatusOK, us)
}

func (s *Server) ctlUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.User(r.PathValue("id"))
	if !ok {
		notFound(w, "No such user: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, publicUser(u))
}

func (s *Server) ctlUpsert(w http.ResponseWriter, r *http.Request) {
	var su SeedUser
	if err := json.NewDecoder(r.Body).Decode(&su); err != nil {
		badRequest(w, "the body must be a user object: "+err.Error())
		return
	}
	u := su.SimUser
	u.Enabled = su.Enabled == nil || *su.Enabled
	if err := s.UpsertUser(u); err != nil {
		badRequest(w, err.Error())
		return
	}
	got, _ := s.User(u.LoginID)
	writeJSON(w, http.StatusOK, publicUser(got))
}

func (s *Server) ctlPatch(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || probe == nil {
		badRequest(w, "the body must be a JSON object")
		return
	}
	var decodeErr error
	err := s.ModifyUser(r.PathValue("id"), func(u *SimUser) {
		// encoding/json only sets the fields present in the body.
		decodeErr = json.Unmarshal(body, u)
	})
	switch {
	case decodeErr != nil:
		badRequest(w, decodeErr.Error())
		return
	case err != nil && strings.Contains(err.Error(), "no such user"):
		notFound(w, err.Error())
		return
	case err != nil:
		badRequest(w, err.Error())
		return
	}
	got, _ := s.User(r.PathValue("id"))
	writeJSON(w, http.StatusOK, publicUser(got))
}

func (s *Server) ctlDelete(w http.ResponseWriter, r *http.Request) {
	if !s.DeleteUser(r.PathValue("id")) {
		notFound(w, "No such user: "+r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ctlGroupMembers(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil {
		badRequest(w, "the body must be an array of user ids")
		return
	}
	if err := s.SetGroupMembers(r.PathValue("name"), ids...); err != nil {
		badRequest(w, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type faultRequest struct {
	Throttle int `json:"throttle"`
	Fail     *struct {
		N      int    `json:"n"`
		Status int    `json:"status"`
		Match  string `json:"match"`
	} `json:"fail"`
	Drop *struct {
		N     int    `json:"n"`
		Match string `json:"match"`
	} `json:"drop"`
	LatencyMs        *int `json:"latencyMs"`
	ConcurrencyLimit *int `json:"concurrencyLimit"`
	RevokeTokens     bool `json:"revokeTokens"`
	ExpireTokens     bool `json:"expireTokens"`
	Clear            bool `json:"clear"`
}

func (s *Server) ctlFaults(w http.ResponseWriter, r *http.Request) {
	var f faultRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		badRequest(w, "invalid fault request: "+err.Error())
		return
	}
	if f.Fail != nil && (f.Fail.Status < 400 || f.Fail.Status > 599) {
		badRequest(w, "fail.status must be a 4xx or 5xx status")
		return
	}
	if f.Clear {
		s.ClearFaults()
	}
	if f.Throttle > 0 {
		s.Throttle(f.Throttle)
	}
	if f.Fail != nil {
		s.FailNext(f.Fail.N, f.Fail.Status, f.Fail.Match)
	}
	if f.Drop != nil {
		s.DropAfterApply(f.Drop.N, f.Drop.Match)
	}
	if f.LatencyMs != nil {
		s.SetLatency(time.Duration(*f.LatencyMs) * time.Millisecond)
	}
	if f.ConcurrencyLimit != nil {
		s.SetConcurrencyLimit(*f.ConcurrencyLimit)
	}
	if f.RevokeTokens {
		s.RevokeTokens()
	}
	if f.ExpireTokens {
		s.ExpireTokens()
	}
	w.WriteHeader(http.StatusNoContent)
}

type loggedRequest struct {
	Method     string    `json:"method"`
	Endpoint   string    `json:"endpoint"`
	Path       string    `json:"path"`
	Query      string    `json:"query,omitempty"`
	Status     int       `json:"status"`
	Time       time.Time `json:"time"`
	DurationMs float64   `json:"durationMs"`
	Dropped    bool      `json:"dropped,omitempty"`
}

func (s *Server) ctlRequests(w http.ResponseWriter, r *http.Request) {
	counts := s.Counts()
	total := 0
	for _, n := range counts {
		total += n
	}
	out := map[string]any{"total": total, "counts": counts}
	if r.URL.Query().Get("log") == "true" {
		reqs := s.Requests()
		log := make([]loggedRequest, len(reqs))
		for i, q := range reqs {
			log[i] = loggedRequest{Method: q.Method, Endpoint: q.Endpoint, Path: q.Path, Query: q.Query,
				Status: q.Status, Time: q.Time, DurationMs: float64(q.Duration.Microseconds()) / 1000, Dropped: q.Dropped}
		}
		out["requests"] = log
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ctlDeliver(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SubscriptionID string        `json:"subscriptionId"`
		ResourceType   string        `json:"resourceType"`
		EventType      string        `json:"eventType"`
		ResourceID     string        `json:"resourceId"`
		Event          *WebhookEvent `json:"event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "invalid delivery request: "+err.Error())
		return
	}
	ev := s.NewWebhookEvent(req.ResourceType, req.EventType, req.ResourceID)
	if req.Event != nil {
		ev = *req.Event
	}
	status, err := s.Deliver(r.Context(), req.SubscriptionID, ev)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error(), "SIM-502")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "eventId": ev.EventID})
}
