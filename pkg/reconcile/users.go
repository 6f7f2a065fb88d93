package reconcile

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/poll"
)

// Where the Encompass users came from (Result.UsersFrom).
const (
	UsersFromSnapshot = "snapshot"
	UsersFromListing  = "listing"
)

// user is one Encompass user as reconciliation compares it: the poller's
// canonical form (the same whether it came from the snapshot or a listing),
// and its mapped groups when they are compared.
type user struct {
	key string
	c   poll.Canonical
	// groups are the ids of the managed groups the user is in; known only
	// when groups are compared.
	groups []string
	// matched: some roster row matches the user (by link, explicit login,
	// employee id, userName and e-mail, or e-mail alone): not an orphan.
	matched bool
	// ddaKnown: c carries the user's DDA (AIQ) profile, or its absence
	// (a snapshot of a poller that lists DDA profiles). The v3 listing and
	// a look-up cannot see DDA profiles.
	ddaKnown bool
}

func (u *user) login() string { return u.c[poll.FieldLoginID] }
func (u *user) enabled() bool { return u.c.Enabled() }

// account is the user in provisioning's terms, for PlanUpdate. groups are
// its group ids when they are compared (nil: not). Its DDA profile is known
// only when the user's is: otherwise PlanUpdate plans nothing for it.
func (u *user) account(groups []string, managed []mapping.Named) *account.Account {
	a := &account.Account{ID: u.key, LoginID: u.login(), Enabled: u.enabled(), Fields: make(map[string]string, poll.NumFields+1)}
	for f := poll.Field(0); f < poll.NumFields; f++ {
		a.Fields[f.String()] = u.c[f]
	}
	if groups != nil {
		a.Groups, a.GroupsKnown = groups, true
		a.SetGroups(managed)
	}
	switch {
	case !u.ddaKnown:
	case u.c.HasDDA():
		a.SetDDA(map[string]string{
			account.FieldDDARoleName: u.c[poll.FieldDDARoleName],
			account.FieldDDAEnabled:  u.c[poll.FieldDDAEnabled],
		})
	default:
		a.SetNoDDA()
	}
	return a
}

// userIndex holds every Encompass user and the ways a roster row finds one.
type userIndex struct {
	all          []*user
	byKey        map[string]*user // lower-case user id, where it is not the lower-case login
	byLogin      map[string]*user // lower-case login id
	byEmployeeID map[string][]*user
	byEmail      map[string][]*user // lower-case e-mail
	from         string
	groupsKnown  bool
	// opaqueGroups are managed groups with organization members: who is in
	// them depends on the organization tree, so they are not compared.
	opaqueGroups map[string]bool
	// missed are logins looked up in Encompass and not found.
	missed map[string]bool
}

func newUserIndex(n int, from string) *userIndex {
	return &userIndex{
		all: make([]*user, 0, n), byKey: map[string]*user{}, byLogin: make(map[string]*user, n),
		byEmployeeID: map[string][]*user{}, byEmail: make(map[string][]*user, n), from: from,
		missed: map[string]bool{},
	}
}

// add indexes a user; ddaKnown says whether c carries its DDA profile.
func (x *userIndex) add(key string, c poll.Canonical, ddaKnown bool) {
	u := &user{key: key, c: c, ddaKnown: ddaKnown}
	x.all = append(x.all, u)
	l := strings.ToLower(u.login())
	if l != "" {
		x.byLogin[l] = u
	}
	// The user id is the lower-case login almost always: only the others
	// need the second map (100,000 users cost one map, not two).
	if k := strings.ToLower(key); k != l {
		x.byKey[k] = u
	}
	if id := c[poll.FieldEmployeeID]; id != "" {
		x.byEmployeeID[id] = append(x.byEmployeeID[id], u)
	}
	if e := strings.ToLower(c[poll.FieldEmail]); e != "" {
		x.byEmail[e] = append(x.byEmail[e], u)
	}
}

// find returns the user a link names: by user id, else by login.
func (x *userIndex) find(userID, login string) *user {
	if userID != "" {
		if u := x.byID(userID); u != nil {
			return u
		}
	}
	return x.byLogin[strings.ToLower(login)]
}

// byID returns the user with the user id (or, as a group member may name
// it, the login).
func (x *userIndex) byID(id string) *user {
	id = strings.ToLower(id)
	if u := x.byKey[id]; u != nil {
		return u
	}
	if u := x.byLogin[id]; u != nil && strings.ToLower(u.key) == id {
		return u
	}
	return nil
}

// loadUsers reads the poller's snapshot when it is younger than
// MaxSnapshotAge (no Encompass call), and otherwise lists Encompass once.
func (run *run) loadUsers(ctx context.Context) (*userIndex, error) {
	r := run.r
	if x, ok := run.fromSnapshot(ctx); ok {
		return x, run.loadGroups(ctx, x)
	}
	x := newUserIndex(1024, UsersFromListing)
	for u, err := range r.cfg.ListUsers(ctx) {
		if err != nil {
			return nil, fmt.Errorf("list Encompass users: %w", err)
		}
		key, c, ok := poll.FromUser(u)
		if !ok {
			r.log.WarnContext(ctx, "an Encompass user without a usable id was left out")
			continue
		}
		x.add(key, c, false)
	}
	return x, run.loadGroups(ctx, x)
}

