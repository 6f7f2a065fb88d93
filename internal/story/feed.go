package story

import (
	"encoding/json"
	"fmt"
	"time"
)

// Employee ids of the story's people.
const (
	Alice = "E1001" // hired as a loan officer, later moves to Processing
	Bob   = "E1002" // hired with a phone number that cannot be normalised
	Carol = "E1003" // processor: leaves, then is rehired
	Dan   = "E1004" // loan officer: leaves, then is re-enabled in Encompass by hand
)

// Login ids the product derives from the e-mail addresses (CONTRACTS section 1).
const (
	AliceLogin = "alice.nguyen"
	CarolLogin = "carol.diaz"
	DanLogin   = "dan.okafor"
)

// Employee is the employee part of an HRIS event; nil fields are left out.
type Employee map[string]any

// HRISEvent is one message of the feed.
type HRISEvent struct {
	EventID    string
	Type       string
	OccurredAt time.Time
	// EffectiveAt is when the event takes effect; zero: now.
	EffectiveAt time.Time
	Employee    Employee
	// Why says what the event is for in the story.
	Why string
}

// Body is the SQS message body (CONTRACTS section 1).
func (e HRISEvent) Body() []byte {
	m := map[string]any{
		"schemaVersion": "1",
		"eventId":       e.EventID,
		"type":          e.Type,
		"occurredAt":    e.OccurredAt.UTC().Format(time.RFC3339),
		"source":        "workday",
		"employee":      e.Employee,
	}
	if !e.EffectiveAt.IsZero() {
		m["effectiveAt"] = e.EffectiveAt.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // maps of strings and bools always marshal
	}
	return b
}

// EmployeeID returns the event's employee id.
func (e HRISEvent) EmployeeID() string { id, _ := e.Employee["employeeId"].(string); return id }

// Feed is the HRIS side of the story, in delivery order. t0 anchors the
// occurredAt times, which are in the past so that nothing is "in the future".
type Feed struct {
	Hires       []HRISEvent // first provision batch
	Leavers     []HRISEvent // deprovision batch
	Changes     []HRISEvent // second provision batch: a move and a rehire
	Replays     []HRISEvent // third provision batch: a duplicate and an out-of-order event
	Preexisting []HRISEvent
}

// NewFeed returns the story's HRIS feed anchored at t0.
func NewFeed(t0 time.Time) Feed {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	aliceHire := HRISEvent{EventID: "hris-0001", Type: "hire", OccurredAt: at(0), Why: "new loan officer", Employee: Employee{
		"employeeId": Alice, "givenName": "Alice", "familyName": "Nguyen", "email": "alice.nguyen@example.com",
		"workPhone": "(555) 201-0001", "jobTitle": "Loan Officer", "jobCode": "LO2", "department": "Retail Lending",
		"location": "Branch 12", "nmlsId": "1000001",
	}}
	return Feed{
		Hires: []HRISEvent{
			aliceHire,
			{EventID: "hris-0002", Type: "hire", OccurredAt: at(1), Why: "bad data: the work phone cannot be normalised", Employee: Employee{
				"employeeId": Bob, "givenName": "Bob", "familyName": "Marsh", "email": "bob.marsh@example.com",
				"workPhone": "call me maybe", "jobTitle": "Loan Officer", "jobCode": "LO1", "department": "Retail Lending",
			}},
			{EventID: "hris-0003", Type: "hire", OccurredAt: at(2), Why: "new processor", Employee: Employee{
				"employeeId": Carol, "givenName": "Carol", "familyName": "Diaz", "email": "carol.diaz@example.com",
				"mobilePhone": "555.201.0003", "jobTitle": "Loan Processor", "jobCode": "PR1", "department": "Processing",
			}},
			{EventID: "hris-0004", Type: "hire", OccurredAt: at(3), Why: "new loan officer", Employee: Employee{
				"employeeId": Dan, "givenName": "Dan", "familyName": "Okafor", "email": "dan.okafor@example.com",
				"jobTitle": "Loan Officer", "jobCode": "LO1", "department": "Retail Lending",
			}},
		},
		Leavers: []HRISEvent{
			{EventID: "hris-0005", Type: "terminate", OccurredAt: at(10), Why: "leaver", Employee: Employee{"employeeId": Carol}},
			{EventID: "hris-0006", Type: "terminate", OccurredAt: at(11), Why: "leaver", Employee: Employee{"employeeId": Dan}},
		},
		Changes: []HRISEvent{
			{EventID: "hris-0007", Type: "update", OccurredAt: at(20), Why: "move to Processing", Employee: Employee{
				"employeeId": Alice, "jobTitle": "Senior Loan Processor", "jobCode": "PR2", "department": "Processing",
			}},
			{EventID: "hris-0008", Type: "rehire", OccurredAt: at(21), Why: "rehire", Employee: Employee{
				"employeeId": Carol, "givenName": "Carol", "familyName": "Diaz", "email": "carol.diaz@example.com",
				"jobTitle": "Loan Processor", "jobCode": "PR1", "department": "Processing",
			}},
		},
		Replays: []HRISEvent{
			withWhy(aliceHire, "the first hire delivered again"),
			{EventID: "hris-0009", Type: "update", OccurredAt: at(15), Why: "out of order: older than the move already applied", Employee: Employee{
				"employeeId": Alice, "jobTitle": "Loan Officer II", "jobCode": "LO3", "department": "Retail Lending",
			}},
		},
	}
}

func withWhy(e HRISEvent, why string) HRISEvent {
	e.Why = why
	return e
}

// Describe is a one-line description of the event for the timeline.
func (e HRISEvent) Describe() string {
	name := fmt.Sprint(e.Employee["givenName"], " ", e.Employee["familyName"])
	if _, ok := e.Employee["givenName"]; !ok {
		name = ""
	}
	s := fmt.Sprintf("%-9s %s %s", e.Type, e.EmployeeID(), e.EventID)
	if name != "" {
		s += " " + name
	}
	if !e.EffectiveAt.IsZero() {
		s += ", effective " + e.EffectiveAt.UTC().Format("2006-01-02")
	}
	return s + " (" + e.Why + ")"
}
