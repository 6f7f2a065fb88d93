package state

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// The poller's snapshot (docs/poller.md): a header with the generation and
// the lease, a compressed base written at the baseline and at compactions,
// and one delta item per user changed since. So a poll writes exactly one
// item per changed user, and reads a few large items instead of one per
// user. The user's form is opaque here: pkg/poll encodes and compares it.
const (
	snapshotMetaPK      = "POLL#META"
	snapshotMetaSK      = "META"
	snapshotBasePrefix  = "POLL#BASE#"
	snapshotDeltaPrefix = "POLL#DELTA#"
	// SnapshotShards spreads the delta items over partition keys, so that
	// writes never concentrate on one partition and reads run in parallel.
	SnapshotShards = 16
	// snapshotItemVersion is the v attribute of every snapshot item.
	snapshotItemVersion = 1
	attrForm            = "c"
	attrVersion         = "v"
	attrDrift           = "d"
	attrRemoved         = "x"
)

var (
	// ErrLeaseHeld means another poll is applying changes (or committed a
	// newer generation since this one read the header): this poll must not
	// apply.
	ErrLeaseHeld = errors.New("state: another poll holds the lease or committed first")
	// ErrSnapshotDamaged means a chunk of the base (or of a staged listing)
	// is missing or unreadable. A format problem is not a change in
	// Encompass: the poller records a new baseline instead of reporting
	// every user as created.
	ErrSnapshotDamaged = errors.New("state: snapshot damaged")
)

// SnapshotDeltaPK is the partition key of a user's delta item.
func SnapshotDeltaPK(userKey string) string {
	h := fnv.New32a()
	h.Write([]byte(userKey))
	return snapshotShardPK(int(h.Sum32() % SnapshotShards))
}

func snapshotShardPK(shard int) string { return fmt.Sprintf("%s%02x", snapshotDeltaPrefix, shard) }

// SnapshotBasePK is the partition key of the chunks of base generation gen.
func SnapshotBasePK(gen int64) string { return snapshotBasePrefix + strconv.FormatInt(gen, 10) }

// SnapshotMeta is the snapshot's header item: the generation and listing
// time of the last committed poll, where its base is, and the lease of a
// poll that is applying changes.
type SnapshotMeta struct {
	// Generation counts committed polls; 0 means no baseline yet.
	Generation int64
	// BaseGeneration and BaseChunks locate the base (0 chunks: no base).
	BaseGeneration int64
	BaseChunks     int
	// ListedAt is when the last committed poll started listing: write-log
	// entries from then on may explain the next poll's differences.
	ListedAt time.Time
	// Users is the number of users the last committed poll recorded.
	Users int
	// LeaseOwner and LeaseUntil describe a poll applying changes.
	LeaseOwner string
	LeaseUntil time.Time
}

// SnapshotUser is one user as the snapshot holds it, and where: the base,
// a delta item, or both (the delta wins).
type SnapshotUser struct {
	// Form is the user's stored form ("" when Unreadable).
	Form string
	// Drift records that the user's drift was reported.
	Drift bool
	// Removed: the user was reported removed (a removal record).
	Removed bool
	// Unreadable: the delta item is in a format this version cannot read;
	// the poller records the user again, silently.
	Unreadable bool
	// InBase: the base has a line for the user. Delta: a delta item exists,
	// holding DeltaForm ("" for a removal record or an unreadable item).
	// They decide how the next write of the user is guarded.
	InBase    bool
	Delta     bool
	DeltaForm string
}

// Snapshot reads and writes the poller's snapshot and staged listings in
// the state table. It counts the items it writes, so that tests and
// benchmarks can assert "writes equal changes". It is safe for concurrent
// use; the lease keeps two polls from applying at once.
type Snapshot struct {
	store       *Store
	concurrency int
	writes      atomic.Int64
}

// NewSnapshot returns the poller's snapshot in store's table; concurrency
// bounds its parallel DynamoDB requests (at least 1).
func NewSnapshot(store *Store, concurrency int) *Snapshot {
	return &Snapshot{store: store, concurrency: max(concurrency, 1)}
}

// ItemWrites returns how many items (user, base, staged and header) this
// Snapshot has written or deleted.
func (s *Snapshot) ItemWrites() int64 { return s.writes.Load() }

