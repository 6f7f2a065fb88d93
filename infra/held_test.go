package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHeldEventsGrants (issue 12): the Scheduler's role may only send to
// the two HRIS queues (and write failed deliveries to the held events'
// dead-letter queue), and only this account's schedules may assume it;
// provision and deprovision may only create and delete the schedules of the
// stack's own group and pass that one role, to the Scheduler only.
func TestHeldEventsGrants(t *testing.T) {
	s := defaultStack(t)
	group := s.logicalID(t, "HeldEventsScheduleGroup")
	roleID := s.logicalID(t, "HeldEventsSchedulerRole/Resource")
	dlq := s.logicalID(t, "HeldEventsDLQ/Resource")
	queues := []string{s.logicalID(t, "ProvisionQueue/Resource"), s.logicalID(t, "DeprovisionQueue/Resource")}

	// The group is named after the stack.
	name, _ := json.Marshal(props(s.resource(t, group))["Name"])
	if !strings.Contains(string(name), `"AWS::StackName"`) || !strings.Contains(string(name), heldEventsGroupSuffix) {
		t.Errorf("schedule group name = %s, want the stack name and %q", name, heldEventsGroupSuffix)
	}

	// The role's trust: the Scheduler, for this account only.
	role := props(s.resource(t, roleID))
	trust := list(dig(role, "AssumeRolePolicyDocument", "Statement"))
	if len(trust) != 1 || dig(trust[0], "Principal", "Service") != "scheduler.amazonaws.com" ||
		dig(trust[0], "Condition", "StringEquals", "aws:SourceAccount") == nil {
		t.Errorf("scheduler role trust = %v", trust)
	}
	// What it may do: send to the two queues and to its dead-letter queue.
	// (The CDK merges the two statements: minimizePolicies.)
	var sends []string
	for _, pol := range s.resources("AWS::IAM::Policy") {
		if !refersTo(list(dig(pol, "Properties", "Roles"))[0], roleID) {
			continue
		}
		for _, st := range list(dig(pol, "Properties", "PolicyDocument", "Statement")) {
			st := st.(map[string]any)
			if acts := actionsOf(st); !slices.Equal(acts, []string{"sqs:SendMessage"}) || st["Effect"] != "Allow" || st["Condition"] != nil {
				t.Errorf("scheduler role statement %v", st)
			}
			for _, r := range list(st["Resource"]) {
				ga, _ := dig(r, "Fn::GetAtt").([]any)
				if len(ga) != 2 || ga[1] != "Arn" {
					t.Errorf("scheduler role resource %v is not a queue's ARN", r)
					continue
				}
				sends = append(sends, ga[0].(string))
			}
		}
	}
	want := append(slices.Clone(queues), dlq)
	slices.Sort(want)
	slices.Sort(sends)
	if !slices.Equal(sends, want) {
		t.Errorf("the scheduler role may send to %v, want the two HRIS queues and the held events' dead-letter queue %v", sends, want)
	}

	// The provisioning functions: the group's schedules, the one role.
	schedules := regexp.MustCompile(`^arn:\{"Ref":"AWS::Partition"\}:scheduler:\{"Ref":"AWS::Region"\}:\{"Ref":"AWS::AccountId"\}:schedule/\{"Ref":"` + group + `"\}/\*$`)
	for _, fn := range []string{"ProvisionFunction", "DeprovisionFunction"} {
		var sched, pass int
		for _, st := range s.statements(t, fn) {
			acts := actionsOf(st)
			switch {
			case slices.Contains(acts, "scheduler:CreateSchedule") || slices.Contains(acts, "scheduler:DeleteSchedule"):
				sched++
				if !slices.Equal(acts, []string{"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}) {
					t.Errorf("%s: scheduler actions %v", fn, acts)
				}
				res := list(st["Resource"])
				if len(res) != 1 || !schedules.MatchString(joined(res[0])) {
					t.Errorf("%s: scheduler resource %v, want the schedules of the held-events group only", fn, res)
				}
			case slices.Contains(acts, "iam:PassRole"):
				pass++
				res := list(st["Resource"])
				if !slices.Equal(acts, []string{"iam:PassRole"}) || len(res) != 1 || !refersTo(res[0], roleID) ||
					dig(st, "Condition", "StringEquals", "iam:PassedToService") != "scheduler.amazonaws.com" {
					t.Errorf("%s: PassRole statement %v", fn, st)
				}
			}
		}
		if sched != 1 || pass != 1 {
			t.Errorf("%s: %d scheduler and %d PassRole statements, want 1 and 1", fn, sched, pass)
		}
	}
	// Nobody else holds events.
	for _, fn := range []string{"PollerFunction", "WebhookFunction"} {
		for _, st := range s.statements(t, fn) {
			for _, a := range actionsOf(st) {
				if strings.HasPrefix(a, "scheduler:") || a == "iam:PassRole" {
					t.Errorf("%s may %s", fn, a)
				}
			}
		}
	}
}

// joined renders an Fn::Join of literals and Refs as one string, the Refs
// as their JSON, so that a pattern can be matched against it.
func joined(v any) string {
	parts, ok := dig(v, "Fn::Join").([]any)
	if !ok || len(parts) != 2 {
		b, _ := json.Marshal(v)
		return string(b)
	}
	var b strings.Builder
	for _, p := range list(parts[1]) {
		if s, ok := p.(string); ok {
			b.WriteString(s)
			continue
		}
		j, _ := json.Marshal(p)
		b.Write(j)
	}
	return b.String()
}

// TestSchedulerCallsAreGranted reads pkg/schedule, the only package that
// calls EventBridge Scheduler, and checks that every operation it calls is
// granted to the provisioning functions: no local test would notice a new
// call the deployed role refuses.
func TestSchedulerCallsAreGranted(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "pkg", "schedule", "schedule.go"))
	if err != nil {
		t.Fatal(err)
	}
	calls := regexp.MustCompile(`s\.api\.(\w+)\(`).FindAllStringSubmatch(string(src), -1)
	if len(calls) < 2 {
		t.Fatalf("found %d Scheduler calls in pkg/schedule: has the code moved? update this test", len(calls))
	}
	s := defaultStack(t)
	for _, fn := range []string{"ProvisionFunction", "DeprovisionFunction"} {
		var granted []string
		for _, st := range s.statements(t, fn) {
			granted = append(granted, actionsOf(st)...)
		}
		for _, c := range calls {
			if !slices.Contains(granted, "scheduler:"+c[1]) {
				t.Errorf("pkg/schedule calls %s, which %s's role does not grant", c[1], fn)
			}
		}
	}
}
