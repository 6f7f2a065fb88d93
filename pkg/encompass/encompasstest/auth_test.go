package encompasstest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestTokenGrants(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	srv := a.srv
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "scope": {"lp"}, "instance_id": {srv.InstanceID}}
	}
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "scope": {"lp"},
			"username": {user + "@encompass:" + srv.InstanceID}, "password": {pass}}
	}
	with := func(v url.Values, k, val string) url.Values { v.Set(k, val); return v }
	tests := []struct {
		name      string
		form      url.Values
		basic     bool
		wantCode  int
		wantError string
	}{
		{"client credentials basic", good(), true, 200, ""},
		{"client credentials form fields", with(with(good(), "client_id", srv.ClientID), "client_secret", srv.ClientSecret), false, 200, ""},
		{"password grant", pw(srv.Username, srv.Password), true, 200, ""},
		{"password grant seeded user", pw("bwilliams", "Und3rwriter!Pass"), true, 200, ""},
		{"wrong password", pw(srv.Username, "nope"), true, 400, "invalid_grant"},
		{"unknown user", pw("ghost", "Whatever1"), true, 400, "invalid_grant"},
		{"disabled user", pw("formeremployee", "x"), true, 400, "invalid_grant"},
		{"username without instance", with(pw(srv.Username, srv.Password), "username", srv.Username), true, 400, "invalid_grant"},
		{"wrong instance", with(good(), "instance_id", "BE000"), true, 400, "invalid_grant"},
		{"wrong scope", with(good(), "scope", "admin"), true, 400, "invalid_scope"},
		{"missing scope", with(good(), "scope", ""), true, 400, "invalid_scope"},
		{"bad grant", with(good(), "grant_type", "authorization_code"), true, 400, "unsupported_grant_type"},
		{"no client auth", good(), false, 401, "invalid_client"},
		{"wrong secret", with(with(good(), "client_id", srv.ClientID), "client_secret", "x"), false, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := a.form("/oauth2/v1/token", tt.form, tt.basic)
			if status != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", status, tt.wantCode, body)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if tt.wantError != "" {
				if m["error"] != tt.wantError || m["error_description"] == "" {
					t.Fatalf("body %s, want error %s", body, tt.wantError)
				}
				return
			}
			if m["token_type"] != "Bearer" || m["access_token"] == "" {
				t.Fatalf("token body %s", body)
			}
			if _, ok := m["expires_in"]; ok {
				t.Fatalf("expires_in present by default: %s", body)
			}
		})
	}
}

