package encompasstest

import (
	"slices"
	"sync"
	"time"
)

// maxLoggedBody caps the request body kept in the log, and maxLogged the
// entries, so that a long-running standalone simulator stays small; counts
// are kept for every request regardless.
const (
	maxLoggedBody = 64 << 10
	maxLogged     = 200000
)

// Request is one API request as the simulator saw it.
type Request struct {
	Method string
	// Endpoint is the templated route, e.g. "GET /encompass/v3/users/{id}";
	// unknown routes are "METHOD /path".
	Endpoint string
	Path     string
	Query    string
	// Status is the status the simulator answered (or, for a dropped
	// connection, would have answered).
	Status   int
	Body     []byte
	Time     time.Time
	Duration time.Duration
	// Dropped is true when the connection was closed after the request was
	// applied (DropAfterApply).
	Dropped bool
}

type requestLog struct {
	mu     sync.Mutex
	reqs   []Request
	counts map[string]int
}

func (l *requestLog) add(r Request) {
	if len(r.Body) > maxLoggedBody {
		r.Body = r.Body[:maxLoggedBody]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.reqs) >= maxLogged {
		l.reqs = slices.Delete(l.reqs, 0, maxLogged/2)
	}
	l.reqs = append(l.reqs, r)
	if l.counts == nil {
		l.counts = make(map[string]int)
	}
	l.counts[r.Endpoint]++
}

// Requests returns a copy of the request log, oldest first (the most recent
// 100,000-200,000 requests). Control calls under /_sim are not logged.
func (s *Server) Requests() []Request {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return slices.Clone(s.log.reqs)
}

// Count returns how many requests hit endpoint, a templated route such as
// "GET /encompass/v3/users" or "PATCH /scim2/v1/users/{id}" (throttled and
// failed attempts included).
func (s *Server) Count(endpoint string) int {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return s.log.counts[endpoint]
}

// Counts returns the number of requests per templated endpoint.
func (s *Server) Counts() map[string]int {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	m := make(map[string]int, len(s.log.counts))
	for k, v := range s.log.counts {
		m[k] = v
	}
	return m
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.log.reqs = nil
	s.log.counts = nil
}
