package encompass

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// emptySeed is the default seed without users, so that the simulator holds
// exactly the generated ones.
func emptySeed() encompasstest.Seed {
	seed := encompasstest.DefaultSeed()
	seed.Users, seed.UserGroups = nil, nil
	return seed
}

// listAll lists every user with a fresh client (so the token request is part
// of the cost) and returns the users seen and the API calls made.
func listAll(tb testing.TB, srv *encompasstest.Server) (users, calls int) {
	tb.Helper()
	var n atomic.Int64
	c, err := New(Config{
		BaseURL: srv.URL, InstanceID: srv.InstanceID, ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		HTTPClient: srv.Client(), OnCall: func(CallInfo) { n.Add(1) }, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, err := range c.Users.All(context.Background(), nil) {
		if err != nil {
			tb.Fatal(err)
		}
		users++
	}
	return users, int(n.Load())
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// TestListAllUsersCallCount is the benchmark's companion: listing N users
// costs ceil(N/200) list calls plus the token request.
func TestListAllUsersCallCount(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		n       int
		wrapper encompasstest.ListWrapper
		// extra is the trailing empty page a bare array needs when N is a
		// multiple of 200: nothing else tells the iterator the list ended.
		extra int
	}{
		{1, encompasstest.ListBareArray, 0},
		{999, encompasstest.ListBareArray, 0},
		{4321, encompasstest.ListBareArray, 0},
		{4000, encompasstest.ListItemsObject, 0},
		{4000, encompasstest.ListBareArray, 1},
		{4001, encompasstest.ListItemsObject, 0},
		{20_005, encompasstest.ListBareArray, 0},
	} {
		srv := encompasstest.NewServer(t, encompasstest.WithSeed(emptySeed()), encompasstest.WithUsers(tt.n), encompasstest.WithListWrapper(tt.wrapper))
		users, calls := listAll(t, srv)
		if users != tt.n {
			t.Fatalf("N=%d: listed %d users", tt.n, users)
		}
		if want := ceilDiv(tt.n, MaxUsersPageSize) + 1 + tt.extra; calls != want {
			t.Fatalf("N=%d: %d API calls, want ceil(N/200)+1+%d = %d", tt.n, calls, tt.extra, want)
		}
		if got := srv.Count("GET /encompass/v3/users"); got != ceilDiv(tt.n, MaxUsersPageSize)+tt.extra {
			t.Fatalf("N=%d: simulator saw %d list calls", tt.n, got)
		}
	}
}

// BenchmarkListAllUsers100k lists exactly 100,000 users through the
// iterator against the simulator. The simulator answers the items object
// with totalCount, which lets the iterator stop after page 500 without
// asking for an empty page 501, so the calls are exactly ceil(N/200) plus
// the token request. (With bare-array answers and N a multiple of 200, one
// trailing empty page is unavoidable; TestListAllUsersCallCount covers it.)
func BenchmarkListAllUsers100k(b *testing.B) {
	const n = 100_000
	srv := encompasstest.NewServer(b, encompasstest.WithSeed(emptySeed()), encompasstest.WithUsers(n), encompasstest.WithListWrapper(encompasstest.ListItemsObject))
	want := ceilDiv(n, MaxUsersPageSize) + 1
	b.ReportAllocs()
	var calls int
	for b.Loop() {
		var users int
		users, calls = listAll(b, srv)
		if users != n {
			b.Fatalf("listed %d users", users)
		}
		if calls != want {
			b.Fatalf("%d API calls, want %d", calls, want)
		}
	}
	b.ReportMetric(float64(calls), "api-calls/op")
	b.ReportMetric(float64(n), "users/op")
}
