package poll

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// countItems counts the items under one partition key.
func countItems(t *testing.T, e *env, pk string) int {
	t.Helper()
	out, err := e.db.DynamoDBAPI.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(e.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv(pk)},
		Select:                    types.SelectCount,
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func countDeltas(t *testing.T, e *env) int {
	t.Helper()
	n := 0
	for shard := range state.SnapshotShards {
		n += countItems(t, e, fmt.Sprintf("%s%02x", deltaPKPrefix, shard))
	}
	return n
}

func meta(t *testing.T, e *env) state.SnapshotMeta {
	t.Helper()
	m, err := e.snapshot().LoadMeta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeltasAreFoldedIntoANewBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, encompasstest.WithUsers(40))
	e.baseline()
	compactAt5 := func(c *Config) { c.CompactMin = 5 }

	// Two removals of users in the base (removal records), two changes.
	e.sim.DeleteUser("simuser000001")
	e.sim.DeleteUser("simuser000002")
	e.modify("simuser000003", func(u *encompasstest.SimUser) { u.Title = "One" })
	e.modify("simuser000004", func(u *encompasstest.SimUser) { u.Title = "Two" })
	sum := e.run(compactAt5)
	if sum.Removed != 2 || sum.Changed != 2 || countDeltas(t, e) != 4 {
		t.Fatalf("summary %+v, %d delta items; want 2 removed, 2 changed, 4 delta items", sum, countDeltas(t, e))
	}
	e.take()
	// Removal records keep removed users removed.
	if sum := e.run(compactAt5); sum.Outcome != OutcomeUnchanged {
		t.Fatalf("poll after removals: %+v", sum)
	}

	// Two more deltas reach the threshold: the poll folds all six into a
	// new base and deletes them and the old base.
	old := meta(t, e)
	if err := e.sim.UpsertUser(encompasstest.SimUser{LoginID: "late", FirstName: "L", LastName: "Ate", Email: "late@example.com", OrganizationID: e.sim.Users()[0].OrganizationID, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e.modify("simuser000005", func(u *encompasstest.SimUser) { u.Title = "Three" })
	sum = e.run(compactAt5)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Changed simuser000005", "User Created late"}) {
		t.Fatalf("compacting poll published %q", k)
	}
	now := meta(t, e)
	if now.BaseGeneration != now.Generation || now.BaseGeneration == old.BaseGeneration || now.LeaseOwner != "" {
		t.Fatalf("header after compaction %+v (before %+v)", now, old)
	}
	if n := countDeltas(t, e); n != 0 {
		t.Fatalf("%d delta items left after compaction", n)
	}
	if n := countItems(t, e, state.SnapshotBasePK(old.BaseGeneration)); n != 0 {
		t.Fatalf("%d chunks of the old base left", n)
	}
	if sum.Outcome != OutcomeChanges {
		t.Fatalf("compacting poll: %+v", sum)
	}

	// The new base is the snapshot: nothing changed, and a removed user who
	// comes back is created again.
	if sum := e.run(compactAt5); sum.Outcome != OutcomeUnchanged {
		t.Fatalf("poll after compaction: %+v", sum)
	}
	if storedEnc(t, e, "simuser000005") == "" || storedEnc(t, e, "late") == "" {
		t.Fatal("compaction lost users")
	}
	if err := e.sim.UpsertUser(encompasstest.SimUser{LoginID: "simuser000001", FirstName: "Back", LastName: "Again", Email: "back@example.com", OrganizationID: e.sim.Users()[0].OrganizationID, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e.run(compactAt5)
	if k := kinds(e.take()); !slices.Equal(k, []string{"User Created simuser000001"}) {
		t.Fatalf("returning user: %q", k)
	}
}

func TestDamagedBaseIsRecordedAgainWithoutPerUserEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		damage func(t *testing.T, e *env, m state.SnapshotMeta)
	}{
		{"chunk missing", func(t *testing.T, e *env, m state.SnapshotMeta) {
			_, err := e.db.DynamoDBAPI.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
				TableName: aws.String(e.table),
				Key:       map[string]types.AttributeValue{"pk": sv(state.SnapshotBasePK(m.BaseGeneration)), "sk": sv("00000")},
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"chunk not compressed data", func(t *testing.T, e *env, m state.SnapshotMeta) {
			_, err := e.db.DynamoDBAPI.PutItem(context.Background(), &dynamodb.PutItemInput{
				TableName: aws.String(e.table),
				Item: map[string]types.AttributeValue{"pk": sv(state.SnapshotBasePK(m.BaseGeneration)), "sk": sv("00000"),
					"v": nv(1), "z": &types.AttributeValueMemberB{Value: []byte("not flate at all")}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"chunk of a future format", func(t *testing.T, e *env, m state.SnapshotMeta) {
			_, err := e.db.DynamoDBAPI.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName:                 aws.String(e.table),
				Key:                       map[string]types.AttributeValue{"pk": sv(state.SnapshotBasePK(m.BaseGeneration)), "sk": sv("00000")},
				UpdateExpression:          aws.String("SET v = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": nv(99)},
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, encompasstest.WithUsers(30))
			e.baseline()
			e.modify("simuser000001", func(u *encompasstest.SimUser) { u.Title = "Changed" })
			e.run(nil)
			e.take()
			tc.damage(t, e, meta(t, e))

			sum := e.run(nil)
			evs := e.take()
			if sum.Outcome != OutcomeBaseline || len(evs) != 1 || evs[0].DetailType != TypeBaseline || evs[0].Raw["reason"] != "snapshot base damaged" {
				t.Fatalf("poll over a damaged base: %+v, events %q %v", sum, kinds(evs), evs)
			}
			if n := countDeltas(t, e); n != 0 {
				t.Fatalf("%d delta items left over the new base", n)
			}
			if m := meta(t, e); m.Generation != 3 {
				t.Fatalf("generation %d, want 3 (the count goes on)", m.Generation)
			}
			if sum := e.run(nil); sum.Outcome != OutcomeUnchanged {
				t.Fatalf("poll after the new baseline: %+v", sum)
			}
		})
	}
}
