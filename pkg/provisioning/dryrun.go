package provisioning

import (
	"context"
	"log/slog"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/schedule"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// dryRunStore reads the state table and writes nothing to it (DRY_RUN):
// every write is logged as what would have been written. A claim is taken
// without writing it, so that an event completed before is still a
// duplicate and any other runs; a completed claim's pending outcome is not
// handed on again (a dry run publishes only its own descriptions).
type dryRunStore struct {
	Store
	log *slog.Logger
}

func (s dryRunStore) Claim(ctx context.Context, key state.ClaimKey, owner string, _ state.ClaimOptions) (state.Claim, error) {
	c, found, err := s.Store.GetClaim(ctx, key)
	if err != nil {
		return state.Claim{}, err
	}
	if found && c.Status == state.ClaimDone {
		c.Outcome = ""
		return c, nil
	}
	return state.Claim{Key: key, Status: state.ClaimInProgress, Owner: owner}, nil
}

func (s dryRunStore) CompleteClaim(context.Context, state.ClaimKey, string) error { return nil }
func (s dryRunStore) ReleaseClaim(context.Context, state.ClaimKey) error          { return nil }

func (s dryRunStore) PutEmployee(ctx context.Context, e state.Employee, _ int64) error {
	s.log.DebugContext(ctx, "dry run: would store the employee link", "status", string(e.Status), "userId", e.UserID)
	return nil
}

func (s dryRunStore) IndexLogin(ctx context.Context, login string, _ state.Employee) error {
	s.log.DebugContext(ctx, "dry run: would index the login", "loginId", login)
	return nil
}

func (s dryRunStore) RecordWrite(ctx context.Context, w state.Write) error {
	s.log.DebugContext(ctx, "dry run: would record the write", "loginId", w.LoginID, "action", w.Action)
	return nil
}

func (s dryRunStore) MarkTerminated(ctx context.Context, employeeID, _, _ string) error {
	s.log.DebugContext(ctx, "dry run: would mark the employee terminated", "employeeId", employeeID)
	return nil
}

func (s dryRunStore) ClearTerminated(ctx context.Context, employeeID string) error {
	s.log.DebugContext(ctx, "dry run: would clear the terminated mark", "employeeId", employeeID)
	return nil
}

// PutRejectedBody keeps nothing: the rejection event carries no
// messageStoredAt in a dry run.
func (s dryRunStore) PutRejectedBody(ctx context.Context, eventID, _ string, body []byte, _ time.Duration) (state.ItemRef, error) {
	s.log.DebugContext(ctx, "dry run: would keep the rejected body", "bytes", len(body))
	return state.ItemRef{}, nil
}

// PutHeld and DeleteHeld keep nothing: a dry run holds no event (it is
// published as HRIS Event Scheduled, dryRun).
func (s dryRunStore) PutHeld(ctx context.Context, h state.Held) error {
	s.log.DebugContext(ctx, "dry run: would record the held event", "dueAt", h.DueAt.UTC().Format(time.RFC3339))
	return nil
}

func (s dryRunStore) DeleteHeld(ctx context.Context, k state.HeldKey) error {
	s.log.DebugContext(ctx, "dry run: would remove the held event", "heldEventId", k.EventID)
	return nil
}

// dryRunScheduler creates and deletes no schedule (DRY_RUN): it logs what
// it would have done.
type dryRunScheduler struct{ log *slog.Logger }

func (s dryRunScheduler) Create(ctx context.Context, h schedule.Hold) error {
	s.log.DebugContext(ctx, "dry run: would create the schedule", "scheduleName", h.Name, "at", schedule.Expression(h.At))
	return nil
}

func (s dryRunScheduler) Delete(ctx context.Context, name string) error {
	s.log.DebugContext(ctx, "dry run: would delete the schedule", "scheduleName", name)
	return nil
}
