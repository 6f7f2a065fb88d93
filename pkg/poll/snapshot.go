package poll

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// DynamoDBAPI is the part of the DynamoDB client the snapshot uses; the real
// *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Keys and attributes of the poller's items in the state table
// (docs/poller.md). The snapshot is a compressed base, written at the
// baseline and at compactions, plus one delta item per user that changed
// since: so a poll writes exactly one item per changed user, and reads a few
// large items instead of one per user.
const (
	metaPK        = "POLL#META"
	metaSK        = "META"
	basePKPrefix  = "POLL#BASE#"
	deltaPKPrefix = "POLL#DELTA#"
	// NumShards spreads delta items over partition keys so that writes never
	// concentrate on one partition and reads run in parallel.
	NumShards     = 16
	itemVersion   = 1
	attrCanonical = "c"
	attrVersion   = "v"
	attrDrift     = "d"
	attrRemoved   = "x"
	attrBlob      = "z"
	attrCount     = "n"
	// maxChunkRaw bounds the uncompressed lines of one base chunk, so that
	// even incompressible data stays under DynamoDB's 400 KB item limit.
	maxChunkRaw = 300 << 10
	// lineSep separates a base line's parts; FromUser keeps control
	// characters out of keys and values, so no escaping is needed.
	lineSep = "\x1e"
	// DefaultCompactMin is the smallest number of delta items that makes a
	// poll fold them into a new base (see Snapshot.compactAt).
	DefaultCompactMin = 1000
)

// ErrLeaseHeld means another poll is applying changes (or committed a newer
// generation since this one read the snapshot); this poll must not apply.
var ErrLeaseHeld = errors.New("poll: another poll holds the lease or committed first")

// shardOf is the partition key of a user's delta item.
func shardOf(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprintf("%s%02x", deltaPKPrefix, h.Sum32()%NumShards)
}

func basePK(gen int64) string { return basePKPrefix + strconv.FormatInt(gen, 10) }
func chunkSK(i int) string    { return fmt.Sprintf("%05d", i) }

// Meta is the snapshot's header item: the generation and listing time of the
// last committed poll, where its base is, and the lease of a poll that is
// applying changes.
type Meta struct {
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

// entry is one user's stored snapshot: the encoded canonical form, how many
// fields it knows, whether drift was already reported, and where it is kept.
type entry struct {
	enc   string
	drift bool
	// known < NumFields for records of an older version; 0 for a record
	// that could not be read at all (it is re-recorded silently).
	known int
	// inBase: the base has a line for this user. delta: a delta item
	// exists, holding deltaEnc ("" for a removal or an unreadable item).
	inBase   bool
	delta    bool
	deltaEnc string
}

// Snapshot reads and writes the poller's items. It counts the items it
// writes, so tests and benchmarks can assert "writes equal changes".
type Snapshot struct {
	db          DynamoDBAPI
	table       string
	concurrency int
	compactMin  int
	log         *slog.Logger

	writes atomic.Int64
	reads  atomic.Int64
}

// NewSnapshot returns the snapshot in table; concurrency bounds parallel
// DynamoDB requests (minimum 1).
func NewSnapshot(db DynamoDBAPI, table string, concurrency int, log *slog.Logger) *Snapshot {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Snapshot{db: db, table: table, concurrency: max(concurrency, 1), compactMin: DefaultCompactMin, log: log}
}

// SetCompactMin changes the smallest number of delta items that triggers a
// compaction (tests use small values).
func (s *Snapshot) SetCompactMin(n int) { s.compactMin = max(n, 1) }

// compactAt is when the deltas are folded into a new base: once they
// outnumber a tenth of the users (reading them costs more per user than the
// compressed base) and at least compactMin.
func (s *Snapshot) compactAt(users int) int { return max(s.compactMin, users/10) }

// ItemWrites returns how many items (user, base and header) this Snapshot
// has written or deleted.
func (s *Snapshot) ItemWrites() int64 { return s.writes.Load() }

// ReadRequests returns how many read requests (GetItem, Query pages) it made.
func (s *Snapshot) ReadRequests() int64 { return s.reads.Load() }

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func metaKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": sv(metaPK), "sk": sv(metaSK)}
}

