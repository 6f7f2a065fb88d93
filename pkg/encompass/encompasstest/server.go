// Package encompasstest is an in-process simulator of the Encompass (ICE
// Mortgage Technology) APIs the product uses: OAuth2, v3 users, personas,
// organizations, SCIM users (Encompass and DDA profiles) and groups, SCIM
// Account Links, and webhook subscriptions. It starts
// like net/http/httptest:
//
//	srv := encompasstest.NewServer(t)
//	client := encompass.NewClient(srv.URL, srv.InstanceID, ...)
//
// and it also runs standalone (cmd/encompass-sim). It reproduces the wire
// formats of the reference documents, quirks included, exposes its state and
// a request log for assertions, and injects faults (429 bursts, 5xx, latency,
// token revocation, connections dropped after the write was applied).
//
// The package must not import pkg/encompass: the client's own tests import
// the simulator, so it defines its own wire structs.
package encompasstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Default credentials of a simulator. They are simulator credentials for
// local runs, not secrets: every simulator accepts them unless options say
// otherwise.
const (
	DefaultInstanceID   = "BE11200922"
	DefaultClientID     = "sim-client-id"
	DefaultClientSecret = "sim-client-secret"
	DefaultUsername     = "apiadmin"
	DefaultPassword     = "Sim-Admin-Passw0rd!"
)

// StatusStyle chooses how v3 user JSON reports account state, because live
// tenants differ.
type StatusStyle int

const (
	// StatusBoth emits `enabled` and `userIndicators` (the default).
	StatusBoth StatusStyle = iota
	// StatusEnabled emits only the boolean `enabled`.
	StatusEnabled
	// StatusIndicators emits only `userIndicators` (["Enabled"], ["Disabled"], ...).
	StatusIndicators
)

// ListWrapper chooses the shape of the v3 user list.
type ListWrapper int

const (
	// ListBareArray answers a bare JSON array (the default).
	ListBareArray ListWrapper = iota
	// ListItemsObject answers {"items": [...], "totalCount": N}.
	ListItemsObject
)

type config struct {
	seed                *Seed
	seedFile            string
	generated           int
	tokenTTL            time.Duration
	tokenMaxLife        time.Duration
	concurrencyLimit    int
	latency             time.Duration
	statusStyle         StatusStyle
	listWrapper         ListWrapper
	ignoreLoginFilter   bool
	ignoreUserNameFltr  bool
	nonAdmin            bool
	expiresIn           bool
	nmlsIDCasing        bool
	misspelledIndicator bool
	dailyQuota          int
	instanceID          string
	clientID            string
	clientSecret        string
	username, password  string
	now                 func() time.Time
}

// Option configures a Server.
type Option func(*config)

// WithSeed replaces the built-in seed (personas, organizations, groups, users).
func WithSeed(s Seed) Option { return func(c *config) { c.seed = &s } }

// WithSeedFile loads the seed from a JSON file (see Seed). New panics and
// NewServer fails the test when the file is unreadable.
func WithSeedFile(path string) Option { return func(c *config) { c.seedFile = path } }

// WithUsers adds n generated users (simuser000001 ...) to the seed. They
// have no global user id, like users created outside SCIM.
func WithUsers(n int) Option { return func(c *config) { c.generated = n } }

