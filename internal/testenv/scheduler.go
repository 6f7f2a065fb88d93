package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
)

// SchedulerFake is an httptest server speaking EventBridge Scheduler's
// REST-JSON protocol (CreateSchedule, GetSchedule, DeleteSchedule) to the
// real SDK client. It keeps the schedules, checks a one-time schedule as the
// service does (names, at(...) expressions, the target's role, FIFO message
// group, retry policy, dead-letter queue), can be told to fail, and fires the
// schedules that are due by a clock the test controls: Fire returns them,
// and the caller delivers each one's input to its target queue (the local
// product invokes the function with an SQS message, as SQS would).
//
// Only one-time at(...) schedules are modelled: the product creates no
// other kind at run time (the poller's rate schedule is the stack's).
type SchedulerFake struct {
	// URL is the endpoint (AWS_ENDPOINT_URL_SCHEDULER for real binaries).
	URL string
	// Client is a real SDK client pointed at URL. It retries as the SDK's
	// standard retryer does, without waiting between attempts, so that a
	// test of throttling or 5xx takes no time.
	Client *scheduler.Client

	srv *httptest.Server

	mu        sync.Mutex
	groups    map[string]bool
	schedules map[string]*Schedule // by group + "/" + name
	calls     map[string]int
	faults    []schedulerFault
	seq       int
}

// Schedule is a schedule the fake keeps.
type Schedule struct {
	Name, Group           string
	Expression            string
	At                    time.Time // the at(...) time, in UTC
	ActionAfterCompletion string
	FlexibleWindow        string
	TargetARN, RoleARN    string
	Input                 string
	MessageGroupID        string
	MaxRetryAttempts      int32
	MaxEventAgeSeconds    int32
	DeadLetterARN         string
	ClientToken           string
	Created               time.Time
	// Completed: the one-time schedule ran, and ActionAfterCompletion NONE
	// kept it; it never runs again.
	Completed bool
}

// Fired is a schedule delivered to its target: an SQS message to put on the
// target queue.
type Fired struct {
	Schedule
	// MessageID is fresh for every delivery, as SQS assigns one.
	MessageID string
}

type schedulerFault struct {
	op     string // "" for any operation
	status int
	code   string
}

// Scheduler starts a fake for the test, with the given schedule groups
// existing, and closes it at cleanup.
func Scheduler(t testing.TB, groups ...string) *SchedulerFake {
	t.Helper()
	f := NewSchedulerFake(groups...)
	t.Cleanup(f.Close)
	return f
}

// NewSchedulerFake starts a fake without a testing.T (local runs, the
// demo); the schedule groups given exist, as the stack creates its own.
// Call Close when done.
func NewSchedulerFake(groups ...string) *SchedulerFake {
	f := &SchedulerFake{groups: map[string]bool{"default": true}, schedules: map[string]*Schedule{}, calls: map[string]int{}}
	for _, g := range groups {
		f.groups[g] = true
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	f.Client = scheduler.New(scheduler.Options{
		Region:       Region,
		Credentials:  Credentials,
		BaseEndpoint: aws.String(f.URL),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return f
}

// Close stops the server.
func (f *SchedulerFake) Close() { f.srv.Close() }

// Fail makes the next n requests of operation op ("CreateSchedule",
// "DeleteSchedule", "GetSchedule"; "" for any) fail with the HTTP status
// and error code, e.g. 429 ThrottlingException, 500
// InternalServerException, 403 AccessDeniedException.
func (f *SchedulerFake) Fail(op string, n, status int, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults = append(f.faults, schedulerFault{op: op, status: status, code: code})
	}
}

// Calls returns how many requests of operation op were received, failed or
// not ("" counts all).
func (f *SchedulerFake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range f.calls {
			n += c
		}
		return n
	}
	return f.calls[op]
}

// ResetCalls forgets the request counts.
func (f *SchedulerFake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// Schedules returns the schedules that exist, soonest first.
func (f *SchedulerFake) Schedules() []Schedule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Schedule, 0, len(f.schedules))
	for _, s := range f.schedules {
		out = append(out, *s)
	}
	sortSchedules(out)
	return out
}

