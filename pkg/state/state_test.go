package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	store  *state.Store
	client *dynamodb.Client
	table  string
	clock  *testenv.Clock
}

func newFixture(t *testing.T, opts ...state.Option) *fixture {
	t.Helper()
	d := testenv.DynamoDB(t)
	table := d.CreateTable(t)
	c := testenv.NewClock(time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC))
	opts = append([]state.Option{state.WithClock(c.Now)}, opts...)
	return &fixture{store: state.New(d.Client, table, opts...), client: d.Client, table: table, clock: c}
}

func (f *fixture) rawGet(t *testing.T, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(f.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func (f *fixture) rawPut(t *testing.T, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := f.client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestEmployeeRoundTripAndVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, found, err := f.store.GetEmployee(ctx, "E1"); err != nil || found {
		t.Fatalf("empty table: found=%v err=%v", found, err)
	}
	occurred := time.Date(2026, 11, 20, 15, 4, 5, 123456789, time.UTC)
	e := state.Employee{
		EmployeeID: "E1", UserID: "jdoe", GlobalUserID: "g-1", UserName: "jdoe",
		LastOccurredAt: occurred, LastEventID: "ev1", Status: state.StatusActive, DDA: "enabled",
	}
	if err := f.store.PutEmployee(ctx, e, 0); err != nil {
		t.Fatal(err)
	}
	got, found, err := f.store.GetEmployee(ctx, "E1")
	if err != nil || !found {
		t.Fatalf("get: found=%v err=%v", found, err)
	}
	e.Version = 1
	e.UpdatedAt = f.clock.Now()
	e.IndexedLogin = "jdoe" // the login index holds the link's login
	if !got.LastOccurredAt.Equal(occurred) || !got.UpdatedAt.Equal(e.UpdatedAt) {
		t.Fatalf("times: got %v / %v", got.LastOccurredAt, got.UpdatedAt)
	}
	got.LastOccurredAt, got.UpdatedAt, e.LastOccurredAt, e.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != e {
		t.Fatalf("got %+v\nwant %+v", got, e)
	}

	// Creating again, or updating from a stale version, conflicts.
	for _, expected := range []int64{0, 2, 7} {
		err := f.store.PutEmployee(ctx, e, expected)
		if !errors.Is(err, state.ErrConflict) {
			t.Errorf("expected version %d: err = %v, want ErrConflict", expected, err)
		}
	}
	e.Status = state.StatusTerminated
	if err := f.store.PutEmployee(ctx, e, 1); err != nil {
		t.Fatal(err)
	}
	got, _, _ = f.store.GetEmployee(ctx, "E1")
	if got.Version != 2 || got.Status != state.StatusTerminated {
		t.Fatalf("after update: %+v", got)
	}
}

func TestPutEmployeeRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		e       state.Employee
		version int64
	}{
		"empty id":         {state.Employee{Status: state.StatusActive}, 0},
		"unknown status":   {state.Employee{EmployeeID: "E1", Status: "gone"}, 0},
		"empty status":     {state.Employee{EmployeeID: "E1"}, 0},
		"negative version": {state.Employee{EmployeeID: "E1", Status: state.StatusActive}, -1},
		"unknown dda":      {state.Employee{EmployeeID: "E1", Status: state.StatusActive, DDA: "maybe"}, 0},
	} {
		if err := f.store.PutEmployee(ctx, tc.e, tc.version); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if f.store.Ops() != 0 {
		t.Errorf("invalid input reached DynamoDB: %d ops", f.store.Ops())
	}
}

// Two (or more) deliveries racing for the same employee: exactly one wins
// each round, the rest see ErrConflict.
func TestPutEmployeeConcurrentExactlyOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for round, expected := range []int64{0, 1, 2} {
		const racers = 6
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := f.store.PutEmployee(ctx, state.Employee{
					EmployeeID: "E-race", Status: state.StatusActive, LastEventID: fmt.Sprintf("r%d-%d", round, i),
				}, expected)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, state.ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != racers-1 {
			t.Fatalf("round %d: %d wins, %d conflicts", round, wins.Load(), conflicts.Load())
		}
	}
}

