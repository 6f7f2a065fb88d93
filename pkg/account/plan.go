package account

import (
	"slices"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
)

// Change is one field this system changes, by canonical name. Passwords are
// never a Change.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// SortChanges orders changes by field, as every plan and event lists them.
func SortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int { return strings.Compare(a.Field, b.Field) })
}

// Desired is the state an event asks for: canonical field values, present
// only for the fields the event (or the mapping) speaks about. An empty value
// means "clear".
type Desired struct {
	LoginID string
	Fields  map[string]string
	// Access is the mapping's assignment when the event decides access; nil
	// leaves organization, personas, groups and working folder as they are.
	Access *mapping.Assignment
	// Licenses are the state licenses the event lists (Fields carries their
	// canonical value under FieldStateLicenses when the event speaks of
	// them; null or [] clears them).
	Licenses []hris.StateLicense
}

// Action is what a plan does to the account.
type Action string

// The plan actions; they name the outcome in events and metrics.
const (
	ActionCreate     Action = "created"
	ActionAdopt      Action = "adopted"
	ActionUpdate     Action = "updated"
	ActionReactivate Action = "reactivated"
	ActionDisable    Action = "disabled"
	ActionNone       Action = "unchanged"
)

// Plan is the change to make to one Encompass account.
type Plan struct {
	Action Action
	// Changes are sorted by field; they list every field written.
	Changes []Change
	// Enable and Disable change the account state (also listed in Changes).
	Enable, Disable bool
	// SetPassword asks for a new random password with requirePasswordChange
	// (a user who is, or becomes, not SSO-only).
	SetPassword bool
	// GroupsAdd and GroupsRemove reconcile the mapped user groups.
	GroupsAdd, GroupsRemove []mapping.Named
	// Licenses is the whole new set of state licenses when they change;
	// LicensesDropped are the states licensed before and not any more.
	Licenses        []hris.StateLicense
	LicensesDropped []string
	// DDA is what the plan does to the DDA (AIQ) profile.
	DDA DDAPlan
}

// Writes reports whether the plan writes anything, to the Encompass
// profile or to the DDA profile.
func (p Plan) Writes() bool {
	return p.WritesAccount() || p.WritesDDA()
}

// WritesAccount reports whether the plan writes to the Encompass profile
// (fields, password, groups).
func (p Plan) WritesAccount() bool {
	if p.SetPassword || len(p.GroupsAdd)+len(p.GroupsRemove) > 0 {
		return true
	}
	for _, c := range p.Changes {
		if !IsDDAField(c.Field) {
			return true
		}
	}
	return false
}

// WritesDDA reports whether the plan writes to the DDA profile.
func (p Plan) WritesDDA() bool {
	if p.DDA.Add || p.DDA.Disable || p.DDA.SetPassword {
		return true
	}
	for _, c := range p.Changes {
		if IsDDAField(c.Field) {
			return true
		}
	}
	return false
}

// After returns the value field has once the plan is applied to cur.
func (p Plan) After(cur *Account, field string) string {
	if v, ok := p.Changed(field); ok {
		return v
	}
	return cur.Field(field)
}

// Products lists the products cur has a profile in once the plan is
// applied (CONTRACTS section 3, detail.products): Encompass, and DDA when
// cur has a profile or the plan writes one (adds, disables or changes it).
func (p Plan) Products(cur *Account) []string {
	if cur != nil && cur.HasDDA || p.WritesDDA() {
		return []string{ProductEncompass, ProductDDA}
	}
	return []string{ProductEncompass}
}

// Changed returns the planned new value of field and whether it changes.
func (p Plan) Changed(field string) (string, bool) {
	for _, c := range p.Changes {
		if c.Field == field {
			return c.To, true
		}
	}
	return "", false
}
