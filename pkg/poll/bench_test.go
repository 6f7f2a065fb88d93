package poll

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// benchUsers is the tenant size of the benchmarks: 100,000 unless
// POLL_BENCH_USERS says otherwise (quick runs while developing).
func benchUsers(b *testing.B) int {
	if s := os.Getenv("POLL_BENCH_USERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("POLL_BENCH_USERS=%q: want a number of at least 1000", s)
		}
		return n
	}
	return 100000
}

// heapPeak samples the live heap while fn runs and returns the largest
// value seen, in bytes.
func heapPeak(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			v := read()
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return max(peak, read())
}

// BenchmarkPollUnchanged100k measures a poll of a tenant where nothing
// changed, and in the same run the bare listing (client.Users.All and
// nothing else), so that their ratio is free of machine noise.
func BenchmarkPollUnchanged100k(b *testing.B) {
	n := benchUsers(b)
	e := newEnv(b, encompasstest.WithUsers(n))
	e.baseline()
	users := e.sim.UserCount()
	ctx := context.Background()
	var listTotal, pollTotal time.Duration
	var peak, base uint64
	var calls int64
	iters := 0
	b.ResetTimer()
	for b.Loop() {
		iters++
		t0 := time.Now()
		count := 0
		for _, err := range e.client.Users.All(ctx, nil) {
			if err != nil {
				b.Fatal(err)
			}
			count++
		}
		listTotal += time.Since(t0)
		if count != users {
			b.Fatalf("listed %d of %d", count, users)
		}

		runtime.GC()
		base = heapPeak(func() {})
		e.listCalls.Store(0)
		e.tokenCalls.Store(0)
		u0, m0 := e.db.writes()
		var sum Summary
		t1 := time.Now()
		p := heapPeak(func() {
			var err error
			sum, err = e.poller(nil).Run(ctx)
			if err != nil {
				b.Fatal(err)
			}
		})
		pollTotal += time.Since(t1)
		peak = max(peak, p-min(p, base))
		if sum.Outcome != OutcomeUnchanged || sum.Events != 0 {
			b.Fatalf("unchanged poll: %+v", sum)
		}
		if u, m := e.db.writes(); u != u0 || m != m0 {
			b.Fatalf("unchanged poll wrote %d items", u-u0+m-m0)
		}
		calls = e.listCalls.Load() + e.tokenCalls.Load()
		if want := int64((users + 199) / 200); calls < want || calls > want+1 {
			b.Fatalf("API calls %d, want %d (+ at most one token)", calls, want)
		}
	}
	rawKB, zKB, chunks := baseSize(b, e)
	b.ReportMetric(float64(chunks), "base-chunks")
	b.ReportMetric(rawKB, "base-raw-KB")
	b.ReportMetric(zKB, "base-stored-KB")
	b.ReportMetric(float64(users), "users")
	b.ReportMetric(float64(calls), "api-calls/op")
	b.ReportMetric(float64(listTotal.Milliseconds())/float64(iters), "list-ms/op")
	b.ReportMetric(float64(pollTotal.Milliseconds())/float64(iters), "poll-ms/op")
	b.ReportMetric(float64(pollTotal)/float64(listTotal), "poll/list")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkPollAt50msLatency100k measures an unchanged poll of 100,000
// users when every Encompass call takes 50 ms, with the stack's default
// budget of 3 requests in flight, against its bound: the list pages, 3 at a
// time, 50 ms each. The ratio is what the poll adds to the time the budget
// needs to fetch the pages (issue 15: at most 1.2).
func BenchmarkPollAt50msLatency100k(b *testing.B) {
	const latency = 50 * time.Millisecond
	const inFlight = 3 // infra/budget.go: the default plan's requests per instance
	n := benchUsers(b)
	e := newEnvInFlight(b, inFlight, encompasstest.WithUsers(n))
	e.baseline()
	users := e.sim.UserCount()
	pages := (users + 199) / 200
	if users%200 == 0 {
		pages++ // a bare array's full last page: one empty page ends it
	}
	bound := time.Duration((pages+inFlight-1)/inFlight) * latency
	e.sim.SetLatency(latency)
	defer e.sim.SetLatency(0)
	ctx := context.Background()
	var total time.Duration
	var calls int64
	iters := 0
	for b.Loop() {
		iters++
		e.listCalls.Store(0)
		e.tokenCalls.Store(0)
		t0 := time.Now()
		sum, err := e.poller(nil).Run(ctx)
		total += time.Since(t0)
		if err != nil || sum.Outcome != OutcomeUnchanged {
			b.Fatalf("unchanged poll: %+v, %v", sum, err)
		}
		calls = e.listCalls.Load()
		if calls != int64(pages) || e.tokenCalls.Load() > 1 {
			b.Fatalf("%d list calls and %d token calls, want %d and at most 1", calls, e.tokenCalls.Load(), pages)
		}
	}
	perPoll := total / time.Duration(iters)
	b.ReportMetric(float64(perPoll.Milliseconds()), "poll-ms/op")
	b.ReportMetric(float64(bound.Milliseconds()), "bound-ms")
	b.ReportMetric(float64(perPoll)/float64(bound), "poll/bound")
	b.ReportMetric(float64(calls), "list-calls/op")
	b.ReportMetric(inFlight, "in-flight")
}

// BenchmarkPollOnePercentChanged100k changes 1% of the users (a phone
// number each) before every poll and checks that the state-table writes and
// the events published equal the changes.
func BenchmarkPollOnePercentChanged100k(b *testing.B) {
	n := benchUsers(b)
	e := newEnv(b, encompasstest.WithUsers(n))
	e.baseline()
	changes := n / 100
	ctx := context.Background()
	var userWrites, metaWrites, events int64
	round := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		round++
		for j := range changes {
			id := fmt.Sprintf("simuser%06d", 1+j*(n/changes))
			phone := fmt.Sprintf("555-555-%04d", round)
			if err := e.sim.ModifyUser(id, func(u *encompasstest.SimUser) { u.Phone = phone }); err != nil {
				b.Fatal(err)
			}
		}
		e.eb.Reset()
		u0, m0 := e.db.writes()
		b.StartTimer()
		sum, err := e.poller(nil).Run(ctx)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		u, m := e.db.writes()
		userWrites, metaWrites, events = u-u0, m-m0, int64(len(e.eb.Events()))
		if sum.Changed != changes || userWrites != int64(changes) || events != int64(changes) {
			b.Fatalf("%d changes: %d changed, %d user item writes, %d events", changes, sum.Changed, userWrites, events)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(changes), "changes/op")
	b.ReportMetric(float64(userWrites), "user-item-writes/op")
	b.ReportMetric(float64(metaWrites), "header-writes/op")
	b.ReportMetric(float64(events), "events/op")
	b.ReportMetric(float64(e.eb.Calls()), "putevents-calls/op")
}

// baseSize reads the stored base and returns its uncompressed and stored
// sizes in KB and its number of chunks: the read cost of a poll.
func baseSize(b *testing.B, e *env) (rawKB, storedKB float64, chunks int) {
	b.Helper()
	m, err := e.snapshot().LoadMeta(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var raw, stored int
	for i := range m.BaseChunks {
		out, err := e.db.DynamoDBAPI.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(e.table),
			Key:       map[string]types.AttributeValue{"pk": sv(state.SnapshotBasePK(m.BaseGeneration)), "sk": sv(fmt.Sprintf("%05d", i))},
		})
		if err != nil {
			b.Fatal(err)
		}
		z := out.Item["z"].(*types.AttributeValueMemberB).Value
		stored += len(z)
		lines, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
		if err != nil {
			b.Fatal(err)
		}
		raw += len(lines)
	}
	return float64(raw) / 1024, float64(stored) / 1024, m.BaseChunks
}
