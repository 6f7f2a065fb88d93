package poll

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// slowListing makes every list page take pageTime on the poller's clock,
// so that a run with a one-hour deadline and the default 30 s margin lists
// two pages and stops after the third when pageTime is 25 minutes.
func slowListing(e *env, clock *testenv.Clock, pageTime time.Duration) {
	e.onPages(func(int) { clock.Advance(pageTime) }, nil)
}

// runWithin runs one poll (a new invocation) with a one-hour deadline on
// clock, listing one page at a time.
func (e *env) runWithin(clock *testenv.Clock) Summary {
	e.t.Helper()
	sum, err := e.runFor(clock, time.Hour, oneByOne)
	if err != nil {
		e.t.Fatalf("poll: %v", err)
	}
	return sum
}

// runFor runs one poll (a new invocation) whose deadline is timeout ahead
// on clock, the poller's clock.
func (e *env) runFor(clock *testenv.Clock, timeout time.Duration, mutate func(*Config)) (Summary, error) {
	e.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(timeout))
	defer cancel()
	return e.poller(func(c *Config) {
		c.Now = clock.Now
		if mutate != nil {
			mutate(c)
		}
	}).Run(ctx)
}

// oneByOne lists one page at a time. The tests whose clock moves with every
// page request need it: with pages requested ahead, where the deadline
// falls would depend on how the requests interleave.
// TestParallelListingCutByTheDeadlineResumes covers the parallel case.
func oneByOne(c *Config) { c.ListInFlight = 1 }

// TestListingLongerThanOneInvocationCompletes: a tenant whose listing takes
// three invocations gets its baseline, then each of its changes exactly once,
// and nothing is published or recorded in the snapshot while the listing is
// incomplete.
func TestListingLongerThanOneInvocationCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	clock := testenv.NewClock(time.Now())
	slowListing(e, clock, 25*time.Minute)

	// Three pages per run: 600 users staged, then 1000 (run 2 re-lists
	// page 2 and lists pages 3 and 4), then run 3 finds the end.
	stopped := func(wantStaged, wantResumed int) {
		t.Helper()
		u0, m0 := e.db.writes()
		s0 := e.db.stageWrites.Load()
		sum := e.runWithin(clock)
		if sum.Outcome != OutcomeStopped || sum.Staged != wantStaged || sum.Resumed != wantResumed {
			t.Fatalf("run: outcome %s, staged %d, resumed %d; want stopped, %d, %d", sum.Outcome, sum.Staged, sum.Resumed, wantStaged, wantResumed)
		}
		if u, m := e.db.writes(); u != u0 || m != m0 || len(e.take()) != 0 {
			t.Fatal("a stopped listing published or changed the snapshot")
		}
		if e.db.stageWrites.Load() == s0 {
			t.Fatal("a stopped listing staged nothing")
		}
	}
	stopped(600, 0)
	stopped(1000, 600)
	calls0 := e.listCalls.Load()
	sum := e.runWithin(clock)
	if sum.Outcome != OutcomeBaseline || sum.Resumed != 1000 || sum.Listed != 1005 {
		t.Fatalf("third run: %+v", sum)
	}
	// The last run re-lists the page before its cursor and finds the end.
	if n := e.listCalls.Load() - calls0; n != 2 {
		t.Errorf("third run made %d list calls, want 2", n)
	}
	if evs := e.take(); len(evs) != 1 || evs[0].DetailType != TypeBaseline || evs[0].Raw["users"] != float64(1005) {
		t.Fatalf("baseline over three runs published %v", kinds(evs))
	}

	// Changes before, at and after the cursors, and a new user at the end.
	for _, id := range []string{"simuser000010", "simuser000599", "simuser000600", "simuser000950"} {
		e.modify(id, func(u *encompasstest.SimUser) { u.Title = "Changed" })
	}
	if err := e.sim.UpsertUser(encompasstest.SimUser{LoginID: "latehire", FirstName: "Late", LastName: "Hire", Email: "late.hire@example.com",
		OrganizationID: e.sim.Users()[0].OrganizationID, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	stopped(600, 0)
	stopped(1000, 600)
	sum = e.runWithin(clock)
	if sum.Outcome != OutcomeChanges || sum.Created != 1 || sum.Changed != 4 || sum.Removed != 0 {
		t.Fatalf("third run: %+v", sum)
	}
	want := []string{"User Changed simuser000010", "User Changed simuser000599", "User Changed simuser000600",
		"User Changed simuser000950", "User Created latehire"}
	if got := kinds(e.take()); !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	// Done: an unhurried poll finds nothing, so nothing was missed or doubled.
	e.onPages(nil, nil)
	if sum := e.run(nil); sum.Outcome != OutcomeUnchanged || sum.Resumed != 0 {
		t.Fatalf("after the resumed poll: %+v", sum)
	}
}

// TestResumedListingSurvivesShiftedOffsets: users removed before the cursor
// between two runs shift everyone after them to lower offsets; listing on
// from the bare offset would skip them (and report them removed). The resumed
// listing re-lists one page before the cursor and finds its boundary again.
func TestResumedListingSurvivesShiftedOffsets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	e.baseline()
	clock := testenv.NewClock(time.Now())
	slowListing(e, clock, 25*time.Minute)
	if sum := e.runWithin(clock); sum.Outcome != OutcomeStopped || sum.Staged != 600 {
		t.Fatalf("first run: %+v", sum)
	}
	for i := 100; i < 103; i++ {
		e.sim.DeleteUser(fmt.Sprintf("simuser%06d", i))
	}
	e.modify("simuser000603", func(u *encompasstest.SimUser) { u.Title = "Changed" })
	e.onPages(nil, nil)
	e.getCalls.Store(0)
	sum := e.run(nil)
	if sum.Resumed != 600 || sum.Outcome != OutcomeChanges || sum.Listed != 1002 {
		t.Fatalf("resumed run: %+v", sum)
	}
	// The users at the old cursor moved down by three and were listed again
	// in the overlap page, so none of them is missing (no read-back, no
	// removal). The removed users had been staged before they went: the next
	// poll reports them.
	if got := kinds(e.take()); !slices.Equal(got, []string{"User Changed simuser000603"}) {
		t.Fatalf("events %q, want only the change after the cursor", got)
	}
	if n := e.getCalls.Load(); n != 0 {
		t.Errorf("read-backs %d, want 0 (a user was missing from the listing)", n)
	}
	sum = e.run(nil)
	want := []string{"User Removed simuser000100", "User Removed simuser000101", "User Removed simuser000102"}
	if got := kinds(e.take()); !slices.Equal(got, want) || sum.Resumed != 0 {
		t.Fatalf("next poll: events %q, want %q", got, want)
	}

}

