package directory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/quiescence"
)

// maxMembersPerJoin bounds the members one group PATCH adds.
const maxMembersPerJoin = 50

// groupJoiner coalesces group joins, a SCIM create being unable to set
// group membership.
//
// Inside an SQS batch (the context carries the batch's quiescence.Group),
// joins are deferred to the moment every message of the batch has either
// finished or reached its joins: then one PATCH per group carries them all
// (at most 50 members each), so that a batch of ten loan officers costs one
// group PATCH instead of ten. A message returns, and publishes its outcome,
// only after its PATCH succeeded.
//
// Outside a batch, the first join of a group is sent at once and the joins
// that arrive while it is on the wire go together in the next PATCH.
type groupJoiner struct {
	add func(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error

	mu       sync.Mutex
	groups   map[string]*joinQueue
	deferred map[string][]*joinReq // batch mode: joins waiting for the batch to meet
}

type joinQueue struct {
	busy    bool // a request of this group is sending
	waiting []*joinReq
}

type joinReq struct {
	member encompass.SCIMGroupMember
	done   chan error    // the outcome; buffered
	lead   chan struct{} // closed, under groupJoiner.mu, when this request is to send the next PATCH
}

func newGroupJoiner(add func(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error) *groupJoiner {
	return &groupJoiner{add: add, groups: map[string]*joinQueue{}, deferred: map[string][]*joinReq{}}
}

// join adds member to the group and returns when the PATCH that carried it
// has answered.
func (j *groupJoiner) join(ctx context.Context, groupID string, member encompass.SCIMGroupMember) error {
	if meet := quiescence.From(ctx); meet != nil {
		return j.joinWithBatch(ctx, meet, groupID, member)
	}
	return j.joinNow(ctx, groupID, member)
}

// joinWithBatch defers the join until the batch meets, then sends every
// deferred join (the first waiter to get there sends them all). A join waits
// for the batch at most a quarter of the time its message has left, so that a
// batch that cannot meet before the Lambda's deadline still joins what it
// can instead of losing every hire to the deadline.
func (j *groupJoiner) joinWithBatch(ctx context.Context, meet *quiescence.Group, groupID string, member encompass.SCIMGroupMember) error {
	r := &joinReq{member: member, done: make(chan error, 1)}
	j.mu.Lock()
	j.deferred[groupID] = append(j.deferred[groupID], r)
	j.mu.Unlock()
	wait, cancel := context.WithCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		wait, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/4))
	}
	_ = meet.Wait(wait) // met, or time to send what is there
	cancel()
	if err := ctx.Err(); err != nil {
		j.mu.Lock()
		i := slices.Index(j.deferred[groupID], r)
		if i >= 0 {
			j.deferred[groupID] = slices.Delete(j.deferred[groupID], i, i+1)
		}
		j.mu.Unlock()
		if i >= 0 {
			return err
		}
		// Already on its way in another waiter's PATCH: that answer is ours.
		return <-r.done
	}
	j.flushDeferred(ctx)
	return <-r.done
}

// flushDeferred sends the deferred joins of every group, one PATCH per group
// (per 50 members). The PATCHes finish hires already begun, so they take the
// Encompass client's next free slots ahead of new creates (Urgent).
func (j *groupJoiner) flushDeferred(ctx context.Context) {
	j.mu.Lock()
	pending := j.deferred
	j.deferred = map[string][]*joinReq{}
	j.mu.Unlock()
	for groupID, reqs := range pending {
		for batch := range slices.Chunk(reqs, maxMembersPerJoin) {
			j.send(encompass.Urgent(ctx), groupID, batch)
		}
	}
}

// joinNow is the join outside a batch: the first join of a group is sent at
// once, the joins arriving meanwhile go together in the next PATCH.
func (j *groupJoiner) joinNow(ctx context.Context, groupID string, member encompass.SCIMGroupMember) error {
	r := &joinReq{member: member, done: make(chan error, 1), lead: make(chan struct{})}
	j.mu.Lock()
	q := j.groups[groupID]
	if q == nil {
		q = &joinQueue{}
		j.groups[groupID] = q
	}
	q.waiting = append(q.waiting, r)
	leader := !q.busy
	q.busy = true
	j.mu.Unlock()

	if !leader {
		select {
		case err := <-r.done:
			return err
		case <-r.lead:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return j.leave(q, r, err)
		}
	}

	// Leader: r is first in the queue, so the next PATCH carries it.
	j.mu.Lock()
	n := min(len(q.waiting), maxMembersPerJoin)
	batch := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	j.mu.Unlock()
	j.send(ctx, groupID, batch)
	j.mu.Lock()
	j.handOver(q)
	j.mu.Unlock()
	return <-r.done
}

// leave takes r, whose time ran out, off the queue and returns err; if r was
// to send the next PATCH, the next request in line does. If r already
// travels in a PATCH on the wire, that PATCH's answer is returned instead.
func (j *groupJoiner) leave(q *joinQueue, r *joinReq, err error) error {
	j.mu.Lock()
	i := slices.Index(q.waiting, r)
	if i < 0 {
		j.mu.Unlock()
		return <-r.done
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	select {
	case <-r.lead:
		j.handOver(q)
	default:
	}
	j.mu.Unlock()
	return err
}

// handOver makes the first waiting request the next leader, or marks the
// group idle. The caller holds j.mu.
func (j *groupJoiner) handOver(q *joinQueue) {
	if len(q.waiting) == 0 {
		q.busy = false
		return
	}
	close(q.waiting[0].lead)
}

// send adds the batch's members in one PATCH. If Encompass refuses it for
// good, each member is added on its own, so that one bad member does not fail
// the employees joining beside it.
func (j *groupJoiner) send(ctx context.Context, groupID string, batch []*joinReq) {
	members := make([]encompass.SCIMGroupMember, len(batch))
	for i, r := range batch {
		members[i] = r.member
	}
	err := j.add(ctx, groupID, members...)
	if err != nil && len(batch) > 1 && failure.Classify(err).Kind == failure.Permanent {
		for _, r := range batch {
			r.done <- j.add(ctx, groupID, r.member)
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}
