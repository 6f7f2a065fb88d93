package sqsbatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/sqsbatch"
)

func msg(id, group string) events.SQSMessage {
	m := events.SQSMessage{MessageId: id, Body: id, Attributes: map[string]string{}}
	if group != "" {
		m.Attributes["MessageGroupId"] = group
	}
	return m
}

func failures(r events.SQSEventResponse) []string {
	var out []string
	for _, f := range r.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// recorder notes the order messages ran in, per group.
type recorder struct {
	mu   sync.Mutex
	ran  []string
	fail map[string]bool
}

func (r *recorder) handle(_ context.Context, m events.SQSMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, m.MessageId)
	if r.fail[m.MessageId] {
		return errors.New("retry me")
	}
	return nil
}

func TestGroupStopsAfterItsFirstFailure(t *testing.T) {
	t.Parallel()
	batch := events.SQSEvent{Records: []events.SQSMessage{
		msg("a1", "A"), msg("b1", "B"), msg("a2", "A"), msg("a3", "A"), msg("b2", "B"),
	}}
	r := &recorder{fail: map[string]bool{"a2": true}}
	resp := (&sqsbatch.Processor{Concurrency: 1}).Process(context.Background(), batch, r.handle)
	if got := failures(resp); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("failures %v, want a2 a3 (a3 never started)", got)
	}
	if slices.Contains(r.ran, "a3") || !slices.Contains(r.ran, "b2") {
		t.Fatalf("ran %v", r.ran)
	}
	if resp.BatchItemFailures == nil {
		t.Fatal("failures must be an empty list, not null")
	}
}

func TestOrderWithinAGroup(t *testing.T) {
	t.Parallel()
	var batch events.SQSEvent
	for i := range 10 {
		batch.Records = append(batch.Records, msg(fmt.Sprintf("m%d", i), fmt.Sprintf("g%d", i%3)))
	}
	r := &recorder{}
	resp := (&sqsbatch.Processor{Concurrency: 3}).Process(context.Background(), batch, r.handle)
	if len(resp.BatchItemFailures) != 0 || len(r.ran) != 10 {
		t.Fatalf("failures %v ran %v", failures(resp), r.ran)
	}
	for g := range 3 {
		var seen []string
		for _, id := range r.ran {
			var n int
			fmt.Sscanf(id, "m%d", &n)
			if n%3 == g {
				seen = append(seen, id)
			}
		}
		if !slices.IsSortedFunc(seen, func(a, b string) int { var x, y int; fmt.Sscanf(a, "m%d", &x); fmt.Sscanf(b, "m%d", &y); return x - y }) {
			t.Fatalf("group %d ran out of order: %v", g, seen)
		}
	}
}

