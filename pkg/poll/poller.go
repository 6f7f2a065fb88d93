// Package poll detects changes to Encompass users that nobody announced: it
// lists every user, compares each with the snapshot the previous poll left in
// the state table and publishes one synthetic event per difference
// (CONTRACTS §3, source encompass.poller). docs/poller.md explains the
// snapshot, the commit protocol and what a poll costs.
package poll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Users lists and reads Encompass users. *encompass.UsersService satisfies it.
type Users interface {
	All(ctx context.Context, opts *encompass.ListUsersOptions) iter.Seq2[encompass.User, error]
	// ListPage reads one page; a resumed listing pages on from its cursor.
	ListPage(ctx context.Context, opts encompass.ListUsersOptions) ([]encompass.User, error)
	Get(ctx context.Context, id string) (*encompass.User, error)
}

// StateReader is what the poller reads from the provisioning functions'
// items in the state table. *state.Store satisfies it.
type StateReader interface {
	WritesSince(ctx context.Context, loginID string, since time.Time) ([]state.Write, error)
	Terminated(ctx context.Context) iter.Seq2[state.TerminatedUser, error]
}

// Publisher hands events to EventBridge. It batches and retries failed
// entries itself; an error means some events may not have been delivered.
// *publish.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, events ...publish.Event) error
}

// Defaults applied by New.
const (
	DefaultMaxRemovalRatio  = 0.2
	DefaultConcurrency      = 4
	DefaultDeadlineMargin   = 30 * time.Second
	DefaultApplyChunk       = 250
	DefaultMaxRemovalChecks = 50
	// DefaultOriginSkew widens the write-log window: a function that records
	// its write just before making it may have been listed by the previous
	// poll in between.
	DefaultOriginSkew = time.Minute
	// leaseWithoutDeadline is the lease when the context has no deadline:
	// the longest a Lambda can run.
	leaseWithoutDeadline = 15 * time.Minute
)

// Config wires a Poller.
type Config struct {
	Users     Users
	State     StateReader
	Snapshot  *Snapshot
	Publisher Publisher
	// MaxRemovalRatio is POLLER_MAX_REMOVAL_RATIO: the share of known users
	// one poll may remove or disable before it is an anomaly.
	MaxRemovalRatio float64
	// Concurrency bounds the write-log look-ups and removal checks in
	// flight. The Encompass requests are bounded by the client's MaxInFlight.
	Concurrency int
	// DeadlineMargin is how long before the context's deadline the poll
	// stops cleanly, at most: a run keeps no more than a third of the time
	// it was given, so that a short Lambda timeout still leaves time to
	// work (a fixed 30 s margin stopped every poll of a 30 s function
	// before it published anything).
	DeadlineMargin time.Duration
	// ApplyChunk is how many users' differences are published and then
	// recorded per round; the deadline is checked between rounds.
	ApplyChunk int
	// MaxRemovalChecks bounds the users that seem removed and are read back
	// one by one before being reported (offset paging can skip a user when
	// another is deleted during the listing).
	MaxRemovalChecks int
	// OriginSkew is how far before the previous poll's listing start a
	// recorded write still counts as explaining a difference.
	OriginSkew time.Duration
	// Owner names this poll in the lease (e.g. the Lambda request id).
	Owner string
	// Now replaces time.Now (tests of the deadline).
	Now    func() time.Time
	Logger *slog.Logger
}

// Poller runs polls. It is safe to reuse across invocations, not to run two
// polls on one Poller at once (two Pollers, even in two processes, are safe).
type Poller struct {
	cfg Config
	log *slog.Logger
	// margin is this run's deadline margin (see Config.DeadlineMargin).
	margin time.Duration
}

