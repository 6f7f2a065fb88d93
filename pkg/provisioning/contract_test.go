package provisioning_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
	"github.com/lenderops/encompass-lifecycle/pkg/telemetry"
)

// Tests of CONTRACTS sections 1 to 3, one sentence each, through the real
// handler, the simulator over HTTP and dynalite.

// "An absent field means leave it as it is in Encompass; an explicit null
// means clear it", in both user APIs.
func TestContractAbsentLeavesNullClears(t *testing.T) {
	fields := map[string]func(u encompasstest.SimUser) string{
		"middleName":         func(u encompasstest.SimUser) string { return u.MiddleName },
		"suffix":             func(u encompasstest.SimUser) string { return u.Suffix },
		"fax":                func(u encompasstest.SimUser) string { return u.Fax },
		"mobilePhone":        func(u encompasstest.SimUser) string { return u.CellPhone },
		"jobTitle":           func(u encompasstest.SimUser) string { return u.Title },
		"nmlsId":             func(u encompasstest.SimUser) string { return u.NMLSOriginatorID },
		"nmlsExpirationDate": func(u encompasstest.SimUser) string { return u.NMLSExpirationDate },
	}
	steps := []struct {
		name    string
		emp     map[string]any
		cleared []string // empty afterwards; every other field keeps its value
	}{
		{"every field absent", map[string]any{"workPhone": "555-555-1234 x12"}, nil},
		{"null clears", map[string]any{"middleName": nil, "fax": nil, "nmlsId": nil}, []string{"middleName", "fax", "nmlsId"}},
		{`"" clears like null`, map[string]any{"suffix": "", "mobilePhone": "", "jobTitle": ""}, []string{"middleName", "fax", "nmlsId", "suffix", "mobilePhone", "jobTitle"}},
		{"absent again leaves the rest", map[string]any{}, []string{"middleName", "fax", "nmlsId", "suffix", "mobilePhone", "jobTitle"}},
	}
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			p := joiner("E1100", "absnull")
			for k, v := range map[string]any{"middleName": "Q", "suffix": "III", "fax": "555.555.9999", "mobilePhone": "5555550000", "nmlsId": "123456", "nmlsExpirationDate": "2027-06-30"} {
				p[k] = v
			}
			e.mustSend(e.prov, hrisEvent("hire", "E1100", t0, p).body())
			full := e.user("absnull")
			for field, get := range fields {
				if get(full) == "" {
					t.Fatalf("hire did not set %s: %+v", field, full)
				}
			}
			for i, st := range steps {
				e.mustSend(e.prov, hrisEvent("update", "E1100", t0.Add(time.Duration(i+1)*time.Hour), st.emp).body())
				u := e.user("absnull")
				for field, get := range fields {
					want := get(full)
					if slices.Contains(st.cleared, field) {
						want = ""
					}
					if got := get(u); got != want {
						t.Errorf("%s: %s = %q, want %q", st.name, field, got, want)
					}
				}
				if u.FirstName != "Jane" || u.Email != full.Email || !u.Enabled || u.Phone != full.Phone {
					t.Errorf("%s: untouched fields changed: %+v", st.name, u)
				}
			}
		})
	}
}

// "employeeId ... is written to Encompass's employeeId only when it fits (10
// characters); the link is kept in the state table either way."
func TestContractEmployeeIDOnlyWhenItFits(t *testing.T) {
	cases := []struct {
		employeeID, login string
		written           bool
	}{
		{"E12345", "empshort", true},
		{"E123456789", "empten", true},
		{"E1234567890", "empeleven", false},
		{"WORKDAY-0000012345-US", "emplong", false},
	}
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			for _, tc := range cases {
				e.mustSend(e.prov, hrisEvent("hire", tc.employeeID, t0, joiner(tc.employeeID, tc.login)).body())
				u := e.user(tc.login)
				if want := map[bool]string{true: tc.employeeID, false: ""}[tc.written]; u.EmployeeID != want {
					t.Errorf("%s: Encompass employeeId = %q, want %q", tc.employeeID, u.EmployeeID, want)
				}
				link, found, err := e.store.GetEmployee(context.Background(), tc.employeeID)
				if err != nil || !found || link.UserID != u.ID {
					t.Errorf("%s: link %+v %v %v", tc.employeeID, link, found, err)
				}
				// A later update finds the account through the link and
				// never tries to write the long id.
				e.mustSend(e.prov, hrisEvent("update", tc.employeeID, t0.Add(time.Hour), map[string]any{"jobTitle": "Senior LO"}).body())
				if u := e.user(tc.login); u.Title != "Senior LO" || (tc.written != (u.EmployeeID != "")) {
					t.Errorf("%s: after update %+v", tc.employeeID, u)
				}
			}
		})
	}
}

