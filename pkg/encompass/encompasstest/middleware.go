package encompasstest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody caps request bodies: Encompass rejects huge payloads and the
// simulator must not be a memory sink for hostile tests.
const maxBody = 4 << 20

type ctxKey int

const tokenKey ctxKey = 1

// ServeHTTP runs every request through the simulator's pipeline: headers,
// concurrency limit, injected faults, latency, authentication, the endpoint
// handler, and the request log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim" {
		s.mux.ServeHTTP(w, r)
		return
	}
	_, pattern := s.mux.Handler(r)
	endpoint := pattern
	if endpoint == "" || endpoint == "/" {
		endpoint = r.Method + " " + r.URL.Path
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := &recorder{ResponseWriter: w, status: 0}
	start := time.Now()
	dropped := false
	n := s.inflight.Add(1)
	// finish logs the request and frees its concurrency slot once, before
	// the first response byte can reach the client: a test that has its
	// answer can count it at once, and a client's next request never
	// races the previous one's slot.
	finished := false
	finish := func() {
		if finished {
			return
		}
		finished = true
		s.inflight.Add(-1)
		s.log.add(Request{
			Method:   r.Method,
			Endpoint: endpoint,
			Path:     r.URL.Path,
			Query:    r.URL.RawQuery,
			Status:   rec.statusCode(),
			Body:     body,
			Time:     start,
			Duration: time.Since(start),
			Dropped:  dropped,
		})
	}
	rec.beforeHeader = finish
	defer finish()

	limit := s.concLimit.Load()
	s.rateHeaders(rec.Header(), n, limit)

	if len(body) > maxBody {
		writeError(rec, http.StatusRequestEntityTooLarge, "Request body is too large.", "EBS-413")
		return
	}
	if n > limit || s.faults.takeThrottle() || s.quotaUsed.Load() > int64(s.cfg.dailyQuota) {
		writeThrottled(rec)
		return
	}
	// Fault rules see the query too, so that a rule can single out one
	// schema of a SCIM user's profiles (faultRule.matches).
	target := r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	if status, ok := s.faults.takeFail(r.Method, target, endpoint); ok {
		writeError(rec, status, "Simulated failure.", "SIM-"+strconv.Itoa(status))
		return
	}
	if g := s.faults.takeHold(r.Method, target, endpoint); g != nil {
		close(g.arrived)
		select {
		case <-g.released:
		case <-r.Context().Done():
			rec.status = 499
			return
		}
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			rec.status = 499 // client closed the request (nginx's code)
			return
		}
	}
	if !strings.HasPrefix(r.URL.Path, "/oauth2/") {
		tok, ok := s.authenticate(rec, r)
		if !ok {
			return
		}
		if !tok.admin && needsAdmin(r) {
			writeError(rec, http.StatusForbidden, "The user does not have the rights to perform this operation.", "EBS-403")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tokenKey, tok))
	}
	if s.faults.takeDrop(r.Method, target, endpoint) {
		// Apply the request fully, then drop the connection before the
		// client sees an answer: the "unknown outcome" of a real network.
		buf := &bufferedWriter{header: http.Header{}}
		s.mux.ServeHTTP(buf, r)
		rec.status = buf.status
		dropped = true
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				finish()
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	s.mux.ServeHTTP(rec, r)
}

// needsAdmin reports whether the request needs admin rights: every write,
// and every SCIM call (SCIM is for Administrator and Super Administrator
// personas only).
func needsAdmin(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/scim2/") {
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func (s *Server) rateHeaders(h http.Header, inflight, limit int64) {
	used := s.quotaUsed.Add(1)
	quota := int64(s.cfg.dailyQuota)
	now := time.Now().UTC()
	reset := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	h.Set("X-Rate-Limit-Limit", strconv.FormatInt(quota, 10))
	h.Set("X-Rate-Limit-Remaining", strconv.FormatInt(max(quota-used, 0), 10))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Concurrency-Limit-Limit", strconv.FormatInt(limit, 10))
	h.Set("X-Concurrency-Limit-Remaining", strconv.FormatInt(max(limit-inflight, 0), 10))
	h.Set("X-Correlation-ID", newGUID())
}

// recorder captures the status code for the request log.
type recorder struct {
	http.ResponseWriter
	status       int
	beforeHeader func()
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	if r.beforeHeader != nil {
		r.beforeHeader()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Hijack lets handlers below the recorder drop connections too.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := r.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

// bufferedWriter swallows a response that will never be delivered.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
