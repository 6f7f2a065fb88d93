package story

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// The effective-date chapter (CONTRACTS section 2a): the HRIS sends each
// event as soon as it is known, and the account changes on the date. The
// local product's clock is moved from date to date (the functions read it
// too); the Scheduler fake sends each held event back to its queue when
// its date comes.

// Employee ids of the chapter's people.
const (
	Erin  = "E1005" // hired today, starts in two weeks: held until then
	Frank = "E1006" // offered a job starting in three weeks; the offer is rescinded
	Grace = "E1007" // resigns for the end of the month; moves branch before she goes
	Hank  = "E1008" // resigns for next month, then withdraws the resignation
	Ivy   = "E1009" // her termination is entered today with last week's date
	Jo    = "E1010" // hired at the end, starts next quarter: still held when the story ends
)

// Login ids of the chapter's people.
const (
	ErinLogin  = "erin.park"
	FrankLogin = "frank.lee"
	GraceLogin = "grace.kim"
	HankLogin  = "hank.moss"
	IvyLogin   = "ivy.chen"
	JoLogin    = "jo.reyes"
)

// Dates is the chapter's HRIS feed, by the day it is sent (days after D0,
// tomorrow by default).
type Dates struct {
	// D0 is the first day; every date of the chapter is days after it.
	D0    time.Time
	Sends map[int][]DatedBatch
	// Due are the days the chapter moves the clock to, for the held events
	// to come due.
	Due []int
}

// DatedBatch is one SQS batch of the chapter.
type DatedBatch struct {
	Function, Queue string
	Events          []HRISEvent
}

// Day is midnight UTC n days after D0.
func (d Dates) Day(n int) time.Time { return d.D0.AddDate(0, 0, n) }

// NewDates returns the chapter's feed; d0 is the day it starts (midnight
// UTC), and the events of a day occur an hour after its midnight.
func NewDates(d0 time.Time) Dates {
	d := Dates{D0: d0}
	on := func(n int) time.Time { return d.Day(n).Add(time.Hour) }
	person := func(id, given, family, jobCode, title string) Employee {
		return Employee{"employeeId": id, "givenName": given, "familyName": family,
			"email": strings.ToLower(given+"."+family) + "@example.com", "jobTitle": title, "jobCode": jobCode, "department": "Retail Lending"}
	}
	erin := person(Erin, "Erin", "Park", "LO1", "Loan Officer")
	frank := person(Frank, "Frank", "Lee", "LO1", "Loan Officer")
	grace := person(Grace, "Grace", "Kim", "LO2", "Senior Loan Officer")
	hank := person(Hank, "Hank", "Moss", "LO1", "Loan Officer")
	ivy := person(Ivy, "Ivy", "Chen", "LO1", "Loan Officer")
	prov := func(evs ...HRISEvent) DatedBatch {
		return DatedBatch{Function: "provision", Queue: localenv.ProvisionQueueARN, Events: evs}
	}
	deprov := func(evs ...HRISEvent) DatedBatch {
		return DatedBatch{Function: "deprovision", Queue: localenv.DeprovisionQueueARN, Events: evs}
	}
	d.Sends = map[int][]DatedBatch{
		0: {
			prov(
				HRISEvent{EventID: "hris-0101", Type: "hire", OccurredAt: on(0), EffectiveAt: d.Day(14), Employee: erin, Why: "hired today, starts in two weeks"},
				HRISEvent{EventID: "hris-0102", Type: "hire", OccurredAt: on(0), EffectiveAt: d.Day(21), Employee: frank, Why: "offer accepted, starts in three weeks"},
				HRISEvent{EventID: "hris-0103", Type: "hire", OccurredAt: on(0), Employee: grace, Why: "joins today"},
				HRISEvent{EventID: "hris-0104", Type: "hire", OccurredAt: on(0), Employee: hank, Why: "joins today"},
				HRISEvent{EventID: "hris-0105", Type: "hire", OccurredAt: on(0), Employee: ivy, Why: "joins today"},
			),
			deprov(
				HRISEvent{EventID: "hris-0106", Type: "terminate", OccurredAt: on(0).Add(time.Minute), EffectiveAt: d.Day(30), Employee: Employee{"employeeId": Grace}, Why: "resigns for the end of the month"},
				HRISEvent{EventID: "hris-0107", Type: "terminate", OccurredAt: on(0).Add(time.Minute), EffectiveAt: d.Day(28), Employee: Employee{"employeeId": Hank}, Why: "resigns for next month"},
			),
		},
		1: {prov(HRISEvent{EventID: "hris-0108", Type: "update", OccurredAt: on(1), Employee: Employee{"employeeId": Ivy, "jobTitle": "Senior Loan Officer", "jobCode": "LO2", "department": "Retail Lending"}, Why: "promoted"})},
		2: {
			deprov(
				HRISEvent{EventID: "hris-0109", Type: "terminate", OccurredAt: on(2), Employee: Employee{"employeeId": Frank}, Why: "the offer is rescinded"},
				HRISEvent{EventID: "hris-0110", Type: "terminate", OccurredAt: on(2), EffectiveAt: d.Day(-5), Employee: Employee{"employeeId": Ivy}, Why: "terminated, entered today with last week's date"},
			),
			prov(HRISEvent{EventID: "hris-0111", Type: "rehire", OccurredAt: on(2), Employee: withField(hank, "location", "Branch 12"), Why: "withdraws the resignation"}),
		},
		31: {prov(HRISEvent{EventID: "hris-0113", Type: "hire", OccurredAt: on(31), EffectiveAt: d.Day(90), Employee: person(Jo, "Jo", "Reyes", "LO1", "Loan Officer"),
			Why: "hired for next quarter: still held at the end (make ops ARGS=pending)"})},
		10: {prov(HRISEvent{EventID: "hris-0112", Type: "update", OccurredAt: on(10), Employee: Employee{"employeeId": Grace, "workPhone": "(555) 207-0007", "location": "Branch 7", "jobCode": "LO2", "department": "Retail Lending"}, Why: "moves to Branch 7 before she leaves"})},
	}
	d.Due = []int{14, 21, 28, 30}
	return d
}