// Get returns the schedule of group and name, if it exists.
func (f *SchedulerFake) Get(group, name string) (Schedule, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.schedules[group+"/"+name]
	if !ok {
		return Schedule{}, false
	}
	return *s, true
}

// Fire delivers every schedule whose time has come by now and that has not
// run yet, soonest first (schedules due at the same second in the order
// they were created). As the service does after a one-time schedule ran, it
// deletes those whose ActionAfterCompletion is DELETE and keeps those with
// NONE, Completed. The caller puts each one's input on its target queue.
func (f *SchedulerFake) Fire(now time.Time) []Fired {
	f.mu.Lock()
	defer f.mu.Unlock()
	var due []Schedule
	for key, s := range f.schedules {
		if s.Completed || s.At.After(now) {
			continue
		}
		due = append(due, *s)
		if s.ActionAfterCompletion == "DELETE" {
			delete(f.schedules, key)
		} else {
			s.Completed = true
		}
	}
	sortSchedules(due)
	out := make([]Fired, len(due))
	for i, s := range due {
		f.seq++
		out[i] = Fired{Schedule: s, MessageID: fmt.Sprintf("00000000-5c4e-4d01-8000-%012d", f.seq)}
	}
	return out
}

func sortSchedules(s []Schedule) {
	sort.SliceStable(s, func(i, j int) bool {
		if !s[i].At.Equal(s[j].At) {
			return s[i].At.Before(s[j].At)
		}
		return s[i].Created.Before(s[j].Created)
	})
}

// The service's rules for what the product sends.
var (
	scheduleName   = regexp.MustCompile(`^[0-9a-zA-Z-_.]{1,64}$`)
	atExpression   = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)
	schedulerRole  = regexp.MustCompile(`^arn:aws(-[a-z]+)?:iam::\d{12}:role/[\w+=,.@/-]+$`)
	sqsQueueARN    = regexp.MustCompile(`^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$`)
	schedulePathRe = regexp.MustCompile(`^/schedules/([^/]+)$`)
)

// MaxScheduleInputBytes bounds a target's input in the fake: more than any
// HRIS event the product accepts (64 KiB), as in the service.
const MaxScheduleInputBytes = 256 << 10

type createScheduleInput struct {
	ActionAfterCompletion string
	ClientToken           string
	FlexibleTimeWindow    *struct {
		Mode                   string
		MaximumWindowInMinutes *int32
	}
	GroupName                  string
	ScheduleExpression         string
	ScheduleExpressionTimezone string
	State                      string
	Target                     *struct {
		Arn              string
		RoleArn          string
		Input            *string
		DeadLetterConfig *struct{ Arn string }
		RetryPolicy      *struct {
			MaximumEventAgeInSeconds *int32
			MaximumRetryAttempts     *int32
		}
		SqsParameters *struct{ MessageGroupId string }
	}
}

func (f *SchedulerFake) serve(w http.ResponseWriter, r *http.Request) {
	m := schedulePathRe.FindStringSubmatch(r.URL.EscapedPath())
	op := ""
	switch {
	case m != nil && r.Method == http.MethodPost:
		op = "CreateSchedule"
	case m != nil && r.Method == http.MethodDelete:
		op = "DeleteSchedule"
	case m != nil && r.Method == http.MethodGet:
		op = "GetSchedule"
	}
	f.mu.Lock()
	f.calls[op]++
	for i, ft := range f.faults {
		if ft.op == "" || ft.op == op {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
			f.mu.Unlock()
			writeRESTError(w, ft.status, ft.code, "injected failure")
			return
		}
	}
	f.mu.Unlock()
	if op == "" {
		writeRESTError(w, http.StatusNotFound, "UnknownOperationException", "only CreateSchedule, GetSchedule and DeleteSchedule are implemented: "+r.Method+" "+r.URL.Path)
		return
	}
	name, err := url.PathUnescape(m[1])
	if err != nil || !scheduleName.MatchString(name) {
		writeRESTError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value %q at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+ and have length between 1 and 64", name))
		return
	}
	switch op {
	case "CreateSchedule":
		f.create(w, r, name)
	case "DeleteSchedule":
		f.delete(w, r, name)
	default:
		f.get(w, r, name)
	}
}