// LoadMeta reads the header item; a missing item is the zero Meta.
func (s *Snapshot) LoadMeta(ctx context.Context) (Meta, error) {
	s.reads.Add(1)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: metaKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Meta{}, fmt.Errorf("poll: read snapshot header: %w", err)
	}
	var m Meta
	if out.Item == nil {
		return m, nil
	}
	num := func(attr string) (int64, error) {
		v, ok := out.Item[attr].(*types.AttributeValueMemberN)
		if !ok {
			return 0, nil
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("poll: snapshot header: malformed %s %q", attr, v.Value)
		}
		return n, nil
	}
	var users, chunks, until int64
	for _, f := range []struct {
		attr string
		dst  *int64
	}{{"gen", &m.Generation}, {"baseGen", &m.BaseGeneration}, {"baseChunks", &chunks}, {"users", &users}, {"leaseUntil", &until}} {
		if *f.dst, err = num(f.attr); err != nil {
			return Meta{}, err
		}
	}
	m.BaseChunks, m.Users = int(chunks), int(users)
	if until > 0 {
		m.LeaseUntil = time.UnixMilli(until)
	}
	if v, ok := out.Item["listedAt"].(*types.AttributeValueMemberS); ok {
		if m.ListedAt, err = time.Parse(time.RFC3339Nano, v.Value); err != nil {
			return Meta{}, fmt.Errorf("poll: snapshot header: malformed listedAt %q", v.Value)
		}
	}
	if v, ok := out.Item["leaseOwner"].(*types.AttributeValueMemberS); ok {
		m.LeaseOwner = v.Value
	}
	return m, nil
}

// errBaseDamaged means a base chunk is missing or unreadable: the poll then
// records a new baseline instead of reporting every user as created.
var errBaseDamaged = errors.New("poll: snapshot base damaged")

// loadUsers reads the base chunks and the delta items in parallel, with
// strongly consistent reads so that a poll never diffs against a stale copy
// of the previous poll's writes, and merges them (a delta wins).
func (s *Snapshot) loadUsers(ctx context.Context, m Meta) (map[string]entry, error) {
	users := make(map[string]entry, m.Users)
	var mu sync.Mutex
	var deltas []deltaItem
	var damaged error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i := range m.BaseChunks {
		g.Go(func() error {
			lines, err := s.readChunk(gctx, m.BaseGeneration, i)
			if errors.Is(err, errBaseDamaged) {
				// Keep reading the deltas: a new baseline must delete them.
				mu.Lock()
				damaged = err
				mu.Unlock()
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				users[l.key] = l.e
			}
			return nil
		})
	}
	for shard := range NumShards {
		pk := fmt.Sprintf("%s%02x", deltaPKPrefix, shard)
		g.Go(func() error {
			items, err := s.readDeltas(gctx, pk)
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
		e, ok := users[d.key]
		e.delta, e.deltaEnc = true, d.e.enc
		if d.removed {
			if !ok {
				// A removal of a user the base does not have: nothing left.
				users[d.key] = entry{delta: true, deltaEnc: "", known: -1}
				continue
			}
			e.known = -1
			users[d.key] = e
			continue
		}
		e.enc, e.known, e.drift = d.e.enc, d.e.known, d.e.drift
		users[d.key] = e
	}
	return users, damaged
}

type baseLine struct {
	key string
	e   entry
}

// readChunk reads and decodes one base chunk.
func (s *Snapshot) readChunk(ctx context.Context, gen int64, i int) ([]baseLine, error) {
	return s.readChunkAt(ctx, basePK(gen), i)
}

// readChunkAt reads and decodes chunk i under pk (a base or a staged
// listing). A missing or unreadable chunk is errBaseDamaged.
func (s *Snapshot) readChunkAt(ctx context.Context, pk string, i int) ([]baseLine, error) {
	s.reads.Add(1)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"pk": sv(pk), "sk": sv(chunkSK(i))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("poll: read snapshot chunk %d of %s: %w", i, pk, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%w: chunk %d of %s is missing", errBaseDamaged, i, pk)
	}
	v, _ := out.Item[attrVersion].(*types.AttributeValueMemberN)
	z, _ := out.Item[attrBlob].(*types.AttributeValueMemberB)
	if v == nil || v.Value != strconv.Itoa(itemVersion) || z == nil {
		return nil, fmt.Errorf("%w: chunk %d of %s is in an unknown format", errBaseDamaged, i, pk)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z.Value)), 4*maxChunkRaw))
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", errBaseDamaged, i, pk, err)
	}
	var lines []baseLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), maxChunkRaw+1)
	for sc.Scan() {
		key, rest, ok1 := strings.Cut(sc.Text(), lineSep)
		flags, enc, ok2 := strings.Cut(rest, lineSep)
		if !ok1 || !ok2 || key == "" {
			return nil, fmt.Errorf("%w: chunk %d of %s has a malformed line", errBaseDamaged, i, pk)
		}
		e := entry{inBase: true, drift: flags == "d"}
		if known, ok := knownFields(enc); ok {
			e.enc, e.known = enc, known
		}
		lines = append(lines, baseLine{key: key, e: e})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", errBaseDamaged, i, pk, err)
	}
	return lines, nil
}

