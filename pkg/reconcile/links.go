package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// linkIndex is every employee link, read from the login index (one Query
// per shard page): by employee, and by login the employee who holds it.
type linkIndex struct {
	byEmployee map[string]state.LoginLink
	owner      map[string]string // lower-case login -> employee id
}

// loadLinks reads the login index. An employee with more than one entry
// (an account re-created under another login, and the old entry not yet
// removed) is settled by its link, which is the truth.
func (run *run) loadLinks(ctx context.Context) (*linkIndex, error) {
	x := &linkIndex{byEmployee: map[string]state.LoginLink{}, owner: map[string]string{}}
	extra := map[string][]state.LoginLink{}
	for l, err := range run.r.cfg.Store.LoginLinks(ctx) {
		if err != nil {
			return nil, fmt.Errorf("read the login index: %w", err)
		}
		if prev, dup := x.byEmployee[l.EmployeeID]; dup {
			if extra[l.EmployeeID] == nil {
				extra[l.EmployeeID] = []state.LoginLink{prev}
			}
			extra[l.EmployeeID] = append(extra[l.EmployeeID], l)
			continue
		}
		x.byEmployee[l.EmployeeID] = l
	}
	for id, entries := range extra {
		link, found, err := run.r.cfg.Store.GetEmployee(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read the link of employee %s: %w", id, err)
		}
		delete(x.byEmployee, id)
		for _, e := range entries {
			if found && strings.EqualFold(e.Login, link.UserName) {
				x.byEmployee[id] = e
			}
		}
	}
	for id, l := range x.byEmployee {
		x.owner[strings.ToLower(l.Login)] = id
	}
	return x, nil
}

// ownedByOther reports whether login is linked to an employee other than
// employeeID.
func (x *linkIndex) ownedByOther(login, employeeID string) (string, bool) {
	id, ok := x.owner[strings.ToLower(login)]
	return id, ok && id != employeeID
}
