// Package provisioning turns validated HRIS events into Encompass account
// changes (CONTRACTS section 2): it plans the change (create, adopt, patch only
// changed fields, re-enable, disable), applies it through the v3 or the SCIM
// user API, records it in the state table, and publishes the outcome.
//
// The package declares the small interfaces it consumes (Users, SCIM, Store,
// Publisher); the real implementations are pkg/encompass's services,
// pkg/state's Store and pkg/publish's Publisher, wired in functions/*/main.go.
package provisioning

import (
	"context"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
	"github.com/lenderops/encompass-lifecycle/pkg/publish"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Users is the part of the v3 user API this package uses
// (*encompass.UsersService).
type Users interface {
	Get(ctx context.Context, id string) (*encompass.User, error)
	FindByLoginID(ctx context.Context, loginID string) (*encompass.User, error)
	Create(ctx context.Context, u encompass.User) (*encompass.User, error)
	Patch(ctx context.Context, id string, patch encompass.UserPatch) (*encompass.User, error)
}

// SCIM is the part of the SCIM API this package uses (*encompass.SCIMService).
type SCIM interface {
	CreateUser(ctx context.Context, u encompass.SCIMUser) (*encompass.SCIMUser, error)
	GetUser(ctx context.Context, guid string) (*encompass.SCIMUser, error)
	FindUserByUserName(ctx context.Context, userName string) (*encompass.SCIMUser, error)
	PatchUser(ctx context.Context, guid string, ops []encompass.PatchOp) error
	DisableUser(ctx context.Context, guid string) error
	GetGroup(ctx context.Context, id string) (*encompass.SCIMGroup, error)
	AddGroupMembers(ctx context.Context, groupID string, members ...encompass.SCIMGroupMember) error
	RemoveGroupMember(ctx context.Context, groupID string, member encompass.SCIMGroupMember) error
}

// Store is the part of the state table this package uses (*state.Store).
type Store interface {
	Claim(ctx context.Context, key state.ClaimKey, owner string, o state.ClaimOptions) (state.Claim, error)
	GetClaim(ctx context.Context, key state.ClaimKey) (state.Claim, bool, error)
	CompleteClaim(ctx context.Context, key state.ClaimKey, outcome string) error
	ReleaseClaim(ctx context.Context, key state.ClaimKey) error
	GetEmployee(ctx context.Context, employeeID string) (state.Employee, bool, error)
	PutEmployee(ctx context.Context, e state.Employee, expectedVersion int64) error
	RecordWrite(ctx context.Context, w state.Write) error
	MarkTerminated(ctx context.Context, employeeID, userID, loginID string) error
	ClearTerminated(ctx context.Context, employeeID string) error
	PutRejectedBody(ctx context.Context, eventID, messageID string, body []byte, ttl time.Duration) (state.ItemRef, error)
}

// Publisher sends outcome events to EventBridge (*publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...publish.Event) error
}

// Metrics counts outcomes (*telemetry.Metrics).
type Metrics interface {
	Add(name string, n float64)
}

// UserAPI selects which API creates, updates and disables users
// (ENCOMPASS_USER_API).
type UserAPI string

// The two user APIs.
const (
	UserAPISCIM UserAPI = "scim"
	UserAPIV3   UserAPI = "v3"
)
