package schedule_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
	"github.com/lenderops/encompass-lifecycle/pkg/failure"
	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
)

const (
	group    = "lifecycle-held"
	role     = "arn:aws:iam::123456789012:role/lifecycle-scheduler"
	dlq      = "arn:aws:sqs:us-east-1:123456789012:lifecycle-held-dlq"
	queueARN = "arn:aws:sqs:us-east-1:123456789012:lifecycle-provision.fifo"
)

func newScheduler(t *testing.T) (*schedule.Scheduler, *testenv.SchedulerFake, *[]string) {
	t.Helper()
	fake := testenv.Scheduler(t, group)
	var calls []string
	s, err := schedule.New(fake.Client, schedule.Config{Group: group, RoleARN: role, DeadLetterARN: dlq,
		OnCall: func(op string) { calls = append(calls, op) }})
	if err != nil {
		t.Fatal(err)
	}
	return s, fake, &calls
}

var due = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func hold(name string) schedule.Hold {
	return schedule.Hold{Name: name, At: due, QueueARN: queueARN, GroupID: "E1", Body: `{"eventId":"hris-1"}`, Description: "hire of E1"}
}

// The schedule is what CONTRACTS section 2a asks for: one time, in UTC, in
// the group, deleted after it runs, no flexible window, the event's own
// FIFO queue with the employee as message group, the body as it is, a
// retry policy and a dead-letter queue.
func TestCreateSendsTheHeldEvent(t *testing.T) {
	t.Parallel()
	s, fake, calls := newScheduler(t)
	if err := s.Create(context.Background(), hold(schedule.Name("hris-1"))); err != nil {
		t.Fatal(err)
	}
	got, ok := fake.Get(group, schedule.Name("hris-1"))
	if !ok {
		t.Fatalf("no schedule; have %+v", fake.Schedules())
	}
	want := testenv.Schedule{
		Name: schedule.Name("hris-1"), Group: group, Expression: "at(2026-12-01T00:00:00)", At: due,
		ActionAfterCompletion: "DELETE", FlexibleWindow: "OFF", TargetARN: queueARN, RoleARN: role,
		Input: `{"eventId":"hris-1"}`, MessageGroupID: "E1", MaxRetryAttempts: 185, MaxEventAgeSeconds: 86400, DeadLetterARN: dlq,
	}
	got.Created, got.ClientToken = time.Time{}, ""
	if got != want {
		t.Errorf("schedule\n got %+v\nwant %+v", got, want)
	}
	if len(*calls) != 1 || fake.Calls("CreateSchedule") != 1 {
		t.Errorf("calls %v, fake saw %d", *calls, fake.Calls("CreateSchedule"))
	}
}

// Without a dead-letter queue (SCHEDULER_DLQ_ARN is optional, CONTRACTS
// section 5) the schedule is the same, with no DeadLetterConfig.
func TestCreateWithoutDeadLetterQueue(t *testing.T) {
	t.Parallel()
	fake := testenv.Scheduler(t, group)
	s, err := schedule.New(fake.Client, schedule.Config{Group: group, RoleARN: role})
	if err != nil {
		t.Fatalf("no dead-letter queue: %v", err)
	}
	if err := s.Create(context.Background(), hold(schedule.Name("hris-1"))); err != nil {
		t.Fatal(err)
	}
	got, ok := fake.Get(group, schedule.Name("hris-1"))
	if !ok {
		t.Fatalf("no schedule; have %+v", fake.Schedules())
	}
	if got.DeadLetterARN != "" || got.TargetARN != queueARN || got.RoleARN != role || got.MaxRetryAttempts != 185 {
		t.Errorf("schedule %+v, want no dead-letter queue and the rest as usual", got)
	}
}

