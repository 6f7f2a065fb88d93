package poll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A listing that the Lambda deadline cuts short is staged: the users listed
// so far, compressed like a base, plus a cursor (the offset of the next page
// and the last few user keys before it). The next run loads the staged users
// and lists on from one page before the cursor, so that a tenant whose
// listing takes longer than one invocation completes over several runs.
// Nothing is published and the snapshot is untouched until a listing is
// complete. docs/poller.md, "Resuming a listing".
const (
	// stageHeadPK/stageHeadSK is the staging header; its chunks live under
	// stagePKPrefix + run id. The prefix is apart from POLL#META so that a
	// staging write never touches the snapshot's header.
	stageHeadPK   = "POLL#STAGE"
	stageHeadSK   = "HEAD"
	stagePKPrefix = "POLL#STAGE#"
	// StageTTL is how long staged items live (the table's TTL deletes them):
	// a staged listing older than this is of no use to anyone.
	StageTTL = 24 * time.Hour
	// stageBoundKeys is how many keys before the cursor are kept to find the
	// cursor again when users were added or removed before it in between.
	stageBoundKeys = 8
	attrTTL        = "ttl"
)

// stage is a staged, unfinished listing.
type stage struct {
	Run string
	// Generation is the snapshot generation the listing is compared against;
	// a stage of another generation is stale.
	Generation int64
	Chunks     int
	// Offset is how many users the listing consumed: the next page starts there.
	Offset int
	// Bound are the last keys listed before Offset, oldest first.
	Bound []string
	// ListedAt is when the first run of this listing started.
	ListedAt            time.Time
	Invalid, Duplicates int
	// present: a header exists; unusable says why it cannot be resumed.
	present  bool
	unusable string
}

// loadStage reads the staging header. A missing header is the zero stage; a
// header it cannot read is reported as stale (the listing starts over).
func (s *Snapshot) loadStage(ctx context.Context) (stage, error) {
	s.reads.Add(1)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"pk": sv(stageHeadPK), "sk": sv(stageHeadSK)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return stage{}, fmt.Errorf("poll: read staged listing: %w", err)
	}
	if out.Item == nil {
		return stage{}, nil
	}
	st := stage{present: true}
	bad := func(why string) (stage, error) {
		return stage{present: true, unusable: why}, nil
	}
	str := func(a string) string {
		v, _ := out.Item[a].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	num := func(a string) (int64, bool) {
		v, _ := out.Item[a].(*types.AttributeValueMemberN)
		if v == nil {
			return 0, false
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		return n, err == nil && n >= 0
	}
	if v, ok := num(attrVersion); !ok || v != itemVersion {
		return bad("unknown format")
	}
	var ok [5]bool
	var chunks, offset, invalid, dups int64
	st.Generation, ok[0] = num("gen")
	chunks, ok[1] = num("chunks")
	offset, ok[2] = num("offset")
	invalid, ok[3] = num("invalid")
	dups, ok[4] = num("dups")
	for _, o := range ok {
		if !o {
			return bad("malformed numbers")
		}
	}
	st.Chunks, st.Offset, st.Invalid, st.Duplicates = int(chunks), int(offset), int(invalid), int(dups)
	st.Run = str("run")
	if st.Run == "" || strings.ContainsAny(st.Run, "#\x00") || st.Offset <= 0 || st.Chunks <= 0 {
		return bad("no run, offset or chunks")
	}
	if b := str("bound"); b != "" {
		st.Bound = strings.Split(b, lineSep)
	}
	if len(st.Bound) == 0 {
		return bad("no boundary keys")
	}
	if st.ListedAt, err = time.Parse(time.RFC3339Nano, str("listedAt")); err != nil {
		return bad("malformed listedAt")
	}
	return st, nil
}

// loadStaged reads the staged users (key -> encoded canonical form).
func (s *Snapshot) loadStaged(ctx context.Context, st stage) (map[string]string, error) {
	listed := make(map[string]string, st.Offset)
	for i := range st.Chunks {
		lines, err := s.readChunkAt(ctx, stagePKPrefix+st.Run, i)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if l.e.known != int(NumFields) {
				return nil, fmt.Errorf("%w: staged chunk %d holds an unreadable form", errBaseDamaged, i)
			}
			listed[l.key] = l.e.enc
		}
	}
	return listed, nil
}

// saveStage writes the listed users and the cursor. The header is written
// last, so a reader sees either the previous stage or this complete one; an
// overlapping run's stage of an older generation never replaces a newer one.
func (s *Snapshot) saveStage(ctx context.Context, st stage, listed map[string]string, now time.Time) error {
	ttl := nv(now.Add(StageTTL).Unix())
	users := make(map[string]entry, len(listed))
	for k, enc := range listed {
		users[k] = entry{enc: enc, known: int(NumFields)}
	}
	chunks, err := s.writeChunks(ctx, stagePKPrefix+st.Run, users, map[string]types.AttributeValue{attrTTL: ttl})
	if err != nil {
		return fmt.Errorf("poll: stage the listing: %w", err)
	}
	s.writes.Add(1)
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"pk": sv(stageHeadPK), "sk": sv(stageHeadSK), attrVersion: nv(itemVersion),
			"run": sv(st.Run), "gen": nv(st.Generation), "chunks": nv(int64(chunks)), "offset": nv(int64(st.Offset)),
			"bound": sv(strings.Join(st.Bound, lineSep)), "listedAt": sv(st.ListedAt.UTC().Format(time.RFC3339Nano)),
			"invalid": nv(int64(st.Invalid)), "dups": nv(int64(st.Duplicates)), attrTTL: ttl,
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR gen <= :gen"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":gen": nv(st.Generation)},
	})
	if isConditionFailed(err) {
		return nil // a newer generation's listing is staged; ours is stale anyway
	}
	if err != nil {
		return fmt.Errorf("poll: stage the listing: %w", err)
	}
	return nil
}

// dropStage deletes the staging header of run (its chunks expire with the
// TTL). Another run's newer header is left alone.
func (s *Snapshot) dropStage(ctx context.Context, run string) error {
	s.writes.Add(1)
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"pk": sv(stageHeadPK), "sk": sv(stageHeadSK)},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR run = :run"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":run": sv(run)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("poll: drop the staged listing: %w", err)
	}
	return nil
}

func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// errBoundaryLost: the resumed listing did not find the cursor again within
// two pages (more users removed before it than a page holds, or the
// boundary users themselves removed); the listing starts over.
var errBoundaryLost = errors.New("poll: the staged listing's boundary was not found again")
