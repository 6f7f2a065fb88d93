package poll

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// diffEntry is everything a poll found out about one user.
type diffEntry struct {
	key     string
	old     *state.SnapshotUser // nil: not in the snapshot
	oldC    Canonical
	newEnc  string // "": removed
	newC    Canonical
	changes []Change
	kinds   []string // event detail types, in publishing order
	drift   bool     // the drift flag to store
	emp     string   // employee id of a drift
}

// write is the delta item that records the entry.
func (d *diffEntry) write() state.DeltaWrite {
	return state.DeltaWrite{Key: d.key, Old: d.old, Form: d.newEnc, Drift: d.drift}
}

// fieldsKnown is how many canonical fields a stored user carries: fewer
// than NumFields for an item of an older version, 0 for one this version
// cannot read, -1 for a removal record.
func fieldsKnown(u state.SnapshotUser) int {
	switch {
	case u.Removed:
		return -1
	case u.Unreadable:
		return 0
	}
	n, _ := knownFields(u.Form)
	return n
}

// known counts the users a snapshot holds (removal records left out).
func known(snap map[string]state.SnapshotUser) int {
	n := 0
	for _, u := range snap {
		if !u.Removed {
			n++
		}
	}
	return n
}

// markUnreadable marks the stored users whose form this version cannot
// read (an unknown item format, or more fields than it knows). They are
// recorded again silently: a format problem is not a change in Encompass.
func (p *Poller) markUnreadable(ctx context.Context, snap map[string]state.SnapshotUser) {
	for key, u := range snap {
		if u.Removed {
			continue
		}
		if _, ok := knownFields(u.Form); ok && !u.Unreadable {
			continue
		}
		u.Form, u.Unreadable = "", true
		snap[key] = u
		p.log.WarnContext(ctx, "poll: snapshot item in an unknown format; the user is re-recorded without an event", "user", key)
	}
}

// compareAndApply diffs the listing against the snapshot, checks the
// safety threshold, reads back the users that seem removed, and applies
// what differs.
func (p *Poller) compareAndApply(ctx context.Context, sum Summary, meta state.SnapshotMeta, listedAt time.Time, in gathered) (Summary, error) {
	next := meta.Generation + 1
	listed := in.listing.users
	diffs := compare(in.snap, listed, in.terminated)
	removed := removedCandidates(in.snap, listed)
	// The safety threshold is checked before anything is read back or
	// published: an API glitch or a permission change looks like a mass
	// removal, and must not turn into thousands of events.
	if disabled, over := p.overThreshold(sum.Known, removed, diffs); over {
		return p.anomaly(ctx, sum, next, len(listed), removed, diffs, disabled)
	}
	more, err := p.checkRemovals(ctx, removed, in)
	if err != nil {
		return sum, err
	}
	diffs = append(diffs, more...)
	slices.SortFunc(diffs, func(a, b *diffEntry) int { return strings.Compare(a.key, b.key) })
	countKinds(&sum, diffs)
	if len(diffs) == 0 {
		sum.Outcome = OutcomeUnchanged
		return sum, nil
	}
	return p.apply(ctx, sum, meta, listedAt, diffs, in.snap, len(listed))
}

// countKinds adds the differences to the summary, by kind.
func countKinds(sum *Summary, diffs []*diffEntry) {
	counters := map[string]*int{
		TypeUserCreated: &sum.Created, TypeUserChanged: &sum.Changed, TypeUserDisabled: &sum.Disabled,
		TypeUserEnabled: &sum.Enabled, TypeUserRemoved: &sum.Removed, TypeDriftDetected: &sum.Drift,
	}
	for _, d := range diffs {
		for _, k := range d.kinds {
			if n, ok := counters[k]; ok {
				*n++
			}
		}
	}
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
func compare(snap map[string]state.SnapshotUser, listed map[string]string, terminated []state.TerminatedUser) []*diffEntry {
	drifting := driftSet(listed, terminated)
	var out []*diffEntry
	for key, enc := range listed {
		emp, term := drifting[key]
		old, had := snap[key]
		if d := compareOne(key, enc, old, had, term, emp); d != nil {
			out = append(out, d)
		}
	}
	return out
}

// compareOne diffs one listed user (enc) against what the snapshot holds
// (old, when had); nil means nothing to record.
func compareOne(key, enc string, old state.SnapshotUser, had, terminated bool, emp string) *diffEntry {
	oldKnown := fieldsKnown(old)
	if oldKnown < 0 {
		// Recorded as removed: back again, it is a new user.
		had = false
	}
	// Drift is reported once, when it starts. (A baseline reports none: the
	// next poll reports the drift that already existed.)
	// A DDA profile enabled again is the same exposure as the account.
	var newC Canonical
	wantDrift := false
	if terminated {
		newC, _, _ = decodeCanonical(enc)
		wantDrift = newC.Enabled() || newC.DDAEnabled()
	}
	// The common case, an unchanged user, costs one string comparison.
	if had && old.Form == enc && old.Drift == wantDrift {
		return nil
	}
	if !terminated { // enc is decoded once
		newC, _, _ = decodeCanonical(enc)
	}
	d := &diffEntry{key: key, newEnc: enc, newC: newC, drift: wantDrift, emp: emp}
	if had || old.Delta {
		o := old
		d.old = &o
	}
	switch {
	case !had:
		d.kinds = append(d.kinds, TypeUserCreated)
	case oldKnown == 0:
		// Unreadable item: re-record silently.
	case old.Form != enc:
		d.oldC, _, _ = decodeCanonical(old.Form)
		if oldKnown > int(FieldEnabled) && d.oldC.Enabled() != newC.Enabled() {
			if newC.Enabled() {
				d.kinds = append(d.kinds, TypeUserEnabled)
			} else {
				d.kinds = append(d.kinds, TypeUserDisabled)
			}
		}
		d.changes = diff(d.oldC, newC, oldKnown)
		if len(d.changes) > 0 {
			d.kinds = append(d.kinds, TypeUserChanged)
		}
	}
	if wantDrift && (!had || !old.Drift) {
		d.kinds = append(d.kinds, TypeDriftDetected)
	}
	return d
}

// removedCandidates are the snapshot users the listing did not return, sorted.
func removedCandidates(snap map[string]state.SnapshotUser, listed map[string]string) []string {
	var out []string
	for key, u := range snap {
		if u.Removed {
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
// removed. A user found is compared like a listed one, with its DDA profile
// joined as the listed ones were (in.join).
func (p *Poller) checkRemovals(ctx context.Context, keys []string, in gathered) ([]*diffEntry, error) {
	out := make([]*diffEntry, len(keys))
	check := len(keys) <= p.cfg.MaxRemovalChecks
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	for i, key := range keys {
		old := in.snap[key]
		removal := &diffEntry{key: key, old: &old, kinds: []string{TypeUserRemoved}}
		removal.oldC, _, _ = decodeCanonical(old.Form)
		out[i] = removal
		if !check {
			continue
		}
		g.Go(func() error {
			u, err := p.cfg.Users.Get(gctx, key)
			if err != nil && classify(err) == userGone {
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
			if in.join != nil {
				enc = in.join(key, enc)
			}
			emp, term := driftSet(map[string]string{key: enc}, in.terminated)[key]
			out[i] = compareOne(key, enc, old, true, term, emp)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(d *diffEntry) bool { return d == nil }), nil
}
