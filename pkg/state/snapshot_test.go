package state_test

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Hand-written items in the poller's formats (docs/poller.md), as every
// version so far has written them: a deployed table keeps its snapshot
// across upgrades, so these bytes must read, and be written, unchanged.
const (
	formA = "a\x1fAnn"
	formB = "b\x1fBob"
	formC = "c\x1fCid"
)

func deflate(t *testing.T, lines string) []byte {
	t.Helper()
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	if _, err := w.Write([]byte(lines)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func inflate(t *testing.T, item map[string]types.AttributeValue) string {
	t.Helper()
	z, ok := item["z"].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("chunk without z: %v", item)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z.Value)))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// attrs is an item without its compressed chunk, for comparison.
func attrs(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := maps.Clone(item)
	delete(out, "z")
	return out
}

func b(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// TestSnapshotReadsTheStoredFormat: a header, a base of two chunks, and
// delta items of each kind, written by hand in the stored format, read back
// as the poller expects: a delta wins over the base, a removal record of a
// user the base does not have leaves only the record, and an item of an
// unknown format is unreadable, not an error.
func TestSnapshotReadsTheStoredFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, state.WithQueryLimit(1)) // every delta shard query pages
	ctx := context.Background()
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("POLL#META"), "sk": s("META"), "gen": n("7"), "baseGen": n("5"),
		"baseChunks": n("2"), "listedAt": s("2026-11-20T14:00:00.5Z"), "users": n("3"), "committedAt": s("2026-11-20T14:01:00Z"),
		"leaseOwner": s("req-9"), "leaseUntil": n("1795190400000")})
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("POLL#BASE#5"), "sk": s("00000"), "v": n("1"),
		"z": &types.AttributeValueMemberB{Value: deflate(t, "ann\x1e\x1e"+formA+"\nbob\x1ed\x1e"+formB+"\n")}})
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("POLL#BASE#5"), "sk": s("00001"), "v": n("1"),
		"z": &types.AttributeValueMemberB{Value: deflate(t, "cid\x1e\x1e"+formC+"\n")}})
	delta := func(key string, item map[string]types.AttributeValue) {
		item["pk"], item["sk"] = s(state.SnapshotDeltaPK(key)), s(key)
		f.rawPut(t, item)
	}
	delta("ann", map[string]types.AttributeValue{"v": n("1"), "c": s(formA + "x"), "d": b(true)})
	delta("bob", map[string]types.AttributeValue{"v": n("1"), "x": b(true)})
	delta("dan", map[string]types.AttributeValue{"v": n("1"), "x": b(true)})
	delta("eve", map[string]types.AttributeValue{"v": n("2"), "c": s("from the future")})
	delta("fay", map[string]types.AttributeValue{"v": n("1"), "c": s("f\x1fFay")})

	snap := state.NewSnapshot(f.store, 4)
	m, err := snap.LoadMeta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := state.SnapshotMeta{Generation: 7, BaseGeneration: 5, BaseChunks: 2, ListedAt: time.Date(2026, 11, 20, 14, 0, 0, 5e8, time.UTC),
		Users: 3, LeaseOwner: "req-9", LeaseUntil: time.UnixMilli(1795190400000)}
	if !reflect.DeepEqual(m, wantMeta) {
		t.Fatalf("header\n got %+v\nwant %+v", m, wantMeta)
	}
	users, err := snap.LoadUsers(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]state.SnapshotUser{
		"ann": {Form: formA + "x", Drift: true, InBase: true, Delta: true, DeltaForm: formA + "x"},
		"bob": {Form: formB, Drift: true, Removed: true, InBase: true, Delta: true},
		"cid": {Form: formC, InBase: true},
		"dan": {Removed: true, Delta: true},
		"eve": {Unreadable: true, Delta: true},
		"fay": {Form: "f\x1fFay", Delta: true, DeltaForm: "f\x1fFay"},
	}
	if !reflect.DeepEqual(users, want) {
		t.Fatalf("users\n got %+v\nwant %+v", users, want)
	}
}

