package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// A link's login is indexed with the link, found case-insensitively, and
// an unchanged login costs no second index write.
func TestLoginIndexFollowsTheLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, found, err := f.store.LoginOwner(ctx, "Alice.Nguyen"); err != nil || found {
		t.Fatalf("empty index: found=%v err=%v", found, err)
	}
	e := state.Employee{EmployeeID: "E1001", UserID: "alice.nguyen", UserName: "Alice.Nguyen", Status: state.StatusActive}
	if err := f.store.PutEmployee(ctx, e, 0); err != nil {
		t.Fatal(err)
	}
	owner, found, err := f.store.LoginOwner(ctx, "ALICE.NGUYEN")
	if err != nil || !found || owner != (state.LoginLink{Login: "alice.nguyen", EmployeeID: "E1001", UserID: "alice.nguyen"}) {
		t.Fatalf("owner = %+v found=%v err=%v", owner, found, err)
	}

	// The next event of the same employee keeps the link it read: one
	// write, the link's own.
	cur, _, _ := f.store.GetEmployee(ctx, "E1001")
	if cur.IndexedLogin != "alice.nguyen" {
		t.Fatalf("indexedLogin = %q", cur.IndexedLogin)
	}
	before := f.store.OpsByName()["PutItem"]
	cur.LastEventID = "ev-2"
	if err := f.store.PutEmployee(ctx, cur, cur.Version); err != nil {
		t.Fatal(err)
	}
	if puts := f.store.OpsByName()["PutItem"] - before; puts != 1 {
		t.Fatalf("%d PutItem calls for an unchanged login, want 1", puts)
	}

	// An account re-created under another login moves the entry.
	cur, _, _ = f.store.GetEmployee(ctx, "E1001")
	cur.UserID, cur.UserName = "anguyen", "anguyen"
	if err := f.store.PutEmployee(ctx, cur, cur.Version); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := f.store.LoginOwner(ctx, "alice.nguyen"); found {
		t.Fatal("the replaced login is still indexed")
	}
	if owner, found, _ := f.store.LoginOwner(ctx, "anguyen"); !found || owner.EmployeeID != "E1001" {
		t.Fatalf("new login: %+v %v", owner, found)
	}
}

// A link that loses the version race leaves its index entry (written
// first) but not itself: an entry may be stale, never missing.
func TestLoginIndexWrittenBeforeTheLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.store.PutEmployee(ctx, state.Employee{EmployeeID: "E1", Status: state.StatusActive}, 0); err != nil {
		t.Fatal(err)
	}
	err := f.store.PutEmployee(ctx, state.Employee{EmployeeID: "E1", UserName: "jdoe", Status: state.StatusActive}, 7)
	if !errors.Is(err, state.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, found, _ := f.store.LoginOwner(ctx, "jdoe"); !found {
		t.Fatal("the entry of a lost write is missing: it is written before the link")
	}
	if cur, _, _ := f.store.GetEmployee(ctx, "E1"); cur.UserName != "" {
		t.Fatalf("the losing link was stored: %+v", cur)
	}
}

// LoginLinks reads every shard, page by page.
func TestLoginLinksReadsEveryShard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithQueryLimit(3))
	want := map[string]string{}
	for i := range 60 {
		id, login := fmt.Sprintf("E%03d", i), fmt.Sprintf("user%03d", i)
		want[login] = id
		if err := f.store.PutEmployee(ctx, state.Employee{EmployeeID: id, UserID: login, UserName: login, Status: state.StatusActive}, 0); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for l, err := range f.store.LoginLinks(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got[l.Login] = l.EmployeeID
	}
	if len(got) != len(want) {
		t.Fatalf("%d links, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s -> %q, want %q", k, got[k], v)
		}
	}
	// 60 entries over 16 shards in pages of 3: some shard needs a second page.
	if q := f.store.OpsByName()["Query"]; q <= state.LoginIndexShards {
		t.Fatalf("%d queries: pages of 3 over %d shards need more", q, state.LoginIndexShards)
	}
}

// A hand-edited entry is an error naming the item, never a silent link.
func TestLoginIndexMalformedItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.rawPut(t, map[string]types.AttributeValue{"pk": s(state.LoginIndexPK("jdoe")), "sk": s("jdoe")})
	if _, _, err := f.store.LoginOwner(ctx, "jdoe"); !errors.Is(err, state.ErrMalformedItem) {
		t.Fatalf("owner: err = %v, want ErrMalformedItem", err)
	}
	for _, err := range f.store.LoginLinks(ctx) {
		if !errors.Is(err, state.ErrMalformedItem) {
			t.Fatalf("links: err = %v, want ErrMalformedItem", err)
		}
	}
	if _, _, err := f.store.LoginOwner(ctx, "  "); err == nil {
		t.Fatal("an empty login is not a question")
	}
}

func TestLoginIndexUnreachableTable(t *testing.T) {
	t.Parallel()
	st := state.New(testenv.DynamoDB(t).Client, "no-such-table")
	if _, _, err := st.LoginOwner(context.Background(), "jdoe"); err == nil {
		t.Fatal("owner: no error")
	}
	n := 0
	for _, err := range st.LoginLinks(context.Background()) {
		n++
		if err == nil {
			t.Fatal("links: no error")
		}
	}
	if n != 1 {
		t.Fatalf("%d values yielded, want the one error", n)
	}
}