// "effectiveAt, when more than 5 minutes in the future, is held and applied
// at that time (section 2a). Absent or past means now."
func TestContractEffectiveAt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	now := time.Now().UTC()
	cases := []struct {
		name, login string
		effective   any // nil: absent
		held        bool
	}{
		{"absent", "effabsent", nil, false},
		{"null", "effnull", "null", false},
		{"a year ago", "effpast", now.AddDate(-1, 0, 0).Format(time.RFC3339), false},
		{"4 minutes ahead", "eff4m", now.Add(4 * time.Minute).Format(time.RFC3339), false},
		{"6 minutes ahead", "eff6m", now.Add(6 * time.Minute).Format(time.RFC3339), true},
		{"next month", "effmonth", now.AddDate(0, 1, 0).Format(time.RFC3339), true},
	}
	for i, tc := range cases {
		emp := "E12" + string(rune('0'+i))
		m := hrisEvent("hire", emp, t0, joiner(emp, tc.login))
		switch tc.effective {
		case nil:
		case "null":
			m["effectiveAt"] = nil
		default:
			m["effectiveAt"] = tc.effective
		}
		e.mustSend(e.prov, m.body())
		dt, d := e.eventFor(m.id())
		if tc.held {
			if dt != catalog.HRISEventScheduled || d["effectiveAt"] == nil || e.usersNamed(tc.login) != 0 {
				t.Errorf("%s: %s %v; want held (HRIS Event Scheduled) and no account yet", tc.name, dt, d)
			}
			continue
		}
		if dt != catalog.UserProvisioned || e.usersNamed(tc.login) != 1 {
			t.Errorf("%s: %s %v; want provisioned now", tc.name, dt, d["reason"])
		}
	}
}

// "User groups named anywhere in the mapping are reconciled ...; groups the
// mapping never names are never touched."
func TestContractUnmappedGroupsNeverTouched(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	e.mustSend(e.prov, hrisEvent("hire", "E1300", t0, joiner("E1300", "grpuser")).body())
	all, ok := e.sim.Group("All Users")
	if !ok {
		t.Fatal("the simulator's seed has no All Users group")
	}
	var members []string
	for _, m := range all.Members {
		if m.Type == "User" {
			members = append(members, m.Value)
		}
	}
	if err := e.sim.SetGroupMembers("All Users", append(members, "grpuser")...); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	steps := []struct {
		name string
		send func()
	}{
		{"move to processing", func() {
			e.mustSend(e.prov, hrisEvent("update", "E1300", t0.Add(time.Hour), map[string]any{"department": "Processing", "jobCode": "PR1"}).body())
		}},
		{"back to loan officer", func() {
			e.mustSend(e.prov, hrisEvent("update", "E1300", t0.Add(2*time.Hour), map[string]any{"department": "Retail", "jobCode": "LO2"}).body())
		}},
		{"terminate", func() { e.mustSend(e.deprov, hrisEvent("terminate", "E1300", t0.Add(3*time.Hour), nil).body()) }},
		{"rehire", func() {
			e.mustSend(e.prov, hrisEvent("rehire", "E1300", t0.Add(4*time.Hour), joiner("E1300", "grpuser")).body())
		}},
	}
	for _, st := range steps {
		st.send()
		if !slices.Contains(e.sim.GroupMembers("All Users"), "grpuser") {
			t.Fatalf("%s: removed from a group the mapping never names", st.name)
		}
	}
	for _, r := range e.sim.Requests() {
		if r.Method != http.MethodGet && strings.Contains(r.Path, "/groups/"+all.ID) {
			t.Fatalf("a write touched the unmapped group: %s %s", r.Method, r.Path)
		}
	}
	if e.sim.Count("PATCH /scim2/v1/groups/{id}") == 0 {
		t.Fatal("the mapped groups were not reconciled at all; the test proves nothing")
	}
}

