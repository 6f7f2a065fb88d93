package poll

import (
	"slices"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
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
	sum, err := e.runFor(testenv.NewClock(time.Now()), 10*time.Second, nil)
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
	clock := testenv.NewClock(time.Now())
	e.onPages(func(page int) {
		if page == 0 {
			clock.Advance(7 * time.Second)
		}
	}, nil)
	sum, err := e.runFor(clock, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The second page was requested with the first (two in flight): it is
	// read, not wasted, and the listing stops after it.
	if sum.Outcome != OutcomeStopped || sum.Staged != 400 {
		t.Fatalf("poll past two thirds of its time: %+v; want it stopped after the pages it had requested", sum)
	}
}

// TestListingThatEndsInTheMarginIsAppliedByTheNextRun: a listing whose last
// page comes back inside the deadline margin leaves no time to publish. It
// used to be dropped, and the next run listed from the start again and ran
// into the same margin, for ever, if the tenant's listing always took as
// long. The complete listing is staged instead, and the next run takes it
// up at its end and publishes with its whole time ahead.
func TestListingThatEndsInTheMarginIsAppliedByTheNextRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(450))
	e.baseline()
	e.modify("simuser000007", func(u *encompasstest.SimUser) { u.Title = "Changed" })
	clock := testenv.NewClock(time.Now())
	// The third request of every run (the last page of a listing from the
	// start) takes the run into its margin.
	lastPageIsLate := func() {
		e.onPages(func(page int) {
			if page == 2 {
				clock.Advance(59*time.Minute + 45*time.Second)
			}
		}, nil)
	}
	lastPageIsLate()
	sum, err := e.runFor(clock, time.Hour, oneByOne)
	if err != nil || sum.Outcome != OutcomeStopped || sum.Events != 0 {
		t.Fatalf("first run: %+v, %v; want it stopped without publishing", sum, err)
	}
	lastPageIsLate()
	sum, err = e.runFor(clock, time.Hour, oneByOne)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(e.take()); sum.Outcome != OutcomeChanges || !slices.Equal(k, []string{"User Changed simuser000007"}) {
		t.Fatalf("second run: %+v published %q; want the change", sum, k)
	}
}