// Creating a schedule that exists (an earlier attempt made it) succeeds;
// deleting one that is gone succeeds.
func TestCreateAndDeleteAreIdempotent(t *testing.T) {
	t.Parallel()
	s, fake, _ := newScheduler(t)
	ctx := context.Background()
	h := hold(schedule.Name("hris-2"))
	for range 2 {
		if err := s.Create(ctx, h); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if n := len(fake.Schedules()); n != 1 {
		t.Fatalf("%d schedules", n)
	}
	for range 2 {
		if err := s.Delete(ctx, h.Name); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if n := len(fake.Schedules()); n != 0 || fake.Calls("CreateSchedule") != 2 || fake.Calls("DeleteSchedule") != 2 {
		t.Fatalf("%d schedules, %d creates, %d deletes", n, fake.Calls("CreateSchedule"), fake.Calls("DeleteSchedule"))
	}
}

// Failures are classified by pkg/failure: throttling and 5xx are retried
// (after the SDK's own attempts), access denied and a missing group are our
// fault (retried and logged as errors), never a reason to drop the event.
func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		code   string
		kind   failure.Kind
	}{
		{429, "ThrottlingException", failure.Retryable},
		{500, "InternalServerException", failure.Retryable},
		{503, "ServiceUnavailableException", failure.Retryable},
		{403, "AccessDeniedException", failure.Fault},
		{402, "ServiceQuotaExceededException", failure.Fault},
		{400, "ValidationException", failure.Fault},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			s, fake, _ := newScheduler(t)
			fake.Fail("", 10, tc.status, tc.code)
			err := s.Create(context.Background(), hold(schedule.Name("hris-3")))
			if c := failure.Classify(err); err == nil || c.Kind != tc.kind {
				t.Fatalf("create: %v classified %v, want %v", err, c.Kind, tc.kind)
			}
			if !strings.Contains(err.Error(), "create schedule "+schedule.Name("hris-3")) {
				t.Errorf("error does not say what failed: %v", err)
			}
			if len(fake.Schedules()) != 0 {
				t.Error("a schedule exists after a failure")
			}
			err = s.Delete(context.Background(), schedule.Name("hris-3"))
			if c := failure.Classify(err); err == nil || c.Kind != tc.kind {
				t.Fatalf("delete: %v classified %v, want %v", err, c.Kind, tc.kind)
			}
		})
	}
	// A group that does not exist (the stack not deployed, a typo in
	// SCHEDULER_GROUP) is a fault, not an event to drop.
	fake := testenv.Scheduler(t)
	s, err := schedule.New(fake.Client, schedule.Config{Group: "no-such-group", RoleARN: role, DeadLetterARN: dlq})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Create(context.Background(), hold(schedule.Name("hris-4")))
	if c := failure.Classify(err); err == nil || c.Kind != failure.Fault {
		t.Fatalf("missing group: %v classified %v", err, c.Kind)
	}
}

// The SDK's own retries ride out a short burst of throttling.
func TestShortThrottlingIsRiddenOut(t *testing.T) {
	t.Parallel()
	s, fake, _ := newScheduler(t)
	fake.Fail("CreateSchedule", 2, 429, "ThrottlingException")
	if err := s.Create(context.Background(), hold(schedule.Name("hris-5"))); err != nil {
		t.Fatal(err)
	}
	if fake.Calls("CreateSchedule") != 3 || len(fake.Schedules()) != 1 {
		t.Fatalf("%d calls, %d schedules", fake.Calls("CreateSchedule"), len(fake.Schedules()))
	}
}

// at(...) is in UTC whatever the offset of the time given, and never
// earlier than it: a due time with a fraction runs at the next second.
func TestExpression(t *testing.T) {
	t.Parallel()
	kathmandu := time.FixedZone("+05:45", 5*3600+45*60)
	for in, want := range map[time.Time]string{
		due:                             "at(2026-12-01T00:00:00)",
		due.Add(time.Nanosecond):        "at(2026-12-01T00:00:01)",
		due.Add(999 * time.Millisecond): "at(2026-12-01T00:00:01)",
		time.Date(2026, 12, 1, 5, 45, 0, 0, kathmandu):     "at(2026-12-01T00:00:00)",
		time.Date(2026, 12, 31, 23, 59, 59, 500, time.UTC): "at(2027-01-01T00:00:00)",
	} {
		if got := schedule.Expression(in); got != want {
			t.Errorf("Expression(%s) = %s, want %s", in, got, want)
		}
	}
}

