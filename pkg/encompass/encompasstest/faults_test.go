package encompasstest_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func TestRateLimitHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithDailyQuota(1000))
	calls := []struct{ method, path string }{
		{"GET", "/encompass/v3/users"},
		{"GET", "/encompass/v3/users/nobody"},
		{"GET", "/scim2/v1/users"},
		{"GET", "/no/such/endpoint"},
	}
	last := 1000
	for _, c := range calls {
		_, _, h := a.do(c.method, c.path, nil)
		for _, k := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset",
			"X-Concurrency-Limit-Limit", "X-Concurrency-Limit-Remaining", "X-Correlation-ID"} {
			if h.Get(k) == "" {
				t.Fatalf("%s %s: header %s missing", c.method, c.path, k)
			}
		}
		if h.Get("Retry-After") != "" {
			t.Fatal("Encompass never sends Retry-After")
		}
		rem, _ := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
		if rem >= last {
			t.Fatalf("remaining quota did not decrease: %d then %d", last, rem)
		}
		last = rem
		reset, _ := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
		if d := time.Until(time.Unix(reset, 0)); d <= 0 || d > 24*time.Hour {
			t.Fatalf("reset %d is not the next midnight in epoch seconds", reset)
		}
		if h.Get("X-Concurrency-Limit-Limit") != "30" {
			t.Fatalf("concurrency limit %s", h.Get("X-Concurrency-Limit-Limit"))
		}
	}
}

func TestDailyQuotaExhausted(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithDailyQuota(3)) // the token request used one
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	status, body, h := a.do("GET", "/encompass/v3/users", nil)
	if status != 429 || !strings.Contains(string(body), `"code":"100002"`) || h.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("over quota: %d %s remaining %s", status, body, h.Get("X-Rate-Limit-Remaining"))
	}
}

func TestThrottleBurst(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.Throttle(2)
	for i := range 2 {
		status, body, _ := a.do("GET", "/encompass/v3/users", nil)
		if status != 429 || string(body) != `{"code":"100002","message":"Client has exceeded the concurrency limit or daily quota. Please retry after some time."}` {
			t.Fatalf("throttled call %d: %d %s", i, status, body)
		}
	}
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
	if n := a.srv.Count("GET /encompass/v3/users"); n != 3 {
		t.Fatalf("Count = %d, want 3 (throttled attempts count)", n)
	}
}

func TestFailNextMatchesAndDoesNotApply(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.FailNext(1, 503, "PATCH /encompass/v3/users/{id}")
	a.must(200, "GET", "/encompass/v3/users/mjohnson", nil, nil) // not matched
	status, body, _ := a.do("PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "Boss"})
	if status != 503 || !strings.Contains(string(body), "Simulated") {
		t.Fatalf("injected failure: %d %s", status, body)
	}
	if u, _ := a.srv.User("mjohnson"); u.Title == "Boss" {
		t.Fatal("a failed request was applied")
	}
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "Boss"}, nil)
	// prefix match on "METHOD /path", and any request with ""
	a.srv.FailNext(2, 504, "GET /encompass/v3/settings")
	for range 2 {
		if status, _, _ := a.do("GET", "/encompass/v3/settings/personas", nil); status != 504 {
			t.Fatalf("prefix match: %d", status)
		}
	}
	a.must(200, "GET", "/encompass/v3/settings/personas", nil, nil)
	a.srv.FailNext(1, 500, "")
	if status, _, _ := a.do("GET", "/encompass/v1/organizations", nil); status != 500 {
		t.Fatalf("empty match: %d", status)
	}
}

func TestDropAfterApply(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.DropAfterApply(1, "PATCH /encompass/v3/users/{id}")
	req, _ := http.NewRequest("PATCH", a.srv.URL+"/encompass/v3/users/mjohnson", strings.NewReader(`{"title":"Applied"}`))
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("want a connection error, got %d", resp.StatusCode)
	}
	if u, _ := a.srv.User("mjohnson"); u.Title != "Applied" {
		t.Fatal("the dropped request was not applied")
	}
	reqs := a.srv.Requests()
	last := reqs[len(reqs)-1]
	if !last.Dropped || last.Status != 200 || last.Endpoint != "PATCH /encompass/v3/users/{id}" {
		t.Fatalf("log entry %+v", last)
	}
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "Again"}, nil)
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithConcurrencyLimit(3))
	const endpoint = "GET /encompass/v3/settings/personas"
	// Three gates keep the first three requests in flight, so the other
	// five meet a full tenant however the goroutines are scheduled.
	gates := []*encompasstest.Gate{a.srv.Hold(endpoint), a.srv.Hold(endpoint), a.srv.Hold(endpoint)}
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", a.srv.URL+"/encompass/v3/settings/personas", nil)
			req.Header.Set("Authorization", "Bearer "+a.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	for _, g := range gates {
		<-g.Arrived()
	}
	for range 5 {
		if c := <-codes; c != 429 {
			t.Fatalf("status %d for a request over the limit, want 429", c)
		}
	}
	// Counted once the five refusals are answered: a refusal is in flight
	// too until its 429 is written.
	if n := a.srv.InFlight(); n != 3 {
		t.Fatalf("in flight %d while three are held, want 3", n)
	}
	for _, g := range gates {
		g.Release()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d for a held request, want 200", c)
		}
	}
	if a.srv.InFlight() != 0 {
		t.Fatalf("in flight %d after all requests", a.srv.InFlight())
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithLatency(50*time.Millisecond))
	a.must(200, "GET", "/encompass/v3/settings/personas", nil, nil)
	reqs := a.srv.Requests()
	if d := reqs[len(reqs)-1].Duration; d < 50*time.Millisecond {
		t.Fatalf("served in %v, want at least the 50ms latency", d)
	}
	a.srv.SetLatency(0)
	a.must(200, "GET", "/encompass/v3/settings/personas", nil, nil)
}