// TestResumedListingStartsOverWhenItsBoundaryIsGone: more users removed
// before the cursor than a page holds; the boundary is not found again and the
// listing starts from the beginning in the same run (nothing is skipped).
func TestResumedListingStartsOverWhenItsBoundaryIsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	e.baseline()
	clock := testenv.NewClock(time.Now())
	slowListing(e, clock, 25*time.Minute)
	if sum := e.runWithin(clock); sum.Outcome != OutcomeStopped {
		t.Fatalf("first run: %+v", sum)
	}
	for i := 300; i < 550; i++ {
		e.sim.DeleteUser(fmt.Sprintf("simuser%06d", i))
	}
	e.onPages(nil, nil)
	sum, err := e.poller(func(c *Config) { c.MaxRemovalRatio = 1 }).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed != 0 || sum.Removed != 250 || sum.Listed != 755 || sum.Outcome != OutcomeChanges {
		t.Fatalf("run after the boundary vanished: %+v", sum)
	}
	if n := len(e.take()); n != 250 {
		t.Fatalf("%d events, want 250 removals", n)
	}
	if !containsLog(e, "no longer lines up") {
		t.Error("starting over is not logged")
	}
}

// TestStaleOrDamagedStageIsIgnored: a stage of an older generation, or one
// whose chunks are gone (TTL), is not resumed.
func TestStaleOrDamagedStageIsIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"chunks expired", "older generation"} {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, encompasstest.WithUsers(700))
			e.baseline()
			clock := testenv.NewClock(time.Now())
			slowListing(e, clock, 25*time.Minute)
			if sum := e.runWithin(clock); sum.Outcome != OutcomeStopped {
				t.Fatalf("first run: %+v", sum)
			}
			e.onPages(nil, nil)
			ctx := context.Background()
			snap := e.snapshot()
			st, err := snap.LoadStage(ctx)
			if err != nil || !st.Present || st.Unusable != "" {
				t.Fatalf("stage %+v %v", st, err)
			}
			switch tc {
			case "chunks expired":
				deleteItem(t, e, state.StagePK(st.Run), "00000")
			case "older generation":
				// A change after the cursor makes the next poll commit a
				// new generation.
				e.modify("simuser000650", func(u *encompasstest.SimUser) { u.Title = "Changed" })
				// Another poll commits a generation but leaves the stage (a
				// crash between commit and drop is simulated by writing it back).
				listed, err := snap.LoadStagedUsers(ctx, st)
				if err != nil {
					t.Fatal(err)
				}
				if sum := e.run(nil); sum.Outcome != OutcomeChanges {
					t.Fatalf("poll between: %+v", sum)
				}
				e.take()
				if err := snap.SaveStage(ctx, st, listed, clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			e.modify("simuser000002", func(u *encompasstest.SimUser) { u.Title = "Changed" })
			sum := e.run(nil)
			if sum.Resumed != 0 || sum.Listed != 705 {
				t.Fatalf("stage resumed: %+v", sum)
			}
			if got := kinds(e.take()); !slices.Equal(got, []string{"User Changed simuser000002"}) {
				t.Fatalf("events %q", got)
			}
		})
	}
}

