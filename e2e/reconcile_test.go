package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/rostergen"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
)

// reconcileRoster puts a roster and invokes the real reconcile bootstrap
// with S3's notification.
func reconcileRoster(t testing.TB, env *localenv.Env, key string, body []byte) (reconcile.Result, *lambdarun.Result) {
	t.Helper()
	note, err := env.PutRoster(context.Background(), key, body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Invoke(context.Background(), "reconcile", note)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("reconcile failed: %v (max memory %d MB)\n%s", res.Error, res.MaxMemoryMB, lastLogLines(res.Logs, 20))
	}
	var resp reconcile.Response
	if err := json.Unmarshal(res.Payload, &resp); err != nil || len(resp.Results) != 1 {
		t.Fatalf("reconcile answered %s: %v", res.Payload, err)
	}
	return resp.Results[0], res
}

func lastLogLines(logs []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(logs), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// A 50 MB roster of 200,000 rows goes through the real function inside the
// stack's 256 MB (the runner kills a function that goes over, as Lambda
// does): it is streamed, never held whole.
func TestLargeRosterInLambdaMemory(t *testing.T) {
	env := start(t, func(o *localenv.Options) { o.Functions = []string{"reconcile"} })
	var body bytes.Buffer
	if err := rostergen.NewHires(&body, 200_000); err != nil {
		t.Fatal(err)
	}
	if body.Len() < 50_000_000 {
		t.Fatalf("roster is %d bytes, want at least 50 MB", body.Len())
	}
	cfg, err := env.Config("reconcile")
	if err != nil || cfg.MemoryMB != 256 {
		t.Fatalf("reconcile runs with %d MB (%v), want the stack's 256", cfg.MemoryMB, err)
	}
	res, inv := reconcileRoster(t, env, "rosters/dry-run/200k.csv", body.Bytes())
	if res.Refused != "" || res.Counts[reconcile.ClassMissing] != 200_000 {
		t.Fatalf("%+v", res)
	}
	t.Logf("200,000 rows (%.1f MB): %s, peak RSS %d MB", float64(body.Len())/1e6, inv.Duration.Round(time.Millisecond), inv.MaxMemoryMB)
	report, err := env.RosterObject(context.Background(), res.CSVReportKey)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(report, []byte("\n")); lines != 1+200_000+res.Counts[reconcile.ClassOrphan] {
		t.Fatalf("CSV report has %d lines", lines)
	}
}

// Applying a roster through the real functions: the events reach the
// queues, the queues the provisioning functions, and a second roster finds
// everyone in sync.
func TestReconcileApplyEndToEnd(t *testing.T) {
	env := start(t, func(o *localenv.Options) {
		o.Functions = []string{"reconcile", "provision", "deprovision"}
		o.Sim = []encompasstest.Option{encompasstest.WithUsers(25)}
	})
	var body bytes.Buffer
	if err := rostergen.SimUsers(&body, 25); err != nil {
		t.Fatal(err)
	}
	res, _ := reconcileRoster(t, env, "rosters/apply/sim users.csv", body.Bytes())
	if res.Counts[reconcile.ClassAdoptable] != 25 || res.Sent != 25 {
		t.Fatalf("%+v", res)
	}
	if calls := len(env.SQS.CallsOf("SendMessageBatch")); calls != 3 {
		t.Errorf("%d SendMessageBatch calls for 25 events, want 3", calls)
	}
	deliveries, err := env.DrainQueues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deliveries {
		if d.Result.Error != nil {
			t.Fatalf("%s: %v", d.Function, d.Result.Error)
		}
		assertNoSecrets(t, env, d.Function, string(d.Result.Logs))
	}
	if got := countEvents(env.Bus.Events())["User Provisioned"]; got != 25 {
		t.Fatalf("%d User Provisioned, want 25 adoptions", got)
	}
	again, _ := reconcileRoster(t, env, "rosters/apply/sim users.csv", body.Bytes())
	if again.Counts[reconcile.ClassInSync] != 25 || again.Sent != 0 {
		t.Fatalf("after applying: %+v", again)
	}
}

// BenchmarkReconcile100k reconciles 100,000 roster rows against 100,000
// Encompass users with the real function (apply: every row is adoptable),
// once listing Encompass and once with a fresh poller snapshot, and
// reports time, peak memory, Encompass calls and SQS calls per applied
// finding.
func BenchmarkReconcile100k(b *testing.B) {
	const n = 100_000
	env := start(b, func(o *localenv.Options) {
		o.Functions = []string{"reconcile", "poller"}
		o.Sim = []encompasstest.Option{encompasstest.WithUsers(n)}
	})
	var body bytes.Buffer
	if err := rostergen.SimUsers(&body, n); err != nil {
		b.Fatal(err)
	}
	users := env.Sim.UserCount()
	for _, mode := range []string{"listing", "snapshot"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "snapshot" {
				res, err := env.Invoke(context.Background(), "poller", localenv.Schedule(time.Now()))
				if err != nil || res.Error != nil {
					b.Fatalf("poll: %v %v", err, res.Error)
				}
			}
			// The function is warm (its cold start resolved the mapping);
			// every Encompass call of the run is counted, by endpoint.
			if _, err := env.Function("reconcile"); err != nil {
				b.Fatal(err)
			}
			var last reconcile.Result
			var inv *lambdarun.Result
			var byEndpoint map[string]int
			var sqsCalls int
			for i := 0; b.Loop(); i++ {
				// A new object version each time: a new run, all sent again.
				before := len(env.SQS.CallsOf("SendMessageBatch"))
				env.Sim.ResetRequests()
				last, inv = reconcileRoster(b, env, fmt.Sprintf("rosters/apply/100k-%s-%d.csv", mode, i), body.Bytes())
				byEndpoint = env.Sim.Counts()
				sqsCalls = len(env.SQS.CallsOf("SendMessageBatch")) - before
			}
			if last.Sent != n || last.UsersFrom != mode {
				b.Fatalf("%+v", last)
			}
			// The run's own calls: the listing (none with a fresh
			// snapshot), one per mapped group, and the API-user check of
			// the orphan candidates (find, then read whole); the rest is
			// the cold start's (token, personas, organizations, groups).
			list := byEndpoint["GET /encompass/v3/users"]
			groups := byEndpoint["GET /scim2/v1/groups/{id}"]
			orphanChecks := byEndpoint["GET /scim2/v1/users"] + byEndpoint["GET /scim2/v1/users/{id}"]
			cold := -list - groups - orphanChecks
			for _, c := range byEndpoint {
				cold += c
			}
			if mode == "snapshot" && list != 0 {
				b.Fatalf("%d listing calls with a fresh snapshot", list)
			}
			if mode == "listing" && list > (users+199)/200+1 {
				b.Fatalf("%d listing calls for %d users", list, users)
			}
			b.Logf("%s: Encompass calls by endpoint %v", mode, byEndpoint)
			b.ReportMetric(float64(inv.Duration.Milliseconds()), "ms/run")
			b.ReportMetric(float64(inv.MaxMemoryMB), "peak-RSS-MB")
			b.ReportMetric(float64(list), "list-calls/run")
			b.ReportMetric(float64(groups), "group-calls/run")
			b.ReportMetric(float64(orphanChecks), "orphan-check-calls/run")
			b.ReportMetric(float64(cold), "cold-start-calls")
			b.ReportMetric(float64(sqsCalls)/float64(last.Sent), "sqs-calls/applied")
			b.ReportMetric(float64(users), "users")
		})
	}
}
