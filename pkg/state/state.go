// Package state is the DynamoDB state table: one table, string keys pk (hash)
// and sk (range), TTL attribute ttl (epoch seconds). The item types and their
// keys are listed in docs/ARCHITECTURE.md; docs/platform.md gives the access
// patterns and their cost.
//
// Every method is one or two DynamoDB calls; Store.Ops counts them so that
// benchmarks can report state-table operations per event.
package state

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses; the real
// *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	// BatchWriteItem writes the poller's snapshot chunks (snapshot.go).
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var (
	// ErrConflict means a conditional write lost: another delivery changed the
	// item first. Re-read and decide again (or let SQS retry the message).
	ErrConflict = errors.New("state: conditional write conflict")
	// ErrInProgress means another invocation holds a live claim on the event.
	// It is not a duplicate yet (that one may still crash); treat it as
	// retryable so SQS delivers the message again after the lease.
	ErrInProgress = errors.New("state: event is being processed by another invocation")
	// ErrMalformedItem wraps errors for items that cannot be decoded (written
	// by another version, or edited by hand). The message names the item and
	// the attribute.
	ErrMalformedItem = errors.New("state: malformed item")
	// ErrNotFound is returned by CompleteEvent when there is no claim to
	// complete.
	ErrNotFound = errors.New("state: item not found")
)

// Default retention of the item types, per docs/ARCHITECTURE.md.
const (
	DefaultEventTTL   = 14 * 24 * time.Hour
	DefaultWriteTTL   = 7 * 24 * time.Hour
	DefaultWebhookTTL = 7 * 24 * time.Hour
	// DefaultClaimLease is how long an in-progress claim blocks other
	// deliveries of the same event. It is the longest a Lambda can run, so
	// that a live invocation is never run twice, while a crashed one blocks
	// the event only until SQS redelivers it after the lease.
	DefaultClaimLease = 15 * time.Minute
)

// Attribute names shared by all item types.
const (
	AttrPK  = "pk"
	AttrSK  = "sk"
	AttrTTL = "ttl"
)

// Store reads and writes the state table. It is safe for concurrent use.
type Store struct {
	db         DynamoDBAPI
	table      string
	lease      time.Duration
	writeTTL   time.Duration
	queryLimit int32
	now        func() time.Time

	ops    atomic.Int64
	mu     sync.Mutex
	byName map[string]int64
}

// Option configures a Store.
type Option func(*Store)

// WithClaimLease sets how long an in-progress event claim is honoured (see
// ClaimEvent). Default DefaultClaimLease.
func WithClaimLease(d time.Duration) Option { return func(s *Store) { s.lease = d } }

// WithWriteTTL sets how long write-log items are kept. Default DefaultWriteTTL.
func WithWriteTTL(d time.Duration) Option { return func(s *Store) { s.writeTTL = d } }

// WithQueryLimit caps the items per Query page (DynamoDB's Limit). Zero means
// DynamoDB's own 1 MB pages; tests use small values to force pagination.
func WithQueryLimit(n int32) Option { return func(s *Store) { s.queryLimit = n } }

// WithClock replaces time.Now (tests of leases and expiry).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store for table.
func New(client DynamoDBAPI, table string, opts ...Option) *Store {
	s := &Store{
		table:    table,
		lease:    DefaultClaimLease,
		writeTTL: DefaultWriteTTL,
		now:      time.Now,
		byName:   map[string]int64{},
	}
	s.db = countingDB{db: client, count: s.count}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Ops returns the number of DynamoDB requests this store has made (every
// page of a Query counts once).
func (s *Store) Ops() int64 { return s.ops.Load() }

// OpsByName returns the request count per operation name (GetItem, PutItem,
// UpdateItem, DeleteItem, Query, BatchWriteItem).
func (s *Store) OpsByName() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.byName))
	for k, v := range s.byName {
		out[k] = v
	}
	return out
}

func (s *Store) count(op string) {
	s.ops.Add(1)
	s.mu.Lock()
	s.byName[op]++
	s.mu.Unlock()
}

// countingDB counts every request before passing it on: one per call, so
// one per page of a Query and one per attempt of a BatchWriteItem. New
// wraps the client in it, so that no request goes uncounted; it embeds
// nothing, so a method added to DynamoDBAPI does not compile until it is
// counted here too.
type countingDB struct {
	db    DynamoDBAPI
	count func(op string)
}

func (c countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.db.GetItem(ctx, in, optFns...)
}

func (c countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.db.PutItem(ctx, in, optFns...)
}

func (c countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.db.UpdateItem(ctx, in, optFns...)
}

