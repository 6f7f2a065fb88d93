package poll

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// errStopped is the internal signal that the deadline came near.
var errStopped = errors.New("poll: stopped before the deadline")

// gathered is what a poll reads before it compares: the snapshot, the
// terminated index and the listing.
type gathered struct {
	snap map[string]state.SnapshotUser
	// damaged: a base chunk is missing or unreadable (snap then holds only
	// the delta items, which a new baseline deletes).
	damaged    bool
	terminated []state.TerminatedUser
	listing    listing
	// listErr is the listing's error; errStopped when the deadline cut it.
	listErr error
	// dda are the DDA profiles by lower-cased userName when the poll lists
	// them (Config.DDA), and ddaErr that listing's error (dda.go).
	dda    map[string]ddaProfile
	ddaErr error
	// join is the poll's join of DDA profiles to users read back one by
	// one (checkRemovals); nil without Config.DDA. run sets it (joinDDA).
	join ddaJoin
}

// gather lists the users while it loads the snapshot and reads the
// terminated index: the listing is the long part, and the rest hides
// behind it. A failed load fails the poll; a failed listing is left in
// listErr for run to decide.
func (p *Poller) gather(ctx context.Context, meta state.SnapshotMeta, sum *Summary, stg state.StagedListing, staged map[string]string) (gathered, error) {
	var in gathered
	g, gctx := errgroup.WithContext(ctx)
	if p.cfg.DDA != nil {
		// The DDA profiles are listed beside the users; a failure is kept
		// in ddaErr, not the poll's (joinDDA decides).
		g.Go(func() error {
			in.dda, in.ddaErr = p.listDDA(gctx)
			return nil
		})
	}
	g.Go(func() error {
		var err error
		in.snap, err = p.cfg.Snapshot.LoadUsers(gctx, meta)
		switch {
		case err != nil && classify(err) == itemsDamaged:
			in.damaged = true
			// Not fatal: the poll records a new baseline.
			p.log.ErrorContext(ctx, "poll: the snapshot base is damaged; recording a new baseline", "error", err)
		case err != nil:
			return fmt.Errorf("poll: %w", err)
		}
		p.markUnreadable(ctx, in.snap)
		return nil
	})
	g.Go(func() error {
		for t, err := range p.cfg.State.Terminated(gctx) {
			if err != nil {
				return fmt.Errorf("poll: read terminated index: %w", err)
			}
			in.terminated = append(in.terminated, t)
		}
		return nil
	})
	var resume *state.StagedListing
	if staged != nil {
		resume = &stg
	}
	in.listing, in.listErr = p.list(gctx, meta.Users, sum, resume, staged)
	if err := g.Wait(); err != nil {
		return in, err
	}
	return in, nil
}

// listing is what list found: the users (key -> encoded canonical form),
// where it ended (the cursor to stage), and whether it continued a staged
// one.
type listing struct {
	users   map[string]string
	cut     *cut
	resumed bool
}

// cut is the cursor of a listing stopped at a page boundary: the offset of
// the next page and the keys listed last before it.
type cut struct {
	offset int
	bound  []string
}

// lister accumulates listed users.
type lister struct {
	p      *Poller
	sum    *Summary
	listed map[string]string
	// fromStage holds the staged keys not listed again yet (resume only):
	// listing them again is not a duplicate, and the new form wins.
	fromStage map[string]struct{}
	// last are the keys listed last, oldest first: a stopped listing's
	// boundary.
	last []string
}

// add records one user and returns its key ("" for an unusable record).
func (l *lister) add(ctx context.Context, u encompass.User, position int) string {
	key, c, ok := FromUser(u)
	if !ok {
		l.sum.Invalid++
		l.p.log.WarnContext(ctx, "poll: user without a usable id or login id ignored", "position", position)
		return ""
	}
	enc := c.encode()
	if len(l.last) == stageBoundKeys {
		l.last = append(l.last[:0], l.last[1:]...)
	}
	l.last = append(l.last, key)
	if _, ok := l.fromStage[key]; ok {
		delete(l.fromStage, key)
		l.listed[key] = enc
		return key
	}
	if prev, dup := l.listed[key]; dup {
		l.sum.Duplicates++
		if prev != enc {
			// Two different records under one id (login ids differing
			// only in case): keep a deterministic one so that the
			// listing order cannot make the user flap between polls.
			l.p.log.WarnContext(ctx, "poll: two different users share one id; keeping one deterministically", "user", key)
			if enc < prev {
				l.listed[key] = enc
			}
		}
		return key
	}
	l.listed[key] = enc
	return key
}

func (l *lister) cutAt(offset int) *cut {
	if len(l.last) == 0 {
		return nil // no usable user listed: nothing to find the cursor by
	}
	return &cut{offset: offset, bound: slices.Clone(l.last)}
}

// list reads every user, continuing a staged listing when there is one
// (resume.go). It stops with errStopped at a page boundary when the
// deadline comes near. expect is the snapshot's user count: the pages
// below it are requested ahead, in parallel, even from a tenant whose
// answers carry no total.
func (p *Poller) list(ctx context.Context, expect int, sum *Summary, st *state.StagedListing, staged map[string]string) (listing, error) {
	if st != nil {
		sum.Invalid, sum.Duplicates = st.Invalid, st.Duplicates
		ls, err := p.listFrom(ctx, expect, sum, *st, staged)
		if !errors.Is(err, errBoundaryLost) {
			return ls, err
		}
		p.log.WarnContext(ctx, "poll: the staged listing no longer lines up with the users; listing from the start", "offset", st.Offset)
		sum.Invalid, sum.Duplicates = 0, 0
	}
	l := &lister{p: p, sum: sum, listed: make(map[string]string, expect)}
	return p.readPages(ctx, l, p.pages(0, expect), nil)
}

// pages is the users from offset start, with up to ListInFlight pages
// requested at once.
func (p *Poller) pages(start, expect int) *encompass.Paginator[encompass.User] {
	return p.cfg.Users.Paginator(encompass.ListUsersOptions{Start: start, Limit: encompass.MaxUsersPageSize}, func(o *encompass.PaginatorOptions) {
		o.InFlight, o.ExpectedTotal = p.cfg.ListInFlight, expect
	})
}

// readPages adds every user of pg's pages to l. A fresh listing may stop
// after any page, a resumed one (b set) only once it has found its
// boundary and passed its old cursor, so that every run makes progress.
// Stopping reads the pages already requested, so the listing ends at a page
// boundary with everything before it read: the cut a next run takes up.
func (p *Poller) readPages(ctx context.Context, l *lister, pg *encompass.Paginator[encompass.User], b *boundary) (listing, error) {
	for pg.HasMorePages() {
		offset := pg.Offset()
		page, err := pg.NextPage(ctx)
		if err != nil {
			return listing{}, err
		}
		for i, u := range page {
			b.see(l.add(ctx, u, offset+i+1))
		}
		if b.lost(pg) {
			pg.Close()
			return listing{}, errBoundaryLost
		}
		if pg.HasMorePages() && b.mayStop(pg.Offset()) && p.deadlineNear(ctx) {
			pg.Stop()
		}
	}
	l.sum.Listed = pg.Offset()
	// A complete listing has a cut too, at its end: run stages it when the
	// listing ended inside the deadline margin.
	ls := listing{users: l.listed, resumed: b != nil, cut: l.cutAt(pg.Offset())}
	if !pg.Done() {
		return ls, errStopped
	}
	return ls, nil
}

// deadlineNear reports whether the poll is within its margin of the
// context's deadline.
func (p *Poller) deadlineNear(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !p.cfg.Now().Add(p.margin).Before(d)
}
