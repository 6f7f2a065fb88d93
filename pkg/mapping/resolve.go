package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ResolveFunc maps names to ids, case-insensitively, failing with an error
// that names the unknown and the known names. The Encompass client's
// Personas.Resolve, Organizations.Resolve and SCIM.ResolveGroups fit as they
// are.
type ResolveFunc func(ctx context.Context, names []string) (map[string]string, error)

// Resolvers are the look-ups Resolve needs. Groups may be nil: the v3 user API
// has no user groups, so group names are then kept but never reconciled.
type Resolvers struct {
	Personas      ResolveFunc
	Organizations ResolveFunc
	Groups        ResolveFunc
}

// Named is a resolved name.
type Named struct {
	ID   string
	Name string
}

// Resolved is a rule set whose names have been resolved to the ids of one
// Encompass instance. It is immutable and safe for concurrent use.
type Resolved struct {
	rules    *Rules
	personas map[string]Named // by lower-case name
	orgs     map[string]Named
	groups   map[string]Named
	managed  []Named
	namesDDA bool
	// GroupsManaged is false when no group resolver was given (v3 mode).
	GroupsManaged bool
}

// Resolve looks every name of r up once. The three look-ups run at once:
// at cold start they are the only Encompass calls, and the client fetches
// its token once for all of them, so init costs about two calls' latency,
// not four. An unknown name is a start-up error that lists every unknown
// name of every kind together with the known ones, so one fix of the
// mapping file is enough.
func Resolve(ctx context.Context, r *Rules, res Resolvers) (*Resolved, error) {
	personas, orgs, groups := r.names()
	out := &Resolved{rules: r, namesDDA: len(r.DDAKeys()) > 0, GroupsManaged: res.Groups != nil}
	lookups := []lookup{
		{"persona", personas, res.Personas, &out.personas},
		{"organization", orgs, res.Organizations, &out.orgs},
	}
	if res.Groups != nil {
		lookups = append(lookups, lookup{"user group", groups, res.Groups, &out.groups})
	}
	// Each look-up writes its own result and error, and the errors are
	// joined in the order above, so the start-up error reads the same
	// whichever look-up answers first.
	errs := make([]error, len(lookups))
	var wg sync.WaitGroup
	for i, l := range lookups {
		wg.Go(func() { *l.into, errs[i] = resolve(ctx, l.kind, l.names, l.f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mapping: names that do not exist in this Encompass instance: %w", err)
	}
	for _, g := range out.groups {
		out.managed = append(out.managed, g)
	}
	slices.SortFunc(out.managed, func(a, b Named) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// lookup is one kind of name to resolve, and where its result goes.
type lookup struct {
	kind  string
	names []string
	f     ResolveFunc
	into  *map[string]Named
}

func resolve(ctx context.Context, kind string, names []string, f ResolveFunc) (map[string]Named, error) {
	out := map[string]Named{}
	if len(names) == 0 {
		return out, nil
	}
	if f == nil {
		return nil, fmt.Errorf("no resolver for %s names", kind)
	}
	ids, err := f(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	byLower := map[string]string{}
	for n, id := range ids {
		byLower[strings.ToLower(n)] = id
	}
	var missing []string
	for _, n := range names {
		id, ok := byLower[strings.ToLower(n)]
		if !ok {
			missing = append(missing, n)
			continue
		}
		out[strings.ToLower(n)] = Named{ID: id, Name: n}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: unknown names %q", kind, missing)
	}
	return out, nil
}

// Assignment is the access one employee should have.
type Assignment struct {
	// Rule names the rule that matched ("rules[2]") or "defaults".
	Rule         string
	Organization Named
	// Personas are sorted by id.
	Personas []Named
	// UserGroups are the groups the user should be in, sorted by name; empty
	// when groups are not managed.
	UserGroups    []Named
	WorkingFolder string
	SSOOnly       bool
	// DDA is the DDA (AIQ) profile the rule grants; nil for none.
	DDA *AssignedDDA
}

// AssignedDDA is the DDA profile one employee should have.
type AssignedDDA struct {
	RoleName string
	SSOOnly  bool
}

// PersonaIDs returns the persona ids, sorted.
func (a Assignment) PersonaIDs() []string {
	ids := make([]string, len(a.Personas))
	for i, p := range a.Personas {
		ids[i] = p.ID
	}
	return ids
}

// NamesDDA reports whether any rule (or the defaults) grants a DDA profile:
// only then are DDA profiles looked for where no rule grants one (an
// adopted account's, an unlinked leaver's), so that a lender without DDA
// pays no call for them.
func (r *Resolved) NamesDDA() bool { return r.namesDDA }

// ManagedGroups returns every group the mapping names: the user joins those of
// its rule and leaves the others; groups outside this list are never touched.
func (r *Resolved) ManagedGroups() []Named { return slices.Clone(r.managed) }

// Assign returns the access for an employee with attributes a. ssoOnly, when
// non-nil, is the employee's own ssoOnly, which overrides the rule.
func (r *Resolved) Assign(a Attributes, ssoOnly *bool) Assignment {
	i := r.rules.Match(a)
	eff := r.rules.effective(i)
	as := Assignment{Rule: "defaults"}
	if i >= 0 {
		as.Rule = fmt.Sprintf("rules[%d]", i)
	}
	as.Organization = r.orgs[strings.ToLower(*eff.Organization)]
	seen := map[string]bool{}
	for _, p := range eff.Personas {
		n := r.personas[strings.ToLower(p)]
		if !seen[n.ID] {
			seen[n.ID] = true
			as.Personas = append(as.Personas, n)
		}
	}
	slices.SortFunc(as.Personas, func(a, b Named) int { return strings.Compare(a.ID, b.ID) })
	if r.GroupsManaged {
		for _, g := range eff.UserGroups {
			as.UserGroups = append(as.UserGroups, r.groups[strings.ToLower(g)])
		}
		slices.SortFunc(as.UserGroups, func(a, b Named) int { return strings.Compare(a.Name, b.Name) })
		as.UserGroups = slices.CompactFunc(as.UserGroups, func(a, b Named) bool { return a.ID == b.ID })
	}
	if eff.WorkingFolder != nil {
		as.WorkingFolder = *eff.WorkingFolder
	}
	if eff.SSOOnly != nil {
		as.SSOOnly = *eff.SSOOnly
	}
	if ssoOnly != nil {
		as.SSOOnly = *ssoOnly
	}
	if d := eff.DDA.Value; d != nil {
		// DDA signs in through SSO only unless the rule says otherwise;
		// the employee's own ssoOnly overrides the rule here too.
		as.DDA = &AssignedDDA{RoleName: d.RoleName, SSOOnly: d.SSOOnly == nil || *d.SSOOnly}
		if ssoOnly != nil {
			as.DDA.SSOOnly = *ssoOnly
		}
	}
	return as
}