// Groups run concurrently up to the limit, a new group starting as soon as
// a slot frees (not in waves): with a limit of 2 and one group held, the
// other slot serves every other group.
func TestGroupsRunConcurrentlyUpToTheLimit(t *testing.T) {
	t.Parallel()
	hold, started := make(chan struct{}), make(chan struct{})
	var inFlight, peak atomic.Int32
	var others atomic.Int32
	h := func(_ context.Context, m events.SQSMessage) error {
		if m.MessageId != "slow" {
			<-started // count only while "slow" holds its slot
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if m.MessageId == "slow" {
			close(started)
			<-hold
			return nil
		}
		if others.Add(1) == 5 {
			close(hold) // every other group ran while "slow" held its slot
		}
		return nil
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{msg("slow", "S")}}
	for i := range 5 {
		batch.Records = append(batch.Records, msg(fmt.Sprintf("o%d", i), fmt.Sprintf("O%d", i)))
	}
	resp := (&sqsbatch.Processor{Concurrency: 2}).Process(context.Background(), batch, h)
	if len(resp.BatchItemFailures) != 0 || peak.Load() != 2 {
		t.Fatalf("failures %v, peak %d in flight (want 2)", failures(resp), peak.Load())
	}
}

// Without a MessageGroupId (standard queue, local runs) GroupOf names the
// group; without either, each message is its own group.
func TestGroupOf(t *testing.T) {
	t.Parallel()
	batch := events.SQSEvent{Records: []events.SQSMessage{msg("x1", ""), msg("x2", ""), msg("y1", "")}}
	r := &recorder{fail: map[string]bool{"x1": true}}
	p := &sqsbatch.Processor{Concurrency: 1, GroupOf: func(m events.SQSMessage) string { return m.Body[:1] }}
	if got := failures(p.Process(context.Background(), batch, r.handle)); !slices.Equal(got, []string{"x1", "x2"}) {
		t.Fatalf("failures %v", got)
	}
	r = &recorder{fail: map[string]bool{"x1": true}}
	if got := failures((&sqsbatch.Processor{}).Process(context.Background(), batch, r.handle)); !slices.Equal(got, []string{"x1"}) {
		t.Fatalf("without GroupOf: failures %v", got)
	}
}

// Near the deadline no message starts; the margin is at most a third of
// the time left, so that a short Lambda timeout still works.
func TestDeadline(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(30*time.Second))
	defer cancel()
	var deferred atomic.Int32
	p := &sqsbatch.Processor{Concurrency: 1, SafetyMargin: 10 * time.Second, Now: clock.Now, OnDeferred: func() { deferred.Add(1) }}
	batch := events.SQSEvent{Records: []events.SQSMessage{msg("m1", "A"), msg("m2", "A"), msg("m3", "B")}}
	h := func(_ context.Context, m events.SQSMessage) error {
		if m.MessageId == "m1" {
			clock.Advance(21 * time.Second) // 9 s left: under the 10 s margin
		}
		return nil
	}
	if got := failures(p.Process(ctx, batch, h)); !slices.Equal(got, []string{"m2", "m3"}) || deferred.Load() != 2 {
		t.Fatalf("failures %v, deferred %d", got, deferred.Load())
	}
	// A 9 s timeout: the margin shrinks to 3 s, so the work still runs.
	clock2 := testenv.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	ctx2, cancel2 := context.WithDeadline(context.Background(), clock2.Now().Add(9*time.Second))
	defer cancel2()
	p2 := &sqsbatch.Processor{SafetyMargin: 10 * time.Second, Now: clock2.Now}
	r := &recorder{}
	if got := failures(p2.Process(ctx2, batch, r.handle)); len(got) != 0 || len(r.ran) != 3 {
		t.Fatalf("short timeout: failures %v ran %v", got, r.ran)
	}
}

// The work is cut off before the Lambda's deadline; the finishing step of a
// message (publishing what was applied) keeps the Lambda's own deadline.
func TestFinishingKeepsTheLambdaDeadline(t *testing.T) {
	t.Parallel()
	dl := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	var work, finish time.Time
	(&sqsbatch.Processor{SafetyMargin: 10 * time.Second}).Process(ctx, events.SQSEvent{Records: []events.SQSMessage{msg("m", "A")}},
		func(ctx context.Context, _ events.SQSMessage) error {
			work, _ = ctx.Deadline()
			finish, _ = sqsbatch.Finishing(ctx).Deadline()
			return nil
		})
	if !finish.Equal(dl) || !work.Before(dl.Add(-4*time.Second)) {
		t.Fatalf("work deadline %v, finishing deadline %v, Lambda deadline %v", work, finish, dl)
	}
	if got := sqsbatch.Finishing(context.Background()); got != context.Background() {
		t.Fatal("outside a batch Finishing must return its context")
	}
}

// Later runs beside the batch: the next message of its group waits for it,
// the batch answers only after it, and outside a batch it runs at once.
func TestLater(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	release := make(chan struct{})
	h := func(ctx context.Context, m events.SQSMessage) error {
		note("start " + m.MessageId)
		if m.MessageId == "a1" {
			sqsbatch.Later(ctx, func() { <-release; note("later a1") })
		}
		if m.MessageId == "b1" {
			close(release) // another group runs while a1's bookkeeping waits
		}
		return nil
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{msg("a1", "A"), msg("a2", "A"), msg("b1", "B")}}
	(&sqsbatch.Processor{Concurrency: 2}).Process(context.Background(), batch, h)
	ia, ib := slices.Index(order, "later a1"), slices.Index(order, "start a2")
	if ia < 0 || ib < 0 || ia > ib || !slices.Contains(order, "start b1") {
		t.Fatalf("order %v: a1's bookkeeping must end before a2 starts", order)
	}
	ran := false
	sqsbatch.Later(context.Background(), func() { ran = true })
	if !ran {
		t.Fatal("outside a batch Later must run at once")
	}
}
