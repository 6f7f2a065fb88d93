package encompass

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// warm fetches the token so that later fault injections hit API calls.
func warm(t *testing.T, tc *testClient) {
	t.Helper()
	if _, err := tc.Users.Get(context.Background(), "mjohnson"); err != nil {
		t.Fatal(err)
	}
	tc.srv.ResetRequests()
}

func TestGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"password (auto)", nil},
		{"password (explicit, full user name)", func(c *Config) {
			c.Grant = GrantPassword
			c.Username = c.Username + "@encompass:" + c.InstanceID
		}},
		{"client credentials (auto)", func(c *Config) { c.Username, c.Password = "", "" }},
		{"client credentials (explicit)", func(c *Config) { c.Grant = GrantClientCredentials }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tc := newSimClient(t, tt.mutate)
			for range 3 {
				if _, err := tc.Users.Get(context.Background(), "mjohnson"); err != nil {
					t.Fatal(err)
				}
			}
			if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
				t.Fatalf("token requests = %d, want 1 (shared token)", n)
			}
		})
	}
}

func TestBadCredentialsArePermanentAndSecretFree(t *testing.T) {
	t.Parallel()
	const wrong = "Wr0ng-Secret-Value!"
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Password = wrong },
		func(c *Config) { c.ClientSecret = wrong },
		func(c *Config) { c.InstanceID = "BE000"; c.Username, c.Password = "", "" },
	} {
		tc := newSimClient(t, mutate)
		_, err := tc.Users.Get(context.Background(), "mjohnson")
		if !errors.Is(err, ErrUnauthorized) || IsRetryable(err) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), tc.srv.ClientSecret) {
			t.Fatalf("secret in error: %v", err)
		}
		if tc.srv.Count("GET /encompass/v3/users/{id}") != 0 {
			t.Fatal("API called without a token")
		}
	}
}

func TestTokenSharedAcrossGoroutines(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithLatency(2*time.Millisecond))
	// 50 goroutines start cold: one fetches the token, the others wait for
	// it instead of fetching their own.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			<-start
			if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	if n := tc.calls.count(tokenEndpoint); n != 1 {
		t.Fatalf("token requests seen by the hook = %d, want 1", n)
	}
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 50 {
		t.Fatalf("GETs = %d, want 50", n)
	}
}

func TestTokenExpiredOrRevokedRefreshesOnce(t *testing.T) {
	t.Parallel()
	for _, kill := range []string{"expire", "revoke"} {
		t.Run(kill, func(t *testing.T) {
			t.Parallel()
			tc := newSimClient(t, nil)
			warm(t, tc)
			if kill == "expire" {
				tc.srv.ExpireTokens()
			} else {
				tc.srv.RevokeTokens()
			}
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			// Ten calls saw the dead token at most once each, and one new
			// token served them all.
			if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
				t.Fatalf("token requests after %s = %d, want 1", kill, n)
			}
			if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n < 10 || n > 20 {
				t.Fatalf("GETs = %d", n)
			}
		})
	}
}

func TestPersistent401IsNotRetriedForever(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithTokenTTL(time.Nanosecond))
	_, err := tc.Users.Get(context.Background(), "asmith")
	if !errors.Is(err, ErrUnauthorized) || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 2 {
		t.Fatalf("GETs = %d, want 2 (the call and its one retry)", n)
	}
	if n := tc.srv.Count("POST /oauth2/v1/token"); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestConservativeTokenLifetime(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.TokenLifetime = 30 * time.Millisecond })
	warm(t, tc)
	time.Sleep(40 * time.Millisecond)
	if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
		t.Fatal(err)
	}
	// The token was replaced before use, not after a 401.
	if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	for _, r := range tc.srv.Requests() {
		if r.Status == 401 {
			t.Fatal("a request was sent with an expired token")
		}
	}
}

func TestThrottleBurstIsRetried(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.Throttle(3)
	if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
		t.Fatal(err)
	}
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 4 {
		t.Fatalf("GETs = %d, want 4", n)
	}
	if n := tc.calls.count("GET /encompass/v3/users/{id}"); n != 5 { // warm-up + 4
		t.Fatalf("hook saw %d GETs", n)
	}
	var attempts []int
	for _, ci := range tc.calls.all[len(tc.calls.all)-4:] {
		attempts = append(attempts, ci.Attempt)
	}
	if fmt.Sprint(attempts) != "[1 2 3 4]" {
		t.Fatalf("attempts %v", attempts)
	}
}

