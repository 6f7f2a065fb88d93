package poll

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func TestBaselineThenUnchangedPollWritesAndPublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(450))
	n := e.sim.UserCount()

	sum := e.baseline()
	if sum.Listed != n || sum.Generation != 1 {
		t.Fatalf("baseline summary %+v, want %d listed, generation 1", sum, n)
	}
	meta, err := e.snapshot().LoadMeta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u, b, m := e.db.userWrites.Load(), e.db.baseWrites.Load(), e.db.metaWrites.Load(); u != 0 || b != int64(meta.BaseChunks) || m != 2 {
		t.Fatalf("baseline wrote %d user items, %d base chunks, %d header writes; want 0, %d, 2 (lease, commit)", u, b, m, meta.BaseChunks)
	}
	if got := e.listCalls.Load(); got != int64(ceilDiv(n, 200)) {
		t.Fatalf("baseline made %d list calls, want %d", got, ceilDiv(n, 200))
	}

	e.listCalls.Store(0)
	e.tokenCalls.Store(0)
	u0, m0 := e.db.writes()
	sum = e.run(nil)
	if sum.Outcome != OutcomeUnchanged || sum.Events != 0 || sum.Writes != 0 {
		t.Fatalf("unchanged poll: %+v", sum)
	}
	if u, m := e.db.writes(); u != u0 || m != m0 {
		t.Fatalf("unchanged poll wrote %d user items and %d header items", u-u0, m-m0)
	}
	if evs := e.take(); len(evs) != 0 {
		t.Fatalf("unchanged poll published %v", kinds(evs))
	}
	if got := e.listCalls.Load() + e.tokenCalls.Load(); got > int64(ceilDiv(n, 200))+1 {
		t.Fatalf("unchanged poll made %d API calls, want at most %d", got, ceilDiv(n, 200)+1)
	}
}

func TestEachKindOfChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(60))
	if err := e.sim.SetEnabled("simuser000003", false); err != nil {
		t.Fatal(err)
	}
	e.baseline()

	e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Branch Manager" })
	if err := e.sim.SetEnabled("simuser000002", false); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetEnabled("simuser000003", true); err != nil {
		t.Fatal(err)
	}
	e.modify("simuser000004", func(u *encompasstest.SimUser) {
		u.Enabled = false
		u.Email = "moved@example.com"
	})
	if !e.sim.DeleteUser("simuser000005") {
		t.Fatal("delete simuser000005")
	}
	if err := e.sim.UpsertUser(encompasstest.SimUser{
		LoginID: "NewHire", FirstName: "New", LastName: "Hire", Email: "new.hire@example.com",
		OrganizationID: e.sim.Users()[0].OrganizationID, Enabled: true,
	}); err != nil {
		t.Fatal(err)
	}
	// An e-mail change in case only is no change (canonical form).
	e.modify("simuser000006", func(u *encompasstest.SimUser) { u.Email = strings.ToUpper(u.Email) })

	sum := e.run(nil)
	evs := e.take()
	want := []string{
		"User Changed simuser000001",
		"User Changed simuser000004",
		"User Created newhire",
		"User Disabled simuser000002",
		"User Disabled simuser000004",
		"User Enabled simuser000003",
		"User Removed simuser000005",
	}
	if got := kinds(evs); !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	for _, ev := range evs {
		d := ev.Detail
		if d.Origin != OriginExternal {
			t.Errorf("%s %s: origin %q, want external", ev.DetailType, d.UserID, d.Origin)
		}
		if d.LoginID == "" {
			t.Errorf("%s %s: no loginId", ev.DetailType, d.UserID)
		}
		switch {
		case ev.DetailType == TypeUserChanged && d.UserID == "simuser000001":
			want := []Change{{Field: "title", From: "", To: "Branch Manager"}}
			if !slices.Equal(d.Changes, want) {
				t.Errorf("changes %+v, want %+v", d.Changes, want)
			}
		case ev.DetailType == TypeUserChanged && d.UserID == "simuser000004":
			want := []Change{{Field: "email", From: "simuser000004@example.com", To: "moved@example.com"}}
			if !slices.Equal(d.Changes, want) {
				t.Errorf("changes %+v, want %+v (enabled is reported as User Disabled, not as a change)", d.Changes, want)
			}
		case ev.DetailType == TypeUserCreated:
			if d.LoginID != "NewHire" || d.User["email"] != "new.hire@example.com" {
				t.Errorf("created detail %+v", d)
			}
		case ev.DetailType != TypeUserChanged:
			if _, ok := ev.Raw["changes"]; ok {
				t.Errorf("%s carries changes", ev.DetailType)
			}
		}
	}
	if sum.Created != 1 || sum.Changed != 2 || sum.Disabled != 2 || sum.Enabled != 1 || sum.Removed != 1 {
		t.Errorf("summary counts %+v", sum)
	}
	// Six users differ: six user items written, plus lease and commit.
	if sum.Writes != 6+2 {
		t.Errorf("writes %d, want 8", sum.Writes)
	}
	// The removal was read back once before being reported.
	if got := e.getCalls.Load(); got != 1 {
		t.Errorf("read-backs %d, want 1", got)
	}

	sum = e.run(nil)
	if sum.Outcome != OutcomeUnchanged || len(e.take()) != 0 {
		t.Fatalf("poll after the changes: %+v", sum)
	}
}

