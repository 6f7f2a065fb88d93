package directory

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/quiescence"
)

// fakeGroups records group PATCHes. Each PATCH waits at a gate until the
// test lets it answer, so that which joins travel together is decided by the
// test, not by the scheduler. (The simulator-backed tests and the hire
// benchmark drive the joiner over HTTP; this one pins down its rules.)
type fakeGroups struct {
	mu      sync.Mutex
	patches [][]string
	arrived chan int        // the number of members of each PATCH sent
	answer  chan error      // one answer per PATCH
	refuse  map[string]bool // members a PATCH with them is refused for
}

func newFakeGroups() *fakeGroups {
	return &fakeGroups{arrived: make(chan int, 100), answer: make(chan error, 100), refuse: map[string]bool{}}
}

func (f *fakeGroups) add(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error {
	var ids []string
	refused := false
	for _, m := range members {
		ids = append(ids, m.Value)
		refused = refused || f.refuse[m.Value]
	}
	f.mu.Lock()
	f.patches = append(f.patches, ids)
	f.mu.Unlock()
	f.arrived <- len(ids)
	err := <-f.answer
	if err == nil && refused {
		err = &encompass.APIError{StatusCode: 400, Summary: "no such user"}
	}
	return err
}

func (f *fakeGroups) sent() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.patches)
}

// waiting reports how many joins of group wait behind the PATCH on the wire.
func (j *groupJoiner) waitingFor(group string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if q := j.groups[group]; q != nil {
		return len(q.waiting)
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 10000 { // polls for at most about 10 s
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestGroupJoinsArrivingTogetherShareOnePatch(t *testing.T) {
	t.Parallel()
	f := newFakeGroups()
	j := newGroupJoiner(f.add)
	ctx := context.Background()
	errs := make(chan error, 6)
	go func() { errs <- j.join(ctx, "g1", encompass.UserMember("u0")) }()
	if n := <-f.arrived; n != 1 {
		t.Fatalf("first PATCH carries %d members, want 1 (a lone join waits for nothing)", n)
	}
	for i := 1; i <= 5; i++ {
		go func() { errs <- j.join(ctx, "g1", encompass.UserMember(fmt.Sprintf("u%d", i))) }()
	}
	waitFor(t, func() bool { return j.waitingFor("g1") == 5 })
	f.answer <- nil // the first PATCH answers; the five go together
	if n := <-f.arrived; n != 5 {
		t.Fatalf("second PATCH carries %d members, want the 5 that waited", n)
	}
	f.answer <- nil
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := f.sent(); len(got) != 2 {
		t.Fatalf("PATCHes %v, want 2", got)
	}
	// Idle again: the next join goes at once.
	go func() { errs <- j.join(ctx, "g1", encompass.UserMember("u9")) }()
	if n := <-f.arrived; n != 1 {
		t.Fatalf("PATCH after idle carries %d", n)
	}
	f.answer <- nil
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func TestGroupJoinsOfDifferentGroupsDoNotWait(t *testing.T) {
	t.Parallel()
	f := newFakeGroups()
	j := newGroupJoiner(f.add)
	errs := make(chan error, 2)
	go func() { errs <- j.join(context.Background(), "g1", encompass.UserMember("a")) }()
	<-f.arrived
	go func() { errs <- j.join(context.Background(), "g2", encompass.UserMember("b")) }()
	<-f.arrived // g2's PATCH is sent while g1's is still on the wire
	f.answer <- nil
	f.answer <- nil
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestGroupJoinErrors(t *testing.T) {
	t.Parallel()
	f := newFakeGroups()
	j := newGroupJoiner(f.add)
	ctx := context.Background()
	type result struct {
		who string
		err error
	}
	results := make(chan result, 4)
	join := func(who string) {
		go func() { results <- result{who, j.join(ctx, "g", encompass.UserMember(who))} }()
	}
	join("lead")
	<-f.arrived
	f.refuse["bad"] = true
	join("ok1")
	join("bad")
	join("ok2")
	waitFor(t, func() bool { return j.waitingFor("g") == 3 })
	// A retryable failure fails the whole PATCH: every member is told, and
	// SQS retries their messages.
	f.answer <- &encompass.APIError{StatusCode: 503, Summary: "busy"}
	if r := <-results; r.who != "lead" || !encompass.IsRetryable(r.err) {
		t.Fatalf("lead: %+v", r)
	}
	// The three go together; refused for good because of "bad", so each
	// is retried alone and only "bad" fails.
	if n := <-f.arrived; n != 3 {
		t.Fatalf("combined PATCH carries %d", n)
	}
	for range 4 {
		f.answer <- nil
	}
	got := map[string]error{}
	for range 3 {
		r := <-results
		got[r.who] = r.err
	}
	if got["ok1"] != nil || got["ok2"] != nil || got["bad"] == nil || encompass.IsRetryable(got["bad"]) {
		t.Fatalf("results %v: want only bad refused", got)
	}
	if p := f.sent(); len(p) != 5 {
		t.Fatalf("PATCHes %v: want lead, the combined one, then one per member", p)
	}
}

func TestGroupJoinWaitingWithNoTimeLeft(t *testing.T) {
	t.Parallel()
	f := newFakeGroups()
	j := newGroupJoiner(f.add)
	errs := make(chan error, 3)
	go func() { errs <- j.join(context.Background(), "g", encompass.UserMember("lead")) }()
	<-f.arrived
	short, cancel := context.WithCancel(context.Background())
	go func() { errs <- j.join(short, "g", encompass.UserMember("gives-up")) }()
	go func() { errs <- j.join(context.Background(), "g", encompass.UserMember("stays")) }()
	waitFor(t, func() bool { return j.waitingFor("g") == 2 })
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("a join whose time ran out while waiting: %v", err)
	}
	waitFor(t, func() bool { return j.waitingFor("g") == 1 })
	f.answer <- nil
	if n := <-f.arrived; n != 1 {
		t.Fatalf("next PATCH carries %d members, want only the one still waiting", n)
	}
	f.answer <- nil
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if p := f.sent(); !slices.Equal(p[1], []string{"stays"}) {
		t.Fatalf("PATCHes %v", p)
	}
}

// Inside a batch, joins wait until every message of the batch has reached
// its joins or finished, then go in one PATCH per group.
func TestGroupJoinsOfABatchMeetInOnePatchPerGroup(t *testing.T) {
	t.Parallel()
	f := newFakeGroups()
	j := newGroupJoiner(f.add)
	meet := quiescence.New()
	ctx := quiescence.With(context.Background(), meet)
	for range 4 {
		meet.Enter() // four messages in the batch
	}
	errs := make(chan error, 3)
	for i, g := range []string{"g1", "g1", "g2"} {
		go func() { errs <- j.join(ctx, g, encompass.UserMember(fmt.Sprintf("u%d", i))) }()
	}
	for meet.Waiting() != 3 {
		runtime.Gosched()
	}
	if got := f.sent(); len(got) != 0 {
		t.Fatalf("sent %v while a message was still working", got)
	}
	meet.Leave() // the fourth message finishes without a join
	for range 2 {
		<-f.arrived
		f.answer <- nil
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := f.sent()
	slices.SortFunc(got, func(a, b []string) int { return len(b) - len(a) })
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 {
		t.Fatalf("PATCHes %v, want one of two members (g1) and one of one (g2)", got)
	}
}