func TestGetEmployeeMalformedItems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	good := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk": s("EMP#X"), "sk": s("PROFILE"), "employeeId": s("X"), "status": s("active"),
			"version": n("3"), "lastOccurredAt": s("2026-11-20T15:04:05Z"),
		}
	}
	tests := []struct {
		name   string
		change func(map[string]types.AttributeValue)
		want   string
	}{
		{"missing version (older writer)", func(m map[string]types.AttributeValue) { delete(m, "version") }, `"version": missing`},
		{"version as string", func(m map[string]types.AttributeValue) { m["version"] = s("3") }, `"version": want a number`},
		{"version fractional", func(m map[string]types.AttributeValue) { m["version"] = n("1.5") }, `"version": not an integer`},
		{"missing status", func(m map[string]types.AttributeValue) { delete(m, "status") }, `"status": missing`},
		{"unknown status", func(m map[string]types.AttributeValue) { m["status"] = s("ACTIVE") }, `unknown status "ACTIVE"`},
		{"bad time", func(m map[string]types.AttributeValue) { m["lastOccurredAt"] = s("yesterday") }, `"lastOccurredAt": not an RFC 3339 time`},
		{"missing employeeId", func(m map[string]types.AttributeValue) { delete(m, "employeeId") }, `"employeeId": missing`},
		{"zero version", func(m map[string]types.AttributeValue) { m["version"] = n("0") }, `"version": must be at least 1`},
	}
	for _, tc := range tests {
		item := good()
		tc.change(item)
		f.rawPut(t, item)
		_, _, err := f.store.GetEmployee(ctx, "X")
		if !errors.Is(err, state.ErrMalformedItem) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "EMP#X") {
			t.Errorf("%s: err = %v, want ErrMalformedItem naming EMP#X and %s", tc.name, err, tc.want)
		}
	}
	f.rawPut(t, good())
	if e, _, err := f.store.GetEmployee(ctx, "X"); err != nil || e.Version != 3 {
		t.Fatalf("good item: %+v %v", e, err)
	}
}

func TestClaimEventLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithClaimLease(time.Minute))
	claimed, err := claimEvent(f.store, ctx, "ev-1", "E1", "", 14*24*time.Hour)
	if err != nil || !claimed {
		t.Fatalf("first claim: %v %v", claimed, err)
	}
	// TTL attribute is epoch seconds, now + ttl.
	item := f.rawGet(t, "EVENT#ev-1", "EVENT")
	wantTTL := fmt.Sprint(f.clock.Now().Add(14 * 24 * time.Hour).Unix())
	if got := item["ttl"].(*types.AttributeValueMemberN).Value; got != wantTTL {
		t.Fatalf("ttl = %s, want %s", got, wantTTL)
	}

	// While in progress, a second delivery is neither a duplicate nor free.
	claimed, err = claimEvent(f.store, ctx, "ev-1", "E1", "", time.Hour)
	if claimed || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("claim while in progress: %v %v", claimed, err)
	}
	if err := f.store.CompleteClaim(ctx, state.EventKey("ev-1"), "User Provisioned"); err != nil {
		t.Fatal(err)
	}
	// Completed: duplicate, forever (until ttl), even after the lease.
	f.clock.Advance(2 * time.Minute)
	claimed, err = claimEvent(f.store, ctx, "ev-1", "E1", "", time.Hour)
	if claimed || err != nil {
		t.Fatalf("claim after completion: %v %v", claimed, err)
	}
	// Releasing a completed event does nothing.
	if err := f.store.ReleaseClaim(ctx, state.EventKey("ev-1")); err != nil {
		t.Fatal(err)
	}
	c, found, err := f.store.GetClaim(ctx, state.EventKey("ev-1"))
	if err != nil || !found || c.Status != state.ClaimDone || c.Outcome != "User Provisioned" || !c.LeaseUntil.IsZero() {
		t.Fatalf("claim after release of completed: %+v %v %v", c, found, err)
	}
	if got := f.rawGet(t, "EVENT#ev-1", "EVENT")["ttl"].(*types.AttributeValueMemberN).Value; got != wantTTL {
		t.Fatalf("completion changed ttl to %s", got)
	}
	// Past its ttl (before DynamoDB deletes it) the id is free again.
	f.clock.Advance(15 * 24 * time.Hour)
	if claimed, err := claimEvent(f.store, ctx, "ev-1", "E1", "", time.Hour); err != nil || !claimed {
		t.Fatalf("claim after ttl: %v %v", claimed, err)
	}
}

func TestClaimEventReleaseAndCrashedLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithClaimLease(time.Minute))

	// Retryable failure: release, and the retry may run.
	if ok, err := claimEvent(f.store, ctx, "ev-r", "E1", "", time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := f.store.ReleaseClaim(ctx, state.EventKey("ev-r")); err != nil {
		t.Fatal(err)
	}
	if ok, err := claimEvent(f.store, ctx, "ev-r", "E1", "", time.Hour); !ok || err != nil {
		t.Fatalf("claim after release: %v %v", ok, err)
	}
	// Releasing twice, or something never claimed, is fine.
	for _, id := range []string{"ev-r", "ev-r", "never"} {
		if err := f.store.ReleaseClaim(ctx, state.EventKey(id)); err != nil {
			t.Fatal(err)
		}
	}

	// Crash: claimed, never completed nor released. Blocked until the lease
	// ends, then taken over.
	if ok, err := claimEvent(f.store, ctx, "ev-c", "E1", "", time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	f.clock.Advance(59 * time.Second)
	if ok, err := claimEvent(f.store, ctx, "ev-c", "E1", "", time.Hour); ok || !errors.Is(err, state.ErrInProgress) {
		t.Fatalf("within lease: %v %v", ok, err)
	}
	f.clock.Advance(2 * time.Second)
	if ok, err := claimEvent(f.store, ctx, "ev-c", "E1", "", time.Hour); !ok || err != nil {
		t.Fatalf("after lease: %v %v", ok, err)
	}

	if err := f.store.CompleteClaim(ctx, state.EventKey("unclaimed"), "x"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("complete unclaimed: %v", err)
	}
	if _, err := claimEvent(f.store, ctx, "", "E1", "", time.Hour); err == nil {
		t.Fatal("empty event id accepted")
	}
}

func TestClaimEventConcurrentExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	const racers = 8
	var wins, busy atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := claimEvent(f.store, ctx, "ev-race", "E1", "", time.Hour)
			switch {
			case ok:
				wins.Add(1)
			case errors.Is(err, state.ErrInProgress):
				busy.Add(1)
			default:
				t.Errorf("claim: %v %v", ok, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || busy.Load() != racers-1 {
		t.Fatalf("%d wins, %d in progress", wins.Load(), busy.Load())
	}
}

func TestClaimEventMalformedStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("EVENT#odd"), "sk": s("EVENT"), "status": s("weird")})
	_, err := claimEvent(f.store, context.Background(), "odd", "E1", "", time.Hour)
	if !errors.Is(err, state.ErrMalformedItem) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	base := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	// Times chosen so RFC3339Nano's trimmed fractions would sort wrongly.
	ats := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(120 * time.Millisecond), base.Add(time.Second), base.Add(-time.Hour)}
	for i, at := range ats {
		if err := f.store.RecordWrite(ctx, state.Write{
			LoginID: "JDoe", UserID: "jdoe", EmployeeID: "E1", EventID: fmt.Sprintf("ev%d", i), At: at,
			Fields: map[string]string{"email": fmt.Sprintf("j%d@example.com", i)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Another user's writes stay out.
	if err := f.store.RecordWrite(ctx, state.Write{LoginID: "other", At: base}); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.WritesSince(ctx, "jdoe", base)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range got {
		ids = append(ids, w.EventID)
	}
	if strings.Join(ids, ",") != "ev0,ev2,ev1,ev3" {
		t.Fatalf("writes since base: %v", ids)
	}
	if got[1].Fields["email"] != "j2@example.com" || got[1].LoginID != "JDoe" || !got[1].At.Equal(ats[2]) {
		t.Fatalf("write decoded as %+v", got[1])
	}
	item := f.rawGet(t, "USER#jdoe", "WRITE#2026-11-20T15:00:00.120000000Z#ev2")
	if item == nil {
		t.Fatal("write item not under the documented key")
	}
	if ttl := item["ttl"].(*types.AttributeValueMemberN).Value; ttl != fmt.Sprint(f.clock.Now().Add(state.DefaultWriteTTL).Unix()) {
		t.Fatalf("ttl %s", ttl)
	}
	// Expired entries are left out even before DynamoDB deletes them.
	f.clock.Advance(state.DefaultWriteTTL + time.Second)
	if got, err := f.store.WritesSince(ctx, "jdoe", base.Add(-2*time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("after ttl: %v %v", got, err)
	}
	if err := f.store.RecordWrite(ctx, state.Write{}); err == nil {
		t.Fatal("empty login id accepted")
	}
	// A malformed write item is an error, not a silently skipped write.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("USER#bad"), "sk": s("WRITE#2026-11-20T15:00:00.000000000Z#x"), "loginId": s("bad"), "at": s("2026-11-20T15:00:00Z"), "fields": s("oops")})
	if _, err := f.store.WritesSince(ctx, "bad", time.Time{}); !errors.Is(err, state.ErrMalformedItem) || !strings.Contains(err.Error(), `"fields"`) {
		t.Fatalf("malformed write: %v", err)
	}
}

func TestTerminatedPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, state.WithQueryLimit(7))
	const total = 25
	for i := range total {
		if err := f.store.MarkTerminated(ctx, fmt.Sprintf("E%03d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("login%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.ClearTerminated(ctx, "E003"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.ClearTerminated(ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	before := f.store.OpsByName()["Query"]
	seen := map[string]state.TerminatedUser{}
	for u, err := range f.store.Terminated(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		seen[u.EmployeeID] = u
	}
	pages := f.store.OpsByName()["Query"] - before
	if len(seen) != total-1 || pages < 4 {
		t.Fatalf("%d users in %d pages, want %d in at least 4", len(seen), pages, total-1)
	}
	if u := seen["E010"]; u.UserID != "u10" || u.LoginID != "login10" || !u.TerminatedAt.Equal(f.clock.Now()) {
		t.Fatalf("E010 = %+v", u)
	}
	if _, ok := seen["E003"]; ok {
		t.Fatal("cleared entry still listed")
	}
	// Breaking early stops reading pages.
	before = f.store.OpsByName()["Query"]
	for range f.store.Terminated(ctx) {
		break
	}
	if got := f.store.OpsByName()["Query"] - before; got != 1 {
		t.Fatalf("early break read %d pages", got)
	}
}

// TerminatedOf reads one employee's entry with one GetItem: found after
// MarkTerminated, gone after ClearTerminated, an error for a malformed item.
func TestTerminatedOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, found, err := f.store.TerminatedOf(ctx, "E1"); err != nil || found {
		t.Fatalf("empty table: found=%v err=%v", found, err)
	}
	if err := f.store.MarkTerminated(ctx, "E1", "u1", "jdoe"); err != nil {
		t.Fatal(err)
	}
	before := f.store.OpsByName()
	u, found, err := f.store.TerminatedOf(ctx, "E1")
	if err != nil || !found {
		t.Fatalf("found=%v err=%v", found, err)
	}
	if want := (state.TerminatedUser{EmployeeID: "E1", UserID: "u1", LoginID: "jdoe", TerminatedAt: f.clock.Now()}); u != want {
		t.Fatalf("got %+v\nwant %+v", u, want)
	}
	after := f.store.OpsByName()
	if after["GetItem"]-before["GetItem"] != 1 || after["Query"] != before["Query"] {
		t.Fatalf("ops before %v, after %v: want one GetItem", before, after)
	}
	if err := f.store.ClearTerminated(ctx, "E1"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := f.store.TerminatedOf(ctx, "E1"); err != nil || found {
		t.Fatalf("cleared: found=%v err=%v", found, err)
	}
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("TERMINATED"), "sk": s("E2"), "employeeId": n("2")})
	if _, found, err := f.store.TerminatedOf(ctx, "E2"); !errors.Is(err, state.ErrMalformedItem) || found {
		t.Fatalf("malformed: found=%v err=%v", found, err)
	}
	if _, _, err := f.store.TerminatedOf(ctx, ""); err == nil {
		t.Fatal("empty employee id accepted")
	}
}

// Without a Limit, DynamoDB pages at 1 MB: three ~390 KB items need two.
func TestTerminatedPaginationOverOneMegabyte(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	pad := strings.Repeat("x", 390*1024)
	for i := range 3 {
		f.rawPut(t, map[string]types.AttributeValue{
			"pk": s("TERMINATED"), "sk": s(fmt.Sprintf("BIG%d", i)), "employeeId": s(fmt.Sprintf("BIG%d", i)), "pad": s(pad),
		})
	}
	count := 0
	for _, err := range f.store.Terminated(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if q := f.store.OpsByName()["Query"]; count != 3 || q < 2 {
		t.Fatalf("%d items in %d pages", count, q)
	}
}

func TestTerminatedMalformed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("TERMINATED"), "sk": s("E1"), "userId": s("u1")})
	var errs []error
	for _, err := range f.store.Terminated(context.Background()) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], state.ErrMalformedItem) || !strings.Contains(errs[0].Error(), "E1") {
		t.Fatalf("errs = %v", errs)
	}
}

func TestWebhookClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	const racers = 5
	var wins, busy atomic.Int32
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := claimWebhook(f.store, ctx, "wh-1", fmt.Sprintf("req-%d", i), state.DefaultWebhookTTL)
			switch {
			case ok:
				wins.Add(1)
			case errors.Is(err, state.ErrInProgress):
				busy.Add(1)
			default:
				t.Errorf("claim: %v %v", ok, err)
			}
		}()
	}
	wg.Wait()
	// One copy hands the delivery on; the others are in flight, not
	// duplicates (CONTRACTS section 4: never 200 before it is published).
	if wins.Load() != 1 || busy.Load() != racers-1 {
		t.Fatalf("%d webhook claims won, %d in progress", wins.Load(), busy.Load())
	}
	if ttl := f.rawGet(t, "WEBHOOK#wh-1", "WEBHOOK")["ttl"].(*types.AttributeValueMemberN).Value; ttl != fmt.Sprint(f.clock.Now().Add(state.DefaultWebhookTTL).Unix()) {
		t.Fatalf("ttl %s", ttl)
	}
	if err := f.store.ReleaseClaim(ctx, state.WebhookKey("wh-1")); err != nil {
		t.Fatal(err)
	}
	if ok, err := claimWebhook(f.store, ctx, "wh-1", "req-x", time.Hour); !ok || err != nil {
		t.Fatalf("after release: %v %v", ok, err)
	}
	if err := f.store.CompleteClaim(ctx, state.WebhookKey("wh-1"), "published"); err != nil {
		t.Fatal(err)
	}
	if ok, err := claimWebhook(f.store, ctx, "wh-1", "req-y", time.Hour); ok || err != nil {
		t.Fatalf("after completion: %v %v", ok, err)
	}
	f.clock.Advance(time.Hour + time.Second)
	if ok, err := claimWebhook(f.store, ctx, "wh-1", "req-z", time.Hour); !ok || err != nil {
		t.Fatalf("after ttl: %v %v", ok, err)
	}
	if _, err := claimWebhook(f.store, ctx, "", "req", time.Hour); err == nil {
		t.Fatal("empty id accepted")
	}
	// An item of an earlier version (no status) was written for a delivery
	// that was handed on: a duplicate.
	f.rawPut(t, map[string]types.AttributeValue{"pk": s("WEBHOOK#old"), "sk": s("WEBHOOK"), "eventId": s("old"),
		"ttl": &types.AttributeValueMemberN{Value: fmt.Sprint(f.clock.Now().Add(time.Hour).Unix())}})
	if ok, err := claimWebhook(f.store, ctx, "old", "req", time.Hour); ok || err != nil {
		t.Fatalf("item of an earlier version: %v %v", ok, err)
	}
}

func TestOpsCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	// The provisioning happy path: claim, read link, write link, record
	// write, complete: five operations.
	_, _ = claimEvent(f.store, ctx, "ev", "E1", "", 0)
	_, _, _ = f.store.GetEmployee(ctx, "E1")
	_ = f.store.PutEmployee(ctx, state.Employee{EmployeeID: "E1", Status: state.StatusActive}, 0)
	_ = f.store.RecordWrite(ctx, state.Write{LoginID: "jdoe", EventID: "ev"})
	_ = f.store.CompleteClaim(ctx, state.EventKey("ev"), "User Provisioned")
	if f.store.Ops() != 5 {
		t.Fatalf("ops = %d, by name %v", f.store.Ops(), f.store.OpsByName())
	}
	want := map[string]int64{"PutItem": 3, "GetItem": 1, "UpdateItem": 1}
	for k, v := range want {
		if f.store.OpsByName()[k] != v {
			t.Fatalf("by name %v", f.store.OpsByName())
		}
	}
}

// A DynamoDB that is down yields wrapped errors, never a panic or a false
// "duplicate".
func TestUnreachableTable(t *testing.T) {
	t.Parallel()
	d := testenv.DynamoDB(t)
	st := state.New(d.Client, "no-such-table")
	ctx := context.Background()
	if ok, err := claimEvent(st, ctx, "e", "E", "", 0); ok || err == nil || errors.Is(err, state.ErrInProgress) {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, _, err := st.GetEmployee(ctx, "E"); err == nil {
		t.Fatal("get: no error")
	}
	if ok, err := claimWebhook(st, ctx, "w", "req", 0); ok || err == nil {
		t.Fatalf("webhook: %v %v", ok, err)
	}
	for _, err := range st.Terminated(ctx) {
		if err == nil {
			t.Fatal("terminated: no error")
		}
	}
}

// BenchmarkEventPath measures the state-table work of one provisioned HRIS
// event (claim, read link, write link, record write, complete) on dynalite.
func BenchmarkEventPath(b *testing.B) {
	d := testenv.DynamoDB(b)
	st := state.New(d.Client, d.CreateTable(b))
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		id, emp := fmt.Sprintf("ev-%d", i), fmt.Sprintf("E%d", i)
		if ok, err := claimEvent(st, ctx, id, emp, "", 0); !ok || err != nil {
			b.Fatal(ok, err)
		}
		e, _, err := st.GetEmployee(ctx, emp)
		if err != nil {
			b.Fatal(err)
		}
		e.EmployeeID, e.Status = emp, state.StatusActive
		if err := st.PutEmployee(ctx, e, e.Version); err != nil {
			b.Fatal(err)
		}
		if err := st.RecordWrite(ctx, state.Write{LoginID: emp, EventID: id, Fields: map[string]string{"email": "x@example.com"}}); err != nil {
			b.Fatal(err)
		}
		if err := st.CompleteClaim(ctx, state.EventKey(id), "User Provisioned"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Ops())/float64(b.N), "ops/event")
}

// BenchmarkTerminatedScan reads a 2,000-entry terminated index.
func BenchmarkTerminatedScan(b *testing.B) {
	d := testenv.DynamoDB(b)
	st := state.New(d.Client, d.CreateTable(b))
	ctx := context.Background()
	for i := range 2000 {
		if err := st.MarkTerminated(ctx, fmt.Sprintf("E%05d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("login%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	before := st.Ops()
	for b.Loop() {
		n := 0
		for _, err := range st.Terminated(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 2000 {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(st.Ops()-before)/float64(b.N), "queries/scan")
}
