package encompass

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// calls records what the OnCall hook saw.
type calls struct {
	mu  sync.Mutex
	all []CallInfo
}

func (c *calls) hook(ci CallInfo) {
	c.mu.Lock()
	c.all = append(c.all, ci)
	c.mu.Unlock()
}

// count returns how many exchanges hit endpoint ("GET /encompass/v3/users").
func (c *calls) count(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ci := range c.all {
		if ci.Endpoint == endpoint {
			n++
		}
	}
	return n
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

type testClient struct {
	*Client
	srv   *encompasstest.Server
	calls *calls
	logs  *testenv.Buffer
}

// newSimClient starts a simulator and a client for it with fast back-off
// and debug logging captured for the secret checks.
func newSimClient(t testing.TB, mutate func(*Config), opts ...encompasstest.Option) *testClient {
	t.Helper()
	srv := encompasstest.NewServer(t, opts...)
	rec := &calls{}
	logs := &testenv.Buffer{}
	cfg := Config{
		BaseURL:      srv.URL,
		InstanceID:   srv.InstanceID,
		ClientID:     srv.ClientID,
		ClientSecret: srv.ClientSecret,
		Username:     srv.Username,
		Password:     srv.Password,
		HTTPClient:   srv.Client(),
		BaseDelay:    time.Millisecond,
		MaxDelay:     20 * time.Millisecond,
		OnCall:       rec.hook,
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClient{Client: c, srv: srv, calls: rec, logs: logs}
	t.Cleanup(func() { tc.assertNoSecrets(t, logs.String()) })
	return tc
}

// assertNoSecrets fails when s contains a credential or a token the
// simulator issued.
func (tc *testClient) assertNoSecrets(t testing.TB, s string) {
	t.Helper()
	for _, leak := range tc.leakedSecrets(s) {
		t.Errorf("%s leaked into output", leak)
	}
}

// leakedSecrets names every credential or issued token of the simulator
// found in s, and an Authorization header value.
func (tc *testClient) leakedSecrets(s string) []string {
	found := tc.srv.LeakedSecrets(s)
	if strings.Contains(s, "Bearer ") {
		found = append(found, "a Bearer header value")
	}
	return found
}

// waitCount is srv.Count(endpoint), kept for tests not yet moved to it.
// The simulator logs a request before the first byte of its answer leaves
// (TestCountExactAndSlotFreedBeforeAnswer), so a count read right after a
// call is exact and nothing needs to wait.
func waitCount(srv *encompasstest.Server, endpoint string, _ int) int {
	return srv.Count(endpoint)
}