func containsLog(e *env, s string) bool { return strings.Contains(e.logs.String(), s) }

func deleteItem(t *testing.T, e *env, pk, sk string) {
	t.Helper()
	_, err := e.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{"pk": sv(pk), "sk": sv(sk)}})
	if err != nil {
		t.Fatal(err)
	}
}

// frontUsers is the real client's listing with users inserted before all
// others: the simulator appends new users at the end, so this is how a
// test shifts every offset up, as an Encompass that sorts by id does when an
// early id is added.
type frontUsers struct {
	*encompass.UsersService
	front []encompass.User
}

func (f *frontUsers) Paginator(opts encompass.ListUsersOptions, optFns ...func(*encompass.PaginatorOptions)) *encompass.Paginator[encompass.User] {
	fetch := func(ctx context.Context, offset, limit int) (encompass.Page[encompass.User], error) {
		n := len(f.front)
		var out []encompass.User
		if offset < n {
			out = append(out, f.front[offset:min(n, offset+limit)]...)
		}
		rest, err := f.UsersService.ListPage(ctx, encompass.ListUsersOptions{Start: max(offset-n, 0), Limit: limit - len(out)})
		return encompass.Page[encompass.User]{Items: append(out, rest...), Total: -1}, err
	}
	return encompass.NewPaginator(fetch, encompass.PaginatorOptions{Offset: opts.Start, Limit: encompass.MaxUsersPageSize, EndAtShortPage: true}, optFns...)
}

// TestResumedListingSurvivesUsersAddedBeforeTheCursor: users added before
// the cursor between two runs shift the others up. The overlap page lists
// the last staged users again (not duplicates, not lost), the boundary is
// found in the page after it, and the users added before the cursor are
// reported by the next poll, which lists them.
func TestResumedListingSurvivesUsersAddedBeforeTheCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(1000))
	e.baseline()
	users := &frontUsers{UsersService: e.client.Users}
	withFront := func(c *Config) { c.Users = users }
	clock := testenv.NewClock(time.Now())
	slowListing(e, clock, 25*time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Hour))
	defer cancel()
	sum, err := e.poller(func(c *Config) { c.Now = clock.Now; withFront(c); oneByOne(c) }).Run(ctx)
	if err != nil || sum.Outcome != OutcomeStopped || sum.Staged != 600 {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	org := e.sim.Users()[0].OrganizationID
	for i := range 20 {
		enabled := true
		users.front = append(users.front, encompass.User{ID: fmt.Sprintf("aaa%02d", i), LoginID: fmt.Sprintf("aaa%02d", i),
			FirstName: "A", LastName: "A", Email: "a@example.com", OrganizationID: org, Enabled: &enabled})
	}
	e.modify("simuser000700", func(u *encompasstest.SimUser) { u.Title = "Changed" })
	e.onPages(nil, nil)
	sum, err = e.poller(withFront).Run(context.Background())
	if err != nil || sum.Resumed != 600 || sum.Duplicates != 0 || sum.Removed != 0 || sum.Created != 0 {
		t.Fatalf("resumed run: %+v %v", sum, err)
	}
	if got := kinds(e.take()); !slices.Equal(got, []string{"User Changed simuser000700"}) {
		t.Fatalf("events %q", got)
	}
	sum, err = e.poller(withFront).Run(context.Background())
	if err != nil || sum.Created != 20 || sum.Changed+sum.Removed != 0 {
		t.Fatalf("next poll: %+v %v", sum, err)
	}
	e.take()
}
