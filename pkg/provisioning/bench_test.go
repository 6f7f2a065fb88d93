package provisioning_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
)

var benchRun atomic.Int64

// hireBatches builds n hire events for new employees, in SQS batches of 10.
// jobCode selects the mapping rule: "AE1" falls to the defaults (no user
// groups), "LO1" matches the loan-officer rule and joins one group.
func hireBatches(n int, jobCode string) [][]string {
	run := benchRun.Add(1)
	var batches [][]string
	for i := 0; i < n; i += 10 {
		var batch []string
		for j := i; j < i+10 && j < n; j++ {
			emp := fmt.Sprintf("B%d-%d", run, j)
			p := joiner(emp, fmt.Sprintf("bench%d.%d", run, j))
			p["jobCode"] = jobCode
			if strings.HasPrefix(jobCode, "UW") {
				// The DDA rule of ddaRules is SSO-only.
				p["ddaAuthId"] = emp + "@idp.lender.example"
			}
			batch = append(batch, hrisEvent("hire", emp, t0, p).body())
		}
		batches = append(batches, batch)
	}
	return batches
}

// BenchmarkHire500 sends 500 hire events in batches of 10 to one container,
// counted from its cold start: the token and the persona, organization and
// group look-ups are part of the count. jobCode UW1 is granted a DDA
// profile (ddaRules): one call more per hire.
func BenchmarkHire500(b *testing.B) {
	for _, c := range []struct {
		api     string
		jobCode string
	}{{config.UserAPISCIM, "AE1"}, {config.UserAPIV3, "AE1"}, {config.UserAPISCIM, "LO1"}, {config.UserAPISCIM, "UW1"}} {
		b.Run(fmt.Sprintf("%s/jobCode=%s", c.api, c.jobCode), func(b *testing.B) {
			opts := []envOption{withConcurrency(10)}
			if c.jobCode == "UW1" {
				opts = append(opts, withMapping(b, ddaRules))
			}
			e := newEnv(b, c.api, opts...)
			events := 0
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				batches := hireBatches(500, c.jobCode)
				b.StartTimer()
				for _, batch := range batches {
					if failed := e.send(e.prov, batch...); len(failed) > 0 {
						b.Fatalf("%d failed", len(failed))
					}
				}
				events += 500
			}
			b.StopTimer()
			if got := len(e.published(catalog.UserProvisioned)); got != events {
				b.Fatalf("%d provisioned events for %d hires", got, events)
			}
			b.ReportMetric(float64(e.calls.Load())/float64(events), "encompass-calls/event")
			b.ReportMetric(float64(e.store.Ops())/float64(events), "state-ops/event")
			b.ReportMetric(float64(e.eb.Calls())/float64(events), "putevents/event")
		})
	}
}

// BenchmarkUnchangedUpdate: an update that changes nothing costs one read
// and no write.
func BenchmarkUnchangedUpdate(b *testing.B) {
	for _, api := range bothAPIs {
		b.Run(api, func(b *testing.B) {
			e := newEnv(b, api)
			e.mustSend(e.prov, hrisEvent("hire", "U1", t0, joiner("U1", "unchanged")).body())
			e.sim.ResetRequests()
			before := e.calls.Load()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				i++
				e.mustSend(e.prov, hrisEvent("update", "U1", t0.Add(time.Duration(i)*time.Second), joiner("U1", "unchanged")).body())
			}
			b.StopTimer()
			if w := e.writes(); w != 0 {
				b.Fatalf("%d write calls", w)
			}
			b.ReportMetric(0, "encompass-writes/event")
			b.ReportMetric(float64(e.calls.Load()-before)/float64(i), "encompass-calls/event")
		})
	}
}

// BenchmarkThroughputAtTenantLimit: the simulator allows 30 requests in
// flight and answers after 50 ms, so the tenant's ceiling is 30/0.05 s = 600
// requests per second. Three containers, each a client limited to 10 requests
// in flight and processing the 10 employees of a batch at once, share it.
func BenchmarkThroughputAtTenantLimit(b *testing.B) {
	const containers, perContainer = 3, 200
	e := newEnv(b, config.UserAPIV3, withSim(encompasstest.WithConcurrencyLimit(30)))
	var handlers []*provisioning.Handler
	for range containers {
		h := e.container(10, 10)
		// Warm the container (token, look-ups) outside the measurement.
		e.mustSend(h, hireBatches(1, "AE1")[0]...)
		handlers = append(handlers, h)
	}
	e.sim.SetLatency(50 * time.Millisecond)
	total, requests := 0, 0
	var elapsed, busy, dynaliteCPU, selfCPU time.Duration
	b.ResetTimer()
	for range b.N {
		work := make([][][]string, containers)
		for c := range containers {
			work[c] = hireBatches(perContainer, "AE1")
		}
		e.sim.ResetRequests()
		cpu0, err := testenv.DynaliteCPU(testenv.DynamoDB(b).URL)
		if err != nil {
			b.Fatal(err)
		}
		self0, err := testenv.SelfCPU()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for c := range containers {
			wg.Go(func() {
				for _, batch := range work[c] {
					e.drain(handlers[c], batch...)
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		cpu1, err := testenv.DynaliteCPU(testenv.DynamoDB(b).URL)
		if err != nil {
			b.Fatal(err)
		}
		dynaliteCPU += cpu1 - cpu0
		self1, err := testenv.SelfCPU()
		if err != nil {
			b.Fatal(err)
		}
		selfCPU += self1 - self0
		total += containers * perContainer
		for _, r := range e.sim.Requests() {
			requests++
			busy += r.Duration
		}
	}
	b.StopTimer()
	throttled := 0
	for _, r := range e.sim.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(requests)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(30/0.05, "limit-requests/s")
	b.ReportMetric(float64(throttled), "throttled")
	// What bounded the run: the tenant's 30 slots (their average use), the
	// DynamoDB emulator, one single-threaded Node process (its share of a
	// core), or the machine, whose cores dynalite shares with this process
	// (handlers and simulator).
	b.ReportMetric(float64(busy)/float64(elapsed)/30, "encompass-slots-busy")
	b.ReportMetric(float64(dynaliteCPU)/float64(elapsed), "dynalite-cores")
	b.ReportMetric(float64(selfCPU)/float64(elapsed), "process-cores")
	b.ReportMetric(float64(runtime.NumCPU()), "machine-cores")
}