// "In scim mode an organization change goes through the v3 PATCH of
// organizationId, because SCIM PATCH treats organization as read-only."
func TestContractSCIMOrganizationChangeThroughV3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	e.mustSend(e.prov, hrisEvent("hire", "E1400", t0, joiner("E1400", "orgmove")).body())
	before := e.user("orgmove")
	e.sim.ResetRequests()
	e.mustSend(e.prov, hrisEvent("update", "E1400", t0.Add(time.Hour), map[string]any{"department": "Processing", "jobCode": "PR1", "familyName": "Moved"}).body())
	u := e.user("orgmove")
	if u.OrganizationID == before.OrganizationID || u.LastName != "Moved" {
		t.Fatalf("organization %s -> %s, lastName %s", before.OrganizationID, u.OrganizationID, u.LastName)
	}
	var v3Org, scimOrg, scimPatches int
	for _, r := range e.sim.Requests() {
		var body map[string]any
		_ = json.Unmarshal(r.Body, &body)
		switch r.Endpoint {
		case "PATCH /encompass/v3/users/{id}":
			if body["organizationId"] == u.OrganizationID {
				v3Org++
			}
		case "PATCH /scim2/v1/users/{id}":
			scimPatches++
			if strings.Contains(strings.ToLower(string(r.Body)), "organization") {
				scimOrg++
			}
		}
	}
	if v3Org != 1 || scimOrg != 0 || scimPatches == 0 {
		t.Fatalf("v3 organizationId patches %d (want 1), SCIM patches naming the organization %d (want 0), SCIM patches %d", v3Org, scimOrg, scimPatches)
	}
}

// reEnabler is the transport of a tenant where something (an SSO sync, an
// admin) enables the account again right after this system disabled it: the
// disable is answered as done, the read-back shows it enabled.
type reEnabler struct {
	base    http.RoundTripper
	sim     *encompasstest.Server
	login   string
	enabled bool
}

func (r *reEnabler) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && r.enabled && (req.Method == http.MethodDelete || req.Method == http.MethodPatch) && strings.Contains(req.URL.Path, "/users/") {
		_ = r.sim.SetEnabled(r.login, true)
	}
	return resp, err
}

// "Deprovisioning disables the account, then reads it back and fails the
// message if the account is still enabled", in both user APIs.
func TestContractDisableReadBack(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			e.mustSend(e.prov, hrisEvent("hire", "E1500", t0, joiner("E1500", "sticky")).body())
			rt := &reEnabler{base: e.sim.Client().Transport, sim: e.sim, login: "sticky", enabled: true}
			if rt.base == nil {
				rt.base = http.DefaultTransport
			}
			client, err := encompass.New(encompass.Config{
				BaseURL: e.sim.URL, InstanceID: e.sim.InstanceID, ClientID: e.sim.ClientID, ClientSecret: e.sim.ClientSecret,
				Username: e.sim.Username, Password: e.sim.Password, HTTPClient: &http.Client{Transport: rt},
				BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := provisioning.New(provisioning.Config{
				Queue: hris.QueueDeprovision, Scheduler: e.scheduler, QueueARN: deprovisionARN, Directory: mustDirectory(e.t, api, client, e.rules),
				Store: e.store, Publisher: publish.New(e.eb.Client, "lifecycle-bus"), Mapping: e.rules,
			})
			if err != nil {
				t.Fatal(err)
			}
			leave := hrisEvent("terminate", "E1500", t0.Add(time.Hour), nil).body()
			for range 2 {
				if failed := e.send(h, leave); len(failed) != 1 {
					t.Fatal("a disable that did not hold was acknowledged")
				}
				if n := len(e.published(catalog.UserDeprovisioned)); n != 0 {
					t.Fatalf("%d User Deprovisioned events for an account still enabled", n)
				}
			}
			rt.enabled = false
			e.mustSend(h, leave)
			if e.user("sticky").Enabled || len(e.published(catalog.UserDeprovisioned)) != 1 {
				t.Fatal("the redelivery did not disable and report the account")
			}
		})
	}
}

// "detail.eventId is the HRIS event id (the SQS message id when the body has
// none)."
func TestContractEventIDFallsBackToMessageID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	cases := []struct {
		name, body, want string
	}{
		{"no eventId", `{"schemaVersion":"1","type":"hire","occurredAt":"2026-11-20T09:00:00Z","employee":{"employeeId":"E1"}}`, ""},
		{"eventId null", `{"schemaVersion":"1","eventId":null,"type":"hire"}`, ""},
		{"eventId a number", `{"schemaVersion":"1","eventId":12,"type":"hire"}`, ""},
		{"eventId blank", `{"schemaVersion":"1","eventId":"  ","type":"hire"}`, ""},
		{"eventId too long", `{"schemaVersion":"1","eventId":"` + strings.Repeat("x", 200) + `","type":"hire"}`, ""},
		{"not JSON", `hire E1 please`, ""},
		{"empty body", ``, ""},
		{"an eventId, otherwise invalid", `{"schemaVersion":"1","eventId":"has-id-1","type":"promote"}`, "has-id-1"},
	}
	for i, tc := range cases {
		msgID := "sqs-msg-" + string(rune('a'+i))
		resp, err := e.prov.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: msgID, Body: tc.body}}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %v %v", tc.name, resp, err)
		}
		want := tc.want
		if want == "" {
			want = msgID
		}
		dt, d := e.eventFor(want)
		if dt != catalog.HRISEventRejected || d["message"] != tc.body {
			t.Errorf("%s: %s %v", tc.name, dt, d)
		}
	}
}