// LoadMeta reads the header item; a missing item is the zero SnapshotMeta.
func (s *Snapshot) LoadMeta(ctx context.Context) (SnapshotMeta, error) {
	item, err := s.store.getItem(ctx, snapshotMetaPK, snapshotMetaSK)
	if err != nil {
		return SnapshotMeta{}, fmt.Errorf("state: read snapshot header: %w", err)
	}
	var m SnapshotMeta
	if item == nil {
		return m, nil
	}
	r := itemReader{item: item, what: "snapshot header " + snapshotMetaPK}
	m.Generation = r.nonNegative("gen", false)
	m.BaseGeneration = r.nonNegative("baseGen", false)
	m.BaseChunks = int(r.nonNegative("baseChunks", false))
	m.Users = int(r.nonNegative("users", false))
	if until := r.nonNegative("leaseUntil", false); until > 0 {
		m.LeaseUntil = time.UnixMilli(until)
	}
	m.ListedAt = r.time("listedAt", false)
	m.LeaseOwner = r.str("leaseOwner", false)
	if r.err != nil {
		return SnapshotMeta{}, r.err
	}
	return m, nil
}

// LoadUsers reads the base chunks and the delta items in parallel, with
// strongly consistent reads so that a poll never diffs against a stale copy
// of the previous poll's writes, and merges them by user key (a delta wins).
// When a base chunk is missing or unreadable it still reads the deltas (a
// new baseline must delete them) and returns them with ErrSnapshotDamaged.
func (s *Snapshot) LoadUsers(ctx context.Context, m SnapshotMeta) (map[string]SnapshotUser, error) {
	users := make(map[string]SnapshotUser, m.Users)
	var mu sync.Mutex
	var deltas []deltaItem
	var damaged error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i := range m.BaseChunks {
		g.Go(func() error {
			lines, err := s.readChunk(gctx, SnapshotBasePK(m.BaseGeneration), i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrSnapshotDamaged):
				// Keep reading the deltas: a new baseline must delete them.
				damaged = err
				return nil
			case err != nil:
				return err
			}
			for _, l := range lines {
				users[l.key] = SnapshotUser{Form: l.form, Drift: l.drift, InBase: true}
			}
			return nil
		})
	}
	for shard := range SnapshotShards {
		g.Go(func() error {
			items, err := s.readDeltas(gctx, snapshotShardPK(shard))
			mu.Lock()
			deltas = append(deltas, items...)
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, d := range deltas {
		u, inBase := users[d.key]
		switch {
		case d.removed && !inBase:
			// A removal record of a user the base does not have: nothing
			// is left but the record.
			u = SnapshotUser{Removed: true}
		case d.removed:
			u.Removed = true
		default:
			u.Form, u.Drift, u.Unreadable = d.form, d.drift, d.unreadable
		}
		u.Delta, u.DeltaForm = true, d.form
		users[d.key] = u
	}
	return users, damaged
}

// nonNegative reads a whole number that must not be negative.
func (r *itemReader) nonNegative(attr string, required bool) int64 {
	n := r.int(attr, required)
	if n < 0 {
		r.fail(attr, "negative: %d", n)
	}
	return n
}

// deltaItem is one decoded delta item.
type deltaItem struct {
	key        string
	form       string
	drift      bool
	removed    bool
	unreadable bool
}

// readDeltas reads one shard of delta items (strongly consistent).
func (s *Snapshot) readDeltas(ctx context.Context, pk string) ([]deltaItem, error) {
	var out []deltaItem
	for d, err := range queryItems(ctx, s.store, s.store.pkQuery(pk, true), func(item map[string]types.AttributeValue) (deltaItem, bool, error) {
		return decodeDelta(item), true, nil
	}) {
		if err != nil {
			return nil, fmt.Errorf("state: read snapshot %s: %w", pk, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// decodeDelta reads one delta item. An item this version cannot read
// (another format version, a wrong type, hand-edited) is unreadable: its
// user is recorded again silently instead of being reported as created.
func decodeDelta(item map[string]types.AttributeValue) deltaItem {
	// The sort key is the table's range key: always a non-empty string.
	sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
	d := deltaItem{key: sk.Value}
	if x, ok := item[attrRemoved].(*types.AttributeValueMemberBOOL); ok && x.Value {
		d.removed = true
		return d
	}
	if b, ok := item[attrDrift].(*types.AttributeValueMemberBOOL); ok {
		d.drift = b.Value
	}
	v, vok := item[attrVersion].(*types.AttributeValueMemberN)
	c, cok := item[attrForm].(*types.AttributeValueMemberS)
	if !vok || v.Value != strconv.Itoa(snapshotItemVersion) || !cok {
		d.unreadable = true
		return d
	}
	d.form = c.Value
	return d
}

// DeltaWrite is one user's delta item to write.
type DeltaWrite struct {
	Key string
	// Old is the user as LoadUsers returned it, nil for a user the snapshot
	// did not hold. The write is guarded by it, so that a poll that lost a
	// race can never overwrite a newer snapshot.
	Old *SnapshotUser
	// Form is the user's new form; "" records the user's removal.
	Form string
	// Drift records that the user's drift was reported.
	Drift bool
}

// Stored returns the user as the snapshot holds it once w is written, and
// false when nothing is left of the user (a removal of a user only a delta
// item knew).
func (w DeltaWrite) Stored() (SnapshotUser, bool) {
	inBase := w.Old != nil && w.Old.InBase
	switch {
	case w.Form != "":
		return SnapshotUser{Form: w.Form, Drift: w.Drift, InBase: inBase, Delta: true, DeltaForm: w.Form}, true
	case inBase:
		// A removal record over the base line, as LoadUsers reads it.
		return SnapshotUser{Form: w.Old.Form, Drift: w.Old.Drift, Removed: true, InBase: true, Delta: true}, true
	}
	return SnapshotUser{}, false
}

// WriteDeltas writes one delta item per write, guarded by the delta item
// the poll read (or its absence). It returns how many writes lost such a
// race: those items are left as another poll wrote them.
func (s *Snapshot) WriteDeltas(ctx context.Context, writes []DeltaWrite) (conflicts int, err error) {
	var lost atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, w := range writes {
		g.Go(func() error {
			err := s.writeDelta(gctx, w)
			if IsConditionFailed(err) {
				lost.Add(1)
				return nil
			}
			if err != nil {
				return fmt.Errorf("state: write snapshot of %s: %w", w.Key, err)
			}
			return nil
		})
	}
	err = g.Wait()
	return int(lost.Load()), err
}

func (s *Snapshot) writeDelta(ctx context.Context, w DeltaWrite) error {
	k := key(SnapshotDeltaPK(w.Key), w.Key)
	var cond *string
	var values map[string]types.AttributeValue
	switch {
	case w.Old == nil || !w.Old.Delta:
		cond = aws.String("attribute_not_exists(pk)")
	case w.Old.DeltaForm != "":
		cond = aws.String(attrForm + " = :old")
		values = map[string]types.AttributeValue{":old": str(w.Old.DeltaForm)}
	}
	// else: a removal record or an unreadable item is replaced without a
	// guard (the lease still excludes other pollers).
	s.writes.Add(1)
	if w.Form == "" && (w.Old == nil || !w.Old.InBase) {
		// The base does not know the user: removing its delta item is enough.
		_, err := s.store.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.store.table), Key: k, ConditionExpression: cond, ExpressionAttributeValues: values,
		})
		return err
	}
	item := k
	item[attrVersion] = num(snapshotItemVersion)
	if w.Form == "" {
		item[attrRemoved] = &types.AttributeValueMemberBOOL{Value: true}
	} else {
		item[attrForm] = str(w.Form)
		if w.Drift {
			item[attrDrift] = &types.AttributeValueMemberBOOL{Value: true}
		}
	}
	_, err := s.store.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.store.table), Item: item, ConditionExpression: cond, ExpressionAttributeValues: values,
	})
	return err
}

