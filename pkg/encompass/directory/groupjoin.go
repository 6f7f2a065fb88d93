package directory

import (
	"context"
	"slices"
	"sync"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
)

// maxMembersPerJoin bounds the members one group PATCH adds.
const maxMembersPerJoin = 50

// groupJoiner coalesces group joins. The first join of a group is sent at
// once; the joins of the same group that arrive while it is on the wire wait
// and go together in the next PATCH. The employees of an SQS batch are
// processed concurrently, so a batch of ten loan officers joining one group
// costs two group PATCHes instead of ten, and a lone join waits for nothing.
type groupJoiner struct {
	add func(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error

	mu     sync.Mutex
	groups map[string]*joinQueue
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
	return &groupJoiner{add: add, groups: map[string]*joinQueue{}}
}

// join adds member to the group and returns when the PATCH that carried it
// has answered.
func (j *groupJoiner) join(ctx context.Context, groupID string, member encompass.SCIMGroupMember) error {
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
