package state_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// noise returns n bytes that are not valid UTF-8 and not compressible,
// the same for the same seed.
func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// partition returns every item under pk, keyed by sk.
func (f *fixture) partition(t *testing.T, pk string) map[string]map[string]types.AttributeValue {
	t.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewQueryPaginator(f.client, &dynamodb.QueryInput{
		TableName:                 aws.String(f.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out[it["sk"].(*types.AttributeValueMemberS).Value] = it
		}
	}
	return out
}

func TestRejectedBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	const part = state.RejectedPartBytes
	escapes := bytes.Repeat([]byte("A\"\\\x00é"), (256<<10)/6)
	cases := []struct {
		name, event, message string
		body                 []byte
		wantSK               string
		wantParts            int
	}{
		{name: "0 bytes", event: "ev-empty", message: "m-0", body: nil, wantSK: "BODY#m-0"},
		{name: "1 byte", event: "ev-1", message: "m-1", body: []byte("x"), wantSK: "BODY#m-1"},
		{name: "no message id", event: "ev-nomsg", body: []byte("x"), wantSK: "BODY"},
		{name: "invalid UTF-8, small", event: "ev-bin", message: "m-2", body: []byte{0xff, 0xfe, 0x00, '{'}, wantSK: "BODY#m-2"},
		{name: "JSON escapes and NULs", event: "ev-esc", message: "m-3", body: escapes, wantSK: "BODY#m-3"},
		{name: "exactly one part", event: "ev-part", message: "m-4", body: noise(part, 4), wantSK: "BODY#m-4"},
		{name: "one part + 1 (384 KiB + 1)", event: "ev-part1", message: "m-5", body: noise(part+1, 5), wantSK: "BODY#m-5", wantParts: 2},
		{name: "two parts exactly", event: "ev-2part", message: "m-6", body: bytes.Repeat([]byte{'7'}, 2*part), wantSK: "BODY#m-6", wantParts: 2},
		{name: "1 MiB of binary", event: "ev-mib", message: "m-7", body: noise(state.MaxRejectedBodyBytes, 7), wantSK: "BODY#m-7", wantParts: 3},
		{name: "message id with the separator", event: "ev-sep", message: "m#00001#x", body: noise(part+10, 8), wantSK: "BODY#m#00001#x", wantParts: 2},
	}
	for _, tc := range cases {
		before := f.store.OpsByName()["PutItem"]
		ref, err := f.store.PutRejectedBody(ctx, tc.event, tc.message, tc.body, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ref != (state.ItemRef{Table: f.table, PK: "REJECTED#" + tc.event, SK: tc.wantSK}) {
			t.Errorf("%s: ref %+v", tc.name, ref)
		}
		// One write per part, plus the manifest.
		if puts := f.store.OpsByName()["PutItem"] - before; puts != int64(tc.wantParts+1) {
			t.Errorf("%s: %d writes, want %d", tc.name, puts, tc.wantParts+1)
		}
		before = f.store.OpsByName()["GetItem"]
		got, found, err := f.store.GetRejectedBody(ctx, tc.event, tc.message)
		if err != nil || !found || !bytes.Equal(got, tc.body) {
			t.Errorf("%s: read back %d bytes found=%v err=%v; want %d identical bytes", tc.name, len(got), found, err, len(tc.body))
		}
		if reads := f.store.OpsByName()["GetItem"] - before; reads != int64(tc.wantParts+1) {
			t.Errorf("%s: %d reads, want %d", tc.name, reads, tc.wantParts+1)
		}
		items := f.partition(t, ref.PK)
		if len(items) != tc.wantParts+1 {
			t.Errorf("%s: %d items under %s, want %d", tc.name, len(items), ref.PK, tc.wantParts+1)
		}
		wantTTL := fmt.Sprint(f.clock.Now().Add(state.DefaultRejectedTTL).Unix())
		for sk, item := range items {
			if ttl := item["ttl"].(*types.AttributeValueMemberN).Value; ttl != wantTTL {
				t.Errorf("%s: %s: ttl %s, want %s", tc.name, sk, ttl, wantTTL)
			}
		}
		man := items[ref.SK]
		sum := sha256.Sum256(tc.body)
		if man["sha256"].(*types.AttributeValueMemberS).Value != hex.EncodeToString(sum[:]) ||
			man["bytes"].(*types.AttributeValueMemberN).Value != fmt.Sprint(len(tc.body)) ||
			man["parts"].(*types.AttributeValueMemberN).Value != fmt.Sprint(tc.wantParts) {
			t.Errorf("%s: manifest %v", tc.name, man)
		}
	}
	if _, found, err := f.store.GetRejectedBody(ctx, "ev-mib", "other"); found || err != nil {
		t.Fatalf("another message's body: %v %v", found, err)
	}
}

// TestRejectedBodyRefused: input the store must refuse without writing.
func TestRejectedBodyRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	cases := []struct {
		name, event, message string
		body                 []byte
		want                 error
	}{
		{name: "1 MiB + 1", event: "ev-huge", message: "m", body: make([]byte, state.MaxRejectedBodyBytes+1), want: state.ErrBodyTooLarge},
		{name: "6 MB, a whole Lambda payload", event: "ev-huger", message: "m", body: make([]byte, 6<<20), want: state.ErrBodyTooLarge},
		{name: "no event id", event: "", message: "m", body: []byte("x")},
		{name: "event id too long for a key", event: strings.Repeat("e", 2000), message: "m", body: []byte("x")},
		{name: "message id too long for a key", event: "ev-long-msg", message: strings.Repeat("m", 1000), body: []byte("x")},
	}
	for _, tc := range cases {
		_, err := f.store.PutRejectedBody(ctx, tc.event, tc.message, tc.body, 0)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if tc.event != "" {
			if items := f.partition(t, "REJECTED#"+tc.event); len(items) != 0 {
				t.Errorf("%s: %d items written", tc.name, len(items))
			}
		}
	}
	if ops := f.store.OpsByName()["PutItem"]; ops != 0 {
		t.Errorf("%d writes for refused bodies", ops)
	}
}