func TestRemovalThresholdPublishesOnlyAnAnomalyAndKeepsTheSnapshot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		apply func(e *env)
	}{
		{"quarter of the users deleted", func(e *env) {
			for i := 1; i <= 15; i++ {
				e.sim.DeleteUser(fmt.Sprintf("simuser%06d", i))
			}
		}},
		{"quarter of the users disabled", func(e *env) {
			for i := 1; i <= 15; i++ {
				_ = e.sim.SetEnabled(fmt.Sprintf("simuser%06d", i), false)
			}
		}},
		{"empty listing where dozens were expected", func(e *env) {
			e.onPages(nil, func(_, status int, _ []byte) (int, []byte) { return status, []byte("[]") })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, encompasstest.WithUsers(60))
			e.baseline()
			tc.apply(e)
			u0, m0 := e.db.writes()
			sum := e.run(nil)
			evs := e.take()
			if sum.Outcome != OutcomeAnomaly || len(evs) != 1 || evs[0].DetailType != TypeAnomaly {
				t.Fatalf("outcome %q, events %v; want only %s", sum.Outcome, kinds(evs), TypeAnomaly)
			}
			if u, m := e.db.writes(); u != u0 || m != m0 {
				t.Fatalf("anomaly wrote %d user and %d header items", u-u0, m-m0)
			}
			if ratio := evs[0].Raw["maxRemovalRatio"]; ratio != 0.2 {
				t.Errorf("maxRemovalRatio %v", ratio)
			}
			// Raising the threshold lets the same differences through, against
			// the old snapshot: nothing was lost.
			e.onPages(nil, nil)
			sum = e.run(func(c *Config) { c.MaxRemovalRatio = 1 })
			if sum.Removed+sum.Disabled == 0 && tc.name != "empty listing where dozens were expected" {
				t.Fatalf("after raising the threshold: %+v", sum)
			}
		})
	}
}

