package story

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lenderops/encompass-lifecycle/internal/localenv"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/reconcile"
)

// The reconciliation chapter's people and accounts.
const (
	// Elle is on the HR roster; her Encompass account was made by hand
	// under a login and e-mail the HRIS never used, so only the roster's
	// explicit link (encompassUserName) can adopt it.
	Elle      = "E1030"
	ElleLogin = "ebrooks"
	// OrphanLogin is a seed account no roster row matches.
	OrphanLogin = "bwilliams"
)

// RosterKey is where HR drops last night's export (rosters/apply/: the
// findings are applied).
const RosterKey = "rosters/apply/hr-export.csv"

// Roster is last night's HR export (CONTRACTS section 7): Alice, whose
// persona was changed by hand, Carol, Dan, who left and whose account was
// enabled again by hand, Uma, who left (the export lists leavers), Elle
// with her explicit link, and two of the lender's existing staff, whose
// Encompass accounts carry their employee ids.
func Roster() []byte {
	rows := []string{
		"employeeId,givenName,familyName,email,jobCode,department,encompassUserName,status",
		Alice + ",Alice,Nguyen,alice.nguyen@example.com,PR2,Processing,,active",
		Carol + ",Carol,Diaz,carol.diaz@example.com,PR1,Processing,,active",
		Dan + ",Dan,Okafor,dan.okafor@example.com,LO1,Retail Lending,,terminated",
		Uma + ",Uma,Reyes,uma.reyes@example.com,LO1,Retail Lending,,terminated",
		Elle + ",Elle,Brooks,elle.brooks@example.com,LO1,Retail Lending," + ElleLogin + ",active",
		"E10001,Maria,Johnson,maria.johnson@lender.example,LO2,Retail Lending,,active",
		"E10002,Alex,Smith,alex.smith@lender.example,PR1,Processing,,active",
	}
	return []byte(strings.Join(rows, "\r\n") + "\r\n")
}

// Reconciliation is what the reconciliation chapter found and applied.
type Reconciliation struct {
	RunID     string
	Counts    map[string]int
	Sent      int
	ReportKey string
	Refused   string
	// Report is the JSON report as the bucket holds it.
	Report []byte
}

// Reconcile is the last chapter: an administrator makes an account by hand
// and changes Alice's persona in the admin UI, and the poller reports both;
// HR drops last night's export into the roster bucket; the reconcile
// function compares it with the poller's fresh snapshot, reports, and sends
// HRIS events, which the queues deliver to provision and deprovision.
func (p *Player) Reconcile(ctx context.Context) error {
	if _, err := p.Admin.Users.Create(ctx, encompass.User{
		LoginID: ElleLogin, FirstName: "Elle", LastName: "Brooks", Email: "elle@lender-old.example",
		OrganizationID: "1", Personas: []encompass.PersonaRef{{ID: "10"}}, Password: "Hand-Made-Passw0rd!",
	}); err != nil {
		return fmt.Errorf("admin creates %s: %w", ElleLogin, err)
	}
	p.record(Step{Actor: "Encompass", Action: "an administrator creates " + ElleLogin + " by hand", Outcome: "a login and e-mail the HRIS never used"})
	personas, err := p.Admin.Personas.Resolve(ctx, []string{"Loan Officer"})
	if err != nil {
		return fmt.Errorf("resolve personas: %w", err)
	}
	if _, err := p.Admin.Users.Patch(ctx, AliceLogin, encompass.UserPatch{"personas": []map[string]string{{"id": personas["Loan Officer"]}}}); err != nil {
		return fmt.Errorf("admin edits %s: %w", AliceLogin, err)
	}
	p.record(Step{Actor: "Encompass", Action: "an administrator gives " + AliceLogin + " the Loan Officer persona by hand", Outcome: "personas -> Loan Officer"})
	// The poller's schedule comes round: its snapshot, which the
	// reconciliation reads instead of listing Encompass, sees both.
	if err := p.Poll(ctx, "third poll"); err != nil {
		return err
	}

	note, err := p.Env.PutRoster(ctx, RosterKey, Roster())
	if err != nil {
		return fmt.Errorf("put the roster: %w", err)
	}
	p.record(Step{Actor: "HRIS", Action: "last night's export lands in the roster bucket", Outcome: "s3://" + localenv.RosterBucket + "/" + RosterKey})
	res, err := p.Env.Invoke(ctx, "reconcile", note)
	if err != nil {
		return fmt.Errorf("invoke reconcile: %w", err)
	}
	published := p.take()
	outcome := invocationOutcome(res, 0)
	if res.Error == nil {
		var resp reconcile.Response
		if err := json.Unmarshal(res.Payload, &resp); err != nil || len(resp.Results) != 1 {
			return fmt.Errorf("reconcile answered %q: %v", res.Payload, err)
		}
		r := resp.Results[0]
		p.reconciliation = &Reconciliation{RunID: r.RunID, Counts: r.Counts, Sent: r.Sent, ReportKey: r.ReportKey, Refused: r.Refused}
		if p.reconciliation.Report, err = p.Env.RosterObject(ctx, r.ReportKey); err != nil {
			return fmt.Errorf("read the report: %w", err)
		}
		outcome = fmt.Sprintf("%s; %s; %d HRIS event(s) sent; report %s", outcome, CountsLine(r.Counts), r.Sent, r.ReportKey)
	}
	p.record(Step{Actor: "reconcile", Action: "reconcile " + RosterKey, Outcome: outcome, Events: published, Result: res})
	if p.reconciliation != nil {
		for _, login := range orphans(p.reconciliation.Report) {
			p.record(Step{Actor: "reconcile", Action: "orphan " + login, Outcome: "enabled, and no roster row matches it: reported, never disabled"})
		}
	}

	deliveries, err := p.Env.DrainQueues(ctx)
	if err != nil {
		return err
	}
	published = p.take()
	for _, d := range deliveries {
		p.record(Step{Actor: d.Function, Action: fmt.Sprintf("SQS batch of %d reconciliation event(s)", len(d.Bodies)), Outcome: invocationOutcome(d.Result, 0), Result: d.Result})
		for _, body := range d.Bodies {
			var ev struct {
				EventID  string `json:"eventId"`
				Type     string `json:"type"`
				Employee struct {
					EmployeeID string `json:"employeeId"`
				} `json:"employee"`
			}
			_ = json.Unmarshal(body, &ev)
			mine := eventsOf(published, ev.EventID)
			p.record(Step{Actor: "reconcile", Action: fmt.Sprintf("%-9s %s (from the roster)", ev.Type, ev.Employee.EmployeeID), Outcome: p.describeAll(mine), Events: mine})
		}
	}
	return nil
}

// CountsLine lists the classes found, in the contract's order
// (reconcile.Classes), then any other, by name.
func CountsLine(counts map[string]int) string {
	var parts []string
	for _, c := range reconcile.Classes {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, counts[c]))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(reconcile.Classes, c) && counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, counts[c]))
		}
	}
	return strings.Join(parts, ", ")
}

// orphans lists the orphan logins of a JSON report.
func orphans(report []byte) []string {
	var r struct {
		Findings []struct {
			Class string  `json:"class"`
			Login *string `json:"encompassLogin"`
		} `json:"findings"`
	}
	_ = json.Unmarshal(report, &r)
	var out []string
	for _, f := range r.Findings {
		if f.Class == "orphan" && f.Login != nil {
			out = append(out, *f.Login)
		}
	}
	return out
}
