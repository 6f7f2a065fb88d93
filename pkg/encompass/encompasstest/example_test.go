package encompasstest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// A standalone simulator, as cmd/encompass-sim runs it: get a token with the
// password grant, read a user, and count the calls.
func ExampleNew() {
	srv := encompasstest.New(encompasstest.WithExpiresIn())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()

	form := url.Values{"grant_type": {"password"}, "scope": {"lp"},
		"username": {srv.Username + "@encompass:" + srv.InstanceID}, "password": {srv.Password}}
	req, _ := http.NewRequest("POST", srv.URL+"/oauth2/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("token:", resp.Status)

	srv.Throttle(1)
	for range 2 {
		req, _ := http.NewRequest("GET", srv.URL+"/encompass/v3/users/mjohnson", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println("user:", resp.Status)
	}
	fmt.Println("calls:", srv.Count("GET /encompass/v3/users/{id}"))
	// Output:
	// token: 200 OK
	// user: 429 Too Many Requests
	// user: 200 OK
	// calls: 2
}