var nameRule = regexp.MustCompile(`^[0-9a-zA-Z-_.]{1,64}$`)

// Names follow the Scheduler's rules for any event id the HRIS may send
// (up to 128 characters of anything printable), stay readable, and differ
// for ids that differ only where they were cut or replaced.
func TestNames(t *testing.T) {
	t.Parallel()
	if got := schedule.Name("hris-2026-000123"); !strings.HasPrefix(got, "held-hris-2026-000123-") || len(got) != len("held-hris-2026-000123-")+16 {
		t.Errorf("Name = %q", got)
	}
	long := strings.Repeat("x", 128)
	ids := []string{"a/b", "a b", "a_b", "a:b", "a@due", "é", "ü", "\u200b", long, long[:127] + "y", strings.Repeat("é", 64), "<script>"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]rune, 1+r.IntN(128))
		for i := range b {
			b[i] = rune(32 + r.IntN(0x2FF))
		}
		ids = append(ids, string(b))
	}
	seen := map[string]string{}
	for _, id := range ids {
		n := schedule.Name(id)
		if !nameRule.MatchString(n) {
			t.Fatalf("Name(%q) = %q breaks the Scheduler's rules", id, n)
		}
		if other, ok := seen[n]; ok && other != id {
			t.Fatalf("Name(%q) = Name(%q) = %q", id, other, n)
		}
		seen[n] = id
		if schedule.Name(id) != n {
			t.Fatalf("Name(%q) is not stable", id)
		}
	}
	// The fake, like the service, refuses a name outside the rules: a
	// generated one is always accepted.
	s, fake, _ := newScheduler(t)
	for _, id := range ids[:12] {
		if err := s.Create(context.Background(), hold(schedule.Name(id))); err != nil {
			t.Fatalf("create %q: %v", id, err)
		}
	}
	if len(fake.Schedules()) != 12 {
		t.Fatalf("%d schedules", len(fake.Schedules()))
	}
	var apiErr interface{ ErrorCode() string }
	if err := s.Create(context.Background(), hold("bad name")); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Fatalf("a bad name: %v", err)
	}
}

// New refuses a configuration that cannot hold anything.
func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	fake := testenv.Scheduler(t)
	for name, cfg := range map[string]schedule.Config{
		"no group":      {RoleARN: role, DeadLetterARN: dlq},
		"no role":       {Group: group, DeadLetterARN: dlq},
		"retries":       {Group: group, RoleARN: role, DeadLetterARN: dlq, MaxRetryAttempts: 186},
		"age too short": {Group: group, RoleARN: role, DeadLetterARN: dlq, MaxEventAge: time.Second},
	} {
		if _, err := schedule.New(fake.Client, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := schedule.New(nil, schedule.Config{Group: group, RoleARN: role, DeadLetterARN: dlq}); err == nil {
		t.Error("nil client accepted")
	}
	s, _ := schedule.New(fake.Client, schedule.Config{Group: group, RoleARN: role, DeadLetterARN: dlq})
	for name, h := range map[string]schedule.Hold{
		"no name":  {At: due, QueueARN: queueARN, GroupID: "E1", Body: "{}"},
		"no group": {Name: "n", At: due, QueueARN: queueARN, Body: "{}"},
		"no body":  {Name: "n", At: due, QueueARN: queueARN, GroupID: "E1"},
		"no time":  {Name: "n", QueueARN: queueARN, GroupID: "E1", Body: "{}"},
	} {
		if err := s.Create(context.Background(), h); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	if fake.Calls("") != 0 {
		t.Errorf("%d requests for holds that were refused before sending", fake.Calls(""))
	}
}
