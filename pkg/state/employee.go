package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Status is the lifecycle status of an employee link.
type Status string

// The employee link statuses.
const (
	// StatusActive: the employee has an enabled Encompass account.
	StatusActive Status = "active"
	// StatusTerminated: the account was disabled by a terminate.
	StatusTerminated Status = "terminated"
	// StatusTombstone: a terminate arrived for an employee never provisioned;
	// it keeps a late, older hire from creating an account.
	StatusTombstone Status = "tombstone"
)

func (s Status) valid() bool {
	return s == StatusActive || s == StatusTerminated || s == StatusTombstone
}

// validDDA reports whether v is a DDA profile state a link may hold: ""
// (none), "enabled" or "disabled".
func validDDA(v string) bool { return v == "" || v == "enabled" || v == "disabled" }

// Employee is the link between an HRIS employee and an Encompass user
// (item pk EMP#<employeeId>, sk PROFILE).
type Employee struct {
	EmployeeID   string
	UserID       string // Encompass user id (loginId for v3, SCIM id where they differ)
	GlobalUserID string
	UserName     string
	// LastDueAt and LastOccurredAt are the ordering key of the last
	// applied event (CONTRACTS section 2a): its due time, then its
	// occurredAt. An event whose key is not greater is stale. Links stored
	// before effective dates have no due time: theirs is LastOccurredAt
	// (OrderingKey).
	LastDueAt      time.Time
	LastOccurredAt time.Time
	LastEventID    string
	// LifecycleOccurredAt and LifecycleDueAt are the occurredAt and due
	// time of the applied hire, rehire or terminate that occurred last: it
	// supersedes any such event that occurred before it and is due no
	// earlier, even one that arrives after it was applied. Zero when none
	// was recorded.
	LifecycleOccurredAt time.Time
	LifecycleDueAt      time.Time
	Status              Status
	// DDA is the employee's DDA (AIQ) profile on GlobalUserID as this
	// system last left it: "" (none), "enabled" or "disabled". A leaver's
	// profile is disabled from it without a read first.
	DDA string
	// Version is the optimistic-lock counter: 0 for a link not yet stored,
	// incremented by every PutEmployee.
	Version   int64
	UpdatedAt time.Time
	// IndexedLogin is the lower-case login the login index holds for this
	// employee ("" for none yet). PutEmployee maintains it: keep the value
	// GetEmployee returned, so that an unchanged login costs no write.
	IndexedLogin string
}

// OrderingKey is the key of the last applied event: (due time,
// occurredAt), the due time being occurredAt on links written before
// effective dates.
func (e Employee) OrderingKey() (due, occurred time.Time) {
	if e.LastDueAt.IsZero() {
		return e.LastOccurredAt, e.LastOccurredAt
	}
	return e.LastDueAt, e.LastOccurredAt
}

func employeePK(id string) string { return "EMP#" + id }

const employeeSK = "PROFILE"

// GetEmployee reads an employee link with a strongly consistent read. found
// is false when there is none.
func (s *Store) GetEmployee(ctx context.Context, employeeID string) (e Employee, found bool, err error) {
	if employeeID == "" {
		return Employee{}, false, fmt.Errorf("state: get employee: empty employee id")
	}
	got, err := s.getItem(ctx, employeePK(employeeID), employeeSK)
	if err != nil {
		return Employee{}, false, fmt.Errorf("state: get employee %s: %w", employeeID, err)
	}
	if len(got) == 0 {
		return Employee{}, false, nil
	}
	e, err = decodeEmployee(got)
	if err != nil {
		return Employee{}, false, err
	}
	return e, true, nil
}

