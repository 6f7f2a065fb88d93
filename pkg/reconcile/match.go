package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
)

// Finding classes (CONTRACTS section 7), one per roster row or Encompass user.
const (
	ClassInSync        = "in_sync"
	ClassDrift         = "drift"
	ClassAdoptable     = "adoptable"
	ClassSuggested     = "suggested"
	ClassAmbiguous     = "ambiguous"
	ClassMissing       = "missing"
	ClassLeaverEnabled = "leaver_enabled"
	ClassOrphan        = "orphan"
	ClassInvalid       = "invalid"
)

// Classes are every finding class, in the report's order.
var Classes = []string{
	ClassInSync, ClassDrift, ClassAdoptable, ClassSuggested, ClassAmbiguous,
	ClassMissing, ClassLeaverEnabled, ClassOrphan, ClassInvalid,
}

func zeroCounts() map[string]int {
	m := make(map[string]int, len(Classes))
	for _, c := range Classes {
		m[c] = 0
	}
	return m
}

// Finding is one line of the report.
type Finding struct {
	Class string
	// EmployeeID and Login are "" where there is none (null in the report).
	EmployeeID string
	Login      string
	Reason     string
	// Differences are the fields that differ, by canonical name, from
	// Encompass to the roster.
	Differences []account.Change
	// Row is the roster line of the row (0 for an orphan).
	Row int

	// send is the HRIS event type apply sends ("" for none), and link the
	// login an unlinked employee's event names as encompassUserName.
	send hris.Type
	link string
}

// classify decides one valid roster row's class. emp is the row's profile,
// validated; fields are its members, for the event apply sends.
func (run *run) classify(line int, terminated bool, emp hris.Employee) Finding {
	f := Finding{EmployeeID: emp.EmployeeID, Row: line}
	if l, ok := run.links.byEmployee[emp.EmployeeID]; ok {
		return run.classifyLinked(f, terminated, emp, l.UserID, l.Login)
	}
	return run.classifyUnlinked(f, terminated, emp)
}

// classifyLinked: the employee is linked; their account is the linked one.
func (run *run) classifyLinked(f Finding, terminated bool, emp hris.Employee, userID, login string) Finding {
	u := run.users.find(userID, login)
	f.Login = login
	if u == nil {
		if terminated {
			f.Class, f.Reason = ClassInSync, "terminated; the linked account no longer exists in Encompass"
			return f
		}
		f.Class, f.send = ClassMissing, hris.TypeUpdate
		f.Reason = fmt.Sprintf("active; the linked account %s no longer exists in Encompass (the update matches or creates one)", login)
		return f
	}
	u.matched = true
	f.Login = u.login()
	switch {
	case terminated && u.enabled():
		f.Class, f.send = ClassLeaverEnabled, hris.TypeTerminate
		f.Reason = "terminated in the roster; the account is enabled"
	case terminated:
		f.Class, f.Reason = ClassInSync, "terminated; the account is disabled"
	default:
		f.Differences = run.differences(emp, u, false)
		run.driftOrInSync(&f, u)
	}
	return f
}

// driftOrInSync classifies an active, linked row by its differences. A
// disabled account is reported (an update never re-enables it; only a
// rehire does), but an update is sent only for the other differences.
func (run *run) driftOrInSync(f *Finding, u *user) {
	if !u.enabled() {
		f.Differences = append(f.Differences, account.Change{Field: account.FieldEnabled, From: "false", To: "true"})
		account.SortChanges(f.Differences)
	}
	switch {
	case len(f.Differences) == 0:
		f.Class = ClassInSync
	case !u.enabled():
		f.Class = ClassDrift
		f.Reason = "active in the roster; the account is disabled, and an update never re-enables it: send a rehire from the HRIS"
		if len(f.Differences) > 1 {
			f.send = hris.TypeUpdate
		}
	default:
		f.Class, f.send = ClassDrift, hris.TypeUpdate
		f.Reason = "the account differs from the roster in " + fieldList(f.Differences)
	}
}

