package encompasstest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// ctl calls the control API (no token).
func (a *api) ctl(method, path string, body any) (int, []byte) {
	a.t.Helper()
	status, b, _ := a.doToken("", method, path, body)
	return status, b
}

func TestStandaloneServerAndControlAPI(t *testing.T) {
	t.Parallel()
	srv := encompasstest.New(encompasstest.WithUsers(10))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a := &api{t: t, srv: srv}
	a.token = a.passwordToken(srv.Username, srv.Password)

	status, b := a.ctl("GET", "/_sim/users", nil)
	var users []map[string]any
	if err := json.Unmarshal(b, &users); status != 200 || err != nil || len(users) != 15 {
		t.Fatalf("users: %d %d", status, len(users))
	}
	if strings.Contains(string(b), "Sim-Admin-Passw0rd!") || strings.Contains(string(b), "Und3rwriter") {
		t.Fatal("the control API must not answer passwords")
	}
	// An external change.
	if status, b := a.ctl("PATCH", "/_sim/users/mjohnson", map[string]any{"title": "Branch Manager", "enabled": false}); status != 200 {
		t.Fatalf("patch: %d %s", status, b)
	}
	if u, _ := srv.User("mjohnson"); u.Title != "Branch Manager" || u.Enabled || u.MiddleName != "L" {
		t.Fatalf("after external patch %+v", u)
	}
	if status, _ := a.ctl("PATCH", "/_sim/users/mjohnson", map[string]any{"organizationId": "77"}); status != 400 {
		t.Fatalf("invalid external patch: %d", status)
	}
	if status, _ := a.ctl("PATCH", "/_sim/users/ghost", map[string]any{"title": "x"}); status != 404 {
		t.Fatalf("patch unknown: %d", status)
	}
	if status, b := a.ctl("POST", "/_sim/users", map[string]any{"loginId": "ext1", "firstName": "Ex", "lastName": "Ternal",
		"email": "ext1@example.com", "organizationId": "2", "personas": []string{"11"}}); status != 200 {
		t.Fatalf("upsert: %d %s", status, b)
	}
	if u, ok := srv.User("ext1"); !ok || !u.Enabled {
		t.Fatalf("upserted user %+v", u)
	}
	if status, _ := a.ctl("DELETE", "/_sim/users/ext1", nil); status != 204 {
		t.Fatal("delete")
	}
	if status, _ := a.ctl("PUT", "/_sim/groups/Processors/members", []string{"mjohnson", "asmith"}); status != 204 {
		t.Fatal("group members")
	}
	if got := strings.Join(srv.GroupMembers("Processors"), ","); got != "asmith,mjohnson" {
		t.Fatalf("members %s", got)
	}
	// Faults over HTTP.
	if status, b := a.ctl("POST", "/_sim/faults", map[string]any{"throttle": 1, "fail": map[string]any{"n": 1, "status": 502, "match": "GET /encompass/v3/users"}}); status != 204 {
		t.Fatalf("faults: %d %s", status, b)
	}
	if status, _, _ := a.do("GET", "/encompass/v3/users", nil); status != 429 {
		t.Fatalf("throttle via control: %d", status)
	}
	if status, _, _ := a.do("GET", "/encompass/v3/users", nil); status != 502 {
		t.Fatalf("fail via control: %d", status)
	}
	if status, _ := a.ctl("POST", "/_sim/faults", map[string]any{"fail": map[string]any{"n": 1, "status": 200}}); status != 400 {
		t.Fatal("a 200 'failure' must be refused")
	}
	if status, _ := a.ctl("POST", "/_sim/faults", map[string]any{"explode": true}); status != 400 {
		t.Fatal("unknown fault fields must be refused")
	}
	a.ctl("POST", "/_sim/faults", map[string]any{"revokeTokens": true})
	if status, _, _ := a.do("GET", "/encompass/v3/users", nil); status != 401 {
		t.Fatalf("revoke via control: %d", status)
	}
	a.token = a.passwordToken(srv.Username, srv.Password)
	// Counts.
	status, b = a.ctl("GET", "/_sim/requests?log=true", nil)
	var counts struct {
		Total    int
		Counts   map[string]int
		Requests []map[string]any
	}
	if err := json.Unmarshal(b, &counts); status != 200 || err != nil || counts.Counts["GET /encompass/v3/users"] != 3 || len(counts.Requests) != counts.Total {
		t.Fatalf("requests: %s", b)
	}
	// Reset restores the seed and empties the log.
	if status, _ := a.ctl("POST", "/_sim/reset", nil); status != 204 {
		t.Fatal("reset")
	}
	if u, _ := srv.User("mjohnson"); u.Title != "Senior Loan Officer" || !u.Enabled || srv.UserCount() != 15 {
		t.Fatalf("after reset %+v (%d users)", u, srv.UserCount())
	}
	if len(srv.Requests()) != 0 {
		t.Fatal("log not emptied")
	}
	if status, _ := a.ctl("GET", "/_sim/nothing", nil); status != 404 {
		t.Fatal("unknown control path")
	}
}

