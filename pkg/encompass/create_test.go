package encompass

import (
	"context"
	"errors"
	"testing"
	"time"
)

func newV3User(login string) User {
	return User{LoginID: login, FirstName: "Jane", LastName: "Doe", Email: login + "@example.com", OrganizationID: "1", SSOOnly: true}
}

func TestCreateWithDroppedConnectionCreatesExactlyOnce(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.DropAfterApply(1, "POST /encompass/v3/users")
	u, err := tc.Users.Create(context.Background(), newV3User("dropped"))
	if err != nil {
		t.Fatal(err)
	}
	if u.LoginID != "dropped" {
		t.Fatalf("%+v", u)
	}
	if n := tc.srv.Count("POST /encompass/v3/users"); n != 1 {
		t.Fatalf("POSTs = %d, want 1: the create was re-sent blindly", n)
	}
	if n := tc.srv.Count("GET /encompass/v3/users"); n != 1 {
		t.Fatalf("look-ups = %d, want 1", n)
	}
	count := 0
	for _, su := range tc.srv.Users() {
		if su.LoginID == "dropped" {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d users created", count)
	}
}

func TestCreateAfterGatewayTimeoutLooksBeforeResending(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	// The 504 is answered without applying: the look-up finds nothing and
	// the create is sent again.
	tc.srv.FailNext(1, 504, "POST /encompass/v3/users")
	if _, err := tc.Users.Create(context.Background(), newV3User("gateway")); err != nil {
		t.Fatal(err)
	}
	if n := tc.srv.Count("POST /encompass/v3/users"); n != 2 {
		t.Fatalf("POSTs = %d, want 2", n)
	}
	if n := tc.srv.Count("GET /encompass/v3/users"); n != 1 {
		t.Fatalf("look-ups = %d, want 1", n)
	}
	if _, ok := tc.srv.User("gateway"); !ok {
		t.Fatal("user not created")
	}
}

func TestCreateThrottledIsResentWithoutLookup(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.Throttle(2)
	if _, err := tc.Users.Create(context.Background(), newV3User("throttled")); err != nil {
		t.Fatal(err)
	}
	if n := tc.srv.Count("GET /encompass/v3/users"); n != 0 {
		t.Fatalf("look-ups = %d after a 429 (which is never applied)", n)
	}
}

func TestCreateOutcomeUnknownWhenLookupFails(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, func(c *Config) { c.MaxAttempts = 2 })
	warm(t, tc)
	tc.srv.DropAfterApply(1, "POST /encompass/v3/users")
	tc.srv.FailNext(10, 503, "GET /encompass/v3/users")
	_, err := tc.Users.Create(context.Background(), newV3User("unknown"))
	if !errors.Is(err, ErrUnknownOutcome) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n := tc.srv.Count("POST /encompass/v3/users"); n != 1 {
		t.Fatalf("POSTs = %d, want 1", n)
	}
	// A later attempt (an SQS redelivery) finds the user and does not
	// create a second one.
	tc.srv.ClearFaults()
	u, err := tc.Users.Create(context.Background(), newV3User("unknown"))
	if !errors.Is(err, ErrConflict) || u != nil {
		t.Fatalf("second create: %v", err)
	}
}

func TestCreateTimeoutAfterSendIsUnknownOutcome(t *testing.T) {
	t.Parallel()
	tc := newSimClient(t, nil)
	warm(t, tc)
	tc.srv.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tc.Users.Create(ctx, newV3User("slow"))
	if !errors.Is(err, ErrUnknownOutcome) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}
