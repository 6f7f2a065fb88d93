package encompass

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// numberList is a list of the numbers 0..n-1 served by a PageFunc, which
// records every request and how many were in flight at once.
type numberList struct {
	n int
	// announce: answers carry the total. serveMax > 0 serves at most that
	// many items per page (a SCIM server's short pages), serveExtra more
	// than asked (a server that ignores the limit).
	announce   bool
	serveMax   int
	serveExtra int
	// hold, when set, runs inside every request before it answers.
	hold func(ctx context.Context, offset int) error

	mu       sync.Mutex
	offsets  []int
	inFlight int
	peak     int
}

func (l *numberList) fetch(ctx context.Context, offset, limit int) (Page[int], error) {
	l.mu.Lock()
	l.offsets = append(l.offsets, offset)
	l.inFlight++
	l.peak = max(l.peak, l.inFlight)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inFlight--
		l.mu.Unlock()
	}()
	if l.hold != nil {
		if err := l.hold(ctx, offset); err != nil {
			return Page[int]{}, err
		}
	}
	size := limit + l.serveExtra
	if l.serveMax > 0 {
		size = min(size, l.serveMax)
	}
	var items []int
	for i := offset; i < min(offset+size, l.n); i++ {
		items = append(items, i)
	}
	total := -1
	if l.announce {
		total = l.n
	}
	return Page[int]{Items: items, Total: total}, nil
}

func (l *numberList) requests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.offsets)
}

func (l *numberList) peakInFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// readAll reads every page and fails on an error.
func readAll(t *testing.T, p *Paginator[int]) []int {
	t.Helper()
	var got []int
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
	}
	return got
}

func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestPaginatorReadsEveryItemOnceAndCostsExactlyItsPages: in parallel or
// not, every item comes once and in order, and a listing costs exactly
// the pages a one-by-one listing costs whenever the list's end is known or
// expected rightly. A wrong (too large) expectation costs at most
// InFlight-1 pages past the end.
func TestPaginatorReadsEveryItemOnceAndCostsExactlyItsPages(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 9, 10, 11, 95, 100} {
		for _, announce := range []bool{false, true} {
			for _, inFlight := range []int{1, 3, 8} {
				for _, expect := range []int{0, n, n + 45} {
					name := fmt.Sprintf("n%d/announce=%t/inFlight%d/expect%d", n, announce, inFlight, expect)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						l := &numberList{n: n, announce: announce}
						p := NewPaginator(l.fetch, PaginatorOptions{Limit: 10, EndAtShortPage: true, InFlight: inFlight, ExpectedTotal: expect})
						if got := readAll(t, p); !slices.Equal(got, upTo(n)) {
							t.Fatalf("read %v", got)
						}
						if !p.Done() || p.Offset() != n {
							t.Fatalf("done %t, offset %d", p.Done(), p.Offset())
						}
						// One by one: ceil(n/10) pages; without a total, a
						// full last page (or none) needs an empty one after it.
						want := (n + 9) / 10
						if !announce && n%10 == 0 || n == 0 {
							want++
						}
						got := l.requests()
						if expect <= n && got != want {
							t.Fatalf("%d requests, want %d", got, want)
						}
						if expect > n && (got < want || got > want+inFlight-1) {
							t.Fatalf("%d requests, want %d to %d", got, want, want+inFlight-1)
						}
						if peak := l.peakInFlight(); peak > inFlight {
							t.Fatalf("%d requests in flight at once, allowed %d", peak, inFlight)
						}
					})
				}
			}
		}
	}
}