// classifyUnlinked: the employee is not linked yet. Candidates, in order:
// the explicit link; else the accounts with the employee's id or with
// their userName and e-mail together (adoptable when exactly one); else
// the accounts with their e-mail alone (suggested). Accounts linked to
// another employee are never candidates.
func (run *run) classifyUnlinked(f Finding, terminated bool, emp hris.Employee) Finding {
	email := ""
	if emp.Email.IsSet() {
		email = strings.ToLower(emp.Email.Value)
		// Any account with the row's e-mail is matched: never an orphan.
		for _, u := range run.users.byEmail[email] {
			u.matched = true
		}
	}
	if emp.EncompassUserName != "" {
		return run.classifyExplicit(f, terminated, emp)
	}
	var strong []*user
	if len(emp.EmployeeID) <= encompass.MaxEmployeeIDLength {
		strong = append(strong, run.users.byEmployeeID[emp.EmployeeID]...)
	}
	if u := run.users.byLogin[strings.ToLower(emp.UserName)]; u != nil && emp.UserName != "" && email != "" && strings.EqualFold(u.c[poll.FieldEmail], email) && !slices.Contains(strong, u) {
		strong = append(strong, u)
	}
	strong = run.unowned(strong, emp.EmployeeID)
	for _, u := range strong {
		u.matched = true
	}
	switch len(strong) {
	case 1:
		return run.candidate(f, terminated, emp, strong[0])
	case 0:
	default:
		f.Class = ClassAmbiguous
		f.Reason = "several accounts match by employeeId or by userName and e-mail: " + loginList(strong) + "; name the right one in encompassUserName"
		return f
	}
	weak := run.unowned(run.users.byEmail[email], emp.EmployeeID)
	switch {
	case len(weak) == 1:
		f.Class, f.Login = ClassSuggested, weak[0].login()
		f.Reason = fmt.Sprintf("the account %s has the same e-mail only; name it in encompassUserName to adopt it", weak[0].login())
		if terminated && weak[0].enabled() {
			f.Reason = fmt.Sprintf("terminated in the roster; the account %s, enabled, has the same e-mail only: name it in encompassUserName to disable it", weak[0].login())
		}
		return f
	case len(weak) > 1:
		f.Class = ClassAmbiguous
		f.Reason = "several accounts have the row's e-mail: " + loginList(weak) + "; name the right one in encompassUserName"
		return f
	}
	if terminated {
		f.Class, f.Reason = ClassInSync, "terminated; no account"
		return f
	}
	return run.missing(f, emp)
}

// classifyExplicit: the row names its account in encompassUserName.
func (run *run) classifyExplicit(f Finding, terminated bool, emp hris.Employee) Finding {
	login := emp.EncompassUserName
	u := run.users.byLogin[strings.ToLower(login)]
	if u == nil {
		u = run.lookup(login)
	}
	if u == nil {
		f.Class = ClassInvalid
		f.Reason = fmt.Sprintf("link_not_found: encompassUserName %q names no Encompass account", login)
		return f
	}
	u.matched = true
	if other, owned := run.links.ownedByOther(login, emp.EmployeeID); owned {
		f.Class, f.Login = ClassInvalid, u.login()
		f.Reason = fmt.Sprintf("link_conflict: encompassUserName %q is linked to employee %s", login, other)
		return f
	}
	return run.candidate(f, terminated, emp, u)
}

// candidate classifies a row whose one account is u, not linked yet.
func (run *run) candidate(f Finding, terminated bool, emp hris.Employee, u *user) Finding {
	f.Login, f.link = u.login(), u.login()
	switch {
	case terminated && u.enabled():
		f.Class, f.send = ClassLeaverEnabled, hris.TypeTerminate
		f.Reason = fmt.Sprintf("terminated in the roster; the account %s, not linked yet, is enabled", u.login())
	case terminated:
		f.Class, f.Reason, f.link = ClassInSync, "terminated; the account is disabled (not linked)", ""
	default:
		f.Class, f.send = ClassAdoptable, hris.TypeUpdate
		f.Differences = run.differences(emp, u, true)
		f.Reason = fmt.Sprintf("not linked; exactly one account, %s, matches %s", u.login(), run.matchedBy(emp, u))
	}
	return f
}

func (run *run) matchedBy(emp hris.Employee, u *user) string {
	switch {
	case emp.EncompassUserName != "":
		return "by encompassUserName"
	case u.c[poll.FieldEmployeeID] == emp.EmployeeID:
		return "by employeeId"
	}
	return "by userName and e-mail"
}

// missing: an active employee with no account. Creating one needs what
// provisioning needs (provisioning.CanCreate: the names, e-mail and a
// userName) and a login that is free.
func (run *run) missing(f Finding, emp hris.Employee) Finding {
	if !provisioning.CanCreate(emp) {
		f.Class = ClassInvalid
		f.Reason = "missing_field: active with no account; creating one needs givenName, familyName and email"
		return f
	}
	f.Class, f.send = ClassMissing, hris.TypeUpdate
	f.Reason = "active; no Encompass account matches"
	if u := run.users.byLogin[strings.ToLower(emp.UserName)]; u != nil {
		f.Reason += fmt.Sprintf(" (the login %s exists with another e-mail: creating it will be refused as userName_conflict; name the account in encompassUserName if it is theirs)", u.login())
	}
	return f
}

// unowned drops the accounts linked to an employee other than employeeID.
func (run *run) unowned(us []*user, employeeID string) []*user {
	var out []*user
	for _, u := range us {
		if _, owned := run.links.ownedByOther(u.login(), employeeID); !owned {
			out = append(out, u)
		}
	}
	return out
}

// loginList names at most five accounts.
func loginList(us []*user) string {
	names := make([]string, 0, len(us))
	for _, u := range us {
		names = append(names, u.login())
	}
	slices.Sort(names)
	if len(names) > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
	}
	return strings.Join(names, ", ")
}

// fieldList names the differing fields.
func fieldList(cs []account.Change) string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Field)
	}
	return strings.Join(names, ", ")
}