func (f *SchedulerFake) create(w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		writeRESTError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	var in createScheduleInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeRESTError(w, http.StatusBadRequest, "ValidationException", "request body is not the CreateSchedule JSON: "+err.Error())
		return
	}
	s, msg := checkCreate(name, in)
	if msg != "" {
		writeRESTError(w, http.StatusBadRequest, "ValidationException", msg)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.groups[s.Group] {
		writeRESTError(w, http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Schedule group %s does not exist.", s.Group))
		return
	}
	key := s.Group + "/" + s.Name
	if _, ok := f.schedules[key]; ok {
		writeRESTError(w, http.StatusConflict, "ConflictException", fmt.Sprintf("Schedule %s already exists.", s.Name))
		return
	}
	s.Created = time.Now()
	f.schedules[key] = &s
	writeRESTJSON(w, http.StatusOK, map[string]string{"ScheduleArn": scheduleARN(s.Group, s.Name)})
}

// checkCreate applies the service's validation to a one-time schedule.
func checkCreate(name string, in createScheduleInput) (Schedule, string) {
	s := Schedule{Name: name, Group: in.GroupName, Expression: in.ScheduleExpression, ActionAfterCompletion: in.ActionAfterCompletion, ClientToken: in.ClientToken}
	if s.Group == "" {
		s.Group = "default"
	}
	if s.ActionAfterCompletion == "" {
		s.ActionAfterCompletion = "NONE"
	}
	tz := in.ScheduleExpressionTimezone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	switch {
	case err != nil:
		return s, fmt.Sprintf("Invalid timezone %q", tz)
	case in.State != "" && in.State != "ENABLED" && in.State != "DISABLED":
		return s, fmt.Sprintf("Value %q at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", in.State)
	case s.ActionAfterCompletion != "NONE" && s.ActionAfterCompletion != "DELETE":
		return s, fmt.Sprintf("Value %q at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]", s.ActionAfterCompletion)
	case in.FlexibleTimeWindow == nil:
		return s, "FlexibleTimeWindow is required"
	case in.FlexibleTimeWindow.Mode != "OFF" && in.FlexibleTimeWindow.Mode != "FLEXIBLE":
		return s, fmt.Sprintf("Value %q at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]", in.FlexibleTimeWindow.Mode)
	case in.FlexibleTimeWindow.Mode == "FLEXIBLE" && in.FlexibleTimeWindow.MaximumWindowInMinutes == nil:
		return s, "MaximumWindowInMinutes is required when the flexible time window mode is FLEXIBLE"
	case in.Target == nil:
		return s, "Target is required"
	}
	s.FlexibleWindow = in.FlexibleTimeWindow.Mode
	m := atExpression.FindStringSubmatch(in.ScheduleExpression)
	if m == nil {
		return s, fmt.Sprintf("Invalid Schedule Expression %s (this fake models one-time at(yyyy-mm-ddThh:mm:ss) schedules only)", in.ScheduleExpression)
	}
	at, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
	if err != nil {
		return s, fmt.Sprintf("Invalid Schedule Expression %s", in.ScheduleExpression)
	}
	s.At = at.UTC()
	t := in.Target
	s.TargetARN, s.RoleARN = t.Arn, t.RoleArn
	switch {
	case t.Arn == "" || len(t.Arn) > 1600:
		return s, "Target.Arn must have length between 1 and 1600"
	case !schedulerRole.MatchString(t.RoleArn):
		return s, fmt.Sprintf("Value %q at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$", t.RoleArn)
	case t.Input != nil && (*t.Input == "" || len(*t.Input) > MaxScheduleInputBytes):
		return s, fmt.Sprintf("Target.Input must have length between 1 and %d", MaxScheduleInputBytes)
	}
	if t.Input != nil {
		s.Input = *t.Input
	}
	if strings.HasPrefix(t.Arn, "arn:aws:sqs:") && strings.HasSuffix(t.Arn, ".fifo") {
		if t.SqsParameters == nil || t.SqsParameters.MessageGroupId == "" || len(t.SqsParameters.MessageGroupId) > 128 {
			return s, "Target.SqsParameters.MessageGroupId (1 to 128 characters) is required when the target is an SQS FIFO queue"
		}
	}
	if t.SqsParameters != nil {
		s.MessageGroupID = t.SqsParameters.MessageGroupId
	}
	s.MaxRetryAttempts, s.MaxEventAgeSeconds = 185, 86400 // the service's defaults
	if rp := t.RetryPolicy; rp != nil {
		if rp.MaximumRetryAttempts != nil {
			if *rp.MaximumRetryAttempts < 0 || *rp.MaximumRetryAttempts > 185 {
				return s, "RetryPolicy.MaximumRetryAttempts must be between 0 and 185"
			}
			s.MaxRetryAttempts = *rp.MaximumRetryAttempts
		}
		if rp.MaximumEventAgeInSeconds != nil {
			if *rp.MaximumEventAgeInSeconds < 60 || *rp.MaximumEventAgeInSeconds > 86400 {
				return s, "RetryPolicy.MaximumEventAgeInSeconds must be between 60 and 86400"
			}
			s.MaxEventAgeSeconds = *rp.MaximumEventAgeInSeconds
		}
	}
	if t.DeadLetterConfig != nil {
		if !sqsQueueARN.MatchString(t.DeadLetterConfig.Arn) {
			return s, fmt.Sprintf("Value %q at 'target.deadLetterConfig.arn' failed to satisfy constraint: it must be an SQS queue ARN", t.DeadLetterConfig.Arn)
		}
		s.DeadLetterARN = t.DeadLetterConfig.Arn
	}
	return s, ""
}

func (f *SchedulerFake) delete(w http.ResponseWriter, r *http.Request, name string) {
	group := r.URL.Query().Get("groupName")
	if group == "" {
		group = "default"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.groups[group] {
		writeRESTError(w, http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Schedule group %s does not exist.", group))
		return
	}
	key := group + "/" + name
	if _, ok := f.schedules[key]; !ok {
		writeRESTError(w, http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Schedule %s does not exist.", name))
		return
	}
	delete(f.schedules, key)
	writeRESTJSON(w, http.StatusOK, map[string]any{})
}

func (f *SchedulerFake) get(w http.ResponseWriter, r *http.Request, name string) {
	group := r.URL.Query().Get("groupName")
	if group == "" {
		group = "default"
	}
	f.mu.Lock()
	s, ok := f.schedules[group+"/"+name]
	var c Schedule
	if ok {
		c = *s
	}
	f.mu.Unlock()
	if !ok {
		writeRESTError(w, http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Schedule %s does not exist.", name))
		return
	}
	target := map[string]any{
		"Arn": c.TargetARN, "RoleArn": c.RoleARN,
		"RetryPolicy": map[string]int32{"MaximumRetryAttempts": c.MaxRetryAttempts, "MaximumEventAgeInSeconds": c.MaxEventAgeSeconds},
	}
	if c.Input != "" {
		target["Input"] = c.Input
	}
	if c.MessageGroupID != "" {
		target["SqsParameters"] = map[string]string{"MessageGroupId": c.MessageGroupID}
	}
	if c.DeadLetterARN != "" {
		target["DeadLetterConfig"] = map[string]string{"Arn": c.DeadLetterARN}
	}
	created := float64(c.Created.UnixMilli()) / 1000
	writeRESTJSON(w, http.StatusOK, map[string]any{
		"Arn": scheduleARN(c.Group, c.Name), "Name": c.Name, "GroupName": c.Group,
		"ScheduleExpression": c.Expression, "ScheduleExpressionTimezone": "UTC", "State": "ENABLED",
		"ActionAfterCompletion": c.ActionAfterCompletion,
		"FlexibleTimeWindow":    map[string]string{"Mode": c.FlexibleWindow},
		"Target":                target,
		"CreationDate":          created, "LastModificationDate": created,
	})
}

func scheduleARN(group, name string) string {
	return "arn:aws:scheduler:" + Region + ":000000000000:schedule/" + group + "/" + name
}

// writeRESTJSON answers a REST-JSON request.
func writeRESTJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeRESTError answers with a REST-JSON error the SDK decodes into its
// typed errors (by the X-Amzn-ErrorType header).
func writeRESTError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeRESTJSON(w, status, map[string]string{"Message": msg})
}
