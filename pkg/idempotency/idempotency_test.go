package idempotency_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// result is what the work of these tests produces: the shape of
// provisioning's recorded outcome.
type result struct {
	Outcome string   `json:"outcome"`
	Events  []string `json:"events,omitempty"`
}

type fixture struct {
	store     *state.Store
	clock     *testenv.Clock
	published []result
	failHand  atomic.Int32 // hand-ons to fail
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := testenv.DynamoDB(t)
	f := &fixture{clock: testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	f.store = state.New(d.Client, d.CreateTable(t), state.WithClock(f.clock.Now), state.WithClaimLease(time.Minute))
	return f
}

func (f *fixture) layer(store idempotency.Store) *idempotency.Layer[result] {
	return idempotency.New(idempotency.Config[result]{
		Store: store, Kind: state.ClaimEvent, TTL: time.Hour,
		HandOn: func(_ context.Context, r result) error {
			if f.failHand.Load() > 0 {
				f.failHand.Add(-1)
				return errors.New("eventbridge down")
			}
			f.published = append(f.published, r)
			return nil
		},
		Keep: func(r result) result { return result{Outcome: r.Outcome} },
	})
}

// work counts its runs and records whether each resumed an attempt.
type work struct {
	runs    int
	resumed []bool
	fail    error
}

func (w *work) fn(_ context.Context, a idempotency.Attempt) (result, error) {
	w.runs++
	w.resumed = append(w.resumed, a.Resumed)
	if w.fail != nil {
		return result{}, w.fail
	}
	return result{Outcome: "User Updated", Events: []string{"User Updated"}}, nil
}

func TestRunOnceThenDuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := f.layer(f.store)
	w := &work{}
	ctx := context.Background()
	out, err := l.Run(ctx, "ev-1", "m1", "E1", w.fn)
	if err != nil || out.Status != idempotency.Ran || w.runs != 1 || len(f.published) != 1 {
		t.Fatalf("first run: %+v %v runs %d published %d", out, err, w.runs, len(f.published))
	}
	// A duplicate (another message with the id, or the same one again).
	for _, owner := range []string{"m2", "m1"} {
		out, err = l.Run(ctx, "ev-1", owner, "E1", w.fn)
		if err != nil || out.Status != idempotency.Duplicate || out.Result.Outcome != "User Updated" || w.runs != 1 || len(f.published) != 1 {
			t.Fatalf("duplicate from %s: %+v %v runs %d published %d", owner, out, err, w.runs, len(f.published))
		}
	}
	// Keep trimmed the record: the events are not kept once handed on.
	c, _, err := f.store.GetClaim(ctx, state.EventKey("ev-1"))
	if err != nil || c.Outcome != `{"state":"published","outcome":"User Updated"}` {
		t.Fatalf("recorded %q %v", c.Outcome, err)
	}
}

func TestRunInProgressElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.Claim(ctx, state.EventKey("ev-2"), "m1", state.ClaimOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	w := &work{}
	if _, err := f.layer(f.store).Run(ctx, "ev-2", "m2", "E1", w.fn); !errors.Is(err, idempotency.ErrInProgress) || w.runs != 0 {
		t.Fatalf("err %v runs %d", err, w.runs)
	}
}

// A crash between the claim and its completion: the redelivery of the same
// message takes the claim over at once, and the work learns it resumes.
func TestRunAfterACrashResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.Claim(ctx, state.EventKey("ev-3"), "m1", state.ClaimOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err) // the crashed attempt
	}
	w := &work{}
	out, err := f.layer(f.store).Run(ctx, "ev-3", "m1", "E1", w.fn)
	if err != nil || out.Status != idempotency.Ran || len(w.resumed) != 1 || !w.resumed[0] {
		t.Fatalf("%+v %v resumed %v", out, err, w.resumed)
	}
	// Another message with the id waits out the lease, then takes over.
	if _, err := f.store.Claim(ctx, state.EventKey("ev-3b"), "m1", state.ClaimOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(61 * time.Second)
	w = &work{}
	if _, err := f.layer(f.store).Run(ctx, "ev-3b", "m9", "E1", w.fn); err != nil || !w.resumed[0] {
		t.Fatalf("after the lease: %v resumed %v", err, w.resumed)
	}
}