// TestRejectedBodyRedelivery: the redelivery of one message writes the same
// items again; a hand-made replay with another body under the same message
// id switches to the new body whole.
func TestRejectedBodyRedelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	first := noise(state.RejectedPartBytes*2+5, 11)
	for range 2 {
		if _, err := f.store.PutRejectedBody(ctx, "ev-r", "m-r", first, 0); err != nil {
			t.Fatal(err)
		}
	}
	if items := f.partition(t, "REJECTED#ev-r"); len(items) != 4 {
		t.Fatalf("%d items after a redelivery, want 3 parts and the manifest", len(items))
	}
	if got, _, err := f.store.GetRejectedBody(ctx, "ev-r", "m-r"); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("after the redelivery: %d bytes, %v", len(got), err)
	}
	second := noise(state.RejectedPartBytes+1, 12)
	if _, err := f.store.PutRejectedBody(ctx, "ev-r", "m-r", second, 0); err != nil {
		t.Fatal(err)
	}
	if got, _, err := f.store.GetRejectedBody(ctx, "ev-r", "m-r"); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("after a replay with another body: %d bytes, %v", len(got), err)
	}
}

// failingDynamo is a proxy in front of dynalite that answers the failOn-th
// PutItem (1-based) with a non-retryable error instead of forwarding it: a
// write that never happened, as when the function is killed between writes.
func failingDynamo(t *testing.T, failOn int32) *dynamodb.Client {
	t.Helper()
	d := testenv.DynamoDB(t)
	target, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	var puts atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") && puts.Add(1) == failOn {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"injected failure"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return dynamodb.New(d.Client.Options(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// TestRejectedBodyFailureBetweenWrites: whichever write of a 1 MiB body
// fails, a reader finds nothing (never a part of the body), and the retry
// completes it.
func TestRejectedBodyFailureBetweenWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	body := noise(state.MaxRejectedBodyBytes, 21)
	old := noise(state.RejectedPartBytes*2, 22)
	for failOn := int32(1); failOn <= 4; failOn++ {
		t.Run(fmt.Sprintf("write %d of 4 fails", failOn), func(t *testing.T) {
			t.Parallel()
			d := testenv.DynamoDB(t)
			table := d.CreateTable(t)
			st := state.New(failingDynamo(t, failOn), table)
			if _, err := st.PutRejectedBody(ctx, "ev-f", "m-f", body, 0); err == nil {
				t.Fatal("the failed write was not reported")
			}
			healthy := state.New(d.Client, table)
			if got, found, err := healthy.GetRejectedBody(ctx, "ev-f", "m-f"); found || err != nil || got != nil {
				t.Fatalf("after the failure a reader found=%v (%d bytes) err=%v; want nothing", found, len(got), err)
			}
			if list, err := healthy.RejectedBodies(ctx, "ev-f"); err != nil || len(list) != 0 {
				t.Fatalf("listing after the failure: %v %v", list, err)
			}
			// The redelivery runs against a healthy table and completes it.
			if _, err := healthy.PutRejectedBody(ctx, "ev-f", "m-f", body, 0); err != nil {
				t.Fatal(err)
			}
			if got, found, err := healthy.GetRejectedBody(ctx, "ev-f", "m-f"); !found || err != nil || !bytes.Equal(got, body) {
				t.Fatalf("after the retry: found=%v %d bytes err=%v", found, len(got), err)
			}
		})
	}
	// A failure while replacing a body leaves the old one readable whole.
	t.Run("failure while a new body replaces an old one", func(t *testing.T) {
		t.Parallel()
		d := testenv.DynamoDB(t)
		table := d.CreateTable(t)
		healthy := state.New(d.Client, table)
		if _, err := healthy.PutRejectedBody(ctx, "ev-o", "m-o", old, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := state.New(failingDynamo(t, 3), table).PutRejectedBody(ctx, "ev-o", "m-o", body, 0); err == nil {
			t.Fatal("no error")
		}
		if got, _, err := healthy.GetRejectedBody(ctx, "ev-o", "m-o"); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("old body: %d bytes, %v", len(got), err)
		}
	})
}