// TestSnapshotWritesTheStoredFormat: what the snapshot writes is exactly
// the stored format, item by item and attribute by attribute.
func TestSnapshotWritesTheStoredFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	snap := state.NewSnapshot(f.store, 4)
	until := f.clock.Now().Add(15 * time.Minute)
	if err := snap.Acquire(ctx, 0, "req-1", f.clock.Now(), until); err != nil {
		t.Fatal(err)
	}
	chunks, err := snap.WriteBase(ctx, 1, map[string]state.SnapshotUser{
		"bob": {Form: formB, Drift: true}, "ann": {Form: formA}, "gone": {Removed: true}, "odd": {Unreadable: true},
	})
	if err != nil || chunks != 1 {
		t.Fatalf("base: %d chunks, %v", chunks, err)
	}
	listedAt := time.Date(2026, 11, 20, 14, 59, 0, 123, time.UTC)
	if err := snap.Commit(ctx, state.SnapshotCommit{Owner: "req-1", Generation: 1, ListedAt: listedAt, Users: 2, BaseGeneration: 1, BaseChunks: 1}); err != nil {
		t.Fatal(err)
	}
	base := f.rawGet(t, "POLL#BASE#1", "00000")
	if got := inflate(t, base); got != "ann\x1e\x1e"+formA+"\nbob\x1ed\x1e"+formB+"\n" {
		t.Fatalf("base lines %q", got)
	}
	if got, want := attrs(base), map[string]types.AttributeValue{"pk": s("POLL#BASE#1"), "sk": s("00000"), "v": n("1")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("base chunk %v", got)
	}
	wantHeader := map[string]types.AttributeValue{"pk": s("POLL#META"), "sk": s("META"), "gen": n("1"), "baseGen": n("1"), "baseChunks": n("1"),
		"listedAt": s("2026-11-20T14:59:00.000000123Z"), "users": n("2"), "committedAt": s("2026-11-20T15:00:00Z")}
	if got := f.rawGet(t, "POLL#META", "META"); !reflect.DeepEqual(got, wantHeader) {
		t.Fatalf("header\n got %v\nwant %v", got, wantHeader)
	}

	m, _ := snap.LoadMeta(ctx)
	users, err := snap.LoadUsers(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := users["ann"], users["bob"]
	writes := []state.DeltaWrite{
		{Key: "ann", Old: &ann, Form: formA + "x", Drift: true}, // a change
		{Key: "bob", Old: &bob},                                 // a removal of a base user
		{Key: "cid", Form: formC},                               // a new user
	}
	if conflicts, err := snap.WriteDeltas(ctx, writes); err != nil || conflicts != 0 {
		t.Fatalf("deltas: %d conflicts, %v", conflicts, err)
	}
	for key, want := range map[string]map[string]types.AttributeValue{
		"ann": {"v": n("1"), "c": s(formA + "x"), "d": b(true)},
		"bob": {"v": n("1"), "x": b(true)},
		"cid": {"v": n("1"), "c": s(formC)},
	} {
		want["pk"], want["sk"] = s(state.SnapshotDeltaPK(key)), s(key)
		if got := f.rawGet(t, state.SnapshotDeltaPK(key), key); !reflect.DeepEqual(got, want) {
			t.Errorf("delta of %s\n got %v\nwant %v", key, got, want)
		}
	}
	// Stored is what LoadUsers now reads.
	users, err = snap.LoadUsers(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range writes {
		if got, _ := w.Stored(); !reflect.DeepEqual(got, users[w.Key]) {
			t.Errorf("%s: Stored %+v, LoadUsers %+v", w.Key, got, users[w.Key])
		}
	}
	// A second poll that read the same snapshot loses every race.
	if conflicts, err := snap.WriteDeltas(ctx, writes); err != nil || conflicts != 3 {
		t.Fatalf("stale writes: %d conflicts, %v; want 3 conflicts", conflicts, err)
	}
	if got := snap.ItemWrites(); got != 1+1+1+3+3 {
		t.Fatalf("%d item writes, want 9 (lease, base, commit, 3 deltas, 3 lost deltas)", got)
	}
}

// TestStagedListingFormat: a staged listing is written in its stored format
// with its TTL and read back; a header the poller cannot use is reported
// unusable, not as an error, and an older generation never replaces a newer
// one.
func TestStagedListingFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	snap := state.NewSnapshot(f.store, 4)
	st := state.StagedListing{Run: "r1", Generation: 3, Offset: 400, Bound: []string{"ann", "bob"},
		ListedAt: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), Invalid: 1, Duplicates: 2}
	if err := snap.SaveStage(ctx, st, map[string]string{"bob": formB, "ann": formA}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ttl := n("1795273200") // 2026-11-21T15:00:00Z: the clock plus StageTTL
	wantHead := map[string]types.AttributeValue{"pk": s("POLL#STAGE"), "sk": s("HEAD"), "v": n("1"), "run": s("r1"), "gen": n("3"),
		"chunks": n("1"), "offset": n("400"), "bound": s("ann\x1ebob"), "listedAt": s("2026-11-20T14:00:00Z"),
		"invalid": n("1"), "dups": n("2"), "ttl": ttl}
	if got := f.rawGet(t, "POLL#STAGE", "HEAD"); !reflect.DeepEqual(got, wantHead) {
		t.Fatalf("staging header\n got %v\nwant %v", got, wantHead)
	}
	chunk := f.rawGet(t, state.StagePK("r1"), "00000")
	if inflate(t, chunk) != "ann\x1e\x1e"+formA+"\nbob\x1e\x1e"+formB+"\n" || !reflect.DeepEqual(chunk["ttl"], ttl) {
		t.Fatalf("staged chunk %v", chunk)
	}
	got, err := snap.LoadStage(ctx)
	st.Chunks, st.Present = 1, true
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("stage\n got %+v %v\nwant %+v", got, err, st)
	}
	users, err := snap.LoadStagedUsers(ctx, got)
	if err != nil || !reflect.DeepEqual(users, map[string]string{"ann": formA, "bob": formB}) {
		t.Fatalf("staged users %v %v", users, err)
	}
	older := st
	older.Run, older.Generation = "r0", 2
	if err := snap.SaveStage(ctx, older, map[string]string{"ann": formA}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := snap.LoadStage(ctx); got.Run != "r1" {
		t.Fatalf("an older generation's stage replaced the newer one: %+v", got)
	}
	if err := snap.DropStage(ctx, "r0"); err != nil {
		t.Fatal(err)
	}
	if got, _ := snap.LoadStage(ctx); !got.Present {
		t.Fatal("dropping another run's stage deleted this one")
	}
	if err := snap.DropStage(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := snap.LoadStage(ctx); got.Present {
		t.Fatal("stage still there after DropStage")
	}
	if _, err := snap.LoadStagedUsers(ctx, state.StagedListing{Run: "gone", Chunks: 1}); !errors.Is(err, state.ErrSnapshotDamaged) {
		t.Fatalf("expired chunks: %v", err)
	}
}

// TestMalformedPollerItems: hostile or hand-edited items give a clear
// error (the header) or are set aside (a stage, a base chunk), never a
// panic or a silently wrong snapshot.
func TestMalformedPollerItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	header := func(kv ...any) map[string]types.AttributeValue {
		item := map[string]types.AttributeValue{"pk": s("POLL#META"), "sk": s("META")}
		for i := 0; i < len(kv); i += 2 {
			item[kv[i].(string)] = kv[i+1].(types.AttributeValue)
		}
		return item
	}
	for name, item := range map[string]map[string]types.AttributeValue{
		"generation not a number":  header("gen", s("7")),
		"negative generation":      header("gen", n("-1")),
		"huge generation":          header("gen", n("99999999999999999999999")),
		"listedAt not a time":      header("gen", n("1"), "listedAt", s("yesterday")),
		"lease owner not a string": header("gen", n("1"), "leaseOwner", n("5")),
	} {
		t.Run("header "+name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.rawPut(t, item)
			_, err := state.NewSnapshot(f.store, 1).LoadMeta(ctx)
			if !errors.Is(err, state.ErrMalformedItem) || !strings.Contains(err.Error(), "POLL#META") {
				t.Fatalf("error %v, want a malformed-item error naming the header", err)
			}
		})
	}
	stage := func(kv ...any) map[string]types.AttributeValue {
		item := map[string]types.AttributeValue{"pk": s("POLL#STAGE"), "sk": s("HEAD"), "v": n("1"), "run": s("r1"), "gen": n("1"),
			"chunks": n("1"), "offset": n("200"), "bound": s("ann"), "listedAt": s("2026-11-20T14:00:00Z"), "invalid": n("0"), "dups": n("0")}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(item, kv[i].(string))
				continue
			}
			item[kv[i].(string)] = kv[i+1].(types.AttributeValue)
		}
		return item
	}
	for name, tc := range map[string]struct {
		item map[string]types.AttributeValue
		why  string
	}{
		"future version":  {stage("v", n("2")), "unknown format"},
		"no version":      {stage("v", nil), "unknown format"},
		"offset missing":  {stage("offset", nil), "malformed numbers"},
		"negative count":  {stage("invalid", n("-3")), "malformed numbers"},
		"zero offset":     {stage("offset", n("0")), "no run, offset or chunks"},
		"run with a hash": {stage("run", s("r#1")), "no run, offset or chunks"},
		"no bound":        {stage("bound", s("")), "no boundary keys"},
		"bad listedAt":    {stage("listedAt", s("soon")), "malformed listedAt"},
	} {
		t.Run("stage "+name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.rawPut(t, tc.item)
			st, err := state.NewSnapshot(f.store, 1).LoadStage(ctx)
			if err != nil || !st.Present || st.Unusable != tc.why {
				t.Fatalf("stage %+v, %v; want present and unusable: %s", st, err, tc.why)
			}
		})
	}
	for name, chunk := range map[string]map[string]types.AttributeValue{
		"not compressed":   {"v": n("1"), "z": &types.AttributeValueMemberB{Value: []byte("plain text")}},
		"no separators":    {"v": n("1"), "z": &types.AttributeValueMemberB{Value: deflate(t, "just a line\n")}},
		"text, not binary": {"v": n("1"), "z": s("abc")},
	} {
		t.Run("base chunk "+name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			chunk["pk"], chunk["sk"] = s("POLL#BASE#1"), s("00000")
			f.rawPut(t, chunk)
			_, err := state.NewSnapshot(f.store, 1).LoadUsers(ctx, state.SnapshotMeta{Generation: 1, BaseGeneration: 1, BaseChunks: 1})
			if !errors.Is(err, state.ErrSnapshotDamaged) {
				t.Fatalf("error %v, want ErrSnapshotDamaged", err)
			}
		})
	}
}