// TestPaginatorRequestsAheadInParallel: with InFlight 4, the first page is
// answered only once four requests are in flight at once. A paginator that
// requested one page after another would never get there (the test's
// deadline then fails it).
func TestPaginatorRequestsAheadInParallel(t *testing.T) {
	t.Parallel()
	started := make(chan int, 100)
	l := &numberList{n: 1000, announce: true}
	l.hold = func(ctx context.Context, offset int) error {
		if offset != 0 {
			started <- offset
			return nil
		}
		for others := 0; others < 3; others++ {
			select {
			case <-started:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The expected total lets the first request go out with three others.
	p := NewPaginator(l.fetch, PaginatorOptions{Limit: 100, EndAtShortPage: true, InFlight: 4, ExpectedTotal: 1000})
	for p.HasMorePages() {
		if _, err := p.NextPage(ctx); err != nil {
			t.Fatalf("after %d requests: %v", l.requests(), err)
		}
	}
	if l.requests() != 10 || l.peakInFlight() > 4 {
		t.Fatalf("%d requests, %d in flight at once; want 10, at most 4", l.requests(), l.peakInFlight())
	}
}

// TestPaginatorStopReadsWhatItRequestedAndEndsAtAPageBoundary: a caller
// short of time stops the paginator; the pages already requested are still
// returned, nothing more is requested, and the offset is the end of a
// contiguous run of pages.
func TestPaginatorStopReadsWhatItRequestedAndEndsAtAPageBoundary(t *testing.T) {
	t.Parallel()
	l := &numberList{n: 1000}
	p := NewPaginator(l.fetch, PaginatorOptions{Limit: 100, EndAtShortPage: true, InFlight: 3, ExpectedTotal: 1000})
	ctx := context.Background()
	var got []int
	for range 2 {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
	}
	// Pages 0-3 are requested now: two read, two ahead.
	p.Stop()
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
	}
	if n := l.requests(); n != 4 {
		t.Fatalf("%d requests; want the 4 made before Stop and no more", n)
	}
	if !slices.Equal(got, upTo(400)) || p.Offset() != 400 || p.Done() {
		t.Fatalf("read %d items, offset %d, done %t; want 400, 400, not done", len(got), p.Offset(), p.Done())
	}
	if _, err := p.NextPage(ctx); !errors.Is(err, ErrNoMorePages) {
		t.Fatalf("NextPage after the last: %v", err)
	}
	// Taken up again from the cursor, the listing completes.
	rest := NewPaginator(l.fetch, PaginatorOptions{Offset: p.Offset(), Limit: 100, EndAtShortPage: true, InFlight: 3})
	if all := append(got, readAll(t, rest)...); !slices.Equal(all, upTo(1000)) {
		t.Fatalf("resumed listing read %d items", len(all))
	}
}

// TestPaginatorFailureCancelsThePagesAhead: a failed page ends the listing
// with its error, once, and the requests still in flight are cancelled:
// none outlives the listing.
func TestPaginatorFailureCancelsThePagesAhead(t *testing.T) {
	t.Parallel()
	broken := errors.New("page 2 is broken")
	var cancelled sync.WaitGroup
	cancelled.Add(2)
	l := &numberList{n: 1000, announce: true}
	l.hold = func(ctx context.Context, offset int) error {
		switch offset {
		case 0:
			return nil
		case 100:
			return broken
		}
		// Pages 2 and 3 wait until they are cancelled.
		<-ctx.Done()
		cancelled.Done()
		return ctx.Err()
	}
	p := NewPaginator(l.fetch, PaginatorOptions{Limit: 100, EndAtShortPage: true, InFlight: 3, ExpectedTotal: 1000})
	var errs []error
	n := 0
	for _, err := range p.All(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if len(errs) != 1 || !errors.Is(errs[0], broken) || n != 100 {
		t.Fatalf("errors %v after %d items; want the broken page's error once after 100", errs, n)
	}
	cancelled.Wait() // hangs (and the test times out) if a request was left running
	if p.HasMorePages() || p.Done() {
		t.Fatal("a failed listing has more pages or claims to be complete")
	}
}

// TestPaginatorEarlyExitCancelsThePagesAhead: leaving All's loop early
// cancels what was requested ahead.
func TestPaginatorEarlyExitCancelsThePagesAhead(t *testing.T) {
	t.Parallel()
	var cancelled sync.WaitGroup
	cancelled.Add(2)
	l := &numberList{n: 1000}
	l.hold = func(ctx context.Context, offset int) error {
		if offset == 0 {
			return nil
		}
		<-ctx.Done()
		cancelled.Done()
		return ctx.Err()
	}
	p := NewPaginator(l.fetch, PaginatorOptions{Limit: 100, EndAtShortPage: true, InFlight: 3, ExpectedTotal: 1000})
	for range p.All(context.Background()) {
		break
	}
	cancelled.Wait()
}

// TestPaginatorUnevenPagesAreAskedForAgain: a SCIM server that serves
// fewer items than asked, or a server that serves more, moves every later
// page; the pages requested ahead are dropped and asked for at the right
// offsets, so no item is skipped or read twice.
func TestPaginatorUnevenPagesAreAskedForAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		list       *numberList
		endAtShort bool
	}{
		{"short pages, SCIM", &numberList{n: 95, announce: true, serveMax: 7}, false},
		{"short pages, SCIM, no total", &numberList{n: 95, serveMax: 7}, false},
		{"longer pages than asked", &numberList{n: 95, announce: true, serveExtra: 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := NewPaginator(tc.list.fetch, PaginatorOptions{Limit: 10, EndAtShortPage: tc.endAtShort, InFlight: 4, ExpectedTotal: 95})
			if got := readAll(t, p); !slices.Equal(got, upTo(95)) {
				t.Fatalf("read %v", got)
			}
		})
	}
}

// TestPaginatorMaxPagesGuardsAgainstAnEndlessList: a server that answers
// full pages forever ends the listing with an error after MaxPages.
func TestPaginatorMaxPagesGuardsAgainstAnEndlessList(t *testing.T) {
	t.Parallel()
	l := &numberList{n: 1 << 30}
	p := NewPaginator(l.fetch, PaginatorOptions{Limit: 10, EndAtShortPage: true, MaxPages: 25, InFlight: 4, ExpectedTotal: 1 << 30})
	var err error
	for p.HasMorePages() && err == nil {
		_, err = p.NextPage(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "more than 25 pages") {
		t.Fatalf("error %v", err)
	}
	if n := l.requests(); n != 25 {
		t.Fatalf("%d requests, want 25", n)
	}
}

// TestPaginatorHostileOptions: nonsense options are made harmless.
func TestPaginatorHostileOptions(t *testing.T) {
	t.Parallel()
	l := &numberList{n: 5, announce: true}
	p := NewPaginator(l.fetch, PaginatorOptions{Offset: -7, Limit: -1, InFlight: -3, ExpectedTotal: -9, EndAtShortPage: true})
	if got := readAll(t, p); !slices.Equal(got, upTo(5)) || l.requests() != 5 {
		t.Fatalf("read %v in %d requests", got, l.requests())
	}
}

// TestUsersPaginatorInParallelCostsTheSamePages: the v3 list read with
// four pages in flight against the simulator lists every user once, in
// order, for exactly the calls a one-by-one listing makes (ceil(N/200),
// plus the empty page a bare array needs after a full last one), whether
// the answers carry a total or the caller expects the count.
func TestUsersPaginatorInParallelCostsTheSamePages(t *testing.T) {
	t.Parallel()
	for _, wrapper := range []encompasstest.ListWrapper{encompasstest.ListBareArray, encompasstest.ListItemsObject} {
		for _, n := range []int{195, 1000, 1005} {
			t.Run(fmt.Sprintf("wrapper%d/n%d", wrapper, n), func(t *testing.T) {
				t.Parallel()
				tc := newSimClient(t, func(c *Config) { c.MaxInFlight = 4 }, encompasstest.WithListWrapper(wrapper), encompasstest.WithUsers(n))
				total := tc.srv.UserCount()
				ctx := context.Background()
				want := tc.srv.Users() // in the simulator's list order
				p := tc.Users.Paginator(ListUsersOptions{}, func(o *PaginatorOptions) {
					o.InFlight, o.ExpectedTotal = 4, total
				})
				i := 0
				for u, err := range p.All(ctx) {
					if err != nil {
						t.Fatal(err)
					}
					if i >= len(want) || u.ID != want[i].ID {
						t.Fatalf("user %d is %s", i, u.ID)
					}
					i++
				}
				pages := (total + MaxUsersPageSize - 1) / MaxUsersPageSize
				if total%MaxUsersPageSize == 0 && wrapper == encompasstest.ListBareArray {
					pages++
				}
				if i != total || tc.srv.Count("GET /encompass/v3/users") != pages {
					t.Fatalf("listed %d of %d users in %d calls, want %d calls", i, total, tc.srv.Count("GET /encompass/v3/users"), pages)
				}
			})
		}
	}
}
