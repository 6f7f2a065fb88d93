package poll

import (
	"context"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// DDAProfiles lists the DDA (AIQ) profiles of the tenant's global user ids.
// *encompass.SCIMService satisfies it.
type DDAProfiles interface {
	AIQUsersPaginator(opts encompass.SCIMListOptions, optFns ...func(*encompass.PaginatorOptions)) *encompass.Paginator[encompass.AIQUser]
}

// A poll with Config.DDA sees each user's DDA profile as part of the user
// (its role and state: the canonical fields dda.roleName and dda.enabled),
// so that a DDA profile disabled, enabled or given another role is a User
// Changed like any other field, with its origin from the write log, and a
// leaver's DDA profile enabled again is drift. The v3 listing cannot see
// DDA profiles: they are listed through SCIM (GET /scim2/v1/users with the
// AIQUser schema, 100 a page), ceil(profiles/100) calls and at least one
// per poll, beside the ceil(users/200) of the v3 listing, and joined to the
// users by userName (the DDA profiles this system adds carry the Encompass
// login id; one an administrator gave another userName is not seen).

// ddaProfile is what a poll keeps of a DDA profile: its canonical role and
// state.
type ddaProfile struct{ role, enabled string }

// listDDA lists every DDA profile, by lower-cased userName.
func (p *Poller) listDDA(ctx context.Context) (map[string]ddaProfile, error) {
	out := map[string]ddaProfile{}
	pg := p.cfg.DDA.AIQUsersPaginator(encompass.SCIMListOptions{}, func(o *encompass.PaginatorOptions) { o.InFlight = p.cfg.ListInFlight })
	for u, err := range pg.All(ctx) {
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(strings.TrimSpace(u.UserName))
		if key == "" || len(key) > maxKeyBytes {
			continue
		}
		out[key] = ddaProfile{role: normalise(FieldDDARoleName, u.RoleName), enabled: boolString(u.IsEnabled())}
	}
	return out, nil
}

// ddaJoin adds what the DDA listing found to one listed user's form; nil
// when the poll does not list DDA profiles.
type ddaJoin func(key, enc string) string

// joinDDA adds the DDA profiles to the listed users, and returns the join
// for users read back later (checkRemovals). When the DDA listing failed,
// each user keeps the DDA values of its snapshot form, so that a failing
// DDA listing (a tenant without DDA, an outage) reports no change rather
// than every profile gone; the log says so.
func (p *Poller) joinDDA(ctx context.Context, in *gathered) ddaJoin {
	if p.cfg.DDA == nil {
		return nil
	}
	join := func(key, enc string) string {
		if d, ok := in.dda[key]; ok {
			return withDDA(enc, d.role, d.enabled)
		}
		return enc
	}
	if in.ddaErr != nil {
		p.log.WarnContext(ctx, "poll: the DDA profiles could not be listed; each user keeps the DDA values of the last poll", "error", in.ddaErr.Error())
		join = func(key, enc string) string {
			old, ok := in.snap[key]
			if !ok || old.Removed || old.Unreadable {
				return enc
			}
			if strings.Count(old.Form, sep)+1 <= legacyFields {
				return enc // no DDA profile last time
			}
			oc, _, _ := decodeCanonical(old.Form)
			return withDDA(enc, oc[FieldDDARoleName], oc[FieldDDAEnabled])
		}
	}
	for key, enc := range in.listing.users {
		in.listing.users[key] = join(key, enc)
	}
	return join
}

// withDDA returns enc with the DDA fields set.
func withDDA(enc, role, enabled string) string {
	c, _, ok := decodeCanonical(enc)
	if !ok {
		return enc
	}
	c[FieldDDARoleName], c[FieldDDAEnabled] = role, enabled
	return c.encode()
}

// products names the products a user has a profile in, for the details of
// users with a DDA profile (nil otherwise: Encompass alone is the default).
func products(c Canonical) []string {
	if c.HasDDA() {
		return []string{"encompass", "dda"}
	}
	return nil
}
