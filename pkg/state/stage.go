package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A listing that the Lambda deadline cuts short is staged: the users listed
// so far, compressed like a base, plus a cursor. The next run loads them
// and lists on from the cursor (docs/poller.md, "Resuming a listing").
const (
	// stageHeadPK/stageHeadSK is the staging header; its chunks live under
	// stagePKPrefix + run id. The prefix is apart from POLL#META so that a
	// staging write never touches the snapshot's header.
	stageHeadPK   = "POLL#STAGE"
	stageHeadSK   = "HEAD"
	stagePKPrefix = "POLL#STAGE#"
	// StageTTL is how long staged items live (the table's TTL deletes
	// them): a staged listing older than this is of no use to anyone.
	StageTTL = 24 * time.Hour
)

// StagePK is the partition key of the chunks of staged listing run.
func StagePK(run string) string { return stagePKPrefix + run }

// StagedListing is the header of a staged, unfinished listing.
type StagedListing struct {
	Run string
	// Generation is the snapshot generation the listing is compared
	// against; a stage of another generation is stale.
	Generation int64
	Chunks     int
	// Offset is how many users the listing went through: the next page
	// starts there.
	Offset int
	// Bound are the last user keys listed before Offset, oldest first: they
	// find the cursor again when users were added or removed before it.
	Bound []string
	// ListedAt is when the first run of this listing started.
	ListedAt            time.Time
	Invalid, Duplicates int
	// Present: a header exists. Unusable says why it cannot be taken up
	// ("" when it can).
	Present  bool
	Unusable string
}

// NewStageRun returns a fresh run id for SaveStage.
func NewStageRun() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LoadStage reads the staging header. A missing header is the zero
// StagedListing; a header it cannot read is returned with Unusable set (the
// listing then starts over): a damaged stage costs a listing, not a poll.
func (s *Snapshot) LoadStage(ctx context.Context) (StagedListing, error) {
	item, err := s.store.getItem(ctx, stageHeadPK, stageHeadSK)
	if err != nil {
		return StagedListing{}, fmt.Errorf("state: read staged listing: %w", err)
	}
	if item == nil {
		return StagedListing{}, nil
	}
	bad := func(why string) (StagedListing, error) {
		return StagedListing{Present: true, Unusable: why}, nil
	}
	r := itemReader{item: item, what: "staged listing " + stageHeadPK}
	if v := r.int(attrVersion, true); r.err != nil || v != snapshotItemVersion {
		return bad("unknown format")
	}
	st := StagedListing{Present: true}
	st.Generation = r.nonNegative("gen", true)
	st.Chunks = int(r.nonNegative("chunks", true))
	st.Offset = int(r.nonNegative("offset", true))
	st.Invalid = int(r.nonNegative("invalid", true))
	st.Duplicates = int(r.nonNegative("dups", true))
	if r.err != nil {
		return bad("malformed numbers")
	}
	st.Run = r.str("run", false)
	if st.Run == "" || strings.ContainsAny(st.Run, "#\x00") || st.Offset <= 0 || st.Chunks <= 0 {
		return bad("no run, offset or chunks")
	}
	if b := r.str("bound", false); b != "" {
		st.Bound = strings.Split(b, chunkLineSep)
	}
	if len(st.Bound) == 0 {
		return bad("no boundary keys")
	}
	if st.ListedAt = r.time("listedAt", true); r.err != nil {
		return bad("malformed listedAt")
	}
	return st, nil
}

// LoadStagedUsers reads the users of a staged listing (key -> form). A
// missing or unreadable chunk (expired by the TTL, say) is
// ErrSnapshotDamaged.
func (s *Snapshot) LoadStagedUsers(ctx context.Context, st StagedListing) (map[string]string, error) {
	listed := make(map[string]string, st.Offset)
	for i := range st.Chunks {
		lines, err := s.readChunk(ctx, StagePK(st.Run), i)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			listed[l.key] = l.form
		}
	}
	return listed, nil
}

// SaveStage writes the listed users (key -> form) and the header of st. The
// header is written last, so a reader sees either the previous stage or
// this complete one; a stage of an older generation never replaces a newer
// one. Every item expires StageTTL after now.
func (s *Snapshot) SaveStage(ctx context.Context, st StagedListing, listed map[string]string, now time.Time) error {
	ttl := num(now.Add(StageTTL).Unix())
	lines := make([]chunkLine, 0, len(listed))
	for k, form := range listed {
		lines = append(lines, chunkLine{key: k, form: form})
	}
	chunks, err := s.writeChunks(ctx, StagePK(st.Run), lines, map[string]types.AttributeValue{AttrTTL: ttl})
	if err != nil {
		return fmt.Errorf("state: stage the listing: %w", err)
	}
	item := map[string]types.AttributeValue{
		AttrPK: str(stageHeadPK), AttrSK: str(stageHeadSK), attrVersion: num(snapshotItemVersion),
		"run": str(st.Run), "gen": num(st.Generation), "chunks": num(int64(chunks)), "offset": num(int64(st.Offset)),
		"bound": str(strings.Join(st.Bound, chunkLineSep)), "listedAt": str(st.ListedAt.UTC().Format(time.RFC3339Nano)),
		"invalid": num(int64(st.Invalid)), "dups": num(int64(st.Duplicates)), AttrTTL: ttl,
	}
	s.writes.Add(1)
	_, err = s.store.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.store.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR gen <= :gen"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":gen": num(st.Generation)},
	})
	if IsConditionFailed(err) {
		return nil // a newer generation's listing is staged; ours is stale anyway
	}
	if err != nil {
		return fmt.Errorf("state: stage the listing: %w", err)
	}
	return nil
}

// DropStage deletes the staging header of run (its chunks expire with the
// TTL). Another run's newer header is left alone.
func (s *Snapshot) DropStage(ctx context.Context, run string) error {
	s.writes.Add(1)
	_, err := s.store.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.store.table),
		Key:                       key(stageHeadPK, stageHeadSK),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR run = :run"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":run": str(run)},
	})
	if err != nil && !IsConditionFailed(err) {
		return fmt.Errorf("state: drop the staged listing: %w", err)
	}
	return nil
}
