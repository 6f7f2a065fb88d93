package poll

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
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

// Keys of the poller's items in the state table (docs/poller.md).
const (
	metaPK        = "POLL#META"
	metaSK        = "META"
	userPKPrefix  = "POLL#USER#"
	NumShards     = 16
	itemVersion   = 1
	attrCanonical = "c"
	attrVersion   = "v"
	attrDrift     = "d"
)

// ErrLeaseHeld means another poll is applying changes (or committed a newer
// generation since this one read the snapshot); this poll must not apply.
var ErrLeaseHeld = errors.New("poll: another poll holds the lease or committed first")

// shardOf spreads users over NumShards partitions so that reads run in
// parallel and writes never concentrate on one partition key.
func shardOf(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprintf("%s%02x", userPKPrefix, h.Sum32()%NumShards)
}

// Meta is the snapshot's header item: the generation and listing time of the
// last committed poll, and the lease of a poll that is applying changes.
type Meta struct {
	// Generation counts committed polls; 0 means no baseline yet.
	Generation int64
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
// fields it knows, and whether drift was already reported.
type entry struct {
	enc   string
	drift bool
	// known < NumFields for items of an older version; 0 for an item that
	// could not be read at all (it is re-recorded silently).
	known int
}

// Snapshot reads and writes the poller's items. It counts the items it
// writes, so tests and benchmarks can assert "writes equal changes".
type Snapshot struct {
	db          DynamoDBAPI
	table       string
	concurrency int
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
	return &Snapshot{db: db, table: table, concurrency: max(concurrency, 1), log: log}
}

// ItemWrites returns how many items (user and meta) this Snapshot has written
// or deleted.
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

// LoadMeta reads the header item; a missing item is the zero Meta.
func (s *Snapshot) LoadMeta(ctx context.Context) (Meta, error) {
	s.reads.Add(1)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"pk": sv(metaPK), "sk": sv(metaSK)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Meta{}, fmt.Errorf("poll: read snapshot header: %w", err)
	}
	var m Meta
	if out.Item == nil {
		return m, nil
	}
	if v, ok := out.Item["gen"].(*types.AttributeValueMemberN); ok {
		if m.Generation, err = strconv.ParseInt(v.Value, 10, 64); err != nil || m.Generation < 0 {
			return Meta{}, fmt.Errorf("poll: snapshot header: malformed gen %q", v.Value)
		}
	}
	if v, ok := out.Item["users"].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.Atoi(v.Value)
		m.Users = n
	}
	if v, ok := out.Item["listedAt"].(*types.AttributeValueMemberS); ok {
		if m.ListedAt, err = time.Parse(time.RFC3339Nano, v.Value); err != nil {
			return Meta{}, fmt.Errorf("poll: snapshot header: malformed listedAt %q", v.Value)
		}
	}
	if v, ok := out.Item["leaseOwner"].(*types.AttributeValueMemberS); ok {
		m.LeaseOwner = v.Value
	}
	if v, ok := out.Item["leaseUntil"].(*types.AttributeValueMemberN); ok {
		ms, _ := strconv.ParseInt(v.Value, 10, 64)
		m.LeaseUntil = time.UnixMilli(ms)
	}
	return m, nil
}

