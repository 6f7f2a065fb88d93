package poll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Detail types of the poller's events (CONTRACTS §3), named here for the
// poller's own code; the strings are pkg/catalog's.
const (
	TypeUserCreated   = catalog.UserCreated
	TypeUserChanged   = catalog.UserChanged
	TypeUserDisabled  = catalog.UserDisabled
	TypeUserEnabled   = catalog.UserEnabled
	TypeUserRemoved   = catalog.UserRemoved
	TypeBaseline      = catalog.BaselineEstablished
	TypeAnomaly       = catalog.PollAnomaly
	TypeDriftDetected = catalog.UserDriftDetected
)

// Origins of a difference.
const (
	OriginProvisioning = "provisioning"
	OriginExternal     = "external"
)

// event is one poller event (source encompass.poller).
func event(detailType string, detail any) publish.Event {
	return publish.Event{Source: catalog.SourcePoller, DetailType: detailType, Detail: detail}
}

// UserDetail is the detail of the per-user events.
type UserDetail struct {
	EventID string `json:"eventId"`
	UserID  string `json:"userId"`
	LoginID string `json:"loginId"`
	Origin  string `json:"origin"`
	// Changes is set for User Changed only.
	Changes []Change `json:"changes,omitempty"`
	// Products names the products the user has a profile in, for a user
	// with a DDA profile: ["encompass", "dda"] (left out for Encompass
	// alone).
	Products []string `json:"products,omitempty"`
	// User is the new canonical user, set for User Created.
	User map[string]string `json:"user,omitempty"`
	// EmployeeID is set for User Drift Detected: the employee the state
	// table marks as terminated.
	EmployeeID string `json:"employeeId,omitempty"`
	// Generation is the poll generation that observed the difference.
	Generation int64 `json:"generation"`
}

// BaselineDetail is the detail of Baseline Established.
type BaselineDetail struct {
	EventID    string `json:"eventId"`
	Users      int    `json:"users"`
	Generation int64  `json:"generation"`
	// Reason is set when a baseline is recorded again ("snapshot base
	// damaged").
	Reason string `json:"reason,omitempty"`
}

// AnomalyDetail is the detail of Poll Anomaly.
type AnomalyDetail struct {
	EventID         string  `json:"eventId"`
	KnownUsers      int     `json:"knownUsers"`
	ListedUsers     int     `json:"listedUsers"`
	Removed         int     `json:"removed"`
	Disabled        int     `json:"disabled"`
	MaxRemovalRatio float64 `json:"maxRemovalRatio"`
	// Sample names up to 20 of the users concerned, to start the
	// investigation from.
	Sample     []string `json:"sample"`
	Generation int64    `json:"generation"`
}

// eventID is deterministic in the generation, the user, the kind and both
// states: a poll that is re-run after a crash or a stop publishes the same
// ids (so consumers can drop the duplicates), while a later, different
// difference of the same user always gets a new id.
func eventID(gen int64, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(gen, 10)))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "poll-" + strconv.FormatInt(gen, 10) + "-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// fieldsMap is a canonical user as a map of its non-empty fields.
func fieldsMap(c Canonical) map[string]string {
	m := make(map[string]string, NumFields)
	for f, v := range c {
		if v != "" {
			m[Field(f).String()] = v
		}
	}
	return m
}

// recorded returns the value the write log recorded for field, normalised,
// and whether it recorded one at all. Field names are matched
// case-insensitively because the write log is written by another function.
func recorded(w state.Write, f Field) (string, bool) {
	if v, ok := w.Fields[f.String()]; ok {
		return normalise(f, v), true
	}
	for k, v := range w.Fields {
		if strings.EqualFold(k, f.String()) {
			return normalise(f, v), true
		}
	}
	return "", false
}

// wrote reports whether the latest recorded write of field set it to value.
// Only the latest counts: after a hire (enabled true) and a leave (enabled
// false), an account found enabled was re-enabled by someone else.
func wrote(writes []state.Write, f Field, value string) bool {
	last, found := "", false
	for _, w := range writes { // oldest first (state.Store.WritesSince)
		if v, ok := recorded(w, f); ok {
			last, found = v, true
		}
	}
	return found && last == value
}

// originOf decides a difference's origin: provisioning when every field it
// changed matches a write the provisioning functions recorded since the
// previous poll (same user, same field, same new value), else external. A
// mixed difference is external: someone outside this system touched the
// user, which is what the event must make visible.
func originOf(writes []state.Write, kind string, c Canonical, changes []Change) string {
	if len(writes) == 0 {
		return OriginExternal
	}
	switch kind {
	case TypeUserCreated:
		// The user did not exist at the previous poll; any recorded write
		// to that login since then is the creation.
		return OriginProvisioning
	case TypeUserDisabled, TypeUserEnabled, TypeDriftDetected:
		if wrote(writes, FieldEnabled, c[FieldEnabled]) {
			return OriginProvisioning
		}
		return OriginExternal
	case TypeUserChanged:
		for _, ch := range changes {
			f, ok := FieldByName(ch.Field)
			if !ok || !wrote(writes, f, ch.To) {
				return OriginExternal
			}
		}
		return OriginProvisioning
	}
	return OriginExternal
}

// events builds the chunk's events, looking up the write log (one query per
// user with events, in parallel) to set each event's origin.
func (p *Poller) events(ctx context.Context, chunk []*diffEntry, gen int64, since time.Time) ([]publish.Event, error) {
	perUser := make([][]publish.Event, len(chunk))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	for i, d := range chunk {
		if len(d.kinds) == 0 {
			continue
		}
		g.Go(func() error {
			var writes []state.Write
			// A removal's origin is always external: nothing to look up.
			if !(len(d.kinds) == 1 && d.kinds[0] == TypeUserRemoved) {
				var err error
				writes, err = p.cfg.State.WritesSince(gctx, d.loginID(), since)
				if err != nil {
					return fmt.Errorf("poll: read write log of %s: %w", d.loginID(), err)
				}
			}
			perUser[i] = d.events(gen, writes)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []publish.Event
	for _, evs := range perUser {
		out = append(out, evs...)
	}
	return out, nil
}

// current is the user's canonical form as it is now, or as it was before
// its removal.
func (d *diffEntry) current() Canonical {
	if d.newEnc == "" {
		return d.oldC
	}
	return d.newC
}

// loginID is the user's login id, or its key when the form has none.
func (d *diffEntry) loginID() string {
	if id := d.current()[FieldLoginID]; id != "" {
		return id
	}
	return d.key
}

// events are the user's events of generation gen; writes are the write-log
// entries that may explain them.
func (d *diffEntry) events(gen int64, writes []state.Write) []publish.Event {
	oldEnc := ""
	if d.old != nil {
		oldEnc = d.old.Form
	}
	c := d.current()
	out := make([]publish.Event, 0, len(d.kinds))
	for _, kind := range d.kinds {
		detail := UserDetail{
			EventID:    eventID(gen, d.key, kind, oldEnc, d.newEnc),
			UserID:     d.key,
			LoginID:    d.loginID(),
			Origin:     originOf(writes, kind, c, d.changes),
			Products:   products(c),
			Generation: gen,
		}
		switch kind {
		case TypeUserChanged:
			detail.Changes = d.changes
		case TypeUserCreated:
			detail.User = fieldsMap(c)
		case TypeDriftDetected:
			detail.EmployeeID = d.emp
		}
		out = append(out, event(kind, detail))
	}
	return out
}