// WithClock sets the clock token issue, use and expiry are measured with
// (default time.Now), so that tests of the inactivity timeout advance time
// instead of sleeping through it.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithTokenTTL sets the token inactivity timeout (default 30 minutes; each
// use extends it, up to 24 hours after issue, like Encompass).
func WithTokenTTL(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// WithConcurrencyLimit sets how many requests may be in flight before the
// simulator answers 429 (default 30, the tenant default).
func WithConcurrencyLimit(n int) Option { return func(c *config) { c.concurrencyLimit = n } }

// WithLatency delays every API response by d.
func WithLatency(d time.Duration) Option { return func(c *config) { c.latency = d } }

// WithStatusStyle chooses `enabled`, `userIndicators` or both in v3 user JSON.
func WithStatusStyle(s StatusStyle) Option { return func(c *config) { c.statusStyle = s } }

// WithListWrapper chooses the v3 list shape (bare array or items object).
func WithListWrapper(w ListWrapper) Option { return func(c *config) { c.listWrapper = w } }

// WithIgnoredLoginFilter makes GET /encompass/v3/users ignore the loginId
// filter, as some live tenants silently do.
func WithIgnoredLoginFilter() Option { return func(c *config) { c.ignoreLoginFilter = true } }

// WithIgnoredUserNameFilter makes GET /scim2/v1/users ignore the userName
// filter (it answers the unfiltered list, paged), as a tenant that silently
// ignores a filter would. Clients must re-check what they get.
func WithIgnoredUserNameFilter() Option { return func(c *config) { c.ignoreUserNameFltr = true } }

// WithNonAdmin makes every issued token non-admin: writes get 403.
func WithNonAdmin() Option { return func(c *config) { c.nonAdmin = true } }

// WithExpiresIn adds expires_in to token responses (Encompass usually omits it).
func WithExpiresIn() Option { return func(c *config) { c.expiresIn = true } }

// WithNMLSIDCasing makes v3 user JSON spell the field nmlsOriginatorID, as
// some live tenants do (clients should decode case-insensitively).
func WithNMLSIDCasing() Option { return func(c *config) { c.nmlsIDCasing = true } }

// WithMisspelledIndicator adds the "SuperAdminnistrator" user indicator one
// live tenant sent for Super Administrators.
func WithMisspelledIndicator() Option { return func(c *config) { c.misspelledIndicator = true } }

// WithDailyQuota sets the X-Rate-Limit-Limit daily quota (default 500,000);
// past it every request gets 429.
func WithDailyQuota(n int) Option { return func(c *config) { c.dailyQuota = n } }

// WithCredentials replaces the default instance id and credentials.
func WithCredentials(instanceID, clientID, clientSecret, username, password string) Option {
	return func(c *config) {
		c.instanceID, c.clientID, c.clientSecret = instanceID, clientID, clientSecret
		c.username, c.password = username, password
	}
}

// Server is a running (or ready to run) simulator.
type Server struct {
	// URL is the base URL (no trailing slash), set once the server listens.
	URL string
	// InstanceID, ClientID, ClientSecret, Username and Password are valid
	// admin credentials for this simulator. They are for reading: the
	// server checks its own copy (set them with WithCredentials).
	InstanceID, ClientID, ClientSecret, Username, Password string

	cfg    config
	seed   *Seed
	st     *store
	tokens *tokenStore
	faults *faults
	log    *requestLog
	mux    *http.ServeMux

	inflight   atomic.Int64
	concLimit  atomic.Int64
	latency    atomic.Int64 // nanoseconds
	quotaUsed  atomic.Int64
	closeOnce  sync.Once
	httpServer *http.Server
	testServer *httptest.Server
	listener   net.Listener
	serveDone  chan struct{}
}

// New builds a simulator without starting it (standalone use). It panics on
// an unreadable seed file; the command checks the file first.
func New(opts ...Option) *Server {
	s, err := build(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// NewServer starts a simulator on a loopback port and closes it when the
// test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := build(opts...)
	if err != nil {
		t.Fatalf("encompasstest: %v", err)
	}
	s.testServer = httptest.NewServer(s)
	s.URL = s.testServer.URL
	t.Cleanup(s.Close)
	return s
}

func build(opts ...Option) (*Server, error) {
	c := config{
		tokenTTL:         30 * time.Minute,
		tokenMaxLife:     24 * time.Hour,
		concurrencyLimit: 30,
		dailyQuota:       500000,
		instanceID:       DefaultInstanceID,
		clientID:         DefaultClientID,
		clientSecret:     DefaultClientSecret,
		username:         DefaultUsername,
		password:         DefaultPassword,
		now:              time.Now,
	}
	for _, o := range opts {
		o(&c)
	}
	seed := c.seed
	if c.seedFile != "" {
		sd, err := LoadSeedFile(c.seedFile)
		if err != nil {
			return nil, err
		}
		seed = &sd
	}
	if seed == nil {
		sd := DefaultSeed()
		seed = &sd
	}
	s := &Server{
		InstanceID:   c.instanceID,
		ClientID:     c.clientID,
		ClientSecret: c.clientSecret,
		Username:     c.username,
		Password:     c.password,
		cfg:          c,
		seed:         seed,
		st:           newStore(),
		tokens:       newTokenStore(),
		faults:       &faults{},
		log:          &requestLog{},
	}
	s.concLimit.Store(int64(c.concurrencyLimit))
	s.latency.Store(int64(c.latency))
	if err := s.load(*seed); err != nil {
		return nil, err
	}
	if c.generated > 0 {
		s.generateUsers(c.generated)
	}
	s.routes()
	return s, nil
}

// Start listens on addr (e.g. "127.0.0.1:8081") and serves in the
// background; URL is set when it returns.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.listener = ln
	s.URL = "http://" + ln.Addr().String()
	s.httpServer = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.httpServer.Serve(ln)
	}()
	return nil
}

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ClearFaults() // releases held requests
		if s.testServer != nil {
			s.testServer.CloseClientConnections()
			s.testServer.Close()
		}
		if s.httpServer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.httpServer.Shutdown(ctx)
			_ = s.httpServer.Close()
			<-s.serveDone
		}
	})
}

// Client returns an HTTP client for the server (plain http.Client; the
// simulator speaks HTTP/1.1 without TLS).
func (s *Server) Client() *http.Client {
	if s.testServer != nil {
		return s.testServer.Client()
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGUID returns a random RFC 4122 version 4 UUID, the shape of SCIM ids.
func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
