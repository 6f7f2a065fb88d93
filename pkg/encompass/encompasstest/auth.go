package encompasstest

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// token is one issued access token.
type token struct {
	value    string
	issued   time.Time
	expires  time.Time
	admin    bool
	userID   string // password grant only
	clientID string
}

type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]*token
	issued []string // every value ever handed out, revoked ones included
}

func newTokenStore() *tokenStore { return &tokenStore{tokens: make(map[string]*token)} }

// RevokeTokens invalidates every issued token: the next API call with one
// gets 401, as after a revocation or a password change on the tenant.
func (s *Server) RevokeTokens() {
	s.tokens.mu.Lock()
	clear(s.tokens.tokens)
	s.tokens.mu.Unlock()
}

// ExpireTokens makes every issued token expired (401 on next use), as if the
// inactivity timeout had passed.
func (s *Server) ExpireTokens() {
	s.tokens.mu.Lock()
	past := s.cfg.now().Add(-time.Second)
	for _, t := range s.tokens.tokens {
		t.expires = past
	}
	s.tokens.mu.Unlock()
}

// TokensIssued reports how many tokens are currently valid or expired but
// not revoked.
func (s *Server) TokensIssued() int {
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	return len(s.tokens.tokens)
}

// IssuedTokens returns every access token the server has handed out,
// including revoked and expired ones, so that tests can check that none of
// them appears in logs, errors or events.
func (s *Server) IssuedTokens() []string {
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	return slices.Clone(s.tokens.issued)
}

// LeakedSecrets names each of the server's secrets found in text: the
// client secret, the password, every password set on a DDA profile and
// every access token it has issued (the
// exact values, so that a global user id that happens to look like a token
// is not taken for one). Tests run it over logs, errors and events; an
// empty answer means nothing leaked.
func (s *Server) LeakedSecrets(text string) []string {
	var found []string
	for _, sec := range []struct{ name, value string }{{"client secret", s.ClientSecret}, {"password", s.Password}} {
		if sec.value != "" && strings.Contains(text, sec.value) {
			found = append(found, "the "+sec.name)
		}
	}
	// Passwords this system set on DDA profiles (generated, never to be
	// logged).
	s.st.mu.RLock()
	for _, u := range s.st.users {
		if u.AIQ != nil && u.AIQ.Password != "" && strings.Contains(text, u.AIQ.Password) {
			found = append(found, "the DDA password of "+u.ID)
		}
	}
	s.st.mu.RUnlock()
	for _, tok := range s.IssuedTokens() {
		if strings.Contains(text, tok) {
			found = append(found, "access token "+tok[:4]+"...")
		}
	}
	return found
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

// clientAuth checks the client id and secret from HTTP Basic or the form.
func (s *Server) clientAuth(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return equal(id, s.cfg.clientID) && equal(secret, s.cfg.clientSecret)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// handleToken implements POST /oauth2/v1/token for the client_credentials and
// password grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	if !s.clientAuth(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	var tok *token
	switch grant {
	case "client_credentials":
		if f.Get("scope") != "lp" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid.")
			return
		}
		if f.Get("instance_id") != s.cfg.instanceID {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Unknown instance.")
			return
		}
		tok = &token{admin: !s.cfg.nonAdmin}
	case "password":
		if f.Get("scope") != "lp" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid.")
			return
		}
		user, instance, ok := strings.Cut(f.Get("username"), "@encompass:")
		if !ok || instance != s.cfg.instanceID || user == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The user name or password is incorrect.")
			return
		}
		admin, userID, ok := s.checkPassword(user, f.Get("password"))
		if !ok {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The user name or password is incorrect.")
			return
		}
		tok = &token{admin: admin && !s.cfg.nonAdmin, userID: userID}
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required.")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported.")
		return
	}
	now := s.cfg.now()
	tok.value = "0004" + randomHex(14)
	tok.issued = now
	tok.expires = now.Add(s.cfg.tokenTTL)
	tok.clientID = s.cfg.clientID
	s.tokens.mu.Lock()
	s.tokens.tokens[tok.value] = tok
	s.tokens.issued = append(s.tokens.issued, tok.value)
	s.tokens.mu.Unlock()
	resp := map[string]any{"access_token": tok.value, "token_type": "Bearer"}
	if s.cfg.expiresIn {
		resp["expires_in"] = int(s.cfg.tokenTTL / time.Second)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// checkPassword accepts the configured admin credentials and any enabled
// stored user with a password; the token is admin when the user holds the
// Administrator or Super Administrator persona.
func (s *Server) checkPassword(user, password string) (admin bool, userID string, ok bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	u := s.st.lookup(user)
	if strings.EqualFold(user, s.cfg.username) && equal(password, s.cfg.password) {
		if u != nil {
			userID = u.ID
		}
		return true, userID, true
	}
	if u == nil || u.Password == "" || !u.Enabled || u.Locked || !equal(password, u.Password) {
		return false, "", false
	}
	return s.st.isAdmin(u), u.ID, true
}

func (st *store) isAdmin(u *SimUser) bool {
	for _, id := range u.Personas {
		switch st.personaName(id) {
		case "Administrator", "Super Administrator":
			return true
		}
	}
	return false
}

// handleRevoke implements POST /oauth2/v1/token/revocation.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.clientAuth(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	s.tokens.mu.Lock()
	delete(s.tokens.tokens, r.PostForm.Get("token"))
	s.tokens.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// handleIntrospect implements POST /oauth2/v1/token/introspection.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.clientAuth(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	s.tokens.mu.Lock()
	t, ok := s.tokens.tokens[r.PostForm.Get("token")]
	var resp map[string]any
	if ok && s.cfg.now().Before(t.expires) {
		resp = map[string]any{
			"active":      true,
			"scope":       "lp",
			"client_id":   t.clientID,
			"token_type":  "Bearer",
			"exp":         t.expires.Unix(),
			"instance_id": s.InstanceID,
		}
		if t.userID != "" {
			resp["username"] = t.userID
		}
	} else {
		resp = map[string]any{"active": false}
	}
	s.tokens.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// authenticate checks the bearer token and slides its expiry, like the
// inactivity timeout of Encompass tokens.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*token, bool) {
	h := r.Header.Get("Authorization")
	scheme, v, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || v == "" {
		writeError(w, http.StatusUnauthorized, "Authorization header with a Bearer token is required.", "EBS-401")
		return nil, false
	}
	now := s.cfg.now()
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	t, ok := s.tokens.tokens[v]
	if !ok || !now.Before(t.expires) {
		writeError(w, http.StatusUnauthorized, "The access token is invalid or has expired.", "EBS-401")
		return nil, false
	}
	t.expires = now.Add(s.cfg.tokenTTL)
	if limit := t.issued.Add(s.cfg.tokenMaxLife); t.expires.After(limit) {
		t.expires = limit
	}
	c := *t
	return &c, true
}

func tokenFrom(r *http.Request) *token {
	t, _ := r.Context().Value(tokenKey).(*token)
	return t
}