func decodeEmployee(item map[string]types.AttributeValue) (Employee, error) {
	r := &itemReader{item: item, what: "employee item"}
	pk := r.str(AttrPK, true)
	r.what = "employee item " + pk
	e := Employee{
		EmployeeID:     r.str("employeeId", true),
		UserID:         r.str("userId", false),
		GlobalUserID:   r.str("globalUserId", false),
		UserName:       r.str("userName", false),
		LastDueAt:      r.time("lastDueAt", false),
		LastOccurredAt: r.time("lastOccurredAt", true),
		LastEventID:    r.str("lastEventId", false),
		Status:         Status(r.str("status", true)),
		Version:        r.int("version", true),
		UpdatedAt:      r.time("updatedAt", false),
		DDA:            r.str("dda", false),
		IndexedLogin:   r.str("indexedLogin", false),
	}
	e.LifecycleOccurredAt, e.LifecycleDueAt = r.time("lifecycleOccurredAt", false), r.time("lifecycleDueAt", false)
	if r.err == nil && !e.Status.valid() {
		r.fail("status", "unknown status %q (want active, terminated or tombstone)", e.Status)
	}
	if r.err == nil && !validDDA(e.DDA) {
		r.fail("dda", "unknown DDA profile state %q (want enabled or disabled)", e.DDA)
	}
	if r.err == nil && e.Version < 1 {
		r.fail("version", "must be at least 1, got %d", e.Version)
	}
	return e, r.err
}

// PutEmployee writes the link if the stored version is still expectedVersion
// (0: no link may exist yet) and stores it as version expectedVersion+1;
// e.Version is ignored. When another delivery wrote first it returns
// ErrConflict and changes nothing. UpdatedAt defaults to now.
//
// A link whose login is not the one e.IndexedLogin names is entered in the
// login index first (login.go), so that an indexed link never lacks its
// entry; the entry of the login it replaces is removed afterwards.
func (s *Store) PutEmployee(ctx context.Context, e Employee, expectedVersion int64) error {
	if e.EmployeeID == "" {
		return fmt.Errorf("state: put employee: empty employee id")
	}
	if !e.Status.valid() {
		return fmt.Errorf("state: put employee %s: invalid status %q", e.EmployeeID, e.Status)
	}
	if !validDDA(e.DDA) {
		return fmt.Errorf("state: put employee %s: invalid DDA profile state %q", e.EmployeeID, e.DDA)
	}
	if expectedVersion < 0 {
		return fmt.Errorf("state: put employee %s: negative expected version %d", e.EmployeeID, expectedVersion)
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = s.now()
	}
	login, replaced := strings.ToLower(e.UserName), ""
	if login != "" && login != e.IndexedLogin {
		if err := s.indexLogin(ctx, login, e); err != nil {
			return err
		}
		replaced, e.IndexedLogin = e.IndexedLogin, login
	}
	item := key(employeePK(e.EmployeeID), employeeSK)
	item["employeeId"] = str(e.EmployeeID)
	item["status"] = str(string(e.Status))
	item["version"] = num(expectedVersion + 1)
	item["lastOccurredAt"] = str(e.LastOccurredAt.UTC().Format(time.RFC3339Nano))
	item["updatedAt"] = str(e.UpdatedAt.UTC().Format(time.RFC3339Nano))
	for name, t := range map[string]time.Time{"lastDueAt": e.LastDueAt, "lifecycleOccurredAt": e.LifecycleOccurredAt, "lifecycleDueAt": e.LifecycleDueAt} {
		if !t.IsZero() {
			item[name] = str(t.UTC().Format(time.RFC3339Nano))
		}
	}
	for name, v := range map[string]string{
		"userId": e.UserID, "globalUserId": e.GlobalUserID, "userName": e.UserName, "lastEventId": e.LastEventID, "dda": e.DDA,
		"indexedLogin": e.IndexedLogin,
	} {
		if v != "" {
			item[name] = str(v)
		}
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if expectedVersion == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(expectedVersion)}
	}
	if _, err := s.db.PutItem(ctx, in); err != nil {
		if IsConditionFailed(err) {
			return fmt.Errorf("put employee %s at version %d: %w", e.EmployeeID, expectedVersion, ErrConflict)
		}
		return fmt.Errorf("state: put employee %s: %w", e.EmployeeID, err)
	}
	if replaced != "" {
		// Best effort: the link is stored, and failing now would make its
		// retry lose the version check. A leftover entry is stale, which
		// readers resolve (LoginLink).
		s.unindexLogin(ctx, replaced, e.EmployeeID)
	}
	return nil
}