// WriteBase writes users (all but the removed and unreadable ones) as the
// compressed base of generation gen and returns its number of chunks.
// Lines are sorted, so equal snapshots give equal bases.
func (s *Snapshot) WriteBase(ctx context.Context, gen int64, users map[string]SnapshotUser) (int, error) {
	lines := make([]chunkLine, 0, len(users))
	for k, u := range users {
		if !u.Removed && !u.Unreadable && u.Form != "" {
			lines = append(lines, chunkLine{key: k, drift: u.Drift, form: u.Form})
		}
	}
	n, err := s.writeChunks(ctx, SnapshotBasePK(gen), lines, nil)
	if err != nil {
		return 0, fmt.Errorf("state: write snapshot base: %w", err)
	}
	return n, nil
}

// Cleanup deletes the delta items a compaction folded into the new base
// and the chunks of the old base. Leftovers (after a crash) are harmless: a
// delta equal to the base changes nothing, an old base is never read.
func (s *Snapshot) Cleanup(ctx context.Context, deltaKeys []string, oldGen int64, oldChunks int) error {
	reqs := make([]types.WriteRequest, 0, len(deltaKeys)+oldChunks)
	for _, k := range deltaKeys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(SnapshotDeltaPK(k), k)}})
	}
	for i := range oldChunks {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(SnapshotBasePK(oldGen), chunkSK(i))}})
	}
	return s.batchWrite(ctx, reqs)
}