func (c countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.db.DeleteItem(ctx, in, optFns...)
}

func (c countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.db.Query(ctx, in, optFns...)
}

func (c countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.count("BatchWriteItem")
	return c.db.BatchWriteItem(ctx, in, optFns...)
}

// ---- attribute helpers ----

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// strMapAttr is m as a map attribute of strings (itemReader.strMap reads it).
func strMapAttr(m map[string]string) types.AttributeValue {
	av := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av[k] = str(v)
	}
	return &types.AttributeValueMemberM{Value: av}
}

// expired reports whether an item whose ttl attribute (epoch seconds) is
// ttl has expired at now: DynamoDB deletes such items in its own time, so
// readers treat them as absent. 0 (no ttl) never expires.
func expired(ttl int64, now time.Time) bool { return ttl > 0 && ttl < now.Unix() }

// getItem reads one item with a strongly consistent read; an absent item
// is an empty map.
func (s *Store) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// put writes item unconditionally.
func (s *Store) put(ctx context.Context, item map[string]types.AttributeValue) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	return err
}

// del deletes one item unconditionally; deleting an absent item is not an
// error.
func (s *Store) del(ctx context.Context, pk, sk string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(pk, sk)})
	return err
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

// itemReader decodes attributes of one item and remembers the first problem,
// so that decoders read like a list of fields.
type itemReader struct {
	item map[string]types.AttributeValue
	what string
	err  error
}

func (r *itemReader) fail(attr, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: attribute %q: %s", ErrMalformedItem, r.what, attr, fmt.Sprintf(format, args...))
	}
}

func (r *itemReader) str(attr string, required bool) string {
	av, ok := r.item[attr]
	if !ok || av == nil {
		if required {
			r.fail(attr, "missing")
		}
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(attr, "want a string, got %T", av)
		return ""
	}
	return s.Value
}

func (r *itemReader) int(attr string, required bool) int64 {
	av, ok := r.item[attr]
	if !ok || av == nil {
		if required {
			r.fail(attr, "missing")
		}
		return 0
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(attr, "want a number, got %T", av)
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(attr, "not an integer: %q", n.Value)
	}
	return v
}

func (r *itemReader) time(attr string, required bool) time.Time {
	s := r.str(attr, required)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(attr, "not an RFC 3339 time: %q", s)
	}
	return t
}

func (r *itemReader) strMap(attr string) map[string]string {
	av, ok := r.item[attr]
	if !ok || av == nil {
		return nil
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		r.fail(attr, "want a map, got %T", av)
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			r.fail(attr, "value of %q: want a string, got %T", k, v)
			return nil
		}
		out[k] = s.Value
	}
	return out
}

// sortableTime formats t in UTC with a fixed nine-digit fraction: RFC 3339,
// and unlike time.RFC3339Nano it sorts lexically in time order, which the
// write log's sort keys rely on.
const sortableTime = "2006-01-02T15:04:05.000000000Z07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(sortableTime) }

// query runs a paginated Query and yields the items one by one.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, yield func(map[string]types.AttributeValue) bool) error {
	if s.queryLimit > 0 {
		in.Limit = aws.Int32(s.queryLimit)
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("state: query %s: %w", s.table, err)
		}
		for _, item := range out.Items {
			if !yield(item) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// partition yields the items of partition pk decoded by decode (see
// queryItems), read eventually consistent.
func partition[T any](ctx context.Context, s *Store, pk string, decode func(map[string]types.AttributeValue) (v T, keep bool, err error)) iter.Seq2[T, error] {
	return queryItems(ctx, s, s.pkQuery(pk, false), decode)
}

// pkQuery is the Query of every item of partition pk; consistent asks for a
// strongly consistent read.
func (s *Store) pkQuery(pk string, consistent bool) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
	}
	if consistent {
		in.ConsistentRead = aws.Bool(true)
	}
	return in
}

// queryItems yields the items of a query decoded by decode, page by page
// (one Query a page); decode's keep=false leaves an item out. It stops at
// the first error, which it yields.
func queryItems[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput, decode func(map[string]types.AttributeValue) (v T, keep bool, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		stopped := false
		err := s.query(ctx, in, func(item map[string]types.AttributeValue) bool {
			v, keep, err := decode(item)
			switch {
			case err != nil:
				var zero T
				yield(zero, err)
			case !keep:
				return true
			case yield(v, nil):
				return true
			}
			stopped = true
			return false
		})
		if err != nil && !stopped {
			var zero T
			yield(zero, err)
		}
	}
}

func sortWrites(ws []Write) {
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].At.Before(ws[j].At) })
}