func TestThrottleBeyondMaxAttempts(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.MaxAttempts = 3 })
	warm(t, tc)
	tc.srv.Throttle(10)
	_, err := tc.Users.Get(context.Background(), "asmith")
	var ae *APIError
	if !errors.Is(err, ErrThrottled) || !IsRetryable(err) || !errors.As(err, &ae) || ae.Code != "100002" || ae.CorrelationID == "" {
		t.Fatalf("err = %v", err)
	}
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 3 {
		t.Fatalf("GETs = %d, want 3", n)
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		failures  int
		wantErr   bool
		wantCalls int
	}{
		{500, 2, false, 3},
		{502, 2, false, 3},
		{503, 4, false, 5},
		{504, 1, false, 2},
		{503, 5, true, 5},
		{501, 1, true, 1},
		{400, 1, true, 1},
		{403, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_x%d", tt.status, tt.failures), func(t *testing.T) {
			t.Parallel()
			tc := newSimClient(t, nil)
			warm(t, tc)
			tc.srv.FailNext(tt.failures, tt.status, "GET /encompass/v3/users/{id}")
			_, err := tc.Users.Get(context.Background(), "asmith")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && IsRetryable(err) != retryableStatus(tt.status) {
				t.Fatalf("IsRetryable(%v) wrong", err)
			}
			if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != tt.wantCalls {
				t.Fatalf("GETs = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestLatencyAndContextDeadline(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.SetLatency(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tc.Users.Get(ctx, "asmith")
	if !errors.Is(err, context.DeadlineExceeded) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n := tc.calls.count("GET /encompass/v3/users/{id}"); n != 2 { // warm-up + 1
		t.Fatalf("hook saw %d GETs; a retry was started past the deadline", n)
	}
	// A cancelled context is the caller giving up: permanent.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := tc.Users.Get(ctx2, "asmith"); !errors.Is(err, context.Canceled) || IsRetryable(err) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestBackoffStopsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.BaseDelay, c.MaxDelay, c.MaxAttempts = time.Second, time.Second, 10 })
	warm(t, tc)
	tc.srv.FailNext(100, 503, "")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := tc.Users.Get(ctx, "asmith")
	if !errors.Is(err, ErrServer) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	// The first retry may sleep for anything up to a second: it is only
	// started when the sleep fits, so few attempts are made.
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n > 3 {
		t.Fatalf("GETs = %d", n)
	}
}

// The simulator's concurrency limit set to the client's default in-flight
// limit: 100 concurrent calls, started cold (the token request holds a slot
// too), never meet a 429.
func TestConcurrencyLimitHolds(t *testing.T) {
	t.Parallel()
	const limit = DefaultMaxInFlight
	tc := newSimClient(t, nil, encompasstest.WithConcurrencyLimit(limit), encompasstest.WithLatency(3*time.Millisecond))
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(tc.srv.InFlight()); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			<-start
			if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	<-done
	for _, r := range tc.srv.Requests() {
		if r.Status == 429 {
			t.Fatal("the simulator throttled: more than the limit was in flight")
		}
	}
	if p := peak.Load(); p > limit || p < 2 {
		t.Fatalf("peak in flight %d, want 2..%d", p, limit)
	}
	if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 100 {
		t.Fatalf("GETs = %d, want 100 (no retries needed)", n)
	}
	if n := tc.srv.Count("POST /oauth2/v1/token"); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}

func TestSharedTenantLimitIsSurvivedWithRetries(t *testing.T) {
	t.Parallel()
	// Another caller uses most of the tenant's limit: this client's own
	// limit (8) is above what is left (3), so some calls get 429 and retry.
	tc := newSimClient(t, func(c *Config) { c.MaxAttempts = 20 }, encompasstest.WithConcurrencyLimit(3), encompasstest.WithLatency(2*time.Millisecond))
	warm(t, tc)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	throttled := 0
	for _, r := range tc.srv.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Log("no 429 seen; the limit was not reached this run")
	}
	if ok := tc.srv.Count("GET /encompass/v3/users/{id}") - throttled; ok != 30 {
		t.Fatalf("successful GETs = %d, want 30", ok)
	}
}

func TestQuotaExhaustedWaitsOrFailsFast(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil, encompasstest.WithDailyQuota(3))
	ctx := context.Background()
	// Token (1), GET (2), GET (3: remaining 0, reset at midnight UTC).
	for range 2 {
		if _, err := tc.Users.Get(ctx, "asmith"); err != nil {
			t.Fatal(err)
		}
	}
	before := len(tc.srv.Requests())
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := tc.Users.Get(short, "asmith")
	if !errors.Is(err, ErrThrottled) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if after := len(tc.srv.Requests()); after != before {
		t.Fatalf("%d requests sent while the quota was exhausted", after-before)
	}
}

func TestHookSeesEveryCall(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.FailNext(1, 502, "")
	if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
		t.Fatal(err)
	}
	last := tc.calls.all[len(tc.calls.all)-2:]
	if last[0].Status != 502 || last[0].Err == nil || last[0].Attempt != 1 || last[1].Status != 200 || last[1].Attempt != 2 || last[1].Err != nil {
		t.Fatalf("%+v", last)
	}
	for _, ci := range tc.calls.all {
		if ci.Method == "" || ci.Duration <= 0 || strings.Contains(ci.Endpoint, "asmith") {
			t.Fatalf("bad call info %+v", ci)
		}
	}
	if tc.calls.all[0].Endpoint != "POST /oauth2/v1/token" {
		t.Fatalf("first call %+v", tc.calls.all[0])
	}
}

func TestDebugLogsAndErrorsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	ctx := context.Background()
	const pw = "N3w-User-Passw0rd!"
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := tc.Users.Create(ctx, User{LoginID: "logme", FirstName: "L", LastName: "M", Email: "l@example.com", OrganizationID: "1", Password: pw})
	record(err)
	tc.srv.RevokeTokens()
	_, err = tc.Users.Patch(ctx, "logme", UserPatch{"password": pw + "2"})
	record(err)
	_, err = tc.Users.Patch(ctx, "logme", UserPatch{"password": "short"})
	record(err)
	tc.srv.DropAfterApply(1, "POST /encompass/v3/users")
	_, err = tc.Users.Create(ctx, User{LoginID: "logme2", FirstName: "L", LastName: "M", Email: "l2@example.com", OrganizationID: "1", Password: pw})
	record(err)
	bad := newSimClient(t, func(c *Config) { c.Password = pw })
	_, err = bad.Users.Get(ctx, "asmith")
	record(err)

	logs := tc.logs.String() + bad.logs.String()
	for _, want := range []string{"encompass call", "encompass token fetched", "encompass token rejected", "encompass create outcome unknown"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if len(errs) < 2 {
		t.Fatalf("expected the short password and the bad credentials to fail, got %v", errs)
	}
	for _, e := range errs {
		logs += "\n" + e.Error() + fmt.Sprintf(" %+v %#v", e, e)
	}
	for _, secret := range []string{pw, tc.srv.ClientSecret, tc.srv.Password, "short\""} {
		if strings.Contains(logs, secret) {
			t.Fatalf("secret %.4s... in logs or errors", secret)
		}
	}
	tc.assertNoSecrets(t, logs)
}

func TestTokenRequestFaultsAreRetried(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"429", "503", "drop"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			tc := newSimClient(t, nil)
			switch fault {
			case "429":
				tc.srv.Throttle(2)
			case "503":
				tc.srv.FailNext(2, 503, "POST /oauth2/v1/token")
			case "drop":
				tc.srv.DropAfterApply(1, "POST /oauth2/v1/token")
			}
			if _, err := tc.Users.Get(context.Background(), "asmith"); err != nil {
				t.Fatal(err)
			}
			if n := tc.srv.Count("GET /encompass/v3/users/{id}"); n != 1 {
				t.Fatalf("GETs = %d, want 1", n)
			}
			if n := tc.calls.count(tokenEndpoint); n < 2 {
				t.Fatalf("token requests seen by the hook = %d", n)
			}
		})
	}
}

func TestInFlightSlotIsNotHeldWhileBackingOff(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.MaxInFlight = 1 })
	warm(t, tc)
	sleeping := make(chan struct{})
	release := make(chan struct{})
	tc.sleeper = func(done <-chan struct{}, d time.Duration) bool {
		close(sleeping)
		<-release
		return true
	}
	tc.srv.FailNext(1, 503, "GET /encompass/v3/users/{id}")
	errA := make(chan error, 1)
	go func() {
		_, err := tc.Users.Get(context.Background(), "asmith")
		errA <- err
	}()
	<-sleeping
	// A is backing off; with its slot released, B goes through at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tc.Users.Get(ctx, "mjohnson"); err != nil {
		t.Fatalf("B blocked behind a backing-off call: %v", err)
	}
	close(release)
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
}
