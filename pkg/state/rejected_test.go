package state_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestRejectedBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	full := bytes.Repeat([]byte("A\"\\\x00é"), (256<<10)/6)
	full = append(full, bytes.Repeat([]byte("z"), 256<<10-len(full))...)
	cases := []struct {
		name, event, message string
		body                 []byte
		wantSK               string
		wantErr              bool
	}{
		{name: "256 KiB, any bytes", event: "ev-big", message: "m-1", body: full, wantSK: "BODY#m-1"},
		{name: "invalid UTF-8", event: "ev-bin", message: "m-2", body: []byte{0xff, 0xfe, 0x00, '{'}, wantSK: "BODY#m-2"},
		{name: "no message id", event: "ev-nomsg", body: []byte("x"), wantSK: "BODY"},
		{name: "empty body", event: "ev-empty", message: "m-3", body: nil, wantSK: "BODY#m-3"},
		{name: "the most an item holds", event: "ev-max", message: "m-6", body: bytes.Repeat([]byte{7}, state.MaxRejectedBodyBytes), wantSK: "BODY#m-6"},
		{name: "over the limit", event: "ev-huge", message: "m-4", body: make([]byte, state.MaxRejectedBodyBytes+1), wantErr: true},
		{name: "no event id", event: "", message: "m-5", body: []byte("x"), wantErr: true},
	}
	for _, tc := range cases {
		ref, err := f.store.PutRejectedBody(ctx, tc.event, tc.message, tc.body, 0)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ref != (state.ItemRef{Table: f.table, PK: "REJECTED#" + tc.event, SK: tc.wantSK}) {
			t.Errorf("%s: ref %+v", tc.name, ref)
		}
		got, found, err := f.store.GetRejectedBody(ctx, tc.event, tc.message)
		if err != nil || !found || !bytes.Equal(got, tc.body) {
			t.Errorf("%s: read back %d bytes found=%v err=%v; want %d identical bytes", tc.name, len(got), found, err, len(tc.body))
		}
		item := f.rawGet(t, ref.PK, ref.SK)
		if ttl := item["ttl"].(*types.AttributeValueMemberN).Value; ttl != fmt.Sprint(f.clock.Now().Add(state.DefaultRejectedTTL).Unix()) {
			t.Errorf("%s: ttl %s", tc.name, ttl)
		}
	}
	if _, found, err := f.store.GetRejectedBody(ctx, "ev-big", "other"); found || err != nil {
		t.Fatalf("another message's body: %v %v", found, err)
	}
	// Malformed items are reported, not misread.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("REJECTED#odd"), "sk": s("BODY#m"), "bytes": n("5"), "body": s("abc")})
	if _, _, err := f.store.GetRejectedBody(ctx, "odd", "m"); err == nil {
		t.Fatal("string body accepted")
	}
}

func TestRejectedBodyUnreachable(t *testing.T) {
	t.Parallel()
	st := state.New(testenv.DynamoDB(t).Client, "no-such-table")
	if _, err := st.PutRejectedBody(context.Background(), "e", "m", []byte("x"), time.Hour); err == nil {
		t.Fatal("no error")
	}
}
