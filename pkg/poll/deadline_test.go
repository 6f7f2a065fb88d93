package poll

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// TestShortTimeoutStillPublishes is issue 10, defect 4: a poller whose
// Lambda timeout is 30 s or less (sam local invoke, a template of one's own)
// must still publish. The clock stands still, so the poll always sees the
// whole 10 s ahead of it; with a fixed 30 s margin it stopped before
// publishing on every run, forever.
func TestShortTimeoutStillPublishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(50))
	e.baseline()
	e.modify("simuser000007", func(u *encompasstest.SimUser) { u.Title = "Changed" })
	clock := &fakeClock{now: time.Now()}
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(10*time.Second))
	defer cancel()
	sum, err := e.poller(func(c *Config) { c.Now = clock.Now }).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcome != OutcomeChanges || sum.Events != 1 {
		t.Fatalf("poll with a 10 s deadline: %+v; want the change published", sum)
	}
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000007"}) {
		t.Fatalf("events %q", k)
	}
}

// TestShortTimeoutKeepsAThirdAsMargin: the proportional margin still
// protects a short invocation. With 10 s to go, a poll whose listing has
// used more than two thirds of them stops at the next page boundary.
func TestShortTimeoutKeepsAThirdAsMargin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(450))
	e.baseline()
	clock := &fakeClock{now: time.Now()}
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(10*time.Second))
	defer cancel()
	e.onPages(func(page int) {
		if page == 0 {
			clock.Advance(7 * time.Second)
		}
	}, nil)
	sum, err := e.poller(func(c *Config) { c.Now = clock.Now }).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The second page was requested with the first (two in flight): it is
	// read, not wasted, and the listing stops after it.
	if sum.Outcome != OutcomeStopped || sum.Staged != 400 {
		t.Fatalf("poll past two thirds of its time: %+v; want it stopped after the pages it had requested", sum)
	}
}