// findPassword returns the "password" value anywhere in a JSON document.
func findPassword(v any) string {
	if m, ok := v.(map[string]any); ok {
		if pw, ok := m["password"].(string); ok {
			return pw
		}
		for _, c := range m {
			if pw := findPassword(c); pw != "" {
				return pw
			}
		}
	}
	return ""
}

// passwordEcho is the transport of a tenant whose password policy refuses the
// generated password and quotes it back in the 400, as some APIs do.
type passwordEcho struct {
	base http.RoundTripper
	seen []string
}

func (p *passwordEcho) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil || !(strings.HasSuffix(req.URL.Path, "/encompass/v3/users") || strings.HasSuffix(req.URL.Path, "/scim2/v1/users")) {
		return p.base.RoundTrip(req)
	}
	b, _ := io.ReadAll(req.Body)
	var doc any
	_ = json.Unmarshal(b, &doc)
	pw := findPassword(doc) // top level (v3) or in the SCIM extension
	if pw == "" {
		req.Body = io.NopCloser(bytes.NewReader(b))
		return p.base.RoundTrip(req)
	}
	body := struct{ Password string }{pw}
	p.seen = append(p.seen, body.Password)
	answer, _ := json.Marshal(map[string]any{
		"errorCode": "EBS-" + body.Password, "summary": "Password " + body.Password + " refused",
		"details": "the password '" + body.Password + "' does not meet the policy", "detail": body.Password,
	})
	return &http.Response{
		StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Request: req,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(answer)),
		ContentLength: int64(len(answer)),
	}, nil
}

// "A user who is not SSO-only gets a random password ...; the password is
// never logged, stored or published", even when Encompass quotes it back in
// its refusal.
func TestContractPasswordNotExposedByARefusal(t *testing.T) {
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			echo := &passwordEcho{base: e.sim.Client().Transport}
			if echo.base == nil {
				echo.base = http.DefaultTransport
			}
			var logs testenv.Buffer
			logger := telemetry.NewLogger(&logs, slog.LevelDebug)
			client, err := encompass.New(encompass.Config{
				BaseURL: e.sim.URL, InstanceID: e.sim.InstanceID, ClientID: e.sim.ClientID, ClientSecret: e.sim.ClientSecret,
				Username: e.sim.Username, Password: e.sim.Password, HTTPClient: &http.Client{Transport: echo},
				BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Logger: logger,
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := provisioning.New(provisioning.Config{
				Queue: hris.QueueProvision, Scheduler: e.scheduler, QueueARN: provisionARN, Directory: mustDirectory(e.t, api, client, e.rules),
				Store: e.store, Publisher: publish.New(e.eb.Client, "lifecycle-bus"), Mapping: e.rules,
				Logger: logger,
			})
			if err != nil {
				t.Fatal(err)
			}
			p := joiner("E1600", "pwrefused")
			p["ssoOnly"] = false
			hire := hrisEvent("hire", "E1600", t0, p)
			e.mustSend(h, hire.body())
			if len(echo.seen) != 1 {
				t.Fatalf("%d creates with a password", len(echo.seen))
			}
			pw := echo.seen[0]
			dt, d := e.eventFor(hire.id())
			if dt != catalog.HRISEventRejected || d["reason"] != failure.ReasonEncompassRejected || !strings.Contains(d["error"].(string), "[REDACTED]") {
				t.Fatalf("%s %v", dt, d)
			}
			for where, text := range map[string]string{"logs": logs.String(), "events": eventsText(e)} {
				if strings.Contains(text, pw) {
					t.Errorf("the password appears in the %s", where)
				}
			}
			claim, _, _ := e.store.GetClaim(context.Background(), state.EventKey(hire.id()))
			if strings.Contains(claim.Outcome, pw) {
				t.Error("the password is stored in the idempotency record")
			}
		})
	}
}

func eventsText(e *env) string {
	var b strings.Builder
	for _, ev := range e.eb.Events() {
		b.Write(ev.Detail)
	}
	return b.String()
}