func TestOriginProvisioningVersusExternal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(40))
	e.baseline()
	ctx := context.Background()
	record := func(login string, fields map[string]string) {
		t.Helper()
		if err := e.store.RecordWrite(ctx, state.Write{LoginID: login, EventID: "hris-" + login, Fields: fields}); err != nil {
			t.Fatal(err)
		}
	}
	// Ours: the write log has the same field and value.
	record("SimUser000001", map[string]string{"title": "Loan Officer II"})
	e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Loan Officer II" })
	// Ours: a disable recorded by deprovisioning.
	record("simuser000002", map[string]string{"enabled": "false"})
	_ = e.sim.SetEnabled("simuser000002", false)
	// External: the recorded value differs from what is in Encompass now.
	record("simuser000003", map[string]string{"title": "Processor"})
	e.modify("simuser000003", func(u *encompasstest.SimUser) { u.Title = "Underwriter" })
	// External: one of two fields matches.
	record("simuser000004", map[string]string{"title": "Closer"})
	e.modify("simuser000004", func(u *encompasstest.SimUser) { u.Title = "Closer"; u.LastName = "Renamed" })
	// External: nothing recorded.
	e.modify("simuser000005", func(u *encompasstest.SimUser) { u.Title = "Someone Else's Edit" })
	// Ours: a creation recorded by provisioning.
	record("created1", map[string]string{"loginId": "created1", "email": "c1@example.com"})
	if err := e.sim.UpsertUser(encompasstest.SimUser{LoginID: "created1", FirstName: "C", LastName: "One", Email: "c1@example.com", OrganizationID: e.sim.Users()[0].OrganizationID, Enabled: true}); err != nil {
		t.Fatal(err)
	}

	e.run(nil)
	origins := map[string]string{}
	for _, ev := range e.take() {
		origins[ev.DetailType+" "+ev.Detail.UserID] = ev.Detail.Origin
	}
	want := map[string]string{
		"User Changed simuser000001":  OriginProvisioning,
		"User Disabled simuser000002": OriginProvisioning,
		"User Changed simuser000003":  OriginExternal,
		"User Changed simuser000004":  OriginExternal,
		"User Changed simuser000005":  OriginExternal,
		"User Created created1":       OriginProvisioning,
	}
	for k, v := range want {
		if origins[k] != v {
			t.Errorf("%s: origin %q, want %q (all: %v)", k, origins[k], v, origins)
		}
	}
	if len(origins) != len(want) {
		t.Errorf("events %v", origins)
	}

	// A write recorded before the previous poll does not explain a later
	// change back to the recorded value: an old write-log entry is not a
	// licence for external edits.
	e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Temporary" })
	noSkew := func(c *Config) { c.OriginSkew = -1 }
	e.run(noSkew)
	e.take()
	e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Loan Officer II" })
	e.run(noSkew)
	evs := e.take()
	if len(evs) != 1 || evs[0].Detail.Origin != OriginExternal {
		t.Errorf("change back to an old recorded value: %+v, want one external change", evs)
	}
}

func TestDriftIsReportedOnceAndAgainWhenItReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(30))
	ctx := context.Background()
	if err := e.store.MarkTerminated(ctx, "E7", "simuser000007", "simuser000007"); err != nil {
		t.Fatal(err)
	}
	// A terminated employee found only by login id (no user id recorded).
	if err := e.store.MarkTerminated(ctx, "E8", "", "SimUser000008"); err != nil {
		t.Fatal(err)
	}
	// A terminated employee whose account is disabled is no drift.
	if err := e.store.MarkTerminated(ctx, "E9", "simuser000009", "simuser000009"); err != nil {
		t.Fatal(err)
	}
	_ = e.sim.SetEnabled("simuser000009", false)
	e.baseline()

	// The first poll after the baseline reports the drift that exists.
	e.run(nil)
	got := e.take()
	if k := kinds(got); !slices.Equal(k, []string{"User Drift Detected simuser000007", "User Drift Detected simuser000008"}) {
		t.Fatalf("drift events %q", k)
	}
	for _, ev := range got {
		if want := "E" + ev.Detail.UserID[len(ev.Detail.UserID)-1:]; ev.Detail.EmployeeID != want {
			t.Errorf("drift of %s: employeeId %q, want %q", ev.Detail.UserID, ev.Detail.EmployeeID, want)
		}
	}
	// Reported once.
	if sum := e.run(nil); sum.Outcome != OutcomeUnchanged || len(e.take()) != 0 {
		t.Fatalf("drift reported again: %+v", sum)
	}
	// Deprovisioning disables the account: drift over. Re-enabling it
	// outside brings it back.
	_ = e.sim.SetEnabled("simuser000007", false)
	e.run(nil)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Disabled simuser000007"}) {
		t.Fatalf("after disable: %q", k)
	}
	_ = e.sim.SetEnabled("simuser000007", true)
	_ = e.sim.SetEnabled("simuser000009", true)
	e.run(nil)
	want := []string{
		"User Drift Detected simuser000007", "User Drift Detected simuser000009",
		"User Enabled simuser000007", "User Enabled simuser000009",
	}
	if k := kinds(e.take()); !slices.Equal(k, want) {
		t.Fatalf("after re-enable: %q, want %q", k, want)
	}
}

