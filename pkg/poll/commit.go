package poll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// A poll records what it found under a lease on the snapshot's header: it
// publishes a chunk of users' events, then writes their delta items, and
// commits the next generation at the end. A chunk's items are written only
// after its events were accepted, so a crash in between re-publishes them
// (same ids) rather than losing them.

// lease is a lease this poll holds on the snapshot.
type lease struct {
	owner    string
	p        *Poller
	ctx      context.Context
	released bool
}

// takeLease takes the lease on top of meta's generation. When it cannot,
// the lease is nil and (sum, err) is the poll's answer: OutcomeSkipped,
// with nothing published, when another poll holds the lease or committed
// first; the error otherwise.
func (p *Poller) takeLease(ctx context.Context, sum Summary, meta state.SnapshotMeta) (*lease, Summary, error) {
	owner := p.cfg.Owner
	if owner == "" {
		owner = randomOwner()
	}
	until := p.cfg.Now().Add(leaseWithoutDeadline)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	err := p.cfg.Snapshot.Acquire(ctx, meta.Generation, owner, p.cfg.Now(), until)
	switch {
	case err != nil && classify(err) == leaseLost:
		p.log.InfoContext(ctx, "poll: another poll took the lease or committed first; nothing published")
		sum.Outcome = OutcomeSkipped
		return nil, sum, nil
	case err != nil:
		return nil, sum, fmt.Errorf("poll: %w", err)
	}
	return &lease{owner: owner, p: p, ctx: ctx}, sum, nil
}

// committed notes that a commit removed the lease: release has nothing
// left to do.
func (l *lease) committed() { l.released = true }

// release gives the lease back unless a commit did. It runs even when the
// poll's context is done.
func (l *lease) release() {
	if l.released {
		return
	}
	l.released = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), 5*time.Second)
	defer cancel()
	if err := l.p.cfg.Snapshot.Release(rctx, l.owner); err != nil {
		l.p.log.WarnContext(l.ctx, "poll: release lease", "error", err)
	}
}

// baseline records the listed users as a new base and publishes only
// Baseline Established: on the first poll, and when the stored base is
// damaged (a format problem is not a change in Encompass).
func (p *Poller) baseline(ctx context.Context, sum Summary, meta state.SnapshotMeta, listedAt time.Time, listed map[string]string, old map[string]state.SnapshotUser, damaged bool) (Summary, error) {
	next := meta.Generation + 1
	l, sum, err := p.takeLease(ctx, sum, meta)
	if l == nil {
		return sum, err
	}
	defer l.release()
	users := make(map[string]state.SnapshotUser, len(listed))
	for k, enc := range listed {
		users[k] = state.SnapshotUser{Form: enc}
	}
	publishBaseline := func() error {
		reason := ""
		if damaged {
			reason = "snapshot base damaged"
		}
		ev := event(TypeBaseline, BaselineDetail{EventID: eventID(next, "baseline"), Users: len(listed), Generation: next, Reason: reason})
		if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
			return fmt.Errorf("poll: publish baseline: %w", err)
		}
		return nil
	}
	if err := p.rebase(ctx, meta, l, next, listedAt, users, old, publishBaseline); err != nil {
		return sum, err
	}
	sum.Events = 1
	sum.Outcome = OutcomeBaseline
	sum.Generation = next
	return sum, nil
}

// rebase writes users as the base of generation next, runs beforeCommit,
// commits the generation and the base, and deletes what the new base
// replaced: old's delta items and the previous base. The caller holds the
// lease and releases it afterwards.
func (p *Poller) rebase(ctx context.Context, meta state.SnapshotMeta, l *lease, next int64, listedAt time.Time, users, old map[string]state.SnapshotUser, beforeCommit func() error) error {
	snap := p.cfg.Snapshot
	chunks, err := snap.WriteBase(ctx, next, users)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var deltas []string
	for k, u := range old {
		if u.Delta {
			deltas = append(deltas, k)
		}
	}
	keep := len(deltas) > 0 || meta.BaseChunks > 0
	if err := snap.Commit(cctx, state.SnapshotCommit{Owner: l.owner, Generation: next, ListedAt: listedAt, Users: known(users),
		BaseGeneration: next, BaseChunks: chunks, KeepLease: keep}); err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if !keep {
		l.committed()
		return nil
	}
	if err := snap.Cleanup(cctx, deltas, meta.BaseGeneration, meta.BaseChunks); err != nil {
		// The new base is committed; leftovers are harmless and the next
		// compaction deletes the delta items again.
		p.log.WarnContext(ctx, "poll: clean-up after a new base", "error", err)
	}
	return nil
}