type deltaItem struct {
	key     string
	e       entry
	removed bool
}

// readDeltas reads one shard of delta items.
func (s *Snapshot) readDeltas(ctx context.Context, pk string) ([]deltaItem, error) {
	var out []deltaItem
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv(pk)},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		s.reads.Add(1)
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return out, fmt.Errorf("poll: read snapshot %s: %w", pk, err)
		}
		for _, item := range page.Items {
			if d, ok := s.decodeItem(item); ok {
				out = append(out, d)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// decodeItem reads one delta item. An item this version cannot read
// (another format version, a wrong type, hand-edited) is kept with known =
// 0: its user is re-recorded silently instead of being reported as created,
// because a format problem is not a change in Encompass.
func (s *Snapshot) decodeItem(item map[string]types.AttributeValue) (deltaItem, bool) {
	sk, ok := item["sk"].(*types.AttributeValueMemberS)
	if !ok || sk.Value == "" {
		s.log.Warn("poll: snapshot item without a sort key ignored")
		return deltaItem{}, false
	}
	d := deltaItem{key: sk.Value}
	if x, ok := item[attrRemoved].(*types.AttributeValueMemberBOOL); ok && x.Value {
		d.removed = true
		return d, true
	}
	if b, ok := item[attrDrift].(*types.AttributeValueMemberBOOL); ok {
		d.e.drift = b.Value
	}
	v, vok := item[attrVersion].(*types.AttributeValueMemberN)
	c, cok := item[attrCanonical].(*types.AttributeValueMemberS)
	if !vok || v.Value != strconv.Itoa(itemVersion) || !cok {
		s.log.Warn("poll: snapshot item in an unknown format; the user is re-recorded without an event", "user", sk.Value)
		return d, true
	}
	if known, ok := knownFields(c.Value); ok {
		d.e.enc, d.e.known = c.Value, known
	} else {
		s.log.Warn("poll: snapshot item with an unreadable canonical form; the user is re-recorded without an event", "user", sk.Value)
	}
	return d, true
}

// op is one planned write of a user's delta item.
type op struct {
	key string
	// old is what the snapshot held for the user; nil for a new user.
	old *entry
	// new is the user's new record; nil records a removal.
	new *entry
}

// apply writes one delta item per op, guarded by the delta item this poll
// read (or its absence), so that a poll that lost a race can never
// overwrite a newer snapshot. It returns how many writes lost such a race.
func (s *Snapshot) apply(ctx context.Context, ops []op) (conflicts int, err error) {
	var conflictN atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, o := range ops {
		g.Go(func() error {
			lost, err := s.writeDelta(gctx, o)
			if lost {
				conflictN.Add(1)
			}
			return err
		})
	}
	err = g.Wait()
	return int(conflictN.Load()), err
}

func (s *Snapshot) writeDelta(ctx context.Context, o op) (lost bool, err error) {
	key := map[string]types.AttributeValue{"pk": sv(shardOf(o.key)), "sk": sv(o.key)}
	var cond *string
	var values map[string]types.AttributeValue
	switch {
	case o.old == nil || !o.old.delta:
		cond = aws.String("attribute_not_exists(pk)")
	case o.old.deltaEnc != "":
		cond = aws.String(attrCanonical + " = :old")
		values = map[string]types.AttributeValue{":old": sv(o.old.deltaEnc)}
	}
	// else: a removal record or an unreadable item is replaced without a
	// guard (the lease still excludes other pollers).
	s.writes.Add(1)
	switch {
	case o.new == nil && (o.old == nil || !o.old.inBase):
		// The base does not know the user: removing its delta item is enough.
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: key, ConditionExpression: cond, ExpressionAttributeValues: values,
		})
	default:
		item := key
		item[attrVersion] = nv(itemVersion)
		if o.new == nil {
			item[attrRemoved] = &types.AttributeValueMemberBOOL{Value: true}
		} else {
			item[attrCanonical] = sv(o.new.enc)
			if o.new.drift {
				item[attrDrift] = &types.AttributeValueMemberBOOL{Value: true}
			}
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: item, ConditionExpression: cond, ExpressionAttributeValues: values,
		})
	}
	if isConditionFailed(err) {
		s.log.Warn("poll: snapshot item changed by another poll; left as it is", "user", o.key)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("poll: write snapshot of %s: %w", o.key, err)
	}
	return false, nil
}