// fromSnapshot returns the snapshot's users when it is fresh and readable.
func (run *run) fromSnapshot(ctx context.Context) (*userIndex, bool) {
	r := run.r
	if r.cfg.Snapshot == nil {
		return nil, false
	}
	meta, err := r.cfg.Snapshot.LoadMeta(ctx)
	if err != nil {
		r.log.WarnContext(ctx, "the poller's snapshot header cannot be read; listing Encompass", "error", err.Error())
		return nil, false
	}
	age := r.cfg.Now().Sub(meta.ListedAt)
	if meta.Generation == 0 || meta.ListedAt.IsZero() || age >= r.cfg.MaxSnapshotAge || age < -r.cfg.MaxSnapshotAge {
		r.log.InfoContext(ctx, "no fresh snapshot of the poller; listing Encompass", "generation", meta.Generation, "snapshotAge", age.Round(time.Second).String())
		return nil, false
	}
	users, err := r.cfg.Snapshot.LoadUsers(ctx, meta)
	if err != nil {
		r.log.WarnContext(ctx, "the poller's snapshot cannot be read; listing Encompass", "error", err.Error())
		return nil, false
	}
	x := newUserIndex(len(users), UsersFromSnapshot)
	for key, su := range users {
		if su.Removed || su.Unreadable || su.Form == "" {
			continue
		}
		c, ok := poll.ParseForm(su.Form)
		if !ok {
			r.log.WarnContext(ctx, "a snapshot user in a form this version cannot read; listing Encompass")
			return nil, false
		}
		x.add(key, c, r.cfg.SnapshotDDA)
	}
	r.log.InfoContext(ctx, "users from the poller's snapshot", "users", len(x.all), "snapshotAge", age.Round(time.Second).String())
	return x, true
}

// loadGroups reads each managed group's members (one call per group), so
// that group memberships are compared too.
func (run *run) loadGroups(ctx context.Context, x *userIndex) error {
	r := run.r
	if r.cfg.Group == nil || r.cfg.ManagedGroups == nil {
		return nil
	}
	members := make([][]string, len(r.cfg.ManagedGroups))
	opaque := make([]bool, len(r.cfg.ManagedGroups))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, mg := range r.cfg.ManagedGroups {
		g.Go(func() error {
			grp, err := r.cfg.Group(gctx, mg.ID)
			if err != nil {
				return fmt.Errorf("read user group %s: %w", mg.Name, err)
			}
			for _, m := range grp.Members {
				if strings.EqualFold(m.Type, "User") {
					members[i] = append(members[i], strings.ToLower(m.Value))
				} else {
					opaque[i] = true
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	x.opaqueGroups = map[string]bool{}
	for i, mg := range r.cfg.ManagedGroups {
		if opaque[i] {
			x.opaqueGroups[mg.ID] = true
			r.log.InfoContext(ctx, "a mapped group has organization members: its memberships are not compared", "group", mg.Name)
		}
	}
	for i, mg := range r.cfg.ManagedGroups {
		for _, id := range members[i] {
			u := x.byID(id)
			if u == nil {
				u = x.byLogin[id]
			}
			if u != nil {
				u.groups = append(u.groups, mg.ID)
			}
		}
	}
	x.groupsKnown = true
	return nil
}

// lookup asks Encompass for a login the snapshot does not know (made since
// the last poll), and adds what it finds to the users: one call per such
// login, only when the users came from the snapshot.
func (run *run) lookup(login string) *user {
	r := run.r
	if run.users.from != UsersFromSnapshot || r.cfg.FindUser == nil || run.err != nil {
		return nil
	}
	if run.users.missed[strings.ToLower(login)] {
		return nil
	}
	found, err := r.cfg.FindUser(run.ctx, login)
	if errors.Is(err, encompass.ErrNotFound) {
		run.users.missed[strings.ToLower(login)] = true
		return nil
	}
	if err != nil {
		run.err = fmt.Errorf("look up login %s: %w", login, err)
		return nil
	}
	key, c, ok := poll.FromUser(*found)
	if !ok {
		return nil
	}
	run.users.add(key, c, false)
	return run.users.byLogin[strings.ToLower(login)]
}

// ignored reports whether a RECONCILE_IGNORE_LOGINS pattern covers login.
func (r *Reconciler) ignored(login string) bool {
	login = strings.ToLower(login)
	for _, p := range r.cfg.IgnoreLogins {
		if ok, _ := path.Match(p, login); ok {
			return true
		}
	}
	return false
}

// apiUsers asks which of the logins are API users, a few at a time.
func (r *Reconciler) apiUsers(ctx context.Context, logins []string) (map[string]bool, error) {
	out := map[string]bool{}
	if r.cfg.IsAPIUser == nil {
		return out, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, l := range logins {
		g.Go(func() error {
			api, err := r.cfg.IsAPIUser(gctx, l)
			if err != nil {
				return fmt.Errorf("is %s an API user: %w", l, err)
			}
			mu.Lock()
			out[l] = api
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}