// Work that fails is released: the retry runs at once, told it resumes.
func TestRunFailureReleases(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := f.layer(f.store)
	ctx := context.Background()
	w := &work{fail: errors.New("encompass 503")}
	if _, err := l.Run(ctx, "ev-4", "m1", "E1", w.fn); err == nil {
		t.Fatal("no error")
	}
	w.fail = nil
	out, err := l.Run(ctx, "ev-4", "m2", "E1", w.fn)
	if err != nil || out.Status != idempotency.Ran || w.runs != 2 || w.resumed[0] || !w.resumed[1] || len(f.published) != 1 {
		t.Fatalf("%+v %v runs %d resumed %v published %d", out, err, w.runs, w.resumed, len(f.published))
	}
}

// Handing on fails: the result is kept pending; the redelivery hands it on
// without running the work again, exactly once.
func TestRunPendingResultIsReplayed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := f.layer(f.store)
	ctx := context.Background()
	w := &work{}
	f.failHand.Store(1)
	if _, err := l.Run(ctx, "ev-5", "m1", "E1", w.fn); err == nil {
		t.Fatal("no error when the hand-on failed")
	}
	out, err := l.Run(ctx, "ev-5", "m1", "E1", w.fn)
	if err != nil || out.Status != idempotency.Replayed || w.runs != 1 || len(f.published) != 1 || len(f.published[0].Events) != 1 {
		t.Fatalf("%+v %v runs %d published %+v", out, err, w.runs, f.published)
	}
	if out, err := l.Run(ctx, "ev-5", "m1", "E1", w.fn); err != nil || out.Status != idempotency.Duplicate || len(f.published) != 1 {
		t.Fatalf("after the replay: %+v %v published %d", out, err, len(f.published))
	}
}

// failingCompletion is the real store whose completions fail: the state
// table is down when the result must be recorded.
type failingCompletion struct{ *state.Store }

func (failingCompletion) CompleteClaim(context.Context, state.ClaimKey, string) error {
	return errors.New("dynamodb down")
}

// Handing on and recording the pending result both fail: the claim stays in
// progress, and the redelivery resumes the work (which then finds what the
// first attempt applied).
func TestRunHandOnAndRecordBothFail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	w := &work{}
	f.failHand.Store(1)
	if _, err := f.layer(failingCompletion{f.store}).Run(ctx, "ev-6", "m1", "E1", w.fn); err == nil {
		t.Fatal("no error")
	}
	out, err := f.layer(f.store).Run(ctx, "ev-6", "m1", "E1", w.fn)
	if err != nil || out.Status != idempotency.Ran || w.runs != 2 || !w.resumed[1] || len(f.published) != 1 {
		t.Fatalf("%+v %v runs %d resumed %v published %d", out, err, w.runs, w.resumed, len(f.published))
	}
}

// Records of earlier versions and unreadable ones.
func TestRunRecordedFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := f.layer(f.store)
	ctx := context.Background()
	for id, rec := range map[string]string{
		"old-pending": `{"state":"pending","outcome":"User Updated","events":["User Updated"]}`,
		"garbage":     `not json`,
	} {
		if _, err := f.store.Claim(ctx, state.EventKey(id), "m0", state.ClaimOptions{TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.CompleteClaim(ctx, state.EventKey(id), rec); err != nil {
			t.Fatal(err)
		}
	}
	w := &work{}
	if out, err := l.Run(ctx, "old-pending", "m1", "E1", w.fn); err != nil || out.Status != idempotency.Replayed || len(f.published) != 1 {
		t.Fatalf("old pending record: %+v %v", out, err)
	}
	if out, err := l.Run(ctx, "garbage", "m1", "E1", w.fn); err != nil || out.Status != idempotency.Duplicate || w.runs != 0 {
		t.Fatalf("unreadable record: %+v %v runs %d", out, err, w.runs)
	}
}