// Acquire takes the lease for applying changes on top of generation gen.
// It fails with ErrLeaseHeld when another poll holds a live lease or has
// committed a newer generation since this poll read the header.
func (s *Snapshot) Acquire(ctx context.Context, gen int64, owner string, now, until time.Time) error {
	cond := "(attribute_not_exists(leaseUntil) OR leaseUntil < :now) AND "
	values := map[string]types.AttributeValue{
		":owner": str(owner), ":until": num(until.UnixMilli()), ":now": num(now.UnixMilli()),
	}
	if gen == 0 {
		cond += "(attribute_not_exists(gen) OR gen = :zero)"
		values[":zero"] = num(0)
	} else {
		cond += "gen = :gen"
		values[":gen"] = num(gen)
	}
	err := s.updateMeta(ctx, "SET leaseOwner = :owner, leaseUntil = :until", cond, nil, values)
	if IsConditionFailed(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("state: take the poll lease: %w", err)
	}
	return nil
}

// SnapshotCommit is what a poll records when it commits.
type SnapshotCommit struct {
	// Owner must still hold the lease.
	Owner string
	// Generation is the new generation; ListedAt when its listing started;
	// Users how many users the snapshot now holds.
	Generation int64
	ListedAt   time.Time
	Users      int
	// BaseGeneration and BaseChunks, when BaseGeneration > 0, point the
	// header at a new base.
	BaseGeneration int64
	BaseChunks     int
	// KeepLease keeps the lease for the clean-up after a compaction.
	KeepLease bool
}

// Commit records c.Generation (and a new base) only if c.Owner still holds
// the lease; ErrLeaseHeld otherwise.
func (s *Snapshot) Commit(ctx context.Context, c SnapshotCommit) error {
	update := "SET gen = :gen, listedAt = :at, #u = :users, committedAt = :now"
	values := map[string]types.AttributeValue{
		":gen": num(c.Generation), ":at": str(c.ListedAt.UTC().Format(time.RFC3339Nano)), ":users": num(int64(c.Users)),
		":now": str(s.store.now().UTC().Format(time.RFC3339Nano)), ":owner": str(c.Owner),
	}
	if c.BaseGeneration > 0 {
		update += ", baseGen = :bg, baseChunks = :bc"
		values[":bg"], values[":bc"] = num(c.BaseGeneration), num(int64(c.BaseChunks))
	}
	if !c.KeepLease {
		update += " REMOVE leaseOwner, leaseUntil"
	}
	// "users" is not reserved, but naming it keeps the expression safe if
	// DynamoDB's reserved word list grows.
	err := s.updateMeta(ctx, update, "leaseOwner = :owner", map[string]string{"#u": "users"}, values)
	if IsConditionFailed(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("state: commit snapshot: %w", err)
	}
	return nil
}

// Release gives the lease up without committing (a stopped or failed
// poll), or after a compaction's clean-up. A lease owner no longer holds
// is not an error.
func (s *Snapshot) Release(ctx context.Context, owner string) error {
	err := s.updateMeta(ctx, "REMOVE leaseOwner, leaseUntil", "leaseOwner = :owner", nil,
		map[string]types.AttributeValue{":owner": str(owner)})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("state: release the poll lease: %w", err)
	}
	return nil
}

// updateMeta makes one conditional update of the header.
func (s *Snapshot) updateMeta(ctx context.Context, update, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	s.writes.Add(1)
	_, err := s.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.store.table),
		Key:                       key(snapshotMetaPK, snapshotMetaSK),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}
