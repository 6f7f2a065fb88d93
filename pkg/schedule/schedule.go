// Package schedule holds HRIS events until their due time in EventBridge
// Scheduler (CONTRACTS section 2a): one one-time schedule per held event,
// in the product's schedule group, that sends the event's original body
// back to its own FIFO queue at the due time and deletes itself after.
//
// A schedule's name derives from the event id, so that creating it again
// (a retried message, a resumed attempt) finds it there instead of holding
// the event twice, and deleting one that is already gone (it ran, or an
// operator removed it) is not an error.
package schedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go"
)

// API is the part of the Scheduler client this package uses; the real
// *scheduler.Client satisfies it.
type API interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// Delivery retry bounds: the service's maxima. A held event is worth every
// try the Scheduler will make in a day (SQS refusing is rare and short);
// after that it lands in the dead-letter queue, which is alarmed, or is
// lost when there is none (Config.DeadLetterARN).
const (
	DefaultMaxRetryAttempts = 185
	DefaultMaxEventAge      = 24 * time.Hour
)

// Config says where schedules live and how they deliver.
type Config struct {
	// Group is the schedule group (SCHEDULER_GROUP).
	Group string
	// RoleARN is the role the Scheduler assumes to send to the queues
	// (SCHEDULER_ROLE_ARN).
	RoleARN string
	// DeadLetterARN is the SQS queue of deliveries that failed for good
	// (SCHEDULER_DLQ_ARN). Empty: none, and such a delivery is lost.
	DeadLetterARN string
	// MaxRetryAttempts and MaxEventAge bound the Scheduler's retries of a
	// delivery. Defaults DefaultMaxRetryAttempts and DefaultMaxEventAge.
	MaxRetryAttempts int32
	MaxEventAge      time.Duration
	// OnCall is called once per request sent (metrics); nil for none.
	OnCall func(op string)
}

// Scheduler creates and deletes the schedules of held events. It is safe
// for concurrent use.
type Scheduler struct {
	api API
	cfg Config
}

// New checks cfg and returns a Scheduler.
func New(api API, cfg Config) (*Scheduler, error) {
	var errs []error
	if api == nil {
		errs = append(errs, errors.New("schedule: a Scheduler client is required"))
	}
	if cfg.Group == "" || cfg.RoleARN == "" {
		errs = append(errs, errors.New("schedule: Group and RoleARN are required"))
	}
	if cfg.MaxRetryAttempts == 0 {
		cfg.MaxRetryAttempts = DefaultMaxRetryAttempts
	}
	if cfg.MaxEventAge == 0 {
		cfg.MaxEventAge = DefaultMaxEventAge
	}
	if cfg.MaxRetryAttempts < 0 || cfg.MaxRetryAttempts > DefaultMaxRetryAttempts {
		errs = append(errs, fmt.Errorf("schedule: MaxRetryAttempts %d: want 0 to %d", cfg.MaxRetryAttempts, DefaultMaxRetryAttempts))
	}
	if cfg.MaxEventAge < time.Minute || cfg.MaxEventAge > DefaultMaxEventAge {
		errs = append(errs, fmt.Errorf("schedule: MaxEventAge %s: want 1m to 24h", cfg.MaxEventAge))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.OnCall == nil {
		cfg.OnCall = func(string) {}
	}
	return &Scheduler{api: api, cfg: cfg}, nil
}

// Hold is one held event's delivery.
type Hold struct {
	// Name is the schedule's name (Name of the event id).
	Name string
	// At is the due time; the schedule runs at the first whole second not
	// before it.
	At time.Time
	// QueueARN is the event's own FIFO queue.
	QueueARN string
	// GroupID is the FIFO message group: the employee id, so that the
	// delivery keeps its place among the employee's other events.
	GroupID string
	// Body is the original message body, delivered as it is.
	Body string
	// Description says what is held, for an operator listing the group.
	Description string
}

// Create creates the schedule of h. A schedule of that name that exists
// already is this one, created by an earlier attempt: that is success.
func (s *Scheduler) Create(ctx context.Context, h Hold) error {
	if h.Name == "" || h.QueueARN == "" || h.GroupID == "" || h.Body == "" || h.At.IsZero() {
		return fmt.Errorf("schedule: create %q: name, queue, message group, body and time are required", h.Name)
	}
	in := &scheduler.CreateScheduleInput{
		Name:                       aws.String(h.Name),
		GroupName:                  aws.String(s.cfg.Group),
		ScheduleExpression:         aws.String(Expression(h.At)),
		ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:         &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		ActionAfterCompletion:      types.ActionAfterCompletionDelete,
		State:                      types.ScheduleStateEnabled,
		Target: &types.Target{
			Arn:           aws.String(h.QueueARN),
			RoleArn:       aws.String(s.cfg.RoleARN),
			Input:         aws.String(h.Body),
			SqsParameters: &types.SqsParameters{MessageGroupId: aws.String(h.GroupID)},
			RetryPolicy: &types.RetryPolicy{
				MaximumRetryAttempts:     aws.Int32(s.cfg.MaxRetryAttempts),
				MaximumEventAgeInSeconds: aws.Int32(int32(s.cfg.MaxEventAge / time.Second)),
			},
		},
	}
	if s.cfg.DeadLetterARN != "" {
		in.Target.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(s.cfg.DeadLetterARN)}
	}
	if h.Description != "" {
		in.Description = aws.String(truncate(h.Description, 512))
	}
	s.cfg.OnCall("CreateSchedule")
	_, err := s.api.CreateSchedule(ctx, in)
	if err != nil && !hasCode(err, "ConflictException") {
		return fmt.Errorf("scheduler: create schedule %s in group %s: %w", h.Name, s.cfg.Group, err)
	}
	return nil
}

// Delete deletes the schedule called name. One that is already gone (it
// ran and deleted itself, or an operator removed it) is success.
func (s *Scheduler) Delete(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("schedule: delete: empty name")
	}
	s.cfg.OnCall("DeleteSchedule")
	_, err := s.api.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(s.cfg.Group)})
	if err != nil && !hasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("scheduler: delete schedule %s in group %s: %w", name, s.cfg.Group, err)
	}
	return nil
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// Expression is the one-time expression of t: at(yyyy-mm-ddThh:mm:ss) in
// UTC, rounded up to the next whole second so that an event is never
// delivered before it is due.
func Expression(t time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return "at(" + t.Format("2006-01-02T15:04:05") + ")"
}

// Name limits of the Scheduler: 1 to 64 characters of [0-9a-zA-Z-_.].
const (
	MaxNameLength = 64
	namePrefix    = "held-"
	hashChars     = 16
	// readableChars is what is left of the name for the event id itself.
	readableChars = MaxNameLength - len(namePrefix) - 1 - hashChars
)

// Name is the schedule name of a held event: "held-", the event id with
// the characters the Scheduler does not allow replaced by '_' and cut to
// fit, and 16 hex digits of its SHA-256, so that two ids that read the same
// once cut or replaced still name two schedules.
func Name(eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	var b strings.Builder
	b.WriteString(namePrefix)
	n := 0
	for i := 0; i < len(eventID) && n < readableChars; i++ {
		c := eventID[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			c = '_'
		}
		b.WriteByte(c)
		n++
	}
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(sum[:])[:hashChars])
	return b.String()
}

// truncate cuts s to n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