// LoadUsers reads every user item, the shards in parallel, with strongly
// consistent reads so that a poll never diffs against a stale copy of the
// previous poll's writes.
func (s *Snapshot) LoadUsers(ctx context.Context) (map[string]entry, error) {
	var mu sync.Mutex
	users := make(map[string]entry)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for shard := range NumShards {
		pk := fmt.Sprintf("%s%02x", userPKPrefix, shard)
		g.Go(func() error {
			local := make(map[string]entry)
			in := &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv(pk)},
				ConsistentRead:            aws.Bool(true),
			}
			for {
				s.reads.Add(1)
				out, err := s.db.Query(ctx, in)
				if err != nil {
					return fmt.Errorf("poll: read snapshot %s: %w", pk, err)
				}
				for _, item := range out.Items {
					key, e := s.decodeItem(item)
					if key != "" {
						local[key] = e
					}
				}
				if len(out.LastEvaluatedKey) == 0 {
					break
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
			mu.Lock()
			for k, v := range local {
				users[k] = v
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return users, nil
}

// decodeItem reads one user item. An item this version cannot read (another
// format version, a wrong type, hand-edited) is kept with known = 0: its user
// is re-recorded silently instead of being reported as created, because a
// format problem is not a change in Encompass.
func (s *Snapshot) decodeItem(item map[string]types.AttributeValue) (string, entry) {
	sk, ok := item["sk"].(*types.AttributeValueMemberS)
	if !ok || sk.Value == "" {
		s.log.Warn("poll: snapshot item without a sort key ignored")
		return "", entry{}
	}
	var e entry
	if d, ok := item[attrDrift].(*types.AttributeValueMemberBOOL); ok {
		e.drift = d.Value
	}
	v, vok := item[attrVersion].(*types.AttributeValueMemberN)
	c, cok := item[attrCanonical].(*types.AttributeValueMemberS)
	if !vok || v.Value != strconv.Itoa(itemVersion) || !cok {
		s.log.Warn("poll: snapshot item in an unknown format; the user is re-recorded without an event", "user", sk.Value)
		return sk.Value, e
	}
	if _, known, ok := decodeCanonical(c.Value); ok {
		e.enc, e.known = c.Value, known
	} else {
		s.log.Warn("poll: snapshot item with an unreadable canonical form; the user is re-recorded without an event", "user", sk.Value)
	}
	return sk.Value, e
}

// op is one planned write to a user item.
type op struct {
	key string
	// old is the stored item the write replaces; nil for a new user.
	old *entry
	// new is the item to store; nil deletes the user.
	new *entry
}

// apply runs the writes. New users go through BatchWriteItem (the lease
// already excludes other pollers, and there is no previous value to guard);
// replacements and deletions are conditional on the stored value being the
// one this poll diffed against, so a poll that lost a race can never
// overwrite a newer snapshot. It returns how many writes lost such a race.
func (s *Snapshot) apply(ctx context.Context, ops []op) (conflicts int, err error) {
	var fresh []types.WriteRequest
	var conflictN atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, o := range ops {
		if o.old == nil && o.new != nil {
			fresh = append(fresh, types.WriteRequest{PutRequest: &types.PutRequest{Item: s.item(o.key, *o.new)}})
			continue
		}
		g.Go(func() error {
			lost, err := s.conditional(gctx, o)
			if lost {
				conflictN.Add(1)
			}
			return err
		})
	}
	for len(fresh) > 0 {
		n := min(len(fresh), 25)
		batch := fresh[:n]
		fresh = fresh[n:]
		g.Go(func() error { return s.batchPut(gctx, batch) })
	}
	err = g.Wait()
	return int(conflictN.Load()), err
}

func (s *Snapshot) item(key string, e entry) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":          sv(shardOf(key)),
		"sk":          sv(key),
		attrVersion:   nv(itemVersion),
		attrCanonical: sv(e.enc),
	}
	if e.drift {
		it[attrDrift] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return it
}

// conditional writes one replacement or deletion guarded by the old value.
func (s *Snapshot) conditional(ctx context.Context, o op) (lost bool, err error) {
	// An item this version could not read is replaced without a guard (the
	// lease still excludes other pollers); every other write is guarded by
	// the value this poll diffed against.
	var cond *string
	var values map[string]types.AttributeValue
	if o.old.enc != "" {
		cond = aws.String(attrCanonical + " = :old")
		values = map[string]types.AttributeValue{":old": sv(o.old.enc)}
	}
	s.writes.Add(1)
	if o.new == nil {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.table),
			Key:                       map[string]types.AttributeValue{"pk": sv(shardOf(o.key)), "sk": sv(o.key)},
			ConditionExpression:       cond,
			ExpressionAttributeValues: values,
		})
	} else {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.table),
			Item:                      s.item(o.key, *o.new),
			ConditionExpression:       cond,
			ExpressionAttributeValues: values,
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

// batchPut writes up to 25 new items, re-sending unprocessed ones with
// back-off.
func (s *Snapshot) batchPut(ctx context.Context, batch []types.WriteRequest) error {
	s.writes.Add(int64(len(batch)))
	pending := batch
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return fmt.Errorf("poll: write snapshot: %d items still unprocessed after %d attempts", len(pending), attempt)
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
			return fmt.Errorf("poll: write snapshot: %w", err)
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
		cond += "attribute_not_exists(gen)"
	} else {
		cond += "gen = :gen"
		values[":gen"] = nv(gen)
	}
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"pk": sv(metaPK), "sk": sv(metaSK)},
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

// commit records generation gen+1 and releases the lease, only if owner
// still holds it.
func (s *Snapshot) commit(ctx context.Context, owner string, next int64, listedAt time.Time, users int) error {
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{"pk": sv(metaPK), "sk": sv(metaSK)},
		UpdateExpression:    aws.String("SET gen = :gen, listedAt = :at, #u = :users, committedAt = :now REMOVE leaseOwner, leaseUntil"),
		ConditionExpression: aws.String("leaseOwner = :owner"),
		// "users" is not reserved, but naming it keeps the expression safe
		// if DynamoDB's reserved word list grows.
		ExpressionAttributeNames: map[string]string{"#u": "users"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": nv(next), ":at": sv(listedAt.UTC().Format(time.RFC3339Nano)), ":users": nv(int64(users)),
			":now": sv(time.Now().UTC().Format(time.RFC3339Nano)), ":owner": sv(owner),
		},
	})
	if isConditionFailed(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("poll: commit snapshot: %w", err)
	}
	return nil
}

// release gives the lease up without committing (a stopped or failed poll).
func (s *Snapshot) release(ctx context.Context, owner string) error {
	s.writes.Add(1)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"pk": sv(metaPK), "sk": sv(metaSK)},
		UpdateExpression:          aws.String("REMOVE leaseOwner, leaseUntil"),
		ConditionExpression:       aws.String("leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": sv(owner)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("poll: release lease: %w", err)
	}
	return nil
}