// New applies defaults to cfg and returns a Poller.
func New(cfg Config) (*Poller, error) {
	if cfg.Users == nil || cfg.State == nil || cfg.Snapshot == nil || cfg.Publisher == nil {
		return nil, errors.New("poll: Users, State, Snapshot and Publisher are required")
	}
	if cfg.MaxRemovalRatio <= 0 {
		cfg.MaxRemovalRatio = DefaultMaxRemovalRatio
	}
	if cfg.MaxRemovalRatio > 1 {
		return nil, fmt.Errorf("poll: MaxRemovalRatio %v is above 1", cfg.MaxRemovalRatio)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.DeadlineMargin <= 0 {
		cfg.DeadlineMargin = DefaultDeadlineMargin
	}
	if cfg.ApplyChunk <= 0 {
		cfg.ApplyChunk = DefaultApplyChunk
	}
	if cfg.MaxRemovalChecks < 0 {
		cfg.MaxRemovalChecks = 0
	} else if cfg.MaxRemovalChecks == 0 {
		cfg.MaxRemovalChecks = DefaultMaxRemovalChecks
	}
	if cfg.OriginSkew == 0 {
		cfg.OriginSkew = DefaultOriginSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg, log: cfg.Logger}, nil
}

// Outcome says how a poll ended.
type Outcome string

// Outcomes of a poll.
const (
	// OutcomeBaseline: first poll, the snapshot was recorded.
	OutcomeBaseline Outcome = "baseline"
	// OutcomeChanges: differences were published and recorded.
	OutcomeChanges Outcome = "changes"
	// OutcomeUnchanged: nothing differed; nothing was written or published.
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeAnomaly: too many removals; Poll Anomaly only, snapshot kept.
	OutcomeAnomaly Outcome = "anomaly"
	// OutcomeStopped: the deadline came near; the next poll completes it.
	OutcomeStopped Outcome = "stopped"
	// OutcomeSkipped: another poll holds the lease.
	OutcomeSkipped Outcome = "skipped"
)

// Summary is what one poll did; the handler returns it and logs it as
// metrics.
type Summary struct {
	Outcome    Outcome `json:"outcome"`
	Generation int64   `json:"generation"`
	Listed     int     `json:"listed"`
	Known      int     `json:"known"`
	Invalid    int     `json:"invalid"`
	Duplicates int     `json:"duplicates"`
	Created    int     `json:"created"`
	Changed    int     `json:"changed"`
	Disabled   int     `json:"disabled"`
	Enabled    int     `json:"enabled"`
	Removed    int     `json:"removed"`
	Drift      int     `json:"drift"`
	Events     int     `json:"events"`
	// Writes is the number of snapshot items written (user items and the
	// header), Conflicts those skipped because another poll got there first.
	Writes    int `json:"writes"`
	Conflicts int `json:"conflicts"`
	// Pending is how many users' differences a stopped poll left for the
	// next one.
	Pending int `json:"pending"`
	// Staged is how many listed users a poll stopped during the listing kept
	// for the next run; Resumed how many a poll took over from such a run.
	Staged   int           `json:"staged"`
	Resumed  int           `json:"resumed"`
	Duration time.Duration `json:"durationNs"`
}

// errStopped is the internal signal that the deadline came near.
var errStopped = errors.New("poll: stopped before the deadline")

// diffEntry is everything a poll found out about one user.
type diffEntry struct {
	key     string
	old     *entry // nil: not in the snapshot
	oldC    Canonical
	newEnc  string // "": removed
	newC    Canonical
	changes []Change
	kinds   []string // event detail types, in publishing order
	drift   bool     // the drift flag to store
	emp     string   // employee id of a drift
}

func (d *diffEntry) op() op {
	o := op{key: d.key, old: d.old}
	if d.newEnc != "" {
		o.new = &entry{enc: d.newEnc, drift: d.drift, known: int(NumFields)}
	}
	return o
}

// Run performs one poll. It returns an error, having published nothing for
// the users not yet recorded, when the listing or a dependency fails; the
// next poll then starts again from the last recorded snapshot.
func (p *Poller) Run(ctx context.Context) (Summary, error) {
	start := p.cfg.Now()
	p.margin = p.cfg.DeadlineMargin
	if d, ok := ctx.Deadline(); ok {
		p.margin = min(p.margin, d.Sub(start)/3)
	}
	writes0 := p.cfg.Snapshot.ItemWrites()
	sum, err := p.run(ctx, start)
	sum.Duration = p.cfg.Now().Sub(start)
	sum.Writes = int(p.cfg.Snapshot.ItemWrites() - writes0)
	return sum, err
}

func (p *Poller) run(ctx context.Context, start time.Time) (Summary, error) {
	var sum Summary
	meta, err := p.cfg.Snapshot.LoadMeta(ctx)
	if err != nil {
		return sum, err
	}
	sum.Generation = meta.Generation
	if meta.LeaseOwner != "" && meta.LeaseUntil.After(start) {
		p.log.Info("poll: another poll holds the lease; skipping", "owner", meta.LeaseOwner, "until", meta.LeaseUntil)
		sum.Outcome = OutcomeSkipped
		return sum, nil
	}

	// A listing an earlier run staged against this generation is taken up
	// where it stopped; a stale or unreadable one is ignored.
	stg, err := p.cfg.Snapshot.loadStage(ctx)
	if err != nil {
		return sum, err
	}
	var resume *stage
	var staged map[string]string
	switch {
	case !stg.present:
	case stg.unusable != "" || stg.Generation != meta.Generation:
		p.log.Info("poll: ignoring a stale staged listing", "stagedGeneration", stg.Generation, "generation", meta.Generation, "why", stg.unusable)
	default:
		staged, err = p.cfg.Snapshot.loadStaged(ctx, stg)
		if errors.Is(err, errBaseDamaged) {
			p.log.Warn("poll: the staged listing is unreadable; listing from the start", "error", err)
		} else if err != nil {
			return sum, err
		} else {
			resume = &stg
		}
	}

	// The snapshot and the terminated index load while the users are
	// listed: the listing is the long part, and the rest hides behind it.
	var snap map[string]entry
	damaged := false
	var terminated []state.TerminatedUser
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		snap, err = p.cfg.Snapshot.loadUsers(gctx, meta)
		if errors.Is(err, errBaseDamaged) {
			damaged = true
			p.log.Error("poll: the snapshot base is damaged; recording a new baseline", "error", err)
			// Not fatal: the poll records a new baseline (below).
			return nil
		}
		return err
	})
	g.Go(func() error {
		for t, err := range p.cfg.State.Terminated(gctx) {
			if err != nil {
				return fmt.Errorf("poll: read terminated index: %w", err)
			}
			terminated = append(terminated, t)
		}
		return nil
	})
	fromStage := len(staged) // list adds to staged
	ls, lerr := p.list(gctx, meta.Users, &sum, resume, staged)
	if err := g.Wait(); err != nil {
		return sum, err
	}
	listed := ls.users
	// The listing of a resumed poll started with the first run: write-log
	// entries from then on may explain the next poll's differences.
	listedAt := start
	if ls.resumed {
		listedAt = resume.ListedAt
		sum.Resumed = fromStage
	}
	if errors.Is(lerr, errStopped) {
		sum.Outcome = OutcomeStopped
		if ls.cut == nil {
			p.log.Warn("poll: deadline near during the listing; nothing published, nothing to stage, the next poll starts again", "listed", sum.Listed)
			return sum, nil
		}
		next := stage{Run: newRunID(), Generation: meta.Generation, Offset: ls.cut.offset, Bound: ls.cut.bound,
			ListedAt: listedAt, Invalid: sum.Invalid, Duplicates: sum.Duplicates}
		// The deadline margin is the time for this write; it must not be cut
		// short by the context it protects.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.margin)
		defer cancel()
		if err := p.cfg.Snapshot.saveStage(sctx, next, listed, p.cfg.Now()); err != nil {
			return sum, fmt.Errorf("%w (nothing published, snapshot kept; the next poll starts the listing again)", err)
		}
		sum.Staged = len(listed)
		p.log.Warn("poll: deadline near during the listing; the users listed so far are staged and the next poll lists on from there; nothing published",
			"listed", sum.Listed, "staged", sum.Staged, "offset", next.Offset)
		return sum, nil
	}
	if lerr != nil {
		return sum, fmt.Errorf("poll: list users (nothing published, snapshot kept): %w", lerr)
	}
	if stg.present {
		// The listing is complete: its stage must not be resumed again (a
		// poll that ends without a new generation would otherwise resume a
		// finished listing). Dropped before anything is published.
		if err := p.cfg.Snapshot.dropStage(ctx, stg.Run); err != nil {
			return sum, err
		}
	}
	start = listedAt
	sum.Known = known(snap)
	next := meta.Generation + 1
	if meta.Generation == 0 || damaged {
		return p.baseline(ctx, sum, meta, next, start, listed, snap, damaged)
	}

	diffs := p.compare(snap, listed, terminated)
	removed := p.removedCandidates(snap, listed)

	// The safety threshold is checked before anything is read back or
	// published: an API glitch or a permission change looks like a mass
	// removal, and must not turn into thousands of events.
	disabled := 0
	for _, d := range diffs {
		if slices.Contains(d.kinds, TypeUserDisabled) {
			disabled++
		}
	}
	if float64(len(removed)+disabled) > p.cfg.MaxRemovalRatio*float64(sum.Known) {
		return p.anomaly(ctx, sum, next, listed, snap, removed, diffs, disabled)
	}
	more, err := p.checkRemovals(ctx, removed, snap, terminated)
	if err != nil {
		return sum, err
	}
	diffs = append(diffs, more...)
	slices.SortFunc(diffs, func(a, b *diffEntry) int { return strings.Compare(a.key, b.key) })
	for _, d := range diffs {
		for _, k := range d.kinds {
			switch k {
			case TypeUserCreated:
				sum.Created++
			case TypeUserChanged:
				sum.Changed++
			case TypeUserDisabled:
				sum.Disabled++
			case TypeUserEnabled:
				sum.Enabled++
			case TypeUserRemoved:
				sum.Removed++
			case TypeDriftDetected:
				sum.Drift++
			}
		}
	}
	if len(diffs) == 0 {
		sum.Outcome = OutcomeUnchanged
		return sum, nil
	}
	return p.apply(ctx, sum, meta, next, start, diffs, snap, len(listed))
}

