package encompass

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

func TestDecodeAPIError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		status                int
		body                  string
		header                http.Header
		code, summary, detail string
		is                    error
		retryable             bool
	}{
		{"rest", 400, `{"summary":"Bad Request","details":"loginId is invalid","errorCode":"EBS-912"}`, nil, "EBS-912", "Bad Request", "loginId is invalid", ErrBadRequest, false},
		{"oauth style", 401, `{"error":"invalid_token","error_description":"token expired"}`, nil, "invalid_token", "token expired", "", ErrUnauthorized, false},
		{"throttled", 429, `{"code":"100002","message":"Client has exceeded the concurrency limit or daily quota."}`, http.Header{"X-Rate-Limit-Reset": {"1900000000"}, "X-Rate-Limit-Remaining": {"0"}}, "100002", "Client has exceeded the concurrency limit or daily quota.", "", ErrThrottled, true},
		{"numeric code", 429, `{"code":100002,"message":"x"}`, nil, "100002", "x", "", ErrThrottled, true},
		{"errors array", 409, `{"summary":"Conflict","errors":[{"errorCode":"E1","details":"exists"},{"message":"again"}]}`, nil, "", "Conflict", "E1 exists; again", ErrConflict, false},
		{"not json", 502, `<html>bad gateway</html>`, nil, "", "Bad Gateway", "<html>bad gateway</html>", ErrServer, true},
		{"empty", 404, ``, nil, "", "Not Found", "", ErrNotFound, false},
		{"forbidden", 403, `{"summary":"Forbidden"}`, nil, "", "Forbidden", "", ErrForbidden, false},
		{"gateway timeout", 504, `{}`, nil, "", "Gateway Timeout", "", ErrServer, true},
		{"unprocessable", 422, `{"summary":"x"}`, nil, "", "x", "", ErrBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"X-Correlation-Id": {"corr-1"}}
			for k, v := range tt.header {
				h[k] = v
			}
			e := decodeAPIError("GET", "/x/{id}", &http.Response{StatusCode: tt.status, Header: h}, []byte(tt.body))
			if e.Code != tt.code || e.Summary != tt.summary || e.Details != tt.detail {
				t.Errorf("got code=%q summary=%q details=%q", e.Code, e.Summary, e.Details)
			}
			if e.CorrelationID != "corr-1" {
				t.Errorf("correlation id %q", e.CorrelationID)
			}
			wrapped := fmt.Errorf("op: %w", e)
			if !errors.Is(wrapped, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", wrapped, tt.is)
			}
			if got := IsRetryable(wrapped); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if tt.header != nil && e.RateLimitReset.Unix() != 1900000000 {
				t.Errorf("reset %v", e.RateLimitReset)
			}
			if !strings.Contains(e.Error(), "corr-1") || !strings.Contains(e.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("message %q lacks status or correlation id", e.Error())
			}
		})
	}
}

func TestDecodeAPIErrorTruncatesHugeBodies(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 100000)
	e := decodeAPIError("GET", "/x", &http.Response{StatusCode: 500, Header: http.Header{}}, []byte(body))
	if len(e.Error()) > 2*maxErrorText {
		t.Fatalf("error message is %d bytes", len(e.Error()))
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true},
		{"eof via transport", fmt.Errorf("x: %w: %w", errTransport, io.ErrUnexpectedEOF), true},
		{"unknown outcome", fmt.Errorf("x: %w", ErrUnknownOutcome), true},
		{"throttled sentinel", ErrThrottled, true},
		{"not found sentinel", ErrNotFound, false},
		{"config", ErrInvalidArgument, false},
		{"unknown names", &UnknownNamesError{Kind: "persona"}, false},
		{"json", &json.SyntaxError{}, false},
		{"token 400", tokenErrorFor(400), false},
		{"token 503", tokenErrorFor(503), true},
		{"500", &APIError{StatusCode: 500}, true},
		{"501", &APIError{StatusCode: 501}, false},
		{"401", &APIError{StatusCode: 401}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsRetryable(tt.err); got != tt.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func tokenErrorFor(status int) error {
	return fmt.Errorf("x: %w", &APIError{StatusCode: status, Endpoint: tokenPath})
}

func TestFullJitterBounds(t *testing.T) {
	t.Parallel()
	base, maxD := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 40; n++ {
		ceiling := min(maxD, base<<min(n-1, 20))
		for range 50 {
			d := fullJitter(base, maxD, n)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", n, d, ceiling)
			}
		}
	}
	// Full jitter spreads: over many draws the mean is near half the cap.
	var sum time.Duration
	const draws = 2000
	for range draws {
		sum += fullJitter(base, maxD, 10)
	}
	if mean := sum / draws; mean < maxD/4 || mean > maxD*3/4 {
		t.Fatalf("mean delay %v not near %v", mean, maxD/2)
	}
}

func TestUserDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		json            string
		enabled, locked bool
		personas        []string
		nmls            string
	}{
		{"enabled bool", `{"id":"jdoe","enabled":true,"personas":[{"id":"7","name":"Loan Officer"}]}`, true, false, []string{"7"}, ""},
		{"disabled bool wins over indicators", `{"id":"jdoe","enabled":false,"userIndicators":["Enabled"]}`, false, false, nil, ""},
		{"indicators disabled", `{"id":"jdoe","userIndicators":["Disabled","Locked"]}`, false, true, nil, ""},
		{"indicators only other", `{"id":"jdoe","userIndicators":["TopLevelUser","SuperAdminnistrator"]}`, true, false, nil, ""},
		{"no state", `{"id":"jdoe"}`, true, false, nil, ""},
		{"persona strings", `{"id":"jdoe","personas":["1","2"]}`, true, false, []string{"1", "2"}, ""},
		{"persona numbers and entityId", `{"id":"jdoe","personas":[3,{"entityId":4,"entityName":"X"}]}`, true, false, []string{"3", "4"}, ""},
		{"nmls upper", `{"id":"jdoe","nmlsOriginatorID":"123"}`, true, false, nil, "123"},
		{"nmls lower", `{"id":"jdoe","nmlsOriginatorId":"456","extra":{"x":1}}`, true, false, nil, "456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var u User
			if err := json.Unmarshal([]byte(tt.json), &u); err != nil {
				t.Fatal(err)
			}
			if u.IsEnabled() != tt.enabled || u.IsLocked() != tt.locked {
				t.Errorf("enabled=%v locked=%v", u.IsEnabled(), u.IsLocked())
			}
			if got := strings.Join(u.PersonaIDs(), ","); got != strings.Join(tt.personas, ",") {
				t.Errorf("personas %q", got)
			}
			if u.NMLSOriginatorID != tt.nmls {
				t.Errorf("nmls %q", u.NMLSOriginatorID)
			}
		})
	}
}

