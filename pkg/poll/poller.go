// Package poll detects changes to Encompass users that nobody announced: it
// lists every user, compares each with the snapshot the previous poll left in
// the state table and publishes one synthetic event per difference
// (CONTRACTS §3, source encompass.poller). docs/poller.md explains the
// snapshot, the commit protocol and what a poll costs.
//
// A poll reads in one direction: the header and any staged listing
// (resume.go), the listing beside the snapshot and the terminated index
// (listing.go), the differences (diff.go), the safety threshold
// (threshold.go), and the commit under a lease (commit.go). The items
// themselves are pkg/state's (state.Snapshot); this package declares what it
// needs of them in SnapshotStore.
package poll

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Users lists and reads Encompass users. *encompass.UsersService satisfies it.
type Users interface {
	// Paginator lists the users from opts.Start: the poll asks for pages
	// ahead (PaginatorOptions.InFlight) and takes a staged listing up at
	// its cursor.
	Paginator(opts encompass.ListUsersOptions, optFns ...func(*encompass.PaginatorOptions)) *encompass.Paginator[encompass.User]
	Get(ctx context.Context, id string) (*encompass.User, error)
}

// StateReader is what the poller reads from the provisioning functions'
// items in the state table. *state.Store satisfies it.
type StateReader interface {
	WritesSince(ctx context.Context, loginID string, since time.Time) ([]state.Write, error)
	Terminated(ctx context.Context) iter.Seq2[state.TerminatedUser, error]
}

// SnapshotStore keeps the poller's own items in the state table: the
// snapshot with its header and lease, and a staged listing.
// *state.Snapshot satisfies it.
type SnapshotStore interface {
	LoadMeta(ctx context.Context) (state.SnapshotMeta, error)
	LoadUsers(ctx context.Context, m state.SnapshotMeta) (map[string]state.SnapshotUser, error)
	Acquire(ctx context.Context, gen int64, owner string, now, until time.Time) error
	WriteDeltas(ctx context.Context, writes []state.DeltaWrite) (conflicts int, err error)
	WriteBase(ctx context.Context, gen int64, users map[string]state.SnapshotUser) (chunks int, err error)
	Commit(ctx context.Context, c state.SnapshotCommit) error
	Release(ctx context.Context, owner string) error
	Cleanup(ctx context.Context, deltaKeys []string, oldGen int64, oldChunks int) error

	LoadStage(ctx context.Context) (state.StagedListing, error)
	LoadStagedUsers(ctx context.Context, st state.StagedListing) (map[string]string, error)
	SaveStage(ctx context.Context, st state.StagedListing, listed map[string]string, now time.Time) error
	DropStage(ctx context.Context, run string) error

	// ItemWrites counts the items written, for Summary.Writes.
	ItemWrites() int64
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
	// DefaultCompactMin is the smallest number of delta items that makes a
	// poll fold them into a new base (see compactAt).
	DefaultCompactMin = 1000
	// leaseWithoutDeadline is the lease when the context has no deadline:
	// the longest a Lambda can run.
	leaseWithoutDeadline = 15 * time.Minute
)