// writeBase writes users as the compressed base of generation gen and
// returns the number of chunks. Lines are sorted, so equal snapshots give
// equal bases.
func (s *Snapshot) writeBase(ctx context.Context, gen int64, users map[string]entry) (int, error) {
	n, err := s.writeChunks(ctx, basePK(gen), users, nil)
	if err != nil {
		return 0, fmt.Errorf("poll: write snapshot base: %w", err)
	}
	return n, nil
}

// writeChunks writes users as compressed chunk items under pk, each with
// the extra attributes, and returns the number of chunks.
func (s *Snapshot) writeChunks(ctx context.Context, pk string, users map[string]entry, extra map[string]types.AttributeValue) (int, error) {
	keys := make([]string, 0, len(users))
	for k, e := range users {
		if e.known > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var chunks [][]byte
	var buf bytes.Buffer
	flush := func() error {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestSpeed)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		chunks = append(chunks, z.Bytes())
		buf.Reset()
		return nil
	}
	for _, k := range keys {
		e := users[k]
		flag := ""
		if e.drift {
			flag = "d"
		}
		line := k + lineSep + flag + lineSep + e.enc + "\n"
		if buf.Len() > 0 && buf.Len()+len(line) > maxChunkRaw {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		buf.WriteString(line)
	}
	if buf.Len() > 0 || len(chunks) == 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	reqs := make([]types.WriteRequest, len(chunks))
	for i, z := range chunks {
		item := map[string]types.AttributeValue{
			"pk": sv(pk), "sk": sv(chunkSK(i)),
			attrVersion: nv(itemVersion), attrBlob: &types.AttributeValueMemberB{Value: z},
		}
		for k, v := range extra {
			item[k] = v
		}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return 0, err
	}
	return len(chunks), nil
}

// cleanup deletes the delta items a compaction folded into the new base and
// the chunks of the old base. Leftovers (after a crash) are harmless: a
// delta equal to the base changes nothing, an old base is never read.
func (s *Snapshot) cleanup(ctx context.Context, deltaKeys []string, oldGen int64, oldChunks int) error {
	reqs := make([]types.WriteRequest, 0, len(deltaKeys)+oldChunks)
	for _, k := range deltaKeys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": sv(shardOf(k)), "sk": sv(k)}}})
	}
	for i := range oldChunks {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": sv(basePK(oldGen)), "sk": sv(chunkSK(i))}}})
	}
	return s.batchWrite(ctx, reqs)
}