// apply takes the lease, then per chunk of users publishes their events and
// records their delta items, and finally commits the generation (folding
// the deltas into a new base when they have grown numerous).
func (p *Poller) apply(ctx context.Context, sum Summary, meta state.SnapshotMeta, listedAt time.Time, diffs []*diffEntry, users map[string]state.SnapshotUser, listed int) (Summary, error) {
	next := meta.Generation + 1
	l, sum, err := p.takeLease(ctx, sum, meta)
	if l == nil {
		return sum, err
	}
	defer l.release()
	since := time.Time{}
	if !meta.ListedAt.IsZero() {
		since = meta.ListedAt.Add(-max(p.cfg.OriginSkew, 0))
	}
	for i := 0; i < len(diffs); i += p.cfg.ApplyChunk {
		if p.deadlineNear(ctx) {
			sum.Pending = len(diffs) - i
			p.log.WarnContext(ctx, "poll: deadline near; stopping cleanly, the next poll completes the rest", "pending", sum.Pending)
			sum.Outcome = OutcomeStopped
			return sum, nil
		}
		chunk := diffs[i:min(i+p.cfg.ApplyChunk, len(diffs))]
		if err := p.applyChunk(ctx, &sum, chunk, next, since, users); err != nil {
			return sum, err
		}
	}
	sum.Generation = next
	sum.Outcome = OutcomeChanges
	deltas := 0
	for _, u := range users {
		if u.Delta {
			deltas++
		}
	}
	if deltas >= p.compactAt(listed) {
		p.log.InfoContext(ctx, "poll: folding the delta items into a new base", "deltas", deltas)
		return sum, p.rebase(ctx, meta, l, next, listedAt, users, users, nil)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.cfg.Snapshot.Commit(cctx, state.SnapshotCommit{Owner: l.owner, Generation: next, ListedAt: listedAt, Users: known(users)}); err != nil {
		return sum, fmt.Errorf("poll: %w", err)
	}
	l.committed()
	return sum, nil
}

// applyChunk publishes one chunk's events, then writes its delta items and
// updates the in-memory snapshot with them, so that a compaction writes the
// snapshot as it now stands.
func (p *Poller) applyChunk(ctx context.Context, sum *Summary, chunk []*diffEntry, gen int64, since time.Time, users map[string]state.SnapshotUser) error {
	events, err := p.events(ctx, chunk, gen, since)
	if err != nil {
		return err
	}
	if len(events) > 0 {
		if err := p.cfg.Publisher.Publish(ctx, events...); err != nil {
			return fmt.Errorf("poll: publish (this chunk is not recorded and will be published again, same ids): %w", err)
		}
		sum.Events += len(events)
	}
	writes := make([]state.DeltaWrite, len(chunk))
	for j, d := range chunk {
		writes[j] = d.write()
	}
	conflicts, err := p.cfg.Snapshot.WriteDeltas(ctx, writes)
	sum.Conflicts += conflicts
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for _, w := range writes {
		if u, ok := w.Stored(); ok {
			users[w.Key] = u
		} else {
			delete(users, w.Key)
		}
	}
	return nil
}

// compactAt is when the deltas are folded into a new base: once they
// outnumber a tenth of the users (reading them costs more per user than the
// compressed base) and at least CompactMin.
func (p *Poller) compactAt(users int) int { return max(p.cfg.CompactMin, users/10) }

func randomOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "poll-" + hex.EncodeToString(b)
}