// listing is what list found: the users (key -> encoded canonical form),
// where a stopped listing was cut, and whether it continued a staged one.
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
	last      []string
}

// add records one user and returns its key ("" for an unusable record).
func (l *lister) add(u encompass.User, position int) string {
	key, c, ok := FromUser(u)
	if !ok {
		l.sum.Invalid++
		l.p.log.Warn("poll: user without a usable id or login id ignored", "position", position)
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
			l.p.log.Warn("poll: two different users share one id; keeping one deterministically", "user", key)
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

// list reads every user, continuing a staged listing when there is one. It
// stops with errStopped at a page boundary when the deadline comes near.
func (p *Poller) list(ctx context.Context, expect int, sum *Summary, st *stage, staged map[string]string) (listing, error) {
	if st != nil {
		sum.Invalid, sum.Duplicates = st.Invalid, st.Duplicates
		ls, err := p.listFrom(ctx, sum, st, staged)
		if !errors.Is(err, errBoundaryLost) {
			return ls, err
		}
		p.log.Warn("poll: the staged listing no longer lines up with the users; listing from the start", "offset", st.Offset)
		sum.Invalid, sum.Duplicates = 0, 0
	}
	l := &lister{p: p, sum: sum, listed: make(map[string]string, expect)}
	n := 0
	for u, err := range p.cfg.Users.All(ctx, nil) {
		if err != nil {
			return listing{}, err
		}
		n++
		l.add(u, n)
		// After a whole page, before the next one is fetched.
		if n%encompass.MaxUsersPageSize == 0 && p.deadlineNear(ctx) {
			sum.Listed = n
			return listing{users: l.listed, cut: l.cutAt(n)}, errStopped
		}
	}
	sum.Listed = n
	return listing{users: l.listed}, nil
}

// listFrom continues a staged listing. It lists again from one page before
// the cursor and must meet one of the keys listed last before it within two
// pages: users added or removed before the cursor since the stage was
// written shift the offsets, and a key found again proves that no user was
// skipped (anything after it is listed now). If none is found, more users
// were removed before the cursor than a page holds, and it returns
// errBoundaryLost. Each run lists at least up to the cursor and one page
// beyond before it may stop again, so a resumed listing always progresses.
func (p *Poller) listFrom(ctx context.Context, sum *Summary, st *stage, staged map[string]string) (listing, error) {
	l := &lister{p: p, sum: sum, listed: staged, fromStage: make(map[string]struct{}, len(staged))}
	for k := range staged {
		l.fromStage[k] = struct{}{}
	}
	bound := make(map[string]bool, len(st.Bound))
	for _, k := range st.Bound {
		bound[k] = true
	}
	start := max(st.Offset-encompass.MaxUsersPageSize, 0)
	pos, found := start, false
	for {
		if found && pos > st.Offset && p.deadlineNear(ctx) {
			sum.Listed = pos
			return listing{users: l.listed, cut: l.cutAt(pos), resumed: true}, errStopped
		}
		page, err := p.cfg.Users.ListPage(ctx, encompass.ListUsersOptions{Start: pos, Limit: encompass.MaxUsersPageSize})
		if err != nil {
			return listing{}, err
		}
		for i, u := range page {
			if key := l.add(u, pos+i+1); !found && bound[key] {
				found = true
			}
		}
		pos += len(page)
		if !found && (pos-start >= 2*encompass.MaxUsersPageSize || len(page) < encompass.MaxUsersPageSize) {
			return listing{}, errBoundaryLost
		}
		if len(page) < encompass.MaxUsersPageSize {
			sum.Listed = pos
			return listing{users: l.listed, resumed: true}, nil
		}
	}
}

func (p *Poller) deadlineNear(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !p.cfg.Now().Add(p.margin).Before(d)
}

// driftSet returns, for the listed users the terminated index names, the
// employee id keyed by user key.
func driftSet(listed map[string]string, terminated []state.TerminatedUser) map[string]string {
	out := make(map[string]string)
	for _, t := range terminated {
		for _, key := range []string{t.UserID, strings.ToLower(t.LoginID)} {
			if key == "" {
				continue
			}
			if _, ok := listed[key]; ok {
				out[key] = t.EmployeeID
				break
			}
		}
	}
	return out
}

// compare diffs the listed users against the snapshot.
func (p *Poller) compare(snap map[string]entry, listed map[string]string, terminated []state.TerminatedUser) []*diffEntry {
	drifting := driftSet(listed, terminated)
	var out []*diffEntry
	for key, enc := range listed {
		emp, term := drifting[key]
		old, had := snap[key]
		if d := p.compareOne(key, enc, old, had, term, emp); d != nil {
			out = append(out, d)
		}
	}
	return out
}

func (p *Poller) compareOne(key, enc string, old entry, had, terminated bool, emp string) *diffEntry {
	if old.known < 0 {
		// Recorded as removed: back again, it is a new user.
		had = false
	}
	// Drift is reported once, when it starts. (A baseline reports none: the
	// next poll reports the drift that already existed.)
	wantDrift := terminated && func() bool {
		c, _, _ := decodeCanonical(enc)
		return c.Enabled()
	}()
	// The common case, an unchanged user, costs one string comparison.
	if had && old.enc == enc && old.drift == wantDrift {
		return nil
	}
	newC, _, _ := decodeCanonical(enc)
	d := &diffEntry{key: key, newEnc: enc, newC: newC, drift: wantDrift, emp: emp}
	if had || old.delta {
		o := old
		d.old = &o
	}
	switch {
	case !had:
		d.kinds = append(d.kinds, TypeUserCreated)
	case old.known == 0:
		// Unreadable item: re-record silently.
	case old.enc != enc:
		d.oldC, _, _ = decodeCanonical(old.enc)
		if old.known > int(FieldEnabled) && d.oldC.Enabled() != newC.Enabled() {
			if newC.Enabled() {
				d.kinds = append(d.kinds, TypeUserEnabled)
			} else {
				d.kinds = append(d.kinds, TypeUserDisabled)
			}
		}
		d.changes = diff(d.oldC, newC, old.known)
		if len(d.changes) > 0 {
			d.kinds = append(d.kinds, TypeUserChanged)
		}
	}
	if wantDrift && (!had || !old.drift) {
		d.kinds = append(d.kinds, TypeDriftDetected)
	}
	return d
}

// removedCandidates are the snapshot users the listing did not return, sorted.
func (p *Poller) removedCandidates(snap map[string]entry, listed map[string]string) []string {
	var out []string
	for key, e := range snap {
		if e.known < 0 {
			continue
		}
		if _, ok := listed[key]; !ok {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// checkRemovals reads back the users that seem removed (up to
// MaxRemovalChecks of them): offset paging skips a user when another one is
// deleted during the listing, and a skipped user must not be reported as
// removed. A user found is compared like a listed one.
func (p *Poller) checkRemovals(ctx context.Context, keys []string, snap map[string]entry, terminated []state.TerminatedUser) ([]*diffEntry, error) {
	out := make([]*diffEntry, len(keys))
	check := len(keys) <= p.cfg.MaxRemovalChecks
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	for i, key := range keys {
		old := snap[key]
		removal := &diffEntry{key: key, old: &old, kinds: []string{TypeUserRemoved}}
		removal.oldC, _, _ = decodeCanonical(old.enc)
		out[i] = removal
		if !check {
			continue
		}
		g.Go(func() error {
			u, err := p.cfg.Users.Get(gctx, key)
			// Not found, or an id that cannot be asked for one by one: the
			// listing did not return it either, so it is removed.
			if errors.Is(err, encompass.ErrNotFound) || errors.Is(err, encompass.ErrBadRequest) || errors.Is(err, encompass.ErrInvalidArgument) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("poll: read back user %s that seems removed (nothing published): %w", key, err)
			}
			k, c, ok := FromUser(*u)
			if !ok || k != key {
				return nil
			}
			enc := c.encode()
			one := map[string]string{key: enc}
			emp, term := driftSet(one, terminated)[key]
			out[i] = p.compareOne(key, enc, old, true, term, emp)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(d *diffEntry) bool { return d == nil }), nil
}

// anomaly publishes Poll Anomaly and nothing else, and keeps the snapshot.
func (p *Poller) anomaly(ctx context.Context, sum Summary, next int64, listed map[string]string, snap map[string]entry, removed []string, diffs []*diffEntry, disabled int) (Summary, error) {
	var sample []string
	for _, k := range removed {
		if len(sample) == 20 {
			break
		}
		sample = append(sample, k)
	}
	for _, d := range diffs {
		if len(sample) == 20 {
			break
		}
		if slices.Contains(d.kinds, TypeUserDisabled) {
			sample = append(sample, d.key)
		}
	}
	detail := AnomalyDetail{
		EventID:    eventID(next, "anomaly", fmt.Sprint(len(listed), len(removed), disabled)),
		KnownUsers: known(snap), ListedUsers: len(listed), Removed: len(removed), Disabled: disabled,
		MaxRemovalRatio: p.cfg.MaxRemovalRatio, Sample: sample, Generation: next,
	}
	p.log.Warn("poll: anomaly: too many users removed or disabled; nothing published per user, snapshot kept",
		"known", known(snap), "listed", len(listed), "removed", len(removed), "disabled", disabled, "maxRatio", p.cfg.MaxRemovalRatio)
	if err := p.cfg.Publisher.Publish(ctx, event(TypeAnomaly, detail)); err != nil {
		return sum, fmt.Errorf("poll: publish anomaly: %w", err)
	}
	sum.Outcome = OutcomeAnomaly
	sum.Events = 1
	return sum, nil
}

// known counts the users a snapshot holds (removal records left out).
func known(snap map[string]entry) int {
	n := 0
	for _, e := range snap {
		if e.known >= 0 {
			n++
		}
	}
	return n
}

// lease takes the lease and returns the function that gives it back.
// A commit that removes the lease calls release's done() first, so the
// deferred release makes no request.
func (p *Poller) lease(ctx context.Context, meta Meta) (owner string, release func(), done func(), err error) {
	owner = p.cfg.Owner
	if owner == "" {
		owner = randomOwner()
	}
	until := p.cfg.Now().Add(leaseWithoutDeadline)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	if err := p.cfg.Snapshot.acquire(ctx, meta.Generation, owner, p.cfg.Now(), until); err != nil {
		return "", nil, nil, err
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.cfg.Snapshot.release(rctx, owner); err != nil {
			p.log.Warn("poll: release lease", "error", err)
		}
	}
	return owner, release, func() { released = true }, nil
}

// baseline records the listed users as a new base and publishes only
// Baseline Established: on the first poll, and when the stored base is
// damaged (a format problem is not a change in Encompass).
func (p *Poller) baseline(ctx context.Context, sum Summary, meta Meta, next int64, start time.Time, listed map[string]string, old map[string]entry, damaged bool) (Summary, error) {
	owner, release, done, err := p.lease(ctx, meta)
	if errors.Is(err, ErrLeaseHeld) {
		sum.Outcome = OutcomeSkipped
		return sum, nil
	}
	if err != nil {
		return sum, err
	}
	defer release()
	users := make(map[string]entry, len(listed))
	for k, enc := range listed {
		users[k] = entry{enc: enc, known: int(NumFields)}
	}
	if err := p.rebase(ctx, meta, owner, done, next, start, users, old, func() error {
		reason := ""
		if damaged {
			reason = "snapshot base damaged"
		}
		ev := event(TypeBaseline, BaselineDetail{EventID: eventID(next, "baseline"), Users: len(listed), Generation: next, Reason: reason})
		if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
			return fmt.Errorf("poll: publish baseline: %w", err)
		}
		return nil
	}); err != nil {
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
func (p *Poller) rebase(ctx context.Context, meta Meta, owner string, done func(), next int64, start time.Time, users, old map[string]entry, beforeCommit func() error) error {
	snap := p.cfg.Snapshot
	chunks, err := snap.writeBase(ctx, next, users)
	if err != nil {
		return err
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var deltas []string
	for k, e := range old {
		if e.delta {
			deltas = append(deltas, k)
		}
	}
	keep := len(deltas) > 0 || meta.BaseChunks > 0
	if err := snap.commit(cctx, owner, next, start, known(users), next, chunks, keep); err != nil {
		return err
	}
	if !keep {
		done()
		return nil
	}
	if err := snap.cleanup(cctx, deltas, meta.BaseGeneration, meta.BaseChunks); err != nil {
		// The new base is committed; leftovers are harmless and the next
		// compaction deletes the delta items again.
		p.log.Warn("poll: clean-up after a new base", "error", err)
	}
	return nil
}

// apply takes the lease, then per chunk of users publishes their events and
// records their delta items, and finally commits the generation (folding
// the deltas into a new base when they have grown numerous). A chunk's
// items are written only after its events were accepted, so a crash in
// between re-publishes them (same ids) rather than losing them.
func (p *Poller) apply(ctx context.Context, sum Summary, meta Meta, next int64, start time.Time, diffs []*diffEntry, users map[string]entry, listed int) (Summary, error) {
	snap := p.cfg.Snapshot
	owner, release, done, err := p.lease(ctx, meta)
	if errors.Is(err, ErrLeaseHeld) {
		p.log.Info("poll: another poll took the lease or committed first; nothing published")
		sum.Outcome = OutcomeSkipped
		return sum, nil
	}
	if err != nil {
		return sum, err
	}
	defer release()
	since := time.Time{}
	if !meta.ListedAt.IsZero() {
		since = meta.ListedAt.Add(-max(p.cfg.OriginSkew, 0))
	}
	for i := 0; i < len(diffs); i += p.cfg.ApplyChunk {
		if p.deadlineNear(ctx) {
			sum.Pending = len(diffs) - i
			p.log.Warn("poll: deadline near; stopping cleanly, the next poll completes the rest", "pending", sum.Pending)
			sum.Outcome = OutcomeStopped
			return sum, nil
		}
		chunk := diffs[i:min(i+p.cfg.ApplyChunk, len(diffs))]
		events, err := p.events(ctx, chunk, next, since)
		if err != nil {
			return sum, err
		}
		if len(events) > 0 {
			if err := p.cfg.Publisher.Publish(ctx, events...); err != nil {
				return sum, fmt.Errorf("poll: publish (this chunk is not recorded and will be published again, same ids): %w", err)
			}
			sum.Events += len(events)
		}
		ops := make([]op, len(chunk))
		for j, d := range chunk {
			ops[j] = d.op()
		}
		conflicts, err := snap.apply(ctx, ops)
		sum.Conflicts += conflicts
		if err != nil {
			return sum, err
		}
		for _, o := range ops {
			record(users, o)
		}
	}
	deltas := 0
	for _, e := range users {
		if e.delta {
			deltas++
		}
	}
	sum.Generation = next
	sum.Outcome = OutcomeChanges
	if deltas >= snap.compactAt(listed) {
		p.log.Info("poll: folding the delta items into a new base", "deltas", deltas)
		return sum, p.rebase(ctx, meta, owner, done, next, start, users, users, nil)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := snap.commit(cctx, owner, next, start, known(users), 0, 0, false); err != nil {
		return sum, err
	}
	done()
	return sum, nil
}

// record updates the in-memory snapshot with a written delta, so that a
// compaction writes the snapshot as it now stands.
func record(users map[string]entry, o op) {
	inBase := o.old != nil && o.old.inBase
	switch {
	case o.new != nil:
		users[o.key] = entry{enc: o.new.enc, drift: o.new.drift, known: o.new.known, inBase: inBase, delta: true, deltaEnc: o.new.enc}
	case inBase:
		users[o.key] = entry{known: -1, inBase: true, delta: true}
	default:
		delete(users, o.key)
	}
}

// events builds the chunk's events, looking up the write log (one query per
// user with events, in parallel) to set each event's origin.
func (p *Poller) events(ctx context.Context, chunk []*diffEntry, gen int64, since time.Time) ([]publish.Event, error) {
	perUser := make([][]publish.Event, len(chunk))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	for i, d := range chunk {
		if len(d.kinds) == 0 {
			continue
		}
		g.Go(func() error {
			c := d.newC
			if d.newEnc == "" {
				c = d.oldC
			}
			loginID := c[FieldLoginID]
			if loginID == "" {
				loginID = d.key
			}
			var writes []state.Write
			if !(len(d.kinds) == 1 && d.kinds[0] == TypeUserRemoved) {
				var err error
				writes, err = p.cfg.State.WritesSince(gctx, loginID, since)
				if err != nil {
					return fmt.Errorf("poll: read write log of %s: %w", loginID, err)
				}
			}
			oldEnc := ""
			if d.old != nil {
				oldEnc = d.old.enc
			}
			for _, kind := range d.kinds {
				detail := UserDetail{
					EventID:    eventID(gen, d.key, kind, oldEnc, d.newEnc),
					UserID:     d.key,
					LoginID:    loginID,
					Origin:     originOf(writes, kind, c, d.changes),
					Generation: gen,
				}
				switch kind {
				case TypeUserChanged:
					detail.Changes = d.changes
				case TypeUserCreated:
					detail.User = fieldsMap(c)
				case TypeDriftDetected:
					detail.EmployeeID = d.emp
				}
				perUser[i] = append(perUser[i], event(kind, detail))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []publish.Event
	for _, evs := range perUser {
		out = append(out, evs...)
	}
	return out, nil
}

func randomOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "poll-" + hex.EncodeToString(b)
}