// batchWrite sends write requests 25 at a time, in parallel, re-sending
// unprocessed ones with back-off.
func (s *Snapshot) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for len(reqs) > 0 {
		n := min(len(reqs), 25)
		batch := reqs[:n]
		reqs = reqs[n:]
		g.Go(func() error { return s.batch(gctx, batch) })
	}
	return g.Wait()
}

func (s *Snapshot) batch(ctx context.Context, batch []types.WriteRequest) error {
	s.writes.Add(int64(len(batch)))
	pending := batch
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return fmt.Errorf("%d items still unprocessed after %d attempts", len(pending), attempt)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
			}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: pending},
		})
		if err != nil {
			return err
		}
		pending = out.UnprocessedItems[s.table]
	}
	return nil
}

// acquire takes the lease for applying changes on top of generation gen. It
// fails with ErrLeaseHeld when another poll holds a live lease or has
// committed a newer generation since this poll read the header.
func (s *Snapshot) acquire(ctx context.Context, gen int64, owner string, now, until time.Time) error {
	cond := "(attribute_not_exists(leaseUntil) OR leaseUntil < :now) AND "
	values := map[string]types.AttributeValue{
		":owner": sv(owner), ":until": nv(until.UnixMilli()), ":now": nv(now.UnixMilli()),
	}
	if gen == 0 {
		cond += "(attribute_not_exists(gen) OR gen = :zero)"
		values[":zero"] = nv(0)
	} else {
		cond += "gen = :gen"
		values[":gen"] = nv(gen)
	}
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       metaKey(),
		UpdateExpression:          aws.String("SET leaseOwner = :owner, leaseUntil = :until"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("poll: take lease: %w", err)
	}
	return nil
}

// commit records generation next (and, when newBase > 0, that base) only if
// owner still holds the lease. keepLease keeps it for the clean-up that
// follows a compaction.
func (s *Snapshot) commit(ctx context.Context, owner string, next int64, listedAt time.Time, users int, newBase int64, chunks int, keepLease bool) error {
	update := "SET gen = :gen, listedAt = :at, #u = :users, committedAt = :now"
	values := map[string]types.AttributeValue{
		":gen": nv(next), ":at": sv(listedAt.UTC().Format(time.RFC3339Nano)), ":users": nv(int64(users)),
		":now": sv(time.Now().UTC().Format(time.RFC3339Nano)), ":owner": sv(owner),
	}
	if newBase > 0 {
		update += ", baseGen = :bg, baseChunks = :bc"
		values[":bg"], values[":bc"] = nv(newBase), nv(int64(chunks))
	}
	if !keepLease {
		update += " REMOVE leaseOwner, leaseUntil"
	}
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 metaKey(),
		UpdateExpression:    aws.String(update),
		ConditionExpression: aws.String("leaseOwner = :owner"),
		// "users" is not reserved, but naming it keeps the expression safe
		// if DynamoDB's reserved word list grows.
		ExpressionAttributeNames:  map[string]string{"#u": "users"},
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("poll: commit snapshot: %w", err)
	}
	return nil
}

// release gives the lease up without committing (a stopped or failed poll),
// or after a compaction's clean-up.
func (s *Snapshot) release(ctx context.Context, owner string) error {
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       metaKey(),
		UpdateExpression:          aws.String("REMOVE leaseOwner, leaseUntil"),
		ConditionExpression:       aws.String("leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": sv(owner)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("poll: release lease: %w", err)
	}
	return nil
}
