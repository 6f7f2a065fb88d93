package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/lenderops/encompass-lifecycle/internal/testenv"
)

// A one-time schedule runs once. As in the service, ActionAfterCompletion
// DELETE removes it after it ran, and NONE keeps it, completed: it is still
// there to read, and never fires again.
func TestSchedulerFakeActionAfterCompletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testenv.Scheduler(t, testenv.SchedulerGroup)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for name, action := range map[string]types.ActionAfterCompletion{"kept": types.ActionAfterCompletionNone, "deleted": types.ActionAfterCompletionDelete} {
		_, err := f.Client.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name: aws.String(name), GroupName: aws.String(testenv.SchedulerGroup),
			ScheduleExpression:    aws.String("at(" + at.Format("2006-01-02T15:04:05") + ")"),
			FlexibleTimeWindow:    &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
			ActionAfterCompletion: action,
			Target: &types.Target{
				Arn: aws.String(testenv.ProvisionQueueARN), RoleArn: aws.String(testenv.SchedulerRoleARN), Input: aws.String(`{"eventId":"` + name + `"}`),
				SqsParameters: &types.SqsParameters{MessageGroupId: aws.String("E1")},
			},
		})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if fired := f.Fire(at.Add(-time.Second)); len(fired) != 0 {
		t.Fatalf("fired %d schedules before their time", len(fired))
	}
	if fired := f.Fire(at); len(fired) != 2 {
		t.Fatalf("fired %d schedules at their time, want 2", len(fired))
	}
	if s, ok := f.Get(testenv.SchedulerGroup, "deleted"); ok {
		t.Errorf("the DELETE schedule is still there after it ran: %+v", s)
	}
	if s, ok := f.Get(testenv.SchedulerGroup, "kept"); !ok || !s.Completed {
		t.Errorf("the NONE schedule after it ran: %+v (there: %v), want it kept and completed", s, ok)
	}
	if _, err := f.Client.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("kept"), GroupName: aws.String(testenv.SchedulerGroup)}); err != nil {
		t.Errorf("GetSchedule of the kept schedule: %v", err)
	}
	if fired := f.Fire(at.Add(time.Hour)); len(fired) != 0 {
		t.Errorf("a completed schedule fired again: %+v", fired)
	}
}
