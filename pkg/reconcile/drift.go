package reconcile

import (
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/provisioning"
)

// comparedFields are the fields drift is judged on: those both sources of
// users carry (the poller's canonical form, and so the snapshot, has
// neither workingFolder, ssoOnly, nmlsExpirationDate nor state licenses),
// plus the mapped groups when they are read, and the DDA (AIQ) profile's
// role and state when the user's DDA profile is known (a snapshot that
// lists them: user.account). An update sent for drift still applies every
// field of the row.
var comparedFields = map[string]bool{
	account.FieldFirstName: true, account.FieldMiddleName: true, account.FieldLastName: true,
	account.FieldSuffix: true, account.FieldEmail: true, account.FieldPhone: true,
	account.FieldCellPhone: true, account.FieldFax: true, account.FieldTitle: true,
	account.FieldEmployeeID: true, account.FieldOrganizationID: true, account.FieldPersonas: true,
	account.FieldNMLSOriginatorID: true, account.FieldUserGroups: true,
	account.FieldDDARoleName: true, account.FieldDDAEnabled: true,
}

// differences are what an update carrying the row would change in u, as
// provisioning plans it (Target and PlanUpdate, the same mapping):
// decideAccess is provisioning's (true for an adoption, which always
// applies the mapping; false for a linked employee, whose row applies the
// mapping when it carries a job attribute).
func (run *run) differences(emp hris.Employee, u *user, decideAccess bool) []account.Change {
	if run.counting {
		return nil
	}
	r := run.r
	want := provisioning.Target(&hris.Event{Type: hris.TypeUpdate, Employee: emp}, r.cfg.Mapping, decideAccess)
	managed := r.cfg.ManagedGroups
	var groups []string
	if run.users.groupsKnown {
		groups = run.comparableGroups(u, want.Access)
	} else {
		managed = nil
	}
	plan := provisioning.PlanUpdate(u.account(groups, managed), want, false, managed)
	var out []account.Change
	for _, c := range plan.Changes {
		if !comparedFields[c.Field] {
			continue
		}
		// E-mail addresses compare without regard to case (the adoption
		// rule, and the snapshot's canonical form is lower-case).
		if c.Field == account.FieldEmail && strings.EqualFold(c.From, c.To) {
			continue
		}
		out = append(out, c)
	}
	account.SortChanges(out)
	return out
}

// comparableGroups are u's group ids, where a group whose members cannot
// be told (organization members) counts as what the mapping wants, so that
// it never shows as a difference.
func (run *run) comparableGroups(u *user, access *mapping.Assignment) []string {
	groups := make([]string, 0, len(u.groups)+1)
	for _, id := range u.groups {
		if !run.users.opaqueGroups[id] {
			groups = append(groups, id)
		}
	}
	if access != nil {
		for _, g := range access.UserGroups {
			if run.users.opaqueGroups[g.ID] {
				groups = append(groups, g.ID)
			}
		}
	}
	return groups
}
