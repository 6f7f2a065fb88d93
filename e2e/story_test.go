package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// TestStory plays the demo's story and checks every chapter's effect.
func TestStory(t *testing.T) {
	env := start(t, nil)
	p := newPlayer(t, env)
	rep, err := p.Play(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if len(s.Failures) > 0 {
		for _, st := range rep.Steps {
			if st.Result != nil {
				t.Logf("%s %s -> %s\n%s", st.Actor, st.Action, st.Outcome, st.Result.Logs)
			}
		}
		t.Fatalf("failures: %v", s.Failures)
	}

	t.Run("published", func(t *testing.T) {
		if s.Created != 3 || s.Disabled != 2 || s.Reactivated != 1 {
			t.Errorf("created %d, disabled %d, reactivated %d; want 3 (Alice, Carol, Dan), 2 (Carol, Dan), 1 (Carol)", s.Created, s.Disabled, s.Reactivated)
		}
		if s.Updated < 1 {
			t.Errorf("no User Updated for Alice's move")
		}
		want := map[string]string{"hris-0002": "invalid_field", "hris-0001": "duplicate", "hris-0009": "stale"}
		if got := s.Reasons(); !maps.Equal(got, want) {
			t.Errorf("rejected and skipped events = %v, want %v", got, want)
		}
		for _, ev := range rep.Published {
			if ev.EventBusName != "" && ev.EventBusName != "encompass-lifecycle" {
				t.Errorf("%s went to bus %q", ev.DetailType, ev.EventBusName)
			}
			if id, _ := ev.DetailMap()["eventId"].(string); id == "" {
				t.Errorf("%s %s has no detail.eventId", ev.Source, ev.DetailType)
			}
			assertNoSecrets(t, env, ev.DetailType, string(ev.Detail))
		}
	})

	t.Run("rejection keeps the original message", func(t *testing.T) {
		evs := eventsFor(rep.Published, "hris-0002")
		if len(evs) != 1 || evs[0].DetailType != "HRIS Event Rejected" {
			t.Fatalf("events for hris-0002 = %v, want one HRIS Event Rejected", evs)
		}
		msg, _ := evs[0].DetailMap()["message"].(string)
		if msg != string(p.Feed.Hires[1].Body()) {
			t.Errorf("detail.message = %q, want the original body", msg)
		}
	})

	t.Run("Encompass state", func(t *testing.T) {
		alice := user(t, p, story.AliceLogin)
		if alice == nil || !alice.IsEnabled() || alice.Title != "Branch Manager" || alice.Phone != "555-201-0001" {
			t.Errorf("alice = %+v, want enabled, title edited by hand, phone normalised", alice)
		}
		if alice != nil {
			orgs, err := p.Admin.Organizations.Resolve(context.Background(), []string{"Processing"})
			if err != nil {
				t.Fatal(err)
			}
			if alice.OrganizationID != orgs["Processing"] {
				t.Errorf("alice's organization = %q, want Processing (%q) after the move", alice.OrganizationID, orgs["Processing"])
			}
			personas, err := p.Admin.Personas.Resolve(context.Background(), []string{"Loan Processor"})
			if err != nil {
				t.Fatal(err)
			}
			if got := alice.PersonaIDs(); !slices.Equal(got, []string{personas["Loan Processor"]}) {
				t.Errorf("alice's personas = %v, want only Loan Processor (%s)", got, personas["Loan Processor"])
			}
		}
		if bob := user(t, p, "bob.marsh"); bob != nil {
			t.Errorf("bob, whose hire was rejected, exists: %+v", bob)
		}
		if carol := user(t, p, story.CarolLogin); carol == nil || !carol.IsEnabled() {
			t.Errorf("carol = %+v, want enabled again after the rehire", carol)
		}
		if dan := user(t, p, story.DanLogin); dan == nil || !dan.IsEnabled() {
			t.Errorf("dan = %+v, want enabled (by hand, after leaving)", dan)
		}
	})

	t.Run("polls", func(t *testing.T) {
		polls := map[string][]testenv.Event{}
		for _, st := range rep.Steps {
			if st.Actor == "poller" {
				polls[st.Action] = st.Events
			}
		}
		if got := countEvents(polls["first poll"]); got["Baseline Established"] != 1 || len(polls["first poll"]) != 1 {
			t.Errorf("first poll published %v, want only Baseline Established", got)
		}
		var changed, enabled, drift bool
		for _, ev := range polls["second poll"] {
			d := ev.DetailMap()
			login, _ := d["loginId"].(string)
			switch {
			case ev.DetailType == "User Changed" && strings.EqualFold(login, story.AliceLogin):
				changed = d["origin"] == "external" && strings.Contains(string(ev.Detail), `"title"`)
			case ev.DetailType == "User Enabled" && strings.EqualFold(login, story.DanLogin):
				enabled = d["origin"] == "external"
			case ev.DetailType == "User Drift Detected" && strings.Contains(strings.ToLower(string(ev.Detail)), story.DanLogin):
				drift = true
			}
		}
		if !changed || !enabled || !drift {
			t.Errorf("second poll: external title change %v, Dan enabled externally %v, drift %v; events %v",
				changed, enabled, drift, countEvents(polls["second poll"]))
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		var loan []testenv.Event
		for _, ev := range rep.Published {
			if ev.Source == "encompass.webhook" {
				loan = append(loan, ev)
			}
		}
		if len(loan) != 1 || loan[0].DetailType != "Loan update" || loan[0].DetailMap()["eventId"] != story.LoanWebhookEventID {
			t.Errorf("webhook events = %v, want the signed delivery as Loan update", loan)
		}
		if s.WebhooksForwarded != 1 || s.WebhooksRefused != 1 {
			t.Errorf("webhooks forwarded %d, refused %d; want 1 and 1", s.WebhooksForwarded, s.WebhooksRefused)
		}
		for _, st := range rep.Steps {
			if st.Actor == "webhook" && strings.Contains(st.Action, "forged") && !strings.HasPrefix(st.Outcome, "HTTP 401") {
				t.Errorf("forged webhook: %s, want HTTP 401", st.Outcome)
			}
		}
	})

	// Issue 14's chapter, after the classic story (whose counts above it
	// leaves alone): an underwriter hired into Encompass and DDA under one
	// global user id, moved out of DDA, terminated with both profiles
	// verified disabled.
	t.Run("dda", func(t *testing.T) {
		before := len(p.Report().Published)
		if err := p.DDA(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := p.Report()
		if len(r.Summary.Failures) > 0 {
			t.Fatalf("failures: %v", r.Summary.Failures)
		}
		byID := map[string]testenv.Event{}
		for _, ev := range r.Published[before:] {
			id, _ := ev.DetailMap()["eventId"].(string)
			byID[id] = ev
			assertNoSecrets(t, env, ev.DetailType, string(ev.Detail))
		}
		f := story.NewDDAFeed(time.Time{})
		for id, want := range map[string]string{f.Hire.EventID: "User Provisioned", f.Move.EventID: "User Updated", f.Leave.EventID: "User Deprovisioned"} {
			ev, ok := byID[id]
			if !ok || ev.DetailType != want || !strings.Contains(string(ev.Detail), `"products":["encompass","dda"]`) {
				t.Errorf("%s: %s %s, want %s naming both products", id, ev.DetailType, ev.Detail, want)
			}
		}
		if d := byID[f.Move.EventID]; !strings.Contains(string(d.Detail), `{"field":"dda.enabled","from":"true","to":"false"}`) {
			t.Errorf("the move out of DDA: %s", d.Detail)
		}
		u, err := p.Admin.SCIM.FindUserByUserName(context.Background(), story.UmaLogin)
		if err != nil {
			t.Fatal(err)
		}
		dda, err := p.Admin.SCIM.GetAIQUser(context.Background(), u.ID)
		if err != nil || dda.IsEnabled() || u.IsEnabled() || dda.UserName != story.UmaLogin {
			t.Errorf("after the leave: Encompass %+v, DDA %+v %v; want both disabled on one global user id", u, dda, err)
		}
		last := r.Steps[len(r.Steps)-1]
		if !strings.Contains(last.Outcome, "Encompass disabled, DDA disabled") {
			t.Errorf("the administrator's check: %s", last.Outcome)
		}
	})

	// The last chapter, after every assertion above on the HRIS feed's
	// outcome: last night's roster adopts a hand-made account by an explicit
	// link, reports an orphan, disables the leaver the events missed (Dan,
	// enabled again by hand) and puts Alice's drifted persona back, all
	// through the queues and the provisioning functions.
	t.Run("reconciliation", func(t *testing.T) {
		if err := p.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		rep := p.Report()
		r := rep.Summary.Reconciliation
		if r == nil {
			t.Fatal("no reconciliation")
		}
		if r.Refused != "" {
			t.Fatalf("reconciliation refused: %s", r.Report)
		}
		var report struct {
			Findings []struct {
				Class       string
				EmployeeID  *string `json:"employeeId"`
				Login       *string `json:"encompassLogin"`
				Reason      string
				Differences []struct{ Field, From, To string }
			}
		}
		if err := json.Unmarshal(r.Report, &report); err != nil {
			t.Fatal(err)
		}
		classOf := map[string]string{}
		for _, f := range report.Findings {
			key := ""
			if f.EmployeeID != nil {
				key = *f.EmployeeID
			}
			if f.Class == "orphan" {
				key = "orphan:" + *f.Login
			}
			classOf[key] = f.Class
			t.Logf("%s %s: %s %v", f.Class, key, f.Reason, f.Differences)
		}
		want := map[string]string{
			story.Alice: "drift", story.Carol: "in_sync", story.Dan: "leaver_enabled", story.Uma: "in_sync", story.Elle: "adoptable",
			"E10001": "adoptable", "E10002": "adoptable", "orphan:" + story.OrphanLogin: "orphan",
		}
		if !maps.Equal(classOf, want) {
			t.Errorf("findings = %v, want %v", classOf, want)
		}
		if r.Sent != 5 || rep.Summary.Reconciled["User Provisioned"] != 3 || rep.Summary.Reconciled["User Updated"] != 1 || rep.Summary.Reconciled["User Deprovisioned"] != 1 {
			t.Errorf("sent %d, outcomes %v", r.Sent, rep.Summary.Reconciled)
		}
		if len(rep.Summary.Failures) > 0 {
			t.Fatalf("failures: %v", rep.Summary.Failures)
		}
		if dan := user(t, p, story.DanLogin); dan == nil || dan.IsEnabled() {
			t.Errorf("dan = %+v, want disabled again", dan)
		}
		personas, err := p.Admin.Personas.Resolve(context.Background(), []string{"Loan Processor"})
		if err != nil {
			t.Fatal(err)
		}
		if alice := user(t, p, story.AliceLogin); alice == nil || !slices.Equal(alice.PersonaIDs(), []string{personas["Loan Processor"]}) || alice.Title != "Branch Manager" {
			t.Errorf("alice = %+v, want Loan Processor again and the title left as it was", alice)
		}
		link, found, err := state.New(env.DynamoDB, env.Table).GetEmployee(context.Background(), story.Elle)
		if err != nil || !found || link.UserName != story.ElleLogin {
			t.Errorf("erin's link = %+v %v %v", link, found, err)
		}
		for _, ev := range rep.Published {
			assertNoSecrets(t, env, ev.DetailType, string(ev.Detail))
		}
	})
}
