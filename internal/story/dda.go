package story

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// Uma is the DDA chapter's underwriter: hired into Encompass and DDA under
// one global user id, moved out of DDA, then terminated.
const (
	Uma      = "E1020"
	UmaLogin = "uma.reyes"
)

// DDAFeed is the HRIS side of the DDA chapter, anchored at t0 like Feed.
type DDAFeed struct {
	Hire, Move, Leave HRISEvent
}

// NewDDAFeed returns the DDA chapter's events.
func NewDDAFeed(t0 time.Time) DDAFeed {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	return DDAFeed{
		Hire: HRISEvent{EventID: "hris-0010", Type: "hire", OccurredAt: at(30), Why: "new underwriter: Encompass and DDA", Employee: Employee{
			"employeeId": Uma, "givenName": "Uma", "familyName": "Reyes", "email": "uma.reyes@example.com",
			"workPhone": "555-201-0005", "jobTitle": "Underwriter", "jobCode": "UW1", "department": "Credit",
			"ddaAuthId": "uma.reyes@idp.example.com",
		}},
		Move: HRISEvent{EventID: "hris-0011", Type: "update", OccurredAt: at(31), Why: "moves to loan origination: out of DDA", Employee: Employee{
			"employeeId": Uma, "jobTitle": "Loan Officer", "jobCode": "LO1", "department": "Retail Lending",
		}},
		Leave: HRISEvent{EventID: "hris-0012", Type: "terminate", OccurredAt: at(32), Why: "leaver", Employee: Employee{"employeeId": Uma}},
	}
}

// DDA plays the DDA chapter (issue 14): an underwriter hired into Encompass
// and DDA under one global user id, moved out of DDA (the DDA profile
// disabled and read back), and terminated with both profiles verified
// disabled, which an administrator then checks in both products.
func (p *Player) DDA(ctx context.Context) error {
	f := NewDDAFeed(p.Feed.anchor())
	for _, b := range []struct {
		fn, queue string
		ev        HRISEvent
	}{
		{"provision", localenv.ProvisionQueueARN, f.Hire},
		{"provision", localenv.ProvisionQueueARN, f.Move},
		{"deprovision", localenv.DeprovisionQueueARN, f.Leave},
	} {
		if err := p.SendBatch(ctx, b.fn, b.queue, []HRISEvent{b.ev}); err != nil {
			return err
		}
		if b.ev.Type == "hire" {
			p.record(Step{Actor: "Encompass", Action: "an administrator looks " + UmaLogin + " up in both products", Outcome: p.profiles(ctx)})
		}
	}
	p.record(Step{Actor: "Encompass", Action: "an administrator checks " + UmaLogin + " after the leave", Outcome: p.profiles(ctx)})
	return nil
}

// profiles describes the employee's Encompass and DDA profiles as an
// administrator reads them through SCIM: the global user id and each
// profile's state.
func (p *Player) profiles(ctx context.Context) string {
	u, err := p.Admin.SCIM.FindUserByUserName(ctx, UmaLogin)
	if err != nil {
		return "not found: " + err.Error()
	}
	s := fmt.Sprintf("global user id %s…: Encompass %s", u.ID[:8], enabledWord(u.IsEnabled()))
	dda, err := p.Admin.SCIM.GetAIQUser(ctx, u.ID)
	switch {
	case err == nil:
		s += fmt.Sprintf(", DDA %s (role %s)", enabledWord(dda.IsEnabled()), dda.RoleName)
	case errors.Is(err, encompass.ErrNotFound):
		s += ", no DDA profile"
	default:
		s += ", DDA profile unreadable: " + err.Error()
	}
	return s
}

// anchor is the feed's t0 (its first hire), so that the DDA chapter's
// events come after the classic story's.
func (f Feed) anchor() time.Time {
	if len(f.Hires) > 0 {
		return f.Hires[0].OccurredAt
	}
	return time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
}

func enabledWord(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}