// A message whose invocation crashed after claiming its event (claim left in
// progress) is taken over by its own redelivery at once; another message with
// the same event id still waits for the lease.
func TestRedeliveryOfACrashedMessageTakesOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	hire := hrisEvent("hire", "E1700", t0, joiner("E1700", "crashed"))
	// The crashed invocation: claimed, never completed nor released.
	if c, err := e.store.Claim(context.Background(), state.EventKey(hire.id()), "m-crashed", state.ClaimOptions{TTL: time.Hour, EmployeeID: "E1700"}); c.Status != state.ClaimInProgress || err != nil {
		t.Fatal(c, err)
	}
	if e.sendRecords(e.prov, events.SQSMessage{MessageId: "m-other", Body: hire.body()}) == 0 {
		t.Fatal("another message with the event id ran while the claim is live")
	}
	if e.sendRecords(e.prov, events.SQSMessage{MessageId: "m-crashed", Body: hire.body()}) != 0 {
		t.Fatal("the redelivery of the crashed message waited for the lease")
	}
	if dt, _ := e.eventFor(hire.id()); dt != catalog.UserProvisioned || e.usersNamed("crashed") != 1 {
		t.Fatalf("%s", dt)
	}
	// Now it is done: the other message is a duplicate.
	if e.sendRecords(e.prov, events.SQSMessage{MessageId: "m-other", Body: hire.body()}) != 0 || len(e.published(catalog.HRISEventSkipped)) != 1 {
		t.Fatal("the other message is not a duplicate")
	}
}

// "Rehire re-enables the account ... update never re-enables", whichever way
// the account is found: through the link or adopted by login id and e-mail.
// A hire of a linked employee behaves as update.
func TestContractOnlyRehireReEnables(t *testing.T) {
	cases := []struct {
		name, typ   string
		linked      bool // the employee was hired and terminated by this system first
		wantEnabled bool
		wantType    string
	}{
		{"update of a terminated employee", "update", true, false, catalog.UserUpdated},
		{"hire of a terminated employee", "hire", true, false, catalog.UserUpdated},
		{"rehire of a terminated employee", "rehire", true, true, catalog.UserReactivated},
		{"update adopting a disabled account", "update", false, false, catalog.UserProvisioned},
		{"rehire adopting a disabled account", "rehire", false, true, catalog.UserProvisioned},
	}
	for _, api := range bothAPIs {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, api)
			for i, tc := range cases {
				emp := "E18" + string(rune('0'+i))
				login := "reen" + string(rune('a'+i))
				if tc.linked {
					e.mustSend(e.prov, hrisEvent("hire", emp, t0, joiner(emp, login)).body())
					e.mustSend(e.deprov, hrisEvent("terminate", emp, t0.Add(time.Hour), nil).body())
				} else {
					// Existing staff, disabled before this system ran.
					e.mustSend(e.prov, hrisEvent("hire", "X"+emp, t0, joiner("X"+emp, login)).body())
					if err := e.sim.SetEnabled(login, false); err != nil {
						t.Fatal(err)
					}
				}
				p := joiner(emp, login)
				p["jobTitle"] = "Changed " + tc.typ
				ev := hrisEvent(tc.typ, emp, t0.Add(2*time.Hour), p)
				e.mustSend(e.prov, ev.body())
				if got := e.user(login).Enabled; got != tc.wantEnabled {
					t.Errorf("%s: enabled = %v, want %v", tc.name, got, tc.wantEnabled)
				}
				if dt, _ := e.eventFor(ev.id()); dt != tc.wantType {
					t.Errorf("%s: %s, want %s", tc.name, dt, tc.wantType)
				}
			}
		})
	}
}

// A hand-made event without a message id or an event id is still rejected
// under a name (a digest of the body), never retried for want of one.
func TestRejectionWithoutAnyID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	for _, body := range []string{`{"type":"hire"}`, strings.Repeat("z", 100<<10)} {
		if e.sendRecords(e.prov, events.SQSMessage{Body: body}) != 0 {
			t.Fatalf("%.20s: retried", body)
		}
	}
	rejected := e.published(catalog.HRISEventRejected)
	if len(rejected) != 2 || !strings.HasPrefix(rejected[0]["eventId"].(string), "body-sha256-") || rejected[0]["eventId"] == rejected[1]["eventId"] {
		t.Fatalf("%v", rejected)
	}
	ref := rejected[1]["messageStoredAt"].(map[string]any)
	if ref["pk"] != "REJECTED#"+rejected[1]["eventId"].(string) || ref["sk"] != "BODY" {
		t.Fatalf("stored at %v", ref)
	}
}
