package provisioning

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/hris"
	"github.com/lenderops/encompass-lifecycle/pkg/mapping"
	"github.com/lenderops/encompass-lifecycle/pkg/state"
)

// Defaults of Config.
const (
	DefaultConcurrency  = 4
	DefaultSafetyMargin = 10 * time.Second
)

// Config wires a Handler. Users, Store, Publisher and Mapping are required;
// SCIM is required in scim mode.
type Config struct {
	// Queue is the queue this function consumes: provision or deprovision.
	Queue hris.Queue
	// UserAPI is ENCOMPASS_USER_API.
	UserAPI   UserAPI
	Users     Users
	SCIM      SCIM
	Store     Store
	Publisher Publisher
	Mapping   *mapping.Resolved
	// DryRun writes nothing to Encompass or the state table; outcome events
	// are still published, marked dryRun.
	DryRun  bool
	Logger  *slog.Logger
	Metrics Metrics
	// Concurrency bounds how many employees of one batch are processed at
	// once (messages of one employee always run in order).
	Concurrency int
	// SafetyMargin is how much of the Lambda's time must remain to start
	// another message; the rest are reported as failures for SQS to retry.
	SafetyMargin time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
	// EventTTL is how long idempotency records are kept.
	EventTTL time.Duration
}

// Handler processes SQS batches of HRIS events. It is safe for concurrent use
// and meant to live for the whole container.
type Handler struct {
	cfg Config
	dir *directory
	log *slog.Logger
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Queue != hris.QueueProvision && cfg.Queue != hris.QueueDeprovision {
		errs = append(errs, errors.New("provisioning: Queue must be provision or deprovision"))
	}
	if cfg.UserAPI != UserAPISCIM && cfg.UserAPI != UserAPIV3 {
		errs = append(errs, errors.New(`provisioning: UserAPI must be "scim" or "v3"`))
	}
	if cfg.Users == nil || cfg.Store == nil || cfg.Publisher == nil || cfg.Mapping == nil {
		errs = append(errs, errors.New("provisioning: Users, Store, Publisher and Mapping are required"))
	}
	if cfg.UserAPI == UserAPISCIM && cfg.SCIM == nil {
		errs = append(errs, errors.New("provisioning: scim mode needs the SCIM client"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.SafetyMargin <= 0 {
		cfg.SafetyMargin = DefaultSafetyMargin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventTTL <= 0 {
		cfg.EventTTL = state.DefaultEventTTL
	}
	dir := &directory{api: cfg.UserAPI, users: cfg.Users, scim: cfg.SCIM}
	if cfg.SCIM != nil {
		dir.joiner = newGroupJoiner(cfg.SCIM.AddGroupMembers)
	}
	if cfg.UserAPI == UserAPIV3 {
		// The v3 API has no user groups.
		dir.scim = nil
	} else if cfg.Mapping.GroupsManaged {
		dir.managed = cfg.Mapping.ManagedGroups()
		if dir.managed == nil {
			dir.managed = []mapping.Named{}
		}
	}
	return &Handler{cfg: cfg, dir: dir, log: cfg.Logger}, nil
}

type nopMetrics struct{}

func (nopMetrics) Add(string, float64) {}
