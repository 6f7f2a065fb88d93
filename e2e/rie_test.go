package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/rie"
	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// TestStoryAgreesWithAWSEmulator plays the product's story twice, through
// the project's runner (internal/lambdarun) and through AWS's own Lambda
// runtime interface emulator (internal/rie), each against a fresh local
// product, and requires the same outcomes: the same events published at
// each step, the same summary, and the same users in Encompass. The
// emulator must be installed (`make rie`); without it the test fails,
// saying how to install it.
func TestStoryAgreesWithAWSEmulator(t *testing.T) {
	if _, err := rie.Find(); err != nil {
		t.Fatal(err)
	}
	play := func(runner func(lambdarun.Config) (localenv.Invoker, error)) (*story.Report, map[string]string, *localenv.Env) {
		env := start(t, func(o *localenv.Options) { o.Runner = runner })
		p := newPlayer(t, env)
		rep, err := p.Play(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Summary.Failures) > 0 {
			for _, st := range rep.Steps {
				if st.Result != nil {
					t.Logf("%s %s -> %s\n%s", st.Actor, st.Action, st.Outcome, st.Result.Logs)
				}
			}
			t.Fatalf("failures: %v", rep.Summary.Failures)
		}
		return rep, encompassState(t, p), env
	}
	ownRep, ownUsers, _ := play(nil)
	awsRep, awsUsers, awsEnv := play(func(cfg lambdarun.Config) (localenv.Invoker, error) { return rie.New(cfg) })

	if got, want := stepOutcomes(ownRep), stepOutcomes(awsRep); !slices.Equal(got, want) {
		t.Errorf("published events differ (- lambdarun, + emulator):\n%s", diffLines(got, want))
	}
	if got, want := summaryOf(ownRep.Summary), summaryOf(awsRep.Summary); got != want {
		t.Errorf("summary:\n lambdarun %s\n emulator  %s", got, want)
	}
	if !maps.Equal(ownUsers, awsUsers) {
		for _, login := range slices.Sorted(maps.Keys(awsUsers)) {
			if ownUsers[login] != awsUsers[login] {
				t.Errorf("Encompass user %s:\n lambdarun %s\n emulator  %s", login, ownUsers[login], awsUsers[login])
			}
		}
		for login := range ownUsers {
			if _, ok := awsUsers[login]; !ok {
				t.Errorf("Encompass user %s exists only under lambdarun", login)
			}
		}
	}
	// The story really ran under the emulator: its REPORT lines are in the
	// logs, and every function was invoked through it.
	var reports int
	for _, st := range awsRep.Steps {
		if st.Result != nil && strings.Contains(string(st.Result.Logs), "REPORT RequestId: "+st.Result.RequestID) {
			reports++
		}
	}
	if reports == 0 || reports != awsRep.Summary.Invocations {
		t.Errorf("%d of %d invocations carry the emulator's REPORT line", reports, awsRep.Summary.Invocations)
	}
	for _, ev := range awsEnv.Bus.Events() {
		assertNoSecrets(t, awsEnv, ev.DetailType, string(ev.Detail))
	}
}

// stepOutcomes describes every step by what it published, leaving out what
// differs from run to run (ids the simulator assigns, times).
func stepOutcomes(rep *story.Report) []string {
	var out []string
	for _, st := range rep.Steps {
		if st.Actor == "provision" || st.Actor == "deprovision" {
			// The batch line itself carries timings; its messages follow.
			continue
		}
		evs := make([]string, 0, len(st.Events))
		for _, ev := range st.Events {
			evs = append(evs, eventSignature(ev))
		}
		sort.Strings(evs)
		action := st.Action
		if st.Actor == "webhook" || st.Actor == "poller" {
			// Outcomes carry durations; the events say what happened.
			action = st.Actor + " " + action
		}
		out = append(out, fmt.Sprintf("%s | %s", action, strings.Join(evs, "; ")))
	}
	return out
}

func eventSignature(ev testenv.Event) string {
	d := ev.DetailMap()
	field := func(k string) string { s, _ := d[k].(string); return s }
	who := strings.ToLower(field("userName") + field("loginId"))
	var changed []string
	if list, ok := d["changes"].([]any); ok {
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				// Values that name simulator ids are compared through the
				// Encompass state instead.
				changed = append(changed, fmt.Sprint(m["field"]))
			}
		}
	}
	sort.Strings(changed)
	id := field("eventId")
	if ev.Source == "encompass.poller" {
		// poll-<generation>-<digest of the states>: the states hold
		// simulator ids and times, so only the generation is compared.
		if parts := strings.SplitN(id, "-", 3); len(parts) == 3 {
			id = parts[0] + "-" + parts[1]
		}
	}
	return fmt.Sprintf("%s/%s id=%s who=%s reason=%s origin=%s changes=%s dry=%v message=%v",
		ev.Source, ev.DetailType, id, who, field("reason"), field("origin"), strings.Join(changed, ","), d["dryRun"], d["message"])
}

func summaryOf(s story.Summary) string {
	return fmt.Sprintf("created %d updated %d disabled %d reactivated %d reasons %v synthetic %v webhooks %d/%d invocations %d",
		s.Created, s.Updated, s.Disabled, s.Reactivated, s.Reasons(), s.Synthetic, s.WebhooksForwarded, s.WebhooksRefused, s.Invocations)
}

// encompassState reads every user back as an administrator would, with
// organization and persona names rather than ids.
func encompassState(t *testing.T, p *story.Player) map[string]string {
	t.Helper()
	ctx := context.Background()
	orgs, personas := map[string]string{}, map[string]string{}
	if list, err := p.Admin.Organizations.List(ctx); err == nil {
		for _, o := range list {
			orgs[o.ID] = o.Name
		}
	} else {
		t.Fatal(err)
	}
	if list, err := p.Admin.Personas.List(ctx); err == nil {
		for _, ps := range list {
			personas[ps.ID] = ps.Name
		}
	} else {
		t.Fatal(err)
	}
	out := map[string]string{}
	for u, err := range p.Admin.Users.All(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, id := range u.PersonaIDs() {
			names = append(names, personas[id])
		}
		sort.Strings(names)
		out[strings.ToLower(u.LoginID)] = fmt.Sprintf("enabled=%v name=%s %s email=%s phone=%s title=%q employeeId=%s org=%s personas=%v sso=%v folder=%s",
			u.IsEnabled(), u.FirstName, u.LastName, u.Email, u.Phone, u.Title, u.EmployeeID, orgs[u.OrganizationID], names, u.SSOOnly, u.WorkingFolder)
	}
	return out
}

func diffLines(a, b []string) string {
	var sb strings.Builder
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "- %s\n+ %s\n", x, y)
		}
	}
	return sb.String()
}
