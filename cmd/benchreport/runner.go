package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lenderops/encompass-lifecycle/internal/lambdarun"
	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/internal/story"
	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

// runnerStats are the measurements taken on the real bootstraps.
type runnerStats struct {
	DeploySizes map[string]int64 // linux/arm64, as deployed
	ColdStarts  map[string][]time.Duration
	ColdMemory  map[string]int

	CallsPerUser  float64
	CallsByRoute  map[string]int
	UsersMeasured int

	Events        int
	EventsElapsed time.Duration
	Throttled     int
	// What bounded the real binaries' throughput: Encompass requests (and
	// their slot-seconds) against the plan's slots, and dynalite's CPU.
	Requests     int
	BusySlots    time.Duration
	InFlight     int
	DynaliteCPU  time.Duration
	DynaliteSeen bool

	PollUsers       int
	BaselinePoll    *lambdarun.Result
	SteadyPoll      *lambdarun.Result
	BareList        time.Duration
	PollErr         string
	SimLatency      time.Duration
	Containers      int
	ColdRuns        int
	ThroughputBatch int
}

type runnerOptions struct {
	coldRuns   int
	containers int
	batches    int
	batchSize  int
	latency    time.Duration
	pollUsers  int
	jobCode    string
	root, bins string
}

func measureRunner(ctx context.Context, o runnerOptions, progress io.Writer) (*runnerStats, error) {
	st := &runnerStats{
		DeploySizes: map[string]int64{}, ColdStarts: map[string][]time.Duration{}, ColdMemory: map[string]int{},
		SimLatency: o.latency, ColdRuns: o.coldRuns, ThroughputBatch: o.batchSize, PollUsers: o.pollUsers,
	}

	fmt.Fprintln(progress, "building linux/arm64 (deployed) and host bootstraps ...")
	armDir, err := os.MkdirTemp("", "benchreport-arm64-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(armDir)
	arm, err := lambdarun.BuildFor(ctx, "linux", "arm64", o.root, armDir)
	if err != nil {
		return nil, err
	}
	for fn, path := range arm {
		if fi, err := os.Stat(path); err == nil {
			st.DeploySizes[fn] = fi.Size()
		}
	}

	env, err := localenv.Start(ctx, localenv.Options{BinDir: o.bins})
	if err != nil {
		return nil, err
	}
	defer env.Close()

	fmt.Fprintf(progress, "cold starts: %d per function ...\n", o.coldRuns)
	seq := 0
	coldEvent := map[string]func() any{
		"provision": func() any {
			seq++
			return localenv.SQSBatch(localenv.ProvisionQueueARN, hire(fmt.Sprintf("C%05d", seq)).Body())
		},
		"deprovision": func() any {
			seq++
			return localenv.SQSBatch(localenv.DeprovisionQueueARN, terminate(fmt.Sprintf("Q%05d", seq)).Body())
		},
		"poller": func() any { return localenv.Schedule(time.Now()) },
		"reconcile": func() any {
			// A dry-run roster of two rows: the run reads it twice, lists
			// the seed users and writes the reports.
			seq++
			note, err := env.PutRoster(ctx, fmt.Sprintf("rosters/dry-run/cold-%d.csv", seq),
				[]byte("employeeId,givenName,familyName,email,status\nE10001,Maria,Johnson,maria.johnson@lender.example,active\nE10003,Bea,Williams,bea.williams@lender.example,terminated\n"))
			if err != nil {
				return err.Error() // not an S3 event: the invocation fails, saying why
			}
			return note
		},
		"webhook": func() any {
			seq++
			return localenv.WebhookRequest(story.LoanWebhook(fmt.Sprintf("whk-bench-%d", seq)), localenv.SubscriptionID, env.WebhookKey)
		},
	}
	for _, fn := range lambdarun.Functions {
		c, err := env.Function(fn)
		if err != nil {
			return nil, err
		}
		for range o.coldRuns {
			c.Stop()
			res, err := env.Invoke(ctx, fn, coldEvent[fn]())
			if err != nil {
				return nil, err
			}
			if res.Error != nil {
				return nil, fmt.Errorf("%s cold start: %v\n%s", fn, res.Error, res.Logs)
			}
			st.ColdStarts[fn] = append(st.ColdStarts[fn], res.ColdStart)
			st.ColdMemory[fn] = max(st.ColdMemory[fn], res.MaxMemoryMB)
		}
	}

	fmt.Fprintf(progress, "Encompass calls per provisioned user: one batch of %d hires ...\n", o.batchSize)
	env.Sim.ResetRequests()
	batch := make([][]byte, o.batchSize)
	for i := range batch {
		batch[i] = hire(fmt.Sprintf("U%05d", i)).Body()
	}
	if err := provisionBatch(ctx, env, batch); err != nil {
		return nil, err
	}
	st.CallsByRoute = env.Sim.Counts()
	total := 0
	for _, n := range st.CallsByRoute {
		total += n
	}
	st.UsersMeasured = o.batchSize
	st.CallsPerUser = float64(total) / float64(o.batchSize)

	fmt.Fprintf(progress, "throughput: %d provision containers, %d batches of %d hires, simulator latency %s ...\n", o.containers, o.batches, o.batchSize, o.latency)
	if err := measureThroughput(ctx, env, o, st); err != nil {
		return nil, err
	}

	if o.pollUsers > 0 {
		if err := measurePoller(ctx, env, o, st, progress); err != nil {
			st.PollErr = err.Error()
		}
	}
	return st, nil
}

// measureThroughput runs o.containers provision containers at once, as the
// stack's reserved concurrency does, against a simulator that answers after
// o.latency and allows 30 requests in flight (the tenant's limit).
func measureThroughput(ctx context.Context, env *localenv.Env, o runnerOptions, st *runnerStats) error {
	cfg, err := env.Config("provision")
	if err != nil {
		return err
	}
	// The plan's slots are the containers times this; the report divides by it.
	inFlight, err := strconv.Atoi(cfg.Env["ENCOMPASS_MAX_IN_FLIGHT"])
	if err != nil || inFlight < 1 {
		return fmt.Errorf("provision's ENCOMPASS_MAX_IN_FLIGHT is %q: want a positive number of Encompass requests in flight", cfg.Env["ENCOMPASS_MAX_IN_FLIGHT"])
	}
	containers := make([]*lambdarun.Container, o.containers)
	for i := range containers {
		c, err := lambdarun.New(cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		// Warm (token, mapping look-ups) outside the measurement.
		res, err := c.Invoke(ctx, mustJSON(localenv.SQSBatch(localenv.ProvisionQueueARN)))
		if err != nil {
			return err
		}
		if res.Error != nil {
			return fmt.Errorf("warm provision: %v", res.Error)
		}
		containers[i] = c
	}
	queue := make(chan []byte, o.batches)
	for b := range o.batches {
		bodies := make([][]byte, o.batchSize)
		for i := range bodies {
			h := hire(fmt.Sprintf("R%03d%03d", b, i))
			h.Employee["jobCode"] = o.jobCode
			bodies[i] = h.Body()
		}
		queue <- mustJSON(localenv.SQSBatch(localenv.ProvisionQueueARN, bodies...))
	}
	close(queue)
	env.Sim.SetLatency(o.latency)
	defer env.Sim.SetLatency(0)
	env.Sim.ResetRequests()
	cpu0, cpuErr := testenv.DynaliteCPU(env.DynamoURL)
	errs := make(chan error, len(containers))
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range containers {
		wg.Go(func() {
			for batch := range queue {
				if err := checkBatch(c.Invoke(ctx, batch)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	st.EventsElapsed = time.Since(start)
	if cpu1, err := testenv.DynaliteCPU(env.DynamoURL); err == nil && cpuErr == nil {
		st.DynaliteCPU, st.DynaliteSeen = cpu1-cpu0, true
	}
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	st.Events = o.batches * o.batchSize
	st.Containers = o.containers
	st.InFlight = inFlight
	for _, r := range env.Sim.Requests() {
		if r.Status == 429 {
			st.Throttled++
		}
		st.Requests++
		st.BusySlots += r.Duration
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// measurePoller runs the real poller twice over a simulator holding
// pollUsers users, and lists the same users in process for comparison.
func measurePoller(ctx context.Context, base *localenv.Env, o runnerOptions, st *runnerStats, progress io.Writer) error {
	fmt.Fprintf(progress, "poller: %d users, baseline then steady-state poll ...\n", o.pollUsers)
	env, err := localenv.Start(ctx, localenv.Options{
		BinDir: o.bins, SkipBuild: true, DynamoURL: base.DynamoURL, Table: "bench-poller",
		Sim: []encompasstest.Option{encompasstest.WithUsers(o.pollUsers)},
	})
	if err != nil {
		return err
	}
	defer env.Close()
	for i, slot := range []**lambdarun.Result{&st.BaselinePoll, &st.SteadyPoll} {
		res, err := env.Invoke(ctx, "poller", localenv.Schedule(time.Now()))
		if err != nil {
			return err
		}
		if res.Error != nil {
			return fmt.Errorf("poll %d: %v", i+1, res.Error)
		}
		*slot = res
	}
	client, err := encompass.New(encompass.Config{
		BaseURL: env.Sim.URL, InstanceID: env.Sim.InstanceID, ClientID: env.Sim.ClientID,
		ClientSecret: env.Sim.ClientSecret, Username: env.Sim.Username, Password: env.Sim.Password,
	})
	if err != nil {
		return err
	}
	startT := time.Now()
	n := 0
	for _, err := range client.Users.All(ctx, nil) {
		if err != nil {
			return fmt.Errorf("bare listing: %w", err)
		}
		n++
	}
	st.BareList = time.Since(startT)
	if n < o.pollUsers {
		return fmt.Errorf("bare listing returned %d users, want at least %d", n, o.pollUsers)
	}
	return nil
}

func provisionBatch(ctx context.Context, env *localenv.Env, bodies [][]byte) error {
	return checkBatch(env.Invoke(ctx, "provision", localenv.SQSBatch(localenv.ProvisionQueueARN, bodies...)))
}

// checkBatch fails unless the invocation processed every message.
func checkBatch(res *lambdarun.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("provision: %v\n%s", res.Error, res.Logs)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		return fmt.Errorf("provision answered %q: %w", res.Payload, err)
	}
	if n := len(resp.BatchItemFailures); n > 0 {
		return fmt.Errorf("provision left %d messages for a retry\n%s", n, res.Logs)
	}
	return nil
}

func hire(id string) story.HRISEvent {
	return story.HRISEvent{EventID: "hris-bench-" + id, Type: "hire", OccurredAt: time.Now().Add(-time.Minute), Employee: story.Employee{
		"employeeId": id, "givenName": "Bench", "familyName": "User" + id, "email": "bench" + strings.ToLower(id) + "@example.com",
		"jobCode": "LO1", "department": "Retail Lending", "workPhone": "555-201-0000",
	}}
}

func terminate(id string) story.HRISEvent {
	return story.HRISEvent{EventID: "hris-bench-t-" + id, Type: "terminate", OccurredAt: time.Now().Add(-time.Minute), Employee: story.Employee{"employeeId": id}}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// routeSummary lists the calls per user by endpoint, largest first.
func routeSummary(counts map[string]int, users int) string {
	keys := slices.Collect(maps.Keys(counts))
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %.1f", k, float64(counts[k])/float64(users)))
	}
	return strings.Join(parts, ", ")
}
