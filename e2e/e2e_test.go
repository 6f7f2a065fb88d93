// Package e2e runs the product's real bootstraps, built for this machine, in
// the Docker-free Lambda runner against the Encompass simulator, dynalite and
// the EventBridge fake, and asserts on the simulator's state and on the
// events published. It is part of `make test`.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// binDir holds the four bootstraps, built once for every test.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := lambdarun.ModuleRoot(ctx)
	if err == nil {
		_, err = lambdarun.Build(ctx, root, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the bootstraps:", err)
		return 1
	}
	binDir = dir
	defer testenv.StopShared()
	return m.Run()
}

var tableSeq atomic.Int64

// start runs the local product for one test, sharing this binary's dynalite
// but with its own table, simulator, bus and function processes.
func start(t testing.TB, mutate func(*localenv.Options)) *localenv.Env {
	t.Helper()
	opts := localenv.Options{
		BinDir:    binDir,
		SkipBuild: true,
		DynamoURL: testenv.DynamoDB(t).URL,
		Table:     fmt.Sprintf("e2e-%s-%d", regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), ""), tableSeq.Add(1)),
	}
	if mutate != nil {
		mutate(&opts)
	}
	env, err := localenv.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start the local product: %v", err)
	}
	t.Cleanup(env.Close)
	return env
}

func newPlayer(t *testing.T, env *localenv.Env) *story.Player {
	t.Helper()
	p, err := story.New(env)
	if err != nil {
		t.Fatal(err)
	}
	// Every step's logs are kept for the secret check and for failure output.
	p.Emit = func(s story.Step) {
		if s.Result != nil {
			assertNoSecrets(t, env, s.Actor, string(s.Result.Logs))
		}
	}
	return p
}

// user reads a user back through the v3 API, as an administrator would.
func user(t *testing.T, p *story.Player, id string) *encompass.User {
	t.Helper()
	u, err := p.Admin.Users.Get(context.Background(), id)
	if errors.Is(err, encompass.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("get user %s: %v", id, err)
	}
	return u
}

// assertNoSecrets fails when a credential of the local product shows up in
// text the functions wrote (logs, responses, events).
func assertNoSecrets(t *testing.T, env *localenv.Env, where, text string) {
	t.Helper()
	for _, leak := range env.Sim.LeakedSecrets(text) {
		t.Errorf("%s: Encompass's %s appears in the output", where, leak)
	}
	if env.WebhookKey != "" && strings.Contains(text, env.WebhookKey) {
		t.Errorf("%s: the webhook signing key appears in the output", where)
	}
}

// countEvents counts published events by detail-type.
func countEvents(evs []testenv.Event) map[string]int {
	out := map[string]int{}
	for _, ev := range evs {
		out[ev.DetailType]++
	}
	return out
}

// eventsFor returns the events whose detail names the HRIS event id.
func eventsFor(evs []testenv.Event, eventID string) []testenv.Event {
	var out []testenv.Event
	for _, ev := range evs {
		if id, _ := ev.DetailMap()["eventId"].(string); id == eventID {
			out = append(out, ev)
		}
	}
	return out
}

// requestsWithStatus counts simulator requests answered with status.
func requestsWithStatus(env *localenv.Env, status int) int {
	n := 0
	for _, r := range env.Sim.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// userWrites counts successful user creations through either API.
func userCreations(env *localenv.Env) int {
	n := 0
	for _, r := range env.Sim.Requests() {
		if r.Method == "POST" && r.Status/100 == 2 && (strings.HasSuffix(r.Path, "/users") || strings.HasSuffix(r.Path, "/Users")) {
			n++
		}
	}
	return n
}
