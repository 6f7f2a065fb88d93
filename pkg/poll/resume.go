package poll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// A listing that the Lambda deadline cuts short is staged: the users listed
// so far plus a cursor (the offset of the next page and the last few user
// keys before it). The next run loads the staged users and lists on from one
// page before the cursor, so that a tenant whose listing takes longer than
// one invocation completes over several runs. Nothing is published and the
// snapshot is untouched until a listing is complete. docs/poller.md,
// "Resuming a listing".

// stageBoundKeys is how many keys before the cursor are kept to find the
// cursor again when users were added or removed before it in between.
const stageBoundKeys = 8

// errBoundaryLost: the resumed listing did not find the cursor again within
// two pages (more users removed before it than a page holds, or the
// boundary users themselves removed); the listing starts over.
var errBoundaryLost = errors.New("poll: the staged listing's boundary was not found again")

// stagedListing reads the staging header and, when the stage was made
// against this generation and its users can be read, the users it staged.
// staged is nil when there is nothing to take up: the listing then starts
// from 0. The header is returned in any case, so that a completed listing
// drops it.
func (p *Poller) stagedListing(ctx context.Context, meta state.SnapshotMeta) (stg state.StagedListing, staged map[string]string, err error) {
	stg, err = p.cfg.Snapshot.LoadStage(ctx)
	if err != nil {
		return stg, nil, fmt.Errorf("poll: %w", err)
	}
	switch {
	case !stg.Present:
		return stg, nil, nil
	case stg.Unusable != "" || stg.Generation != meta.Generation:
		p.log.InfoContext(ctx, "poll: ignoring a stale staged listing", "stagedGeneration", stg.Generation, "generation", meta.Generation, "why", stg.Unusable)
		return stg, nil, nil
	}
	staged, err = p.cfg.Snapshot.LoadStagedUsers(ctx, stg)
	if err == nil {
		err = checkStaged(staged)
	}
	switch {
	case err == nil:
		return stg, staged, nil
	case classify(err) == itemsDamaged:
		p.log.WarnContext(ctx, "poll: the staged listing is unreadable; listing from the start", "error", err)
		return stg, nil, nil
	}
	return stg, nil, fmt.Errorf("poll: %w", err)
}

// checkStaged fails unless every staged form is a whole canonical form of
// this version: a stage is written and read by the same listing logic.
func checkStaged(staged map[string]string) error {
	for key, form := range staged {
		if n, ok := knownFields(form); !ok || n != int(NumFields) {
			return fmt.Errorf("%w: the staged form of %s is unreadable", state.ErrSnapshotDamaged, key)
		}
	}
	return nil
}

// stage keeps the users a stopped listing read, with its cursor, for the
// next run. It publishes nothing and leaves the snapshot alone.
func (p *Poller) stage(ctx context.Context, sum Summary, meta state.SnapshotMeta, ls listing, listedAt time.Time) (Summary, error) {
	sum.Outcome = OutcomeStopped
	if ls.cut == nil {
		p.log.WarnContext(ctx, "poll: deadline near during the listing; nothing published, nothing to stage, the next poll starts again", "listed", sum.Listed)
		return sum, nil
	}
	next := state.StagedListing{Run: state.NewStageRun(), Generation: meta.Generation, Offset: ls.cut.offset, Bound: ls.cut.bound,
		ListedAt: listedAt, Invalid: sum.Invalid, Duplicates: sum.Duplicates}
	// The deadline margin is the time for this write; it must not be cut
	// short by the context it protects.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.margin)
	defer cancel()
	if err := p.cfg.Snapshot.SaveStage(sctx, next, ls.users, p.cfg.Now()); err != nil {
		return sum, fmt.Errorf("poll: %w (nothing published, snapshot kept; the next poll starts the listing again)", err)
	}
	sum.Staged = len(ls.users)
	p.log.WarnContext(ctx, "poll: deadline near during the listing; the users listed so far are staged and the next poll lists on from there; nothing published",
		"listed", sum.Listed, "staged", sum.Staged, "offset", next.Offset)
	return sum, nil
}

// listFrom continues a staged listing. It lists again from one page before
// the cursor and must meet one of the keys listed last before it within two
// pages: users added or removed before the cursor since the stage was
// written shift the offsets, and a key found again proves that no user was
// skipped (anything after it is listed now). If none is found, more users
// were removed before the cursor than a page holds, and it returns
// errBoundaryLost. Each run lists at least up to the cursor and one page
// beyond before it may stop again, so a resumed listing always progresses.
func (p *Poller) listFrom(ctx context.Context, expect int, sum *Summary, st state.StagedListing, staged map[string]string) (listing, error) {
	l := &lister{p: p, sum: sum, listed: staged, fromStage: make(map[string]struct{}, len(staged))}
	for k := range staged {
		l.fromStage[k] = struct{}{}
	}
	b := &boundary{keys: make(map[string]bool, len(st.Bound)), cursor: st.Offset, start: max(st.Offset-encompass.MaxUsersPageSize, 0)}
	for _, k := range st.Bound {
		b.keys[k] = true
	}
	return p.readPages(ctx, l, p.pages(b.start, expect), b)
}

// boundary is how a resumed listing finds its staged cursor again. A nil
// *boundary is a fresh listing, which has none to find.
type boundary struct {
	keys   map[string]bool
	cursor int // the staged cursor
	start  int // where the resumed listing started
	found  bool
}

// see notes a listed key.
func (b *boundary) see(key string) {
	if b != nil && !b.found && b.keys[key] {
		b.found = true
	}
}

// lost reports that two pages (or the end) went by without a boundary key.
func (b *boundary) lost(pg *encompass.Paginator[encompass.User]) bool {
	return b != nil && !b.found && (pg.Offset()-b.start >= 2*encompass.MaxUsersPageSize || pg.Done())
}

// mayStop reports whether the listing may stop at offset: a resumed listing
// only after it found its boundary and passed its old cursor.
func (b *boundary) mayStop(offset int) bool {
	return b == nil || (b.found && offset > b.cursor)
}
