package encompasstest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// api is a tiny test client: it fetches a token with the password grant
// and sends JSON requests.
type api struct {
	t     testing.TB
	srv   *encompasstest.Server
	token string
}

func newAPI(t testing.TB, opts ...encompasstest.Option) *api {
	t.Helper()
	srv := encompasstest.NewServer(t, opts...)
	a := &api{t: t, srv: srv}
	a.token = a.passwordToken(srv.Username, srv.Password)
	return a
}

func (a *api) passwordToken(user, password string) string {
	a.t.Helper()
	form := url.Values{
		"grant_type": {"password"},
		"username":   {user + "@encompass:" + a.srv.InstanceID},
		"password":   {password},
		"scope":      {"lp"},
	}
	status, body, _ := a.form("/oauth2/v1/token", form, true)
	if status != http.StatusOK {
		a.t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		a.t.Fatalf("token body %s: %v", body, err)
	}
	return tok.AccessToken
}

// form posts a form to the OAuth2 endpoints, with Basic client auth when basic is true.
func (a *api) form(path string, form url.Values, basic bool) (int, []byte, http.Header) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(a.srv.ClientID, a.srv.ClientSecret)
	}
	return a.send(req)
}

func (a *api) send(req *http.Request) (int, []byte, http.Header) {
	a.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// do sends a JSON request with the bearer token; body may be nil, a string
// or a value to marshal.
func (a *api) do(method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	return a.doToken(a.token, method, path, body)
}

func (a *api) doToken(token, method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return a.send(req)
}

// must checks the status and decodes the body into v (when v is not nil).
func (a *api) must(want int, method, path string, body, v any) []byte {
	a.t.Helper()
	status, b, _ := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

type apiErr struct {
	Summary   string `json:"summary"`
	Details   string `json:"details"`
	ErrorCode string `json:"errorCode"`
}

// wantAPIError checks an error status and the Encompass error body shape.
func (a *api) wantAPIError(want int, method, path string, body any, detailPart string) {
	a.t.Helper()
	status, b, _ := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	var e apiErr
	if err := json.Unmarshal(b, &e); err != nil || e.Summary == "" || e.ErrorCode == "" {
		a.t.Fatalf("%s %s: error body %s is not {summary, details, errorCode}", method, path, b)
	}
	if !strings.Contains(strings.ToLower(e.Details), strings.ToLower(detailPart)) {
		a.t.Fatalf("%s %s: details %q do not mention %q", method, path, e.Details, detailPart)
	}
}