func TestUserDecodingRejectsHostileShapes(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"personas":[true]}`, `{"personas":[{"id":{}}]}`, `{"enabled":"yes"}`, `[`} {
		var u User
		if err := json.Unmarshal([]byte(in), &u); err == nil {
			t.Errorf("%s: decoded without error", in)
		}
	}
}

func TestUserNeverPrintsPassword(t *testing.T) {
	t.Parallel()
	u := User{ID: "jdoe", LoginID: "jdoe", Password: "Sup3r-Secret!"}
	for _, s := range []string{fmt.Sprint(u), fmt.Sprintf("%v", u), fmt.Sprintf("%+v", u), u.String()} {
		if strings.Contains(s, "Sup3r-Secret!") {
			t.Fatalf("password printed: %s", s)
		}
	}
}

func TestDecodeList(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`[{"id":"a"},{"id":"b"}]`, `{"items":[{"id":"a"},{"id":"b"}],"totalCount":2}`} {
		users, err := decodeList[User]([]byte(in))
		if err != nil || len(users) != 2 || users[1].ID != "b" {
			t.Errorf("%s: %v %v", in, users, err)
		}
	}
	for _, in := range []string{`{"total":2}`, `"x"`, `{"items":"x"}`} {
		if _, err := decodeList[User]([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	if users, err := decodeList[User]([]byte(`null`)); err != nil || users != nil {
		t.Errorf("null: %v %v", users, err)
	}
}

func TestSCIMUserRoundTrip(t *testing.T) {
	t.Parallel()
	in := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + SchemaEncompassUser + `"],
	  "id":"18272ed6-0455-486f-94ea-a586924e8fd5",
	  "` + SchemaEncompassUser + `":{"id":"testuser1","userName":"testuser1","accountEnabled":false,
	    "personas":[{"entityName":"Loan Processor","entityType":"Persona","entityId":"11"}],
	    "organization":{"entityId":0},"name":{"givenName":"A","familyName":"B"},
	    "emails":[{"type":"work","value":"a@example.com"}],"userIndicators":["TopLevelUser"]}}`
	var u SCIMUser
	if err := json.Unmarshal([]byte(in), &u); err != nil {
		t.Fatal(err)
	}
	if u.ID != "18272ed6-0455-486f-94ea-a586924e8fd5" || u.EncompassID != "testuser1" || u.UserName != "testuser1" {
		t.Fatalf("ids: %+v", u)
	}
	if u.IsEnabled() || u.Organization.EntityID != "0" || u.Personas[0].EntityID != "11" || u.Name.FamilyName != "B" {
		t.Fatalf("fields: %+v", u)
	}
	out, err := json.Marshal(SCIMUser{UserName: "new", Password: "p", Personas: []SCIMEntity{{EntityID: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["id"]; ok {
		t.Errorf("create body carries a top-level id: %s", out)
	}
	if !strings.Contains(string(m[SchemaEncompassUser]), `"userName":"new"`) || !strings.Contains(string(m["schemas"]), SchemaCoreUser) {
		t.Errorf("body %s", out)
	}
}

func TestSCIMGroupDecoding(t *testing.T) {
	t.Parallel()
	in := `{"schemas":["` + SchemaEncompassGroup + `"],"` + SchemaEncompassGroup + `":{"displayName":"Accounting","id":"8",
	  "members":[{"orgLevel":"Recursive","type":"Organization","value":"1"},{"type":"User","value":"usertest9","accountIndicators":["Enabled"]},{"type":"Organization","value":37}]}}`
	var g SCIMGroup
	if err := json.Unmarshal([]byte(in), &g); err != nil {
		t.Fatal(err)
	}
	if g.ID != "8" || g.DisplayName != "Accounting" || len(g.Members) != 3 || !g.HasUser("USERTEST9") || g.HasUser("1") || g.Members[2].Value != "37" {
		t.Fatalf("%+v", g)
	}
}

func TestListResponseNumbers(t *testing.T) {
	t.Parallel()
	var lr listResponse
	if err := json.Unmarshal([]byte(`{"totalResults":"896","itemsPerPage":4,"startIndex":"800","Resources":[]}`), &lr); err != nil {
		t.Fatal(err)
	}
	total, per, start, err := lr.numbers()
	if err != nil || total != 896 || per != 4 || start != 800 {
		t.Fatalf("%d %d %d %v", total, per, start, err)
	}
	if err := json.Unmarshal([]byte(`{"totalResults":"many"}`), &lr); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := lr.numbers(); err == nil {
		t.Fatal("bad totalResults accepted")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := Config{BaseURL: "http://127.0.0.1:1", InstanceID: "BE1", ClientID: "id", ClientSecret: "sec"}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"bad url", func(c *Config) { c.BaseURL = "::" }, "BaseURL"},
		{"no instance", func(c *Config) { c.InstanceID = "" }, "InstanceID"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"password grant needs password", func(c *Config) { c.Username = "u" }, "Password"},
		{"explicit grant missing user", func(c *Config) { c.Grant = GrantPassword }, "Username"},
		{"unknown grant", func(c *Config) { c.Grant = "implicit" }, "grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.mutate(&cfg)
			c, err := New(cfg)
			if tt.want == "" {
				if err != nil || c.cfg.MaxInFlight != DefaultMaxInFlight || c.cfg.Grant != GrantClientCredentials {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %s", err, tt.want)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", " ", "a/b", "a?b", "a#b", "..\\x", "a\nb", strings.Repeat("x", 300)} {
		if checkID(bad) == nil {
			t.Errorf("checkID(%q) accepted", bad)
		}
	}
	for _, good := range []string{"jdoe", "j.doe@x", "18272ed6-0455-486f-94ea-a586924e8fd5"} {
		if err := checkID(good); err != nil {
			t.Errorf("checkID(%q): %v", good, err)
		}
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "http://x", InstanceID: "BE1", ClientID: "id", ClientSecret: "cl13nt-s3cret", Username: "u", Password: "pa55w0rd!"}
	var buf testenv.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), buf.String()} {
		if strings.Contains(out, "cl13nt-s3cret") || strings.Contains(out, "pa55w0rd!") {
			t.Fatalf("secret printed: %s", out)
		}
		if !strings.Contains(out, "BE1") {
			t.Fatalf("config not printed: %s", out)
		}
	}
}

// FuzzFlexString checks the fast path for ids against encoding/json: for
// any JSON string literal both must agree, and nothing may panic.
func FuzzFlexString(f *testing.F) {
	for _, seed := range []string{`"abc"`, `"a\"b"`, `"\u00e9"`, `12`, `-1.5e3`, `null`, `"`, `""`, `"a\\"`, `{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := flexString(b)
		var want string
		if json.Unmarshal(b, &want) == nil {
			if err != nil || got != want {
				t.Fatalf("flexString(%q) = %q, %v; encoding/json says %q", b, got, err, want)
			}
		}
		// Lists of users decode or fail, never panic.
		_, _ = decodeList[User](b)
	})
}

func TestSCIMUserAlternateSchemaKey(t *testing.T) {
	t.Parallel()
	var u SCIMUser
	in := `{"id":"g1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:EncompassInternalUser":{"userName":"alt","accountEnabled":true}}`
	if err := json.Unmarshal([]byte(in), &u); err != nil || u.UserName != "alt" || u.ID != "g1" || !u.IsEnabled() {
		t.Fatalf("%+v %v", u, err)
	}
}
