package state

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// A base, and a staged listing, is a run of chunk items (sk 00000, 00001,
// ...) whose attribute z holds raw-DEFLATE lines key␞flags␞form, sorted by
// key; flags is "d" when the user's drift was reported.
const (
	attrChunk = "z"
	// maxChunkRaw bounds the uncompressed lines of one chunk, so that even
	// incompressible data stays under DynamoDB's 400 KB item limit.
	maxChunkRaw = 300 << 10
	// chunkLineSep separates a line's parts; pkg/poll keeps control
	// characters out of keys and forms, so no escaping is needed.
	chunkLineSep = "\x1e"
)

func chunkSK(i int) string { return fmt.Sprintf("%05d", i) }

// chunkLine is one user in a chunk.
type chunkLine struct {
	key   string
	drift bool
	form  string
}

// readChunk reads and decodes chunk i under pk. A missing or unreadable
// chunk is ErrSnapshotDamaged.
func (s *Snapshot) readChunk(ctx context.Context, pk string, i int) ([]chunkLine, error) {
	item, err := s.store.getItem(ctx, pk, chunkSK(i))
	if err != nil {
		return nil, fmt.Errorf("state: read snapshot chunk %d of %s: %w", i, pk, err)
	}
	if item == nil {
		return nil, fmt.Errorf("%w: chunk %d of %s is missing", ErrSnapshotDamaged, i, pk)
	}
	v, _ := item[attrVersion].(*types.AttributeValueMemberN)
	z, _ := item[attrChunk].(*types.AttributeValueMemberB)
	if v == nil || v.Value != strconv.Itoa(snapshotItemVersion) || z == nil {
		return nil, fmt.Errorf("%w: chunk %d of %s is in an unknown format", ErrSnapshotDamaged, i, pk)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z.Value)), 4*maxChunkRaw))
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrSnapshotDamaged, i, pk, err)
	}
	var lines []chunkLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), maxChunkRaw+1)
	for sc.Scan() {
		key, rest, ok1 := strings.Cut(sc.Text(), chunkLineSep)
		flags, form, ok2 := strings.Cut(rest, chunkLineSep)
		if !ok1 || !ok2 || key == "" {
			return nil, fmt.Errorf("%w: chunk %d of %s has a malformed line", ErrSnapshotDamaged, i, pk)
		}
		lines = append(lines, chunkLine{key: key, drift: flags == "d", form: form})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrSnapshotDamaged, i, pk, err)
	}
	return lines, nil
}

// writeChunks writes lines, sorted by key, as compressed chunk items under
// pk, each with the extra attributes, and returns the number of chunks (at
// least one, so that an empty snapshot is a base too).
func (s *Snapshot) writeChunks(ctx context.Context, pk string, lines []chunkLine, extra map[string]types.AttributeValue) (int, error) {
	slices.SortFunc(lines, func(a, b chunkLine) int { return strings.Compare(a.key, b.key) })
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
	for _, l := range lines {
		flag := ""
		if l.drift {
			flag = "d"
		}
		line := l.key + chunkLineSep + flag + chunkLineSep + l.form + "\n"
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
		item := key(pk, chunkSK(i))
		item[attrVersion] = num(snapshotItemVersion)
		item[attrChunk] = &types.AttributeValueMemberB{Value: z}
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
		out, err := s.store.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.store.table: pending},
		})
		if err != nil {
			return err
		}
		pending = out.UnprocessedItems[s.store.table]
	}
	return nil
}