// TestRejectedBodyMalformed: hand-edited or half-expired items are
// reported, never misread or returned in part.
func TestRejectedBodyMalformed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	body := noise(state.RejectedPartBytes*2+1, 31)
	ref, err := f.store.PutRejectedBody(ctx, "ev-m", "m-m", body, 0)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	partSK := func(i int) string { return fmt.Sprintf("PART#m-m#%s#%05d", digest[:16], i) }
	if item := f.rawGet(t, ref.PK, partSK(2)); item == nil {
		t.Fatalf("part 2 is not at %s", partSK(2))
	}

	// A part deleted ahead of its manifest (DynamoDB's TTL does not keep order).
	if _, err := f.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table),
		Key: map[string]types.AttributeValue{"pk": s(ref.PK), "sk": s(partSK(2))}}); err != nil {
		t.Fatal(err)
	}
	if got, found, err := f.store.GetRejectedBody(ctx, "ev-m", "m-m"); !errors.Is(err, state.ErrBodyIncomplete) || found || got != nil {
		t.Errorf("missing part: found=%v %d bytes err=%v", found, len(got), err)
	}
	// A part of another body in its place.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s(ref.PK), "sk": s(partSK(2)), "body": &types.AttributeValueMemberB{Value: body[:10]}, "sha256": s(strings.Repeat("0", 64))})
	if _, _, err := f.store.GetRejectedBody(ctx, "ev-m", "m-m"); !errors.Is(err, state.ErrBodyIncomplete) {
		t.Errorf("foreign part: %v", err)
	}
	// The right digest but the wrong bytes.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s(ref.PK), "sk": s(partSK(2)), "body": &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{1}, state.RejectedPartBytes)}, "sha256": s(digest)})
	if _, _, err := f.store.GetRejectedBody(ctx, "ev-m", "m-m"); !errors.Is(err, state.ErrBodyIncomplete) {
		t.Errorf("tampered part: %v", err)
	}

	for _, tc := range []struct {
		name string
		item map[string]types.AttributeValue
	}{
		{"string body", map[string]types.AttributeValue{"bytes": n("3"), "body": s("abc")}},
		{"no bytes", map[string]types.AttributeValue{"body": &types.AttributeValueMemberB{Value: []byte("abc")}}},
		{"length differs", map[string]types.AttributeValue{"bytes": n("5"), "body": &types.AttributeValueMemberB{Value: []byte("abc")}}},
		{"negative parts", map[string]types.AttributeValue{"bytes": n("5"), "parts": n("-1")}},
		{"more parts than bytes", map[string]types.AttributeValue{"bytes": n("5"), "parts": n("900"), "sha256": s(digest)}},
		{"bytes over the limit", map[string]types.AttributeValue{"bytes": n("99999999"), "parts": n("3"), "sha256": s(digest)}},
		{"short digest", map[string]types.AttributeValue{"bytes": n("400000"), "parts": n("2"), "sha256": s("abc")}},
		{"bytes not a number", map[string]types.AttributeValue{"bytes": s("many")}},
	} {
		item := tc.item
		item["pk"], item["sk"] = s("REJECTED#odd"), s("BODY#"+strings.ReplaceAll(tc.name, " ", "-"))
		f.rawPut(t, item)
		if _, _, err := f.store.GetRejectedBody(ctx, "odd", strings.ReplaceAll(tc.name, " ", "-")); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// The listing reports the bad ones next to a good one.
	good := []byte(`{"eventId":"odd"}`)
	if _, err := f.store.PutRejectedBody(ctx, "odd", "good", good, 0); err != nil {
		t.Fatal(err)
	}
	list, err := f.store.RejectedBodies(ctx, "odd")
	if err != nil {
		t.Fatal(err)
	}
	var ok, bad int
	for _, rb := range list {
		switch {
		case rb.Err == nil && bytes.Equal(rb.Body, good) && rb.MessageID == "good":
			ok++
		case rb.Err != nil && rb.Body == nil:
			bad++
		default:
			t.Errorf("listing entry %+v", rb)
		}
	}
	if ok != 1 || bad != 8 {
		t.Errorf("listing: %d good, %d bad; want 1 and 8", ok, bad)
	}
}

