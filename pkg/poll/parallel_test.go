package poll

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// TestPollListsPagesInParallel: the first list page of an unchanged poll is
// answered only once a second list request has arrived. A poller that
// listed one page after another would wait for ever (the test's deadline
// then fails it).
func TestPollListsPagesInParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	e.baseline()
	arrived := make(chan int, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.onPages(func(page int) {
		if page > 0 {
			arrived <- page
			return
		}
		select {
		case <-arrived:
		case <-ctx.Done():
		}
	}, nil)
	sum, err := e.poller(nil).Run(ctx)
	if err != nil || sum.Outcome != OutcomeUnchanged {
		t.Fatalf("poll: %+v, %v", sum, err)
	}
}

// TestParallelListingCostsExactlyItsPages: listing pages ahead costs no
// call more than listing them one by one when the list's length is known:
// from the answers' total, or from the snapshot's count for a tenant whose
// answers carry none. A tenant that shrank by more than the pages in flight
// costs at most one call per page in flight more.
func TestParallelListingCostsExactlyItsPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		users   int
		wrapper encompasstest.ListWrapper
		shrink  int
	}{
		{1005, encompasstest.ListBareArray, 0},
		{1000, encompasstest.ListBareArray, 0}, // a full last page: one empty page proves the end
		{1005, encompasstest.ListItemsObject, 0},
		{1000, encompasstest.ListItemsObject, 0},
		{1005, encompasstest.ListBareArray, 3},
		{1005, encompasstest.ListBareArray, 600},
		{1005, encompasstest.ListItemsObject, 600},
	} {
		t.Run(fmt.Sprintf("users%d/wrapper%d/shrink%d", tc.users, tc.wrapper, tc.shrink), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, encompasstest.WithUsers(tc.users), encompasstest.WithListWrapper(tc.wrapper))
			e.baseline()
			for i := range tc.shrink {
				e.sim.DeleteUser(fmt.Sprintf("simuser%06d", i+1))
			}
			n := e.sim.UserCount()
			e.listCalls.Store(0)
			sum, err := e.poller(func(c *Config) { c.MaxRemovalRatio = 1 }).Run(context.Background())
			if err != nil || sum.Listed != n || sum.Removed != tc.shrink {
				t.Fatalf("poll: %+v, %v; want %d listed, %d removed", sum, err, n, tc.shrink)
			}
			pages := ceilDiv(n, 200)
			if n%200 == 0 && tc.wrapper == encompasstest.ListBareArray {
				pages++
			}
			got := int(e.listCalls.Load())
			extra := 0
			if tc.wrapper == encompasstest.ListBareArray && ceilDiv(n, 200) < ceilDiv(n+tc.shrink, 200) {
				// The snapshot expected more pages than there are: the
				// pages in flight past the end, less the one that ends it.
				extra = 2 - 1
			}
			if got < pages || got > pages+extra {
				t.Fatalf("%d list calls, want %d (+ at most %d past the end)", got, pages, extra)
			}
		})
	}
}

// TestParallelListingCutByTheDeadlineResumes: a listing that fetches pages
// ahead and is cut by the deadline stages a contiguous run of whole pages
// (the pages it had requested are read, not wasted), every run makes
// progress, and the runs together report each change exactly once. Where
// the deadline falls depends on how the requests interleave, so the test
// asserts what must hold wherever it falls.
func TestParallelListingCutByTheDeadlineResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	e.baseline()
	for _, id := range []string{"simuser000010", "simuser000420", "simuser000999"} {
		e.modify(id, func(u *encompasstest.SimUser) { u.Title = "Changed" })
	}
	clock := testenv.NewClock(time.Now())
	slowListing(e, clock, 25*time.Minute)
	staged := 0
	var sum Summary
	for run := 1; ; run++ {
		if run > 10 {
			t.Fatal("the listing never completed")
		}
		var err error
		if sum, err = e.runFor(clock, time.Hour, nil); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if sum.Outcome != OutcomeStopped {
			break
		}
		// Whole pages, more each run; or the whole listing, when it ended
		// inside the margin and is left for the next run to apply.
		if (sum.Staged%200 != 0 && sum.Staged != 1005) || sum.Staged <= staged || sum.Staged > 1005 {
			t.Fatalf("run %d staged %d users after %d; want more whole pages each run", run, sum.Staged, staged)
		}
		if evs := e.take(); len(evs) != 0 {
			t.Fatalf("run %d stopped, and published %q", run, kinds(evs))
		}
		staged = sum.Staged
	}
	want := []string{"User Changed simuser000010", "User Changed simuser000420", "User Changed simuser000999"}
	if got := kinds(e.take()); sum.Outcome != OutcomeChanges || !slices.Equal(got, want) {
		t.Fatalf("last run %+v published %q, want %q", sum, got, want)
	}
	e.onPages(nil, nil)
	if sum := e.run(nil); sum.Outcome != OutcomeUnchanged {
		t.Fatalf("after the resumed listing: %+v", sum)
	}
}