func withField(e Employee, k string, v any) Employee {
	c := Employee{}
	for kk, vv := range e {
		c[kk] = vv
	}
	c[k] = v
	return c
}

// EffectiveDates plays the chapter: the HRIS sends every event the day it
// is known, an operator lists what is held, and the clock moves to each
// due date, where the Scheduler sends the held events back.
func (p *Player) EffectiveDates(ctx context.Context) error {
	if p.Dates.D0.IsZero() {
		// Tomorrow: the clock only ever moves forward.
		now := p.Env.Clock.Now().UTC()
		p.Dates = NewDates(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC))
	}
	d := p.Dates
	days := slices.Sorted(slices.Values(append(slices.Collect(maps.Keys(d.Sends)), d.Due...)))
	for _, n := range slices.Compact(days) {
		batches, sending := d.Sends[n]
		// A due date is seen at its midnight; the events of a day are sent
		// an hour and a half after it, once they have occurred.
		at := d.Day(n)
		if sending {
			at = at.Add(90 * time.Minute)
		}
		if err := p.moveClock(at, n); err != nil {
			return err
		}
		if err := p.fire(ctx); err != nil {
			return err
		}
		for _, b := range batches {
			if err := p.SendBatch(ctx, b.Function, b.Queue, b.Events); err != nil {
				return err
			}
		}
		if n == 2 {
			p.pending(ctx)
		}
	}
	return nil
}

func (p *Player) moveClock(t time.Time, day int) error {
	if err := p.Env.Clock.Set(t); err != nil {
		return err
	}
	p.record(Step{Actor: "clock", Action: fmt.Sprintf("it is now %s (day %d)", t.UTC().Format("2006-01-02 15:04 MST"), day)})
	return nil
}

// fire lets the Scheduler send the held events that are due.
func (p *Player) fire(ctx context.Context) error {
	ds, err := p.Env.FireDue(ctx)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		p.record(Step{Actor: "scheduler", Action: "nothing is due"})
		return nil
	}
	published := p.take()
	for _, dl := range ds {
		eventID := eventIDOf(dl.Input)
		mine := eventsOf(published, eventID)
		outcome := p.describeAll(mine)
		if dl.Retry {
			outcome = "left on the queue for a retry; " + outcome
		}
		lag := dl.SentAt.Sub(dl.Schedule.At) + dl.Result.Duration
		p.record(Step{Actor: "scheduler", Action: fmt.Sprintf("%s is due: sent back to the %s queue", eventID, dl.Function),
			Outcome: fmt.Sprintf("%s (applied %s after its due time; %s)", outcome, lag.Round(time.Millisecond), invocationOutcome(dl.Result, 0)),
			Events:  mine, Result: dl.Result, Late: lag})
	}
	return nil
}

// pending is the operator listing the held events (lifecyclectl pending).
func (p *Player) pending(ctx context.Context) {
	store := state.New(p.Env.DynamoDB, p.Env.Table)
	var lines []string
	for h, err := range store.AllHeld(ctx) {
		if err != nil {
			p.record(Step{Actor: "operator", Action: "lifecyclectl pending", Outcome: "FAILED " + err.Error()})
			return
		}
		lines = append(lines, fmt.Sprintf("%s %s %s", h.EmployeeID, h.Type, h.DueAt.UTC().Format("2006-01-02")))
	}
	p.record(Step{Actor: "operator", Action: "lifecyclectl pending (who joins or leaves when)", Outcome: fmt.Sprintf("%d held: %s", len(lines), strings.Join(lines, "; "))})
}

func eventIDOf(body string) string {
	var v struct {
		EventID string `json:"eventId"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return v.EventID
}
