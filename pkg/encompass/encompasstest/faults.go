package encompasstest

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// faults holds the run-time fault injections.
type faults struct {
	mu       sync.Mutex
	throttle int
	fails    []faultRule
	drops    []faultRule
	holds    []*Gate
}

// Gate holds one request in the simulator until the test releases it: a
// race between two writers can then be staged exactly, with no sleep that
// a slow machine would outlast.
type Gate struct {
	match    string
	taken    bool // a request is (or was) held by it; guarded by faults.mu
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

// Arrived is closed when the held request has reached the simulator: it
// holds a concurrency slot and passed fault injection, and its token is
// checked only after the release (so a test can expire tokens meanwhile).
func (g *Gate) Arrived() <-chan struct{} { return g.arrived }

// Release lets the held request be applied and answered. It may be called
// more than once, and before the request arrives (it then passes at once).
func (g *Gate) Release() { g.once.Do(func() { close(g.released) }) }

type faultRule struct {
	n      int
	status int
	match  string
}

// matches reports whether a rule's match string selects a request (path
// carries the request's raw query after "?", if any). An empty match
// selects every request; otherwise it must equal the templated endpoint
// ("PATCH /encompass/v3/users/{id}") or be a prefix of "METHOD /path"
// ("PATCH /scim2/v1/users", "POST "), optionally followed by "?" and query
// parameters the request must carry, in any order
// ("GET /scim2/v1/users?schema=urn:...:AIQUser").
func (f faultRule) matches(method, path, endpoint string) bool {
	if f.match == "" || f.match == endpoint {
		return true
	}
	mpath, mquery, withQuery := strings.Cut(f.match, "?")
	rpath, rquery, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(method+" "+rpath, mpath) {
		return false
	}
	if !withQuery {
		return true
	}
	want, err := url.ParseQuery(mquery)
	got, err2 := url.ParseQuery(rquery)
	if err != nil || err2 != nil {
		return false
	}
	for k, vs := range want {
		for _, v := range vs {
			if !slices.Contains(got[k], v) {
				return false
			}
		}
	}
	return true
}

func (f *faults) takeThrottle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttle > 0 {
		f.throttle--
		return true
	}
	return false
}

func take(rules []faultRule, method, path, endpoint string) ([]faultRule, faultRule, bool) {
	for i, r := range rules {
		if r.matches(method, path, endpoint) {
			rules[i].n--
			if rules[i].n <= 0 {
				rules = append(rules[:i], rules[i+1:]...)
			}
			return rules, r, true
		}
	}
	return rules, faultRule{}, false
}

func (f *faults) takeFail(method, path, endpoint string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r faultRule
	var ok bool
	f.fails, r, ok = take(f.fails, method, path, endpoint)
	return r.status, ok
}

func (f *faults) takeDrop(method, path, endpoint string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ok bool
	f.drops, _, ok = take(f.drops, method, path, endpoint)
	return ok
}

// Hold holds the next request selected by match (see FailNext) before it
// is applied, until the returned gate is released. ClearFaults and Close
// release every gate, so a failing test never leaves a request hanging.
func (s *Server) Hold(match string) *Gate {
	g := &Gate{match: match, arrived: make(chan struct{}), released: make(chan struct{})}
	s.faults.mu.Lock()
	s.faults.holds = append(s.faults.holds, g)
	s.faults.mu.Unlock()
	return g
}

func (f *faults) takeHold(method, path, endpoint string) *Gate {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Taken gates stay on the list so that ClearFaults can release a
	// request that is being held right now.
	for _, g := range f.holds {
		if !g.taken && (faultRule{match: g.match}).matches(method, path, endpoint) {
			g.taken = true
			return g
		}
	}
	return nil
}

// Throttle makes the next n API requests answer 429 with Encompass's
// concurrency/quota body (token requests included, as on a live tenant).
func (s *Server) Throttle(n int) {
	s.faults.mu.Lock()
	s.faults.throttle += n
	s.faults.mu.Unlock()
}

// FailNext makes the next n requests selected by match answer status (for
// example 500, 502, 503, 504) without being applied. match is "" for any
// request, a templated endpoint such as "PATCH /encompass/v3/users/{id}", or
// a prefix of "METHOD /path", optionally with "?" and query parameters the
// request must carry (so "DELETE /scim2/v1/users/<guid>?schema="+
// SchemaAIQUser selects the DDA profile's disable only).
func (s *Server) FailNext(n, status int, match string) {
	if n <= 0 {
		return
	}
	s.faults.mu.Lock()
	s.faults.fails = append(s.faults.fails, faultRule{n: n, status: status, match: match})
	s.faults.mu.Unlock()
}

// DropAfterApply makes the next n requests selected by match (see FailNext)
// be applied in full and then lose their connection before any answer is
// sent: the client sees a network error although the write happened.
func (s *Server) DropAfterApply(n int, match string) {
	if n <= 0 {
		return
	}
	s.faults.mu.Lock()
	s.faults.drops = append(s.faults.drops, faultRule{n: n, match: match})
	s.faults.mu.Unlock()
}

// SetLatency delays every following API response by d (0 to stop).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// ResetQuota starts a new daily quota window, as midnight UTC does on a
// tenant: after WithDailyQuota was used up, requests succeed again.
func (s *Server) ResetQuota() { s.quotaUsed.Store(0) }

// SetConcurrencyLimit changes how many requests may be in flight before 429.
func (s *Server) SetConcurrencyLimit(n int) { s.concLimit.Store(int64(n)) }

// ClearFaults removes every pending injected fault and the latency.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.throttle = 0
	s.faults.fails = nil
	s.faults.drops = nil
	for _, g := range s.faults.holds {
		g.Release()
	}
	s.faults.holds = nil
	s.faults.mu.Unlock()
	s.latency.Store(0)
}

// InFlight reports how many API requests are being served right now.
func (s *Server) InFlight() int { return int(s.inflight.Load()) }