func TestControlDeliver(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() })
	hs := httptest.NewServer(receiver)
	defer hs.Close()
	a := newAPI(t)
	_, _, h := a.do("POST", "/webhook/v1/subscriptions", subBody(hs.URL+"/hook", "signingkey", goodKey))
	id := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
	status, b := a.ctl("POST", "/_sim/webhooks/deliver", map[string]any{"subscriptionId": id, "resourceType": "Loan", "eventType": "update", "resourceId": "L1"})
	if status != 200 || !strings.Contains(string(b), `"status":200`) {
		t.Fatalf("deliver: %d %s", status, b)
	}
	select {
	case hdr := <-got:
		if hdr.Get("Elli-Signature") == "" {
			t.Fatal("unsigned delivery")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
}

func TestSeedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "seed.json")
	seed := `{"personas":[{"id":"p1","name":"Loan Officer"}],"organizations":[{"id":"o1","name":"HQ"}],
	  "userGroups":[{"id":"g1","name":"Everyone","members":[{"type":"User","value":"JDoe"}]}],
	  "users":[{"loginId":"JDoe","firstName":"J","lastName":"Doe","email":"j@example.com","organizationId":"o1","personas":["p1"],"enabled":false}]}`
	if err := os.WriteFile(good, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, encompasstest.WithSeedFile(good))
	if u, ok := a.srv.User("jdoe"); !ok || u.Enabled || a.srv.UserCount() != 1 {
		t.Fatalf("seeded user %+v", u)
	}
	if m := a.srv.GroupMembers("Everyone"); len(m) != 1 || m[0] != "jdoe" {
		t.Fatalf("members %v", m)
	}
	bad := map[string]string{
		"unknown org":     strings.Replace(seed, `"organizationId":"o1"`, `"organizationId":"o9"`, 1),
		"unknown persona": strings.Replace(seed, `"personas":["p1"]`, `"personas":["p9"]`, 1),
		"unknown member":  strings.Replace(seed, `"value":"JDoe"`, `"value":"ghost"`, 1),
		"bad userName":    strings.Replace(seed, `"loginId":"JDoe"`, `"loginId":".JDoe"`, 1),
		"unknown field":   strings.Replace(seed, `"personas":[{`, `"personaz":[{`, 1),
		"not json":        "{",
		"duplicate guid":  strings.Replace(seed, `"users":[{`, `"users":[{"loginId":"a","globalUserId":"G1","firstName":"A","lastName":"B","email":"a@example.com","organizationId":"o1"},{"globalUserId":"g1",`, 1),
	}
	for name, content := range bad {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		_ = os.WriteFile(p, []byte(content), 0o600)
		if _, err := encompasstest.LoadSeedFile(p); err == nil {
			t.Errorf("%s: seed accepted", name)
		}
	}
	if _, err := encompasstest.LoadSeedFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestDefaultSeed(t *testing.T) {
	t.Parallel()
	srv := encompasstest.NewServer(t)
	names := func() []string {
		var n []string
		for _, p := range srv.Personas() {
			n = append(n, p.Name)
		}
		return n
	}
	for _, want := range []string{"Loan Officer", "Loan Processor", "Underwriter", "Administrator", "Super Administrator"} {
		if !strings.Contains(strings.Join(names(), "|"), want) {
			t.Errorf("persona %q missing", want)
		}
	}
	orgs := map[string]string{}
	for _, o := range srv.Organizations() {
		orgs[o.Name] = o.ID
	}
	if orgs["Administration"] != "0" || orgs["Retail Lending"] == "" || orgs["Processing"] == "" || orgs["Wholesale"] == "" {
		t.Errorf("organizations %v", orgs)
	}
	for _, g := range []string{"All Users", "Retail Loan Officers", "Processors"} {
		if _, ok := srv.Group(g); !ok {
			t.Errorf("group %q missing", g)
		}
	}
	if u, ok := srv.User(encompasstest.DefaultUsername); !ok || u.Password != encompasstest.DefaultPassword {
		t.Error("the admin API user is not seeded with the default password")
	}
	if srv.InstanceID != encompasstest.DefaultInstanceID || srv.ClientID != encompasstest.DefaultClientID {
		t.Error("default credentials")
	}
}

func TestStateHelpers(t *testing.T) {
	t.Parallel()
	srv := encompasstest.NewServer(t)
	if err := srv.SetEnabled("MJOHNSON", false); err != nil {
		t.Fatal(err)
	}
	if u, _ := srv.User("mjohnson"); u.Enabled {
		t.Fatal("SetEnabled")
	}
	if err := srv.ModifyUser("mjohnson", func(u *encompasstest.SimUser) { u.LoginID = "other" }); err == nil {
		t.Fatal("ModifyUser must refuse a login id change")
	}
	if err := srv.ModifyUser("mjohnson", func(u *encompasstest.SimUser) { u.Phone = "bad" }); err == nil {
		t.Fatal("ModifyUser must validate")
	}
	if err := srv.ModifyUser("ghost", func(u *encompasstest.SimUser) {}); err == nil {
		t.Fatal("ModifyUser of unknown user")
	}
	u, _ := srv.User("asmith")
	u.Title = "Lead Processor"
	u.GlobalUserID = ""
	if err := srv.UpsertUser(u); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.User(u.ID); got.Title != "Lead Processor" || got.GlobalUserID == "" {
		t.Fatalf("upsert kept GUID? %+v", got)
	}
	users := srv.Users()
	users[0].FirstName = "Mutated"
	if again := srv.Users(); again[0].FirstName == "Mutated" {
		t.Fatal("Users must return copies")
	}
	if !srv.DeleteUser("asmith") || srv.DeleteUser("asmith") {
		t.Fatal("DeleteUser")
	}
	if err := srv.Reset(nil); err != nil || srv.UserCount() != 5 {
		t.Fatalf("Reset: %v %d", err, srv.UserCount())
	}
}