func TestTokenExpiresInOption(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithExpiresIn(), encompasstest.WithTokenTTL(90*time.Second))
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"lp"}, "instance_id": {a.srv.InstanceID}}
	_, body, _ := a.form("/oauth2/v1/token", form, true)
	var m struct {
		ExpiresIn int `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.ExpiresIn != 90 {
		t.Fatalf("expires_in in %s, want 90", body)
	}
}

func TestTokenRequiredAndExpiry(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	if status, _, _ := a.doToken("", "GET", "/encompass/v3/users", nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
	if status, _, _ := a.doToken("0004forged", "GET", "/encompass/v3/users", nil); status != 401 {
		t.Fatalf("forged token: %d", status)
	}
	a.srv.ExpireTokens()
	a.wantAPIError(401, "GET", "/encompass/v3/users", nil, "expired")
	a.token = a.passwordToken(a.srv.Username, a.srv.Password)
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	a.srv.RevokeTokens()
	a.wantAPIError(401, "GET", "/encompass/v3/users", nil, "invalid")
	// Revoked or not, every token handed out stays on record for the
	// secret checks, in the order issued.
	if got := a.srv.IssuedTokens(); len(got) != 2 || got[1] != a.token {
		t.Fatalf("IssuedTokens = %d tokens, want 2 ending with the current one", len(got))
	}
}

func TestTokenInactivityTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a := newAPI(t, encompasstest.WithClock(clock), encompasstest.WithTokenTTL(time.Minute))
	// Each use slides the inactivity timeout: three minutes of use a
	// minute apart keep the token alive ...
	for range 3 {
		advance(59 * time.Second)
		a.must(200, "GET", "/encompass/v3/settings/personas", nil, nil)
	}
	// ... and a minute of silence ends it.
	advance(time.Minute)
	a.wantAPIError(401, "GET", "/encompass/v3/settings/personas", nil, "expired")
}

func TestRevocationAndIntrospection(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.form("/oauth2/v1/token/introspection", url.Values{"token": {a.token}}, true)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if status != 200 || m["active"] != true {
		t.Fatalf("introspection of a live token: %d %s", status, body)
	}
	if status, _, _ := a.form("/oauth2/v1/token/introspection", url.Values{"token": {a.token}}, false); status != 401 {
		t.Fatalf("introspection without client auth: %d", status)
	}
	if status, _, _ := a.form("/oauth2/v1/token/revocation", url.Values{"token": {a.token}}, true); status != 200 {
		t.Fatalf("revocation: %d", status)
	}
	_, body, _ = a.form("/oauth2/v1/token/introspection", url.Values{"token": {a.token}}, true)
	m = nil
	_ = json.Unmarshal(body, &m)
	if m["active"] != false {
		t.Fatalf("introspection after revocation: %s", body)
	}
	a.wantAPIError(401, "GET", "/encompass/v3/users", nil, "invalid")
}

func TestNonAdminWritesRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithNonAdmin())
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	a.wantAPIError(http.StatusForbidden, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "x"}, "rights")
	if u, _ := a.srv.User("mjohnson"); u.Title == "x" {
		t.Fatal("non-admin write applied")
	}
}

func TestNonAdminUserToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// bwilliams is an Underwriter: reads work, writes and SCIM do not.
	a.token = a.passwordToken("bwilliams", "Und3rwriter!Pass")
	a.must(200, "GET", "/encompass/v3/users/me", nil, nil)
	a.wantAPIError(403, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "x"}, "rights")
}

func TestAuthorizationScheme(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for header, want := range map[string]int{
		"Bearer " + a.token: 200,
		"bearer " + a.token: 200, // the scheme is case-insensitive (RFC 7235)
		"Basic " + a.token:  401,
		a.token:             401,
		"Bearer ":           401,
	} {
		req, _ := http.NewRequest("GET", a.srv.URL+"/encompass/v3/settings/personas", nil)
		req.Header.Set("Authorization", header)
		if status, body, _ := a.send(req); status != want {
			t.Errorf("Authorization %.12q...: %d %s, want %d", header, status, body, want)
		}
	}
}

func TestClientGoneWhileDelayedIsLogged(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.SetLatency(2 * time.Second)
	req, _ := http.NewRequest("GET", a.srv.URL+"/encompass/v3/users", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("want a timeout")
	}
	for range 200 {
		for _, r := range a.srv.Requests() {
			if r.Endpoint == "GET /encompass/v3/users" {
				if r.Status != 499 {
					t.Fatalf("status %d, want 499", r.Status)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the abandoned request was not logged")
}

// TestLeakedSecrets proves the secret check the other packages' tests rely
// on can fail: it finds an issued token and the credentials, and does not
// mistake a global user id that happens to start like a token for one.
func TestLeakedSecrets(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tokens := a.srv.IssuedTokens()
	if len(tokens) != 1 || tokens[0] != a.token {
		t.Fatalf("issued %d tokens, want the one fetched", len(tokens))
	}
	if got := a.srv.LeakedSecrets(`{"globalUserId":"0004c037-e8b1-4f2a-9c1d-2b7e5a0c9f10"}`); len(got) != 0 {
		t.Fatalf("a UUID was taken for a secret: %v", got)
	}
	leaky := `{"auth":"` + tokens[0] + `","pw":"` + a.srv.Password + `","cs":"` + a.srv.ClientSecret + `"}`
	if got := a.srv.LeakedSecrets(leaky); len(got) != 3 {
		t.Fatalf("LeakedSecrets found %v, want the token, the password and the client secret", got)
	}
}