// Config wires a Poller.
type Config struct {
	Users Users
	// DDA, when set, lists the DDA (AIQ) profiles so that each user's is
	// part of the user (dda.go); nil in v3 mode, where there are none.
	DDA       DDAProfiles
	State     StateReader
	Snapshot  SnapshotStore
	Publisher Publisher
	// MaxRemovalRatio is POLLER_MAX_REMOVAL_RATIO: the share of known users
	// one poll may remove or disable before it is an anomaly.
	MaxRemovalRatio float64
	// Concurrency bounds the write-log look-ups and removal checks in
	// flight. The Encompass requests are bounded by the client's MaxInFlight.
	Concurrency int
	// ListInFlight is how many list pages the poll requests at once: the
	// Encompass client's MaxInFlight, the poller's own share of the tenant's
	// budget. 0 or 1 lists one page after another.
	ListInFlight int
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
	// CompactMin is the smallest number of delta items that are folded
	// into a new base (tests use small values).
	CompactMin int
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
	orDefault(&cfg.Concurrency, DefaultConcurrency)
	orDefault(&cfg.ListInFlight, 1)
	orDefault(&cfg.DeadlineMargin, DefaultDeadlineMargin)
	orDefault(&cfg.ApplyChunk, DefaultApplyChunk)
	orDefault(&cfg.CompactMin, DefaultCompactMin)
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

// orDefault replaces a zero or negative setting with its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
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

// run reads the header, lists (taking up a staged listing), and then either
// stages a listing the deadline cut short or compares and commits.
func (p *Poller) run(ctx context.Context, start time.Time) (Summary, error) {
	var sum Summary
	meta, err := p.cfg.Snapshot.LoadMeta(ctx)
	if err != nil {
		return sum, fmt.Errorf("poll: %w", err)
	}
	sum.Generation = meta.Generation
	if meta.LeaseOwner != "" && meta.LeaseUntil.After(start) {
		p.log.InfoContext(ctx, "poll: another poll holds the lease; skipping", "owner", meta.LeaseOwner, "until", meta.LeaseUntil)
		sum.Outcome = OutcomeSkipped
		return sum, nil
	}
	stg, staged, err := p.stagedListing(ctx, meta)
	if err != nil {
		return sum, err
	}
	fromStage := len(staged) // the listing adds to staged
	in, err := p.gather(ctx, meta, &sum, stg, staged)
	if err != nil {
		return sum, err
	}
	// The listing of a resumed poll started with the first run: write-log
	// entries from then on may explain the next poll's differences.
	listedAt := start
	if in.listing.resumed {
		listedAt = stg.ListedAt
		sum.Resumed = fromStage
	}
	// A listing that ended inside the margin leaves no time to publish. It
	// is staged at its end like a stopped one, and the next run takes it up
	// there and applies it with its whole time ahead. Dropped, the next run
	// would list from the start and, for a tenant whose listing always
	// takes as long, run into the same margin for ever.
	if errors.Is(in.listErr, errStopped) || (in.listErr == nil && p.deadlineNear(ctx)) {
		return p.stage(ctx, sum, meta, in.listing, listedAt)
	}
	if in.listErr != nil {
		return sum, fmt.Errorf("poll: list users (nothing published, snapshot kept): %w", in.listErr)
	}
	if stg.Present {
		// The listing is complete: its stage must not be resumed again (a
		// poll that ends without a new generation would otherwise resume a
		// finished listing). Dropped before anything is published.
		if err := p.cfg.Snapshot.DropStage(ctx, stg.Run); err != nil {
			return sum, fmt.Errorf("poll: %w", err)
		}
	}
	sum.Known = known(in.snap)
	in.join = p.joinDDA(ctx, &in)
	if meta.Generation == 0 || in.damaged {
		return p.baseline(ctx, sum, meta, listedAt, in.listing.users, in.snap, in.damaged)
	}
	return p.compareAndApply(ctx, sum, meta, listedAt, in)
}

// errorKind is what an error from a dependency means for the poll.
type errorKind int

const (
	// failPoll: the poll fails, having published nothing it did not also
	// record; Lambda runs it again.
	failPoll errorKind = iota
	// userGone: a read-back says the user does not exist, or cannot be
	// asked for one by one: the listing did not return it either.
	userGone
	// leaseLost: another poll holds the lease or committed first.
	leaseLost
	// itemsDamaged: a snapshot base or staged listing cannot be read; the
	// poll records a new baseline, or lists from the start.
	itemsDamaged
)

// classify is the one place where the poll decides what an error means
// for it. It is the seam for the product-wide error classification: the
// poll's own decisions (gone, lease, damaged) stay here, and everything else
// fails the poll, which is retried whether the cause is retryable or not.
func classify(err error) errorKind {
	switch {
	case errors.Is(err, encompass.ErrNotFound), errors.Is(err, encompass.ErrBadRequest), errors.Is(err, encompass.ErrInvalidArgument):
		return userGone
	case errors.Is(err, state.ErrLeaseHeld):
		return leaseLost
	case errors.Is(err, state.ErrSnapshotDamaged):
		return itemsDamaged
	}
	return failPoll
}
