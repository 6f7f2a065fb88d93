package provisioning

import (
	"context"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/idempotency"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// apply plans and applies the event against the employee's link (read by
// place, which decided that the event is due and in order): a leaver
// (leaver.go) or a joiner or mover (joiner.go). A resumed attempt that
// finds nothing left to write publishes what the attempt before it set
// out to do (record.go).
func (h *Handler) apply(ctx context.Context, ev *hris.Event, a idempotency.Attempt, link state.Employee, found bool) (outcome, error) {
	ctx = context.WithValue(ctx, resumedKey{}, a.Resumed)
	if !found {
		// Version 0: storing the link asks that none exists yet (link).
		link = state.Employee{EmployeeID: ev.Employee.EmployeeID}
	}
	var out outcome
	var err error
	if ev.Type == hris.TypeTerminate {
		out, err = h.terminate(ctx, ev, link)
	} else {
		out, err = h.provision(ctx, ev, link)
	}
	if err != nil || !a.Resumed || out.wrote {
		return out, err
	}
	return h.resume(ctx, ev, out)
}

// target is Target without what the directory cannot write: the v3 API
// does not document the shape of stateLicenses, so in v3 mode licenses are
// left as they are (and the log says so).
func (h *Handler) target(ctx context.Context, ev *hris.Event, decideAccess bool) account.Desired {
	want := Target(ev, h.cfg.Mapping, decideAccess)
	if _, ok := want.Fields[account.FieldStateLicenses]; ok && !h.dir.Writes(account.FieldStateLicenses) {
		delete(want.Fields, account.FieldStateLicenses)
		want.Licenses = nil
		h.log.InfoContext(ctx, "employee.stateLicenses not written: the v3 user API does not take them; use ENCOMPASS_USER_API=scim to sync licenses")
	}
	return want
}

type resumedKey struct{}

// resumed reports whether this attempt resumes one that may have written
// part of its work: it then reads before it writes, so that what is done
// is not written again (a leaver whose DDA disable failed after the
// Encompass disable, a hire whose DDA profile failed after the create).
func resumed(ctx context.Context) bool {
	r, _ := ctx.Value(resumedKey{}).(bool)
	return r
}