func TestFailedListingPublishesNothingAndKeepsTheSnapshot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		before  func(e *env) func(int)
		rewrite func(page, status int, body []byte) (int, []byte)
		wantErr bool
	}{
		{name: "page that is not JSON", wantErr: true,
			rewrite: func(page, status int, body []byte) (int, []byte) {
				if page == 1 {
					return 200, []byte("<html>maintenance</html>")
				}
				return status, body
			}},
		{name: "truncated JSON page", wantErr: true,
			rewrite: func(page, status int, body []byte) (int, []byte) {
				if page == 1 {
					return status, body[:len(body)/2]
				}
				return status, body
			}},
		{name: "401 on every later page", wantErr: true,
			rewrite: func(page, status int, body []byte) (int, []byte) {
				if page >= 1 {
					return 401, []byte(`{"error":"invalid_token"}`)
				}
				return status, body
			}},
		{name: "429 burst mid-listing: the client backs off, listing completes",
			before: func(e *env) func(int) {
				return func(page int) {
					if page == 1 {
						e.sim.Throttle(2)
					}
				}
			}},
		{name: "token revoked mid-listing: one refresh, listing completes",
			before: func(e *env) func(int) {
				return func(page int) {
					if page == 1 {
						e.sim.RevokeTokens()
					}
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, encompasstest.WithUsers(450))
			e.baseline()
			e.modify("simuser000300", func(u *encompasstest.SimUser) { u.Title = "Changed" })
			var before func(int)
			if tc.before != nil {
				before = tc.before(e)
			}
			e.onPages(before, tc.rewrite)
			u0, m0 := e.db.writes()
			sum, err := e.poller(nil).Run(context.Background())
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("poll: %v", err)
				}
				if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000300"}) {
					t.Fatalf("events %q", k)
				}
				if strings.HasPrefix(tc.name, "429") && e.throttled.Load() != 2 {
					t.Fatalf("the client saw %d 429 answers, want 2", e.throttled.Load())
				}
				return
			}
			if err == nil {
				t.Fatalf("poll succeeded: %+v", sum)
			}
			if strings.Contains(err.Error(), e.sim.ClientSecret) || strings.Contains(err.Error(), e.sim.Password) {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if evs := e.take(); len(evs) != 0 {
				t.Fatalf("failed poll published %v", kinds(evs))
			}
			if u, m := e.db.writes(); u != u0 || m != m0 {
				t.Fatalf("failed poll wrote %d user and %d header items", u-u0, m-m0)
			}
			// The next, clean poll reports the change exactly once.
			e.onPages(nil, nil)
			e.run(nil)
			if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000300"}) {
				t.Fatalf("next poll: %q", k)
			}
		})
	}
}

// hookPublisher runs a function after each successful Publish call.
type hookPublisher struct {
	Publisher
	after func(call int)
	calls int
}

func (h *hookPublisher) Publish(ctx context.Context, evs ...publish.Event) error {
	err := h.Publisher.Publish(ctx, evs...)
	h.calls++
	if err == nil && h.after != nil {
		h.after(h.calls)
	}
	return err
}

func TestDeadlineStopsCleanlyAndTheNextPollCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(100))
	e.baseline()
	for i := 1; i <= 35; i++ {
		e.modify(fmt.Sprintf("simuser%06d", i), func(u *encompasstest.SimUser) { u.Title = "Changed" })
	}
	clock := testenv.NewClock(time.Now())
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Hour))
	defer cancel()
	p := e.poller(func(c *Config) {
		c.Now = clock.Now
		c.ApplyChunk = 10
		c.DeadlineMargin = time.Minute
		// After the first chunk is published, the deadline is near.
		c.Publisher = &hookPublisher{Publisher: c.Publisher, after: func(int) { clock.Advance(time.Hour) }}
	})
	sum, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcome != OutcomeStopped || sum.Pending != 25 || sum.Events != 10 {
		t.Fatalf("stopped poll: %+v", sum)
	}
	first := e.take()

	sum = e.run(nil)
	if sum.Outcome != OutcomeChanges || sum.Events != 25 {
		t.Fatalf("resumed poll: %+v", sum)
	}
	second := e.take()
	seen := map[string]bool{}
	for _, ev := range append(first, second...) {
		if seen[ev.Detail.UserID] {
			t.Errorf("%s published twice", ev.Detail.UserID)
		}
		seen[ev.Detail.UserID] = true
	}
	if len(seen) != 35 {
		t.Fatalf("%d users reported, want 35", len(seen))
	}
	if sum := e.run(nil); sum.Outcome != OutcomeUnchanged {
		t.Fatalf("after resume: %+v", sum)
	}
}

func TestDeadlineDuringListingPublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(450))
	e.baseline()
	e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Changed" })
	clock := testenv.NewClock(time.Now())
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Hour))
	defer cancel()
	e.onPages(func(page int) {
		if page == 0 {
			clock.Advance(time.Hour)
		}
	}, nil)
	u0, m0 := e.db.writes()
	sum, err := e.poller(func(c *Config) { c.Now = clock.Now }).Run(ctx)
	if err != nil || sum.Outcome != OutcomeStopped {
		t.Fatalf("poll: %+v, %v", sum, err)
	}
	if u, m := e.db.writes(); u != u0 || m != m0 || len(e.take()) != 0 {
		t.Fatalf("stopped listing wrote or published")
	}
	e.onPages(nil, nil)
	e.run(nil)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000001"}) {
		t.Fatalf("next poll: %q", k)
	}
}

func TestConcurrentRunsCannotCorruptTheSnapshot(t *testing.T) {
	t.Parallel()
	t.Run("a poll finds the lease taken", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, encompasstest.WithUsers(50))
		e.baseline()
		e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Changed" })
		var inner Summary
		p := e.poller(func(c *Config) {
			c.Publisher = &hookPublisher{Publisher: c.Publisher, after: func(call int) {
				if call == 1 {
					inner = e.run(nil)
				}
			}}
		})
		outer, err := p.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if inner.Outcome != OutcomeSkipped || inner.Events != 0 {
			t.Fatalf("overlapping poll: %+v", inner)
		}
		if outer.Outcome != OutcomeChanges {
			t.Fatalf("first poll: %+v", outer)
		}
		if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000001"}) {
			t.Fatalf("events %q", k)
		}
	})
	t.Run("a poll that read an older generation does not apply", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, encompasstest.WithUsers(50))
		e.baseline()
		e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Changed" })
		var inner Summary
		// The slow poll has listed; meanwhile a fast one runs to completion.
		e.onPages(nil, func(page, status int, body []byte) (int, []byte) {
			if page == 0 {
				e.onPages(nil, nil)
				inner = e.run(nil)
			}
			return status, body
		})
		outer := e.run(nil)
		if inner.Outcome != OutcomeChanges || outer.Outcome != OutcomeSkipped || outer.Events != 0 {
			t.Fatalf("fast poll %+v, slow poll %+v", inner, outer)
		}
		if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000001"}) {
			t.Fatalf("events %q", k)
		}
	})
	t.Run("many pollers at once", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, encompasstest.WithUsers(200))
		e.baseline()
		for i := 1; i <= 20; i++ {
			e.modify(fmt.Sprintf("simuser%06d", i), func(u *encompasstest.SimUser) { u.Title = "Changed" })
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := e.poller(nil).Run(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		ids := map[string]int{}
		for _, ev := range e.take() {
			ids[ev.Detail.UserID]++
		}
		if len(ids) != 20 {
			t.Fatalf("%d users reported, want 20", len(ids))
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("%s reported %d times", id, n)
			}
		}
		if sum := e.run(nil); sum.Outcome != OutcomeUnchanged {
			t.Fatalf("after the race: %+v", sum)
		}
	})
}

func TestOnePercentChangedWritesAndEventsEqualChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(2000))
	e.baseline()
	for i := 1; i <= 20; i++ {
		e.modify(fmt.Sprintf("simuser%06d", i*97), func(u *encompasstest.SimUser) { u.Phone = "555-555-0100" })
	}
	u0, m0 := e.db.writes()
	sum := e.run(nil)
	u, m := e.db.writes()
	if sum.Events != 20 || u-u0 != 20 || m-m0 != 2 {
		t.Fatalf("1%% changed: %d events, %d user item writes, %d header writes; want 20, 20, 2", sum.Events, u-u0, m-m0)
	}
}

func TestEventBridgeFailuresAreRetriedOrRepublishedWithTheSameIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(50))
	e.baseline()
	for i := 1; i <= 12; i++ {
		e.modify(fmt.Sprintf("simuser%06d", i), func(u *encompasstest.SimUser) { u.Title = "Changed" })
	}
	// Failed entries are retried by the publisher: every event once.
	e.eb.FailEntries(3, "ThrottlingException")
	sum := e.run(nil)
	if evs := e.take(); sum.Events != 12 || len(evs) != 12 {
		t.Fatalf("with failed entries: %+v, %d events", sum, len(evs))
	}

	// A publish that fails for good records nothing; the next poll publishes
	// the same events again under the same ids.
	e.modify("simuser000020", func(u *encompasstest.SimUser) { u.Title = "Again" })
	e.eb.SetEntryFault(func(testenv.Event) string { return "InternalFailure" })
	if _, err := e.poller(nil).Run(context.Background()); err == nil {
		t.Fatal("poll succeeded although nothing could be published")
	}
	e.eb.Reset()
	e.eb.SetEntryFault(nil)
	e.run(nil)
	evs := e.take()
	if len(evs) != 1 || evs[0].Detail.UserID != "simuser000020" {
		t.Fatalf("republished %q", kinds(evs))
	}
	// Same id as a re-run of the same poll would produce.
	if id := evs[0].Detail.EventID; !strings.HasPrefix(id, "poll-3-") {
		t.Errorf("event id %q, want generation 3", id)
	}
}

func TestSnapshotItemsOfOlderVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(20))
	e.baseline()
	ctx := context.Background()
	put := func(key string, item map[string]types.AttributeValue) {
		t.Helper()
		item["pk"], item["sk"] = sv(state.SnapshotDeltaPK(key)), sv(key)
		if _, err := e.db.DynamoDBAPI.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// An older version that knew only the first 12 fields: no event, the
	// item is upgraded once.
	prefix := strings.Join(strings.Split(storedEnc(t, e, "simuser000001"), sep)[:12], sep)
	put("simuser000001", map[string]types.AttributeValue{"v": nv(1), "c": sv(prefix)})
	// An older version with a field that has since changed: only known
	// fields are reported.
	prefix2 := strings.Join(strings.Split(storedEnc(t, e, "simuser000002"), sep)[:12], sep)
	put("simuser000002", map[string]types.AttributeValue{"v": nv(1), "c": sv(prefix2)})
	e.modify("simuser000002", func(u *encompasstest.SimUser) { u.Title = "New Title" })
	// Unknown formats: re-recorded silently.
	put("simuser000003", map[string]types.AttributeValue{"v": nv(0), "fp": sv("abc123")})
	put("simuser000004", map[string]types.AttributeValue{"v": nv(1), "c": &types.AttributeValueMemberN{Value: "7"}})
	put("simuser000005", map[string]types.AttributeValue{"v": nv(1), "c": sv(strings.Repeat("x"+sep, 40))})

	sum := e.run(nil)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000002"}) {
		t.Fatalf("events %q", k)
	}
	if sum.Writes != 5+2 {
		t.Errorf("writes %d, want 5 upgrades + lease + commit", sum.Writes)
	}
	for i := 1; i <= 5; i++ {
		// (A user without a DDA profile is stored without the DDA fields.)
		if enc := storedEnc(t, e, fmt.Sprintf("simuser%06d", i)); strings.Count(enc, sep) != legacyFields-1 {
			t.Errorf("simuser%06d not upgraded: %q", i, enc)
		}
	}
	if sum := e.run(nil); sum.Outcome != OutcomeUnchanged || sum.Writes != 0 {
		t.Fatalf("after upgrade: %+v", sum)
	}
}

// storedEnc reads one user's stored canonical form (base and deltas merged).
func storedEnc(t testing.TB, e *env, key string) string {
	t.Helper()
	snap := e.snapshot()
	meta, err := snap.LoadMeta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	users, err := snap.LoadUsers(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := users[key]
	if !ok || u.Removed {
		t.Fatalf("%s not in the snapshot", key)
	}
	return u.Form
}

// TestUserSkippedByPagingIsReadBackNotRemoved: offset paging skips a user
// when another is deleted during the listing; the poller reads a missing
// user back before reporting it removed.
func TestUserSkippedByPagingIsReadBackNotRemoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(150))
	e.baseline()
	e.modify("simuser000010", func(u *encompasstest.SimUser) { u.Title = "Changed while skipped" })
	e.onPages(nil, func(_, status int, body []byte) (int, []byte) {
		var users []json.RawMessage
		if err := json.Unmarshal(body, &users); err != nil {
			t.Errorf("page: %v", err)
			return status, body
		}
		users = slices.DeleteFunc(users, func(u json.RawMessage) bool { return strings.Contains(string(u), `"simuser000010"`) })
		out, _ := json.Marshal(users)
		return status, out
	})
	sum := e.run(nil)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000010"}) {
		t.Fatalf("events %q (summary %+v)", k, sum)
	}
	if n := e.getCalls.Load(); n != 1 {
		t.Fatalf("%d read-backs, want 1", n)
	}
}
