package state

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// The login index (pk LINK#<shard>, sk the lower-case login id) answers
// "which employee is this Encompass login linked to?": one GetItem for an
// explicit link's conflict check (CONTRACTS section 1, link_conflict), and
// one Query per shard for reconciliation, which needs every link at once.
// PutEmployee writes it, before the link, whenever a link's login is not
// yet indexed; the link remembers the login it indexed (indexedLogin), so
// that the steady state costs no extra write.
const (
	loginIndexPKPrefix = "LINK#"
	// LoginIndexShards spreads the index over partition keys, so that a day
	// of hires never concentrates on one partition and reconciliation
	// reads the shards in parallel.
	LoginIndexShards = 16
)

// LoginIndexPK is the partition key of login's index item.
func LoginIndexPK(login string) string {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(login)))
	return loginShardPK(int(h.Sum32() % LoginIndexShards))
}

func loginShardPK(shard int) string { return fmt.Sprintf("%s%02x", loginIndexPKPrefix, shard) }

// LoginLink is one entry of the login index: the login and the employee
// linked to it when the entry was written. An entry can outlive its link
// (a crash between two writes, an account re-created under another login):
// when it matters, confirm it against the employee's link (GetEmployee).
type LoginLink struct {
	// Login is the lower-case login id.
	Login      string
	EmployeeID string
	UserID     string
}

// LoginOwner returns the index entry of login (compared case-insensitively);
// found is false when no employee was ever linked to it.
func (s *Store) LoginOwner(ctx context.Context, login string) (LoginLink, bool, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	if login == "" {
		return LoginLink{}, false, fmt.Errorf("state: login owner: empty login")
	}
	item, err := s.getItem(ctx, LoginIndexPK(login), login)
	if err != nil {
		return LoginLink{}, false, fmt.Errorf("state: login owner of %s: %w", login, err)
	}
	if len(item) == 0 {
		return LoginLink{}, false, nil
	}
	l, err := decodeLoginLink(item)
	return l, err == nil, err
}

// LoginLinks yields every entry of the login index, reading the shards in
// parallel (one Query per page of each shard). It stops at the first error,
// which it yields.
func (s *Store) LoginLinks(ctx context.Context) iter.Seq2[LoginLink, error] {
	return func(yield func(LoginLink, error) bool) {
		shards := make([][]LoginLink, LoginIndexShards)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(LoginIndexShards)
		for shard := range LoginIndexShards {
			g.Go(func() error {
				for l, err := range partition(gctx, s, loginShardPK(shard), func(item map[string]types.AttributeValue) (LoginLink, bool, error) {
					l, err := decodeLoginLink(item)
					return l, true, err
				}) {
					if err != nil {
						return err
					}
					shards[shard] = append(shards[shard], l)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			yield(LoginLink{}, err)
			return
		}
		for _, links := range shards {
			for _, l := range links {
				if !yield(l, nil) {
					return
				}
			}
		}
	}
}

func decodeLoginLink(item map[string]types.AttributeValue) (LoginLink, error) {
	r := &itemReader{item: item, what: "login index item " + sortKeyOf(item)}
	l := LoginLink{Login: r.str(AttrSK, true), EmployeeID: r.str("employeeId", true), UserID: r.str("userId", false)}
	return l, r.err
}

// IndexLogin writes the login index entry of login for e (the employee id,
// and the user id when known). PutEmployee writes it before a link whose
// login changed; a caller that wrote it already, beside an earlier step,
// sets the link's IndexedLogin so that PutEmployee does not write it again.
// An entry left by a link that was never stored is stale, which readers
// resolve (LoginLink).
func (s *Store) IndexLogin(ctx context.Context, login string, e Employee) error {
	return s.indexLogin(ctx, strings.ToLower(login), e)
}

// indexLogin writes the index entry of login, already lower-case, for e
// (unconditionally: the entry is a pointer to the link, which stays the
// truth).
func (s *Store) indexLogin(ctx context.Context, login string, e Employee) error {
	item := key(LoginIndexPK(login), login)
	item["employeeId"] = str(e.EmployeeID)
	if e.UserID != "" {
		item["userId"] = str(e.UserID)
	}
	if err := s.put(ctx, item); err != nil {
		return fmt.Errorf("state: index login %s of %s: %w", login, e.EmployeeID, err)
	}
	return nil
}

// unindexLogin removes the entry of a login the employee no longer has,
// only while it still names that employee. It reports nothing: a failure
// leaves a stale entry, which readers resolve (LoginLink), and the link
// itself is already stored.
func (s *Store) unindexLogin(ctx context.Context, login, employeeID string) {
	_, _ = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(LoginIndexPK(login), login),
		ConditionExpression:       aws.String("employeeId = :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": str(employeeID)},
	})
}