// TestRejectedBodyExpiryAndOldItems: a manifest past its ttl is absent; an
// item written before bodies were split (inline, no parts or digest) reads.
func TestRejectedBodyExpiryAndOldItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	body := noise(state.RejectedPartBytes+1, 41)
	if _, err := f.store.PutRejectedBody(ctx, "ev-x", "m-x", body, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	if _, found, err := f.store.GetRejectedBody(ctx, "ev-x", "m-x"); found || err != nil {
		t.Errorf("expired: found=%v err=%v", found, err)
	}
	if list, err := f.store.RejectedBodies(ctx, "ev-x"); len(list) != 0 || err != nil {
		t.Errorf("expired listing: %v %v", list, err)
	}
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("REJECTED#ev-old"), "sk": s("BODY#m-old"), "eventId": s("ev-old"), "messageId": s("m-old"),
		"bytes": n("5"), "body": &types.AttributeValueMemberB{Value: []byte("hello")}, "storedAt": s("2026-11-01T00:00:00Z")})
	list, err := f.store.RejectedBodies(ctx, "ev-old")
	if err != nil || len(list) != 1 || string(list[0].Body) != "hello" || list[0].MessageID != "m-old" || list[0].Parts != 0 ||
		list[0].Ref != (state.ItemRef{Table: f.table, PK: "REJECTED#ev-old", SK: "BODY#m-old"}) {
		t.Errorf("old item: %+v %v", list, err)
	}
	if _, err := f.store.RejectedBodies(ctx, ""); err == nil {
		t.Error("empty event id listed")
	}
}

func TestRejectedBodyUnreachable(t *testing.T) {
	t.Parallel()
	st := state.New(testenv.DynamoDB(t).Client, "no-such-table")
	if _, err := st.PutRejectedBody(context.Background(), "e", "m", []byte("x"), time.Hour); err == nil {
		t.Fatal("no error")
	}
	if _, err := st.RejectedBodies(context.Background(), "e"); err == nil {
		t.Fatal("no error")
	}
}

// BenchmarkRejectedBody1MiB stores and reads back a 1 MiB body (SQS's
// largest) on dynalite: the requests per body and their cost.
func BenchmarkRejectedBody1MiB(b *testing.B) {
	d := testenv.DynamoDB(b)
	st := state.New(d.Client, d.CreateTable(b))
	body := noise(state.MaxRejectedBodyBytes, 51)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("ev-bench-%d", i)
		if _, err := st.PutRejectedBody(ctx, id, "m", body, 0); err != nil {
			b.Fatal(err)
		}
		if got, _, err := st.GetRejectedBody(ctx, id, "m"); err != nil || len(got) != len(body) {
			b.Fatalf("%d bytes, %v", len(got), err)
		}
	}
	ops := st.OpsByName()
	b.ReportMetric(float64(ops["PutItem"])/float64(b.N), "writes/MiB")
	b.ReportMetric(float64(ops["GetItem"])/float64(b.N), "reads/MiB")
}