func TestRequestLogAndCounts(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.ResetRequests()
	a.must(200, "GET", "/encompass/v3/users/mjohnson", nil, nil)
	a.must(200, "GET", "/encompass/v3/users/asmith", nil, nil)
	a.must(200, "PATCH", "/encompass/v3/users/asmith", map[string]any{"title": "x"}, nil)
	a.do("GET", "/encompass/v3/users/ghost", nil)
	if n := a.srv.Count("GET /encompass/v3/users/{id}"); n != 3 {
		t.Fatalf("Count = %d", n)
	}
	reqs := a.srv.Requests()
	if len(reqs) != 4 || reqs[2].Method != "PATCH" || string(reqs[2].Body) != `{"title":"x"}` || reqs[3].Status != 404 || reqs[0].Path != "/encompass/v3/users/mjohnson" {
		t.Fatalf("log %+v", reqs)
	}
	if c := a.srv.Counts(); c["PATCH /encompass/v3/users/{id}"] != 1 {
		t.Fatalf("Counts %v", c)
	}
}

func TestClearFaults(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.srv.Throttle(5)
	a.srv.FailNext(5, 500, "")
	a.srv.DropAfterApply(5, "")
	a.srv.SetLatency(time.Hour)
	a.srv.ClearFaults()
	a.must(200, "GET", "/encompass/v3/users", nil, nil)
}

// The log entry and the concurrency slot are settled before the answer
// leaves: sequential calls never trip a limit of 1, and Count is exact as
// soon as the client has its answer.
func TestCountExactAndSlotFreedBeforeAnswer(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithConcurrencyLimit(1))
	for i := 1; i <= 50; i++ {
		a.must(200, "GET", "/encompass/v3/settings/personas", nil, nil)
		if n := a.srv.Count("GET /encompass/v3/settings/personas"); n != i {
			t.Fatalf("after %d answers Count = %d", i, n)
		}
	}
}

// ResetQuota opens a new daily window after WithDailyQuota was used up.
func TestResetQuota(t *testing.T) {
	t.Parallel()
	a := newAPI(t, encompasstest.WithDailyQuota(2)) // the token request used one
	status, _, h := a.do("GET", "/encompass/v3/users", nil)
	if status != 200 || h.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("last request of the quota: %d remaining %s", status, h.Get("X-Rate-Limit-Remaining"))
	}
	if status, _, _ := a.do("GET", "/encompass/v3/users", nil); status != 429 {
		t.Fatalf("over quota: %d", status)
	}
	a.srv.ResetQuota()
	status, _, h = a.do("GET", "/encompass/v3/users", nil)
	if status != 200 || h.Get("X-Rate-Limit-Remaining") != "1" {
		t.Fatalf("after reset: %d remaining %s", status, h.Get("X-Rate-Limit-Remaining"))
	}
}

func TestHoldStagesARaceWithoutSleeping(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	g := a.srv.Hold("PATCH /encompass/v3/users/{id}")
	a.must(200, "GET", "/encompass/v3/users/mjohnson", nil, nil) // not matched, not held
	done := make(chan int)
	go func() {
		status, _, _ := a.do("PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "Held"})
		done <- status
	}()
	<-g.Arrived()
	// Held: not applied yet, so a writer can be slipped in before it.
	if u, _ := a.srv.User("mjohnson"); u.Title == "Held" {
		t.Fatal("a held request was applied before its release")
	}
	a.must(200, "PATCH", "/encompass/v3/users/mjohnson", map[string]any{"title": "First"}, nil)
	g.Release()
	if status := <-done; status != 200 {
		t.Fatalf("released request: %d", status)
	}
	if u, _ := a.srv.User("mjohnson"); u.Title != "Held" {
		t.Fatalf("title %q, want the held write applied last", u.Title)
	}
	g.Release() // twice is harmless

	// ClearFaults releases a gate nobody released.
	g2 := a.srv.Hold("GET /encompass/v1/organizations")
	go func() {
		<-g2.Arrived()
		a.srv.ClearFaults()
	}()
	a.must(200, "GET", "/encompass/v1/organizations", nil, nil)
}
