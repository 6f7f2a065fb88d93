package state

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const terminatedPK = "TERMINATED"

// TerminatedUser is an entry of the terminated index (pk TERMINATED, sk
// <employeeId>): an account this system deprovisioned. The poller reports
// drift when such an account is enabled again.
type TerminatedUser struct {
	EmployeeID   string
	UserID       string
	LoginID      string
	TerminatedAt time.Time
}

// MarkTerminated adds the employee to the terminated index (overwriting an
// earlier entry).
func (s *Store) MarkTerminated(ctx context.Context, employeeID, userID, loginID string) error {
	if employeeID == "" {
		return fmt.Errorf("state: mark terminated: empty employee id")
	}
	item := key(terminatedPK, employeeID)
	item["employeeId"] = str(employeeID)
	item["terminatedAt"] = str(s.now().UTC().Format(time.RFC3339Nano))
	if userID != "" {
		item["userId"] = str(userID)
	}
	if loginID != "" {
		item["loginId"] = str(loginID)
	}
	if err := s.put(ctx, item); err != nil {
		return fmt.Errorf("state: mark %s terminated: %w", employeeID, err)
	}
	return nil
}

// ClearTerminated removes the employee from the terminated index (rehire).
// Clearing an absent entry is not an error.
func (s *Store) ClearTerminated(ctx context.Context, employeeID string) error {
	if err := s.del(ctx, terminatedPK, employeeID); err != nil {
		return fmt.Errorf("state: clear terminated %s: %w", employeeID, err)
	}
	return nil
}

// Terminated yields every entry of the terminated index, reading it page by
// page (one Query per page). It stops at the first error, which it yields.
func (s *Store) Terminated(ctx context.Context) iter.Seq2[TerminatedUser, error] {
	return partition(ctx, s, terminatedPK, func(item map[string]types.AttributeValue) (TerminatedUser, bool, error) {
		u, err := decodeTerminated(item)
		return u, true, err
	})
}

// TerminatedOf returns the employee's entry of the terminated index (one
// strongly consistent GetItem); found is false when there is none.
func (s *Store) TerminatedOf(ctx context.Context, employeeID string) (u TerminatedUser, found bool, err error) {
	if employeeID == "" {
		return TerminatedUser{}, false, fmt.Errorf("state: terminated entry: empty employee id")
	}
	item, err := s.getItem(ctx, terminatedPK, employeeID)
	if err != nil {
		return TerminatedUser{}, false, fmt.Errorf("state: terminated entry of %s: %w", employeeID, err)
	}
	if len(item) == 0 {
		return TerminatedUser{}, false, nil
	}
	if u, err = decodeTerminated(item); err != nil {
		return TerminatedUser{}, false, err
	}
	return u, true, nil
}

func decodeTerminated(item map[string]types.AttributeValue) (TerminatedUser, error) {
	r := &itemReader{item: item, what: "terminated item " + sortKeyOf(item)}
	u := TerminatedUser{
		EmployeeID:   r.str("employeeId", true),
		UserID:       r.str("userId", false),
		LoginID:      r.str("loginId", false),
		TerminatedAt: r.time("terminatedAt", false),
	}
	return u, r.err
}

// sortKeyOf names an item by its sort key for error messages.
func sortKeyOf(item map[string]types.AttributeValue) string {
	if s, ok := item[AttrSK].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "?"
}
